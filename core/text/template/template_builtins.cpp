#include "template_builtins.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "python_string.hpp"
#include "template_error.hpp"
#include "template_limits.hpp"

namespace mmrt::text::jinja {
namespace {

// Binds call arguments to a Python-style signature: positional first, then keywords by name.
class Params {
 public:
  Params(std::string_view function, CallArgs& args, std::initializer_list<std::string_view> names)
      : function_(function), names_(names), values_(names.size()) {
    if (args.positional.size() > names_.size()) {
      fail("takes at most " + std::to_string(names_.size()) + " argument(s), got " +
           std::to_string(args.positional.size()));
    }
    for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = std::move(args.positional[i]);
    for (auto& [key, value] : args.keyword) {
      const auto it = std::find(names_.begin(), names_.end(), key);
      if (it == names_.end()) fail("got an unexpected keyword argument '" + key + "'");
      auto& slot = values_[static_cast<size_t>(it - names_.begin())];
      if (slot) fail("got multiple values for argument '" + key + "'");
      slot = std::move(value);
    }
  }

  const Value* get(size_t i) const { return values_[i] ? &*values_[i] : nullptr; }
  bool has(size_t i) const { return values_[i].has_value() && !values_[i]->is_none(); }

  const Value& required(size_t i) const {
    if (!values_[i]) fail("missing required argument '" + std::string(names_[i]) + "'");
    return *values_[i];
  }
  int64_t integer(size_t i, int64_t fallback) const {
    if (!has(i)) return fallback;
    const Value& v = *values_[i];
    if (v.kind() != Value::Kind::integer && v.kind() != Value::Kind::boolean) {
      fail("argument '" + std::string(names_[i]) + "' must be an integer, got '" + v.type_name() + "'");
    }
    return v.as_int();
  }
  bool boolean(size_t i, bool fallback) const { return values_[i] ? truthy(*values_[i]) : fallback; }
  std::string string(size_t i, const std::string& fallback) const {
    if (!values_[i]) return fallback;
    return string_of(i);
  }
  std::optional<std::string> optional_string(size_t i) const {
    if (!has(i)) return std::nullopt;
    return string_of(i);
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateRuntimeError(std::string(function_) + "() " + message);
  }

 private:
  std::string string_of(size_t i) const {
    const Value& v = *values_[i];
    if (!v.is_string())
      fail("argument '" + std::string(names_[i]) + "' must be a string, got '" + v.type_name() + "'");
    return v.as_string();
  }

  std::string_view function_;
  std::vector<std::string_view> names_;
  std::vector<std::optional<Value>> values_;
};

// Takes the leading positional arguments off args, for builtins with *args.
std::vector<Value> take_positional(CallArgs& args, size_t n) {
  std::vector<Value> taken;
  for (size_t i = 0; i < n && !args.positional.empty(); ++i) {
    taken.push_back(std::move(args.positional.front()));
    args.positional.erase(args.positional.begin());
  }
  return taken;
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
      return 0;
    case Value::Kind::string:
      return static_cast<int64_t>(pystr::code_point_count(v.as_string()));
    case Value::Kind::list:
      return static_cast<int64_t>(v.as_list().size());
    case Value::Kind::dict:
      return static_cast<int64_t>(v.as_dict().entries.size());
    default:
      throw TemplateRuntimeError("object of type '" + v.type_name() + "' has no len()");
  }
}

// Jinja's make_attrgetter: "a.b.0" looks up a, then b, then index 0.
Value lookup_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (current.is_undefined()) return current;
    const bool numeric =
        !part.empty() && part.size() < 18 && std::all_of(part.begin(), part.end(), ::isdigit);
    current = numeric ? get_item(current, Value::integer(std::stoll(part)))
                      : get_item(current, Value::string(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Jinja's title filter: capitalizes each chunk between runs of whitespace and -({[<.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool at_word_start = true;
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const char32_t cp = pystr::decode_one(s, pos);
    const std::string_view one(s.data() + start, pos - start);
    const bool separator =
        pystr::is_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      out.append(one);
      at_word_start = true;
    } else {
      out += at_word_start ? pystr::upper(one) : pystr::lower(one);
      at_word_start = false;
    }
  }
  return out;
}

// The key a case-insensitive sort or unique compares: lowercased strings, other values as is.
Value fold_case(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(pystr::lower(v.as_string()));
  return v;
}

std::optional<int64_t> parse_python_int(std::string text) {
  text = pystr::strip(text, std::nullopt, true, true);
  std::string digits;
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '_' && !digits.empty() && i + 1 < text.size() && text[i + 1] >= '0' &&
               text[i + 1] <= '9') {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value)) {
      return std::nullopt;
    }
  }
  return negative ? -value : value;
}

std::optional<double> parse_python_float(const std::string& raw) {
  const std::string text = pystr::strip(raw, std::nullopt, true, true);
  if (text.empty()) return std::nullopt;
  std::string clean;
  for (char c : text) {
    if (c != '_') clean.push_back(c);
  }
  const std::string lowered = pystr::lower(clean);
  const std::string unsigned_part = lowered[0] == '+' || lowered[0] == '-' ? lowered.substr(1) : lowered;
  if (unsigned_part == "inf" || unsigned_part == "infinity" || unsigned_part == "nan") {
    const double v = unsigned_part == "nan" ? NAN : INFINITY;
    return lowered[0] == '-' ? -v : v;
  }
  if (unsigned_part.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// Python's round(x, ndigits) for floats: correctly rounded, ties to even on the exact binary value.
double python_round(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits > 300) return x;
  if (ndigits < -300) return 0.0 * x;
  if (ndigits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / scale) * scale;
}

ValueList sorted_items(const ValueList& items, const std::optional<std::string>& attribute,
                       bool case_sensitive, bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items) {
    keyed.emplace_back(fold_case(attribute ? lookup_path(item, *attribute) : item, case_sensitive), item);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? less_than(b.first, a.first) : less_than(a.first, b.first);
  });
  ValueList out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return out;
}

// Jinja's select/reject/selectattr/rejectattr and map yield nothing for a false value (None, "", [],
// undefined) without looking at their arguments.
Value select_items(const Value& subject, CallArgs args, CallContext& ctx, bool by_attribute,
                   bool keep_matching) {
  if (!truthy(subject)) return Value::list({});
  std::optional<std::string> attribute;
  if (by_attribute) {
    std::vector<Value> first = take_positional(args, 1);
    if (first.empty() || !first[0].is_string())
      throw TemplateRuntimeError("selectattr() needs an attribute name");
    attribute = first[0].as_string();
  }
  std::optional<std::string> test;
  std::vector<Value> test_name = take_positional(args, 1);
  if (!test_name.empty()) {
    if (!test_name[0].is_string()) throw TemplateRuntimeError("select() test name must be a string");
    test = test_name[0].as_string();
    if (!has_test(*test)) throw TemplateRuntimeError("No test named '" + *test + "'.");
  }
  ValueList out;
  for (const Value& item : iterate(subject)) {
    const Value probe = attribute ? lookup_path(item, *attribute) : item;
    const bool passes = test ? call_test(*test, probe, args, ctx) : truthy(probe);
    if (passes == keep_matching) out.push_back(item);
  }
  ctx.charge_bytes(static_cast<int64_t>(out.size() * sizeof(Value)));
  return Value::list(std::move(out));
}

Value map_items(const Value& subject, CallArgs args, CallContext& ctx) {
  if (!truthy(subject)) return Value::list({});
  std::optional<std::string> attribute;
  std::optional<Value> fallback;
  for (auto it = args.keyword.begin(); it != args.keyword.end();) {
    if (it->first == "attribute" && it->second.is_string()) {
      attribute = it->second.as_string();
      it = args.keyword.erase(it);
    } else if (it->first == "default") {
      fallback = it->second;
      it = args.keyword.erase(it);
    } else {
      ++it;
    }
  }
  ValueList out;
  if (attribute) {
    for (const Value& item : iterate(subject)) {
      Value v = lookup_path(item, *attribute);
      out.push_back(v.is_undefined() && fallback ? *fallback : std::move(v));
    }
  } else {
    std::vector<Value> name = take_positional(args, 1);
    if (name.empty() || !name[0].is_string())
      throw TemplateRuntimeError("map() needs a filter name or attribute=");
    const std::string filter = name[0].as_string();
    if (!has_filter(filter)) throw TemplateRuntimeError("No filter named '" + filter + "'.");
    for (const Value& item : iterate(subject)) out.push_back(call_filter(filter, item, args, ctx));
  }
  ctx.charge_bytes(static_cast<int64_t>(out.size() * sizeof(Value)));
  return Value::list(std::move(out));
}

Value tojson_filter(const Value& subject, CallArgs args) {
  const Params p("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions options;
  options.ensure_ascii = p.boolean(0, false);
  if (p.has(1)) options.indent = static_cast<int>(std::clamp<int64_t>(p.integer(1, 0), 0, 64));
  if (p.has(2)) {
    const Value& seps = *p.get(2);
    if (!seps.is_list() || seps.as_list().size() != 2 || !seps.as_list()[0].is_string() ||
        !seps.as_list()[1].is_string()) {
      p.fail("separators must be a pair of strings");
    }
    options.has_separators = true;
    options.item_separator = seps.as_list()[0].as_string();
    options.key_separator = seps.as_list()[1].as_string();
  }
  options.sort_keys = p.boolean(3, false);
  return Value::string(to_json(subject, options));
}

Value indent_filter(const Value& subject, CallArgs args) {
  const Params p("indent", args, {"width", "first", "blank"});
  std::string indentation;
  if (p.get(0) && p.get(0)->is_string()) {
    indentation = p.get(0)->as_string();
  } else {
    indentation.assign(static_cast<size_t>(std::clamp<int64_t>(p.integer(0, 4), 0, 1024)), ' ');
  }
  const std::string text = to_str(subject) + "\n";
  const std::vector<std::string> lines = pystr::splitlines(text);
  std::string out;
  if (p.boolean(2, false)) {
    for (size_t i = 0; i < lines.size(); ++i) out += (i > 0 ? "\n" + indentation : "") + lines[i];
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) out += "\n" + (lines[i].empty() ? "" : indentation + lines[i]);
  }
  if (p.boolean(1, false)) out = indentation + out;
  return Value::string(std::move(out));
}

Value round_filter(const Value& subject, CallArgs args) {
  const Params p("round", args, {"precision", "method"});
  const int64_t precision = p.integer(0, 0);
  const std::string method = p.string(1, "common");
  if (!subject.is_number())
    throw TemplateRuntimeError("round() needs a number, got '" + subject.type_name() + "'");
  if (method == "common") {
    if (subject.kind() != Value::Kind::floating) return Value::integer(subject.as_int());
    return Value::floating(python_round(subject.as_double(), precision));
  }
  if (method != "floor" && method != "ceil") p.fail("method must be 'common', 'ceil' or 'floor'");
  const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
  const double scaled = subject.as_double() * scale;
  return Value::floating((method == "floor" ? std::floor(scaled) : std::ceil(scaled)) / scale);
}

Value min_max(const Value& subject, CallArgs args, bool want_max) {
  const Params p(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  const ValueList items = iterate(subject);
  if (items.empty())
    return Value::undefined(std::string("no ") + (want_max ? "largest" : "smallest") +
                            " item, sequence was empty");
  const ValueList sorted = sorted_items(items, p.optional_string(1), p.boolean(0, false), false);
  return want_max ? sorted.back() : sorted.front();
}

Value unique_filter(const Value& subject, CallArgs args) {
  const Params p("unique", args, {"case_sensitive", "attribute"});
  const bool case_sensitive = p.boolean(0, false);
  const std::optional<std::string> attribute = p.optional_string(1);
  ValueList seen;
  ValueList out;
  for (const Value& item : iterate(subject)) {
    const Value key = fold_case(attribute ? lookup_path(item, *attribute) : item, case_sensitive);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value sum_filter(const Value& subject, CallArgs args) {
  const Params p("sum", args, {"attribute", "start"});
  const std::optional<std::string> attribute = p.optional_string(0);
  Value total = p.get(1) ? *p.get(1) : Value::integer(0);
  for (const Value& item : iterate(subject)) {
    const Value v = attribute ? lookup_path(item, *attribute) : item;
    if (!v.is_number() || !total.is_number()) {
      throw TemplateRuntimeError("unsupported operand type(s) for +: '" + total.type_name() + "' and '" +
                                 v.type_name() + "'");
    }
    if (v.kind() == Value::Kind::floating || total.kind() == Value::Kind::floating) {
      total = Value::floating(total.as_double() + v.as_double());
    } else {
      int64_t r = 0;
      if (__builtin_add_overflow(total.as_int(), v.as_int(), &r))
        throw TemplateRuntimeError("integer overflow in sum()");
      total = Value::integer(r);
    }
  }
  return total;
}

Value dictsort_filter(const Value& subject, CallArgs args) {
  const Params p("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!subject.is_dict())
    throw TemplateRuntimeError("dictsort() needs a dict, got '" + subject.type_name() + "'");
  const std::string by = p.string(1, "key");
  if (by != "key" && by != "value") p.fail("by must be 'key' or 'value'");
  ValueList pairs;
  for (const auto& [key, value] : subject.as_dict().entries) pairs.push_back(Value::list({key, value}, true));
  return Value::list(
      sorted_items(pairs, std::string(by == "key" ? "0" : "1"), p.boolean(0, false), p.boolean(2, false)));
}

constexpr std::string_view kFilters[] = {
    "abs",     "capitalize", "count",       "d",      "default", "dictsort",   "e",        "escape",
    "first",   "float",      "forceescape", "indent", "int",     "items",      "join",     "last",
    "length",  "list",       "lower",       "map",    "max",     "min",        "reject",   "rejectattr",
    "replace", "reverse",    "round",       "safe",   "select",  "selectattr", "sort",     "string",
    "sum",     "title",      "tojson",      "trim",   "unique",  "upper",      "wordcount"};

constexpr std::string_view kTests[] = {
    "boolean",  "callable", "defined",  "divisibleby", "eq",     "equalto",     "escaped", "even",
    "false",    "filter",   "float",    "ge",          "gt",     "greaterthan", "in",      "integer",
    "iterable", "le",       "lessthan", "lower",       "lt",     "mapping",     "ne",      "none",
    "number",   "odd",      "sameas",   "sequence",    "string", "test",        "true",    "undefined",
    "upper",    "==",       "!=",       "<",           "<=",     ">",           ">="};

}  // namespace

Value escape(const Value& v) {
  return v.is_markup() ? v : Value::markup(html_escape(to_str(v)));
}

bool has_filter(std::string_view name) {
  return std::find(std::begin(kFilters), std::end(kFilters), name) != std::end(kFilters);
}

bool has_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
      return {};
    case Value::Kind::list:
      return v.as_list();
    case Value::Kind::dict: {
      ValueList keys;
      for (const auto& entry : v.as_dict().entries) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::string: {
      ValueList chars;
      const std::string& s = v.as_string();
      const std::vector<size_t> offsets = pystr::code_point_offsets(s);
      for (size_t i = 0; i + 1 < offsets.size(); ++i) {
        chars.push_back(Value::string(s.substr(offsets[i], offsets[i + 1] - offsets[i])));
      }
      return chars;
    }
    default:
      throw TemplateRuntimeError("'" + v.type_name() + "' object is not iterable");
  }
}

namespace {

// Jinja's object_type_repr, the subject of its undefined messages: "None", "dict object", ...
std::string object_type_repr(const Value& obj) {
  return obj.is_none() ? "None" : obj.type_name() + " object";
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::dict:
      if (const Value* v = obj.as_dict().find(name)) return *v;
      break;
    case Value::Kind::ns:
      if (const Value* v = obj.as_ns().attrs.find(name)) return *v;
      break;
    case Value::Kind::loop: {
      const LoopInfo& l = obj.as_loop();
      const ValueList& items = *l.items;
      if (name == "index") return Value::integer(l.index0 + 1);
      if (name == "index0") return Value::integer(l.index0);
      if (name == "revindex") return Value::integer(l.length - l.index0);
      if (name == "revindex0") return Value::integer(l.length - l.index0 - 1);
      if (name == "first") return Value::boolean(l.index0 == 0);
      if (name == "last") return Value::boolean(l.index0 == l.length - 1);
      if (name == "length") return Value::integer(l.length);
      if (name == "depth") return Value::integer(l.depth0 + 1);
      if (name == "depth0") return Value::integer(l.depth0);
      if (name == "previtem") {
        return l.index0 > 0 ? items[static_cast<size_t>(l.index0 - 1)]
                            : Value::undefined("there is no previous item");
      }
      if (name == "nextitem") {
        return l.index0 + 1 < l.length ? items[static_cast<size_t>(l.index0 + 1)]
                                       : Value::undefined("there is no next item");
      }
      break;
    }
    default:
      break;
  }
  return Value::undefined("'" + object_type_repr(obj) + "' has no attribute '" + name + "'");
}

Value get_item(const Value& obj, const Value& key) {
  const bool int_key = key.kind() == Value::Kind::integer || key.kind() == Value::Kind::boolean;
  if (obj.is_list() && int_key) {
    const ValueList& items = obj.as_list();
    int64_t i = key.as_int();
    const int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
    return Value::undefined(object_type_repr(obj) + " has no element " + std::to_string(key.as_int()));
  }
  if (obj.is_string() && int_key) {
    const std::string& s = obj.as_string();
    const std::vector<size_t> offsets = pystr::code_point_offsets(s);
    int64_t i = key.as_int();
    const int64_t n = static_cast<int64_t>(offsets.size()) - 1;
    if (i < 0) i += n;
    if (i >= 0 && i < n) return Value::string(s.substr(offsets[i], offsets[i + 1] - offsets[i]));
    return Value::undefined("str object has no element " + std::to_string(key.as_int()));
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  }
  return Value::undefined(object_type_repr(obj) + " has no element " + to_repr(key));
}

Value call_filter(std::string_view name, const Value& subject, CallArgs args, CallContext& ctx) {
  // Reached for an unknown name only where the parser deferred the check (see template_parser.hpp).
  if (!has_filter(name)) throw TemplateRuntimeError("No filter named '" + std::string(name) + "' found.");
  const auto no_args = [&] {
    if (!args.positional.empty() || !args.keyword.empty()) {
      throw TemplateRuntimeError("filter '" + std::string(name) + "' takes no arguments");
    }
  };
  const auto text_of = [&]() { return to_str(subject); };
  if (name == "tojson") return tojson_filter(subject, std::move(args));
  if (name == "default" || name == "d") {
    const Params p(name, args, {"default_value", "boolean"});
    const bool use_default = subject.is_undefined() || (p.boolean(1, false) && !truthy(subject));
    if (!use_default) return subject;
    return p.get(0) ? *p.get(0) : Value::string("");
  }
  if (name == "length" || name == "count") {
    no_args();
    return Value::integer(length_of(subject));
  }
  // Jinja's soft_str filters (string, trim, upper, ...) keep a Markup subject Markup.
  const auto like_subject = [&](std::string text) {
    return subject.is_markup() ? Value::markup(std::move(text)) : Value::string(std::move(text));
  };
  if (name == "string") {
    no_args();
    return subject.is_string() ? subject : Value::string(text_of());
  }
  if (name == "safe") {
    no_args();
    return subject.is_markup() ? subject : Value::markup(text_of());
  }
  if (name == "escape" || name == "e") {
    no_args();
    return escape(subject);
  }
  if (name == "forceescape") {
    no_args();
    return Value::markup(html_escape(text_of()));
  }
  if (name == "trim") {
    const Params p(name, args, {"chars"});
    return like_subject(pystr::strip(text_of(), p.optional_string(0), true, true));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    no_args();
    const std::string text = text_of();
    if (name == "upper") return like_subject(pystr::upper(text));
    if (name == "lower") return like_subject(pystr::lower(text));
    if (name == "capitalize") return like_subject(pystr::capitalize(text));
    return like_subject(jinja_title(text));
  }
  if (name == "replace") {
    const Params p(name, args, {"old", "new", "count"});
    std::string out =
        pystr::replace(text_of(), to_str(p.required(0)), to_str(p.required(1)), p.integer(2, -1));
    ctx.charge_bytes(static_cast<int64_t>(out.size()));
    return Value::string(std::move(out));
  }
  if (name == "indent") return indent_filter(subject, std::move(args));
  if (name == "wordcount") {
    no_args();
    return Value::integer(static_cast<int64_t>(pystr::split(text_of(), std::nullopt, -1).size()));
  }
  if (name == "join") {
    const Params p(name, args, {"d", "attribute"});
    const std::string separator = p.get(0) ? to_str(*p.get(0)) : "";
    const std::optional<std::string> attribute = p.optional_string(1);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(subject)) {
      if (!first) out += separator;
      out += to_str(attribute ? lookup_path(item, *attribute) : item);
      first = false;
    }
    ctx.charge_bytes(static_cast<int64_t>(out.size()));
    return Value::string(std::move(out));
  }
  if (name == "first") {
    no_args();
    const ValueList items = iterate(subject);
    return items.empty() ? Value::undefined("no first item, sequence was empty") : items.front();
  }
  if (name == "last") {
    no_args();
    const ValueList items = iterate(subject);
    return items.empty() ? Value::undefined("no last item, sequence was empty") : items.back();
  }
  if (name == "list") {
    no_args();
    ValueList items = iterate(subject);
    ctx.charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value)));
    return Value::list(std::move(items));
  }
  if (name == "reverse") {
    no_args();
    if (subject.is_string()) {
      ValueList chars = iterate(subject);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
      return Value::string(std::move(out));
    }
    ValueList items = iterate(subject);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "items") {
    no_args();
    if (subject.is_undefined()) return Value::list({});
    if (!subject.is_dict()) throw TemplateRuntimeError("Can only get item pairs from a mapping.");
    ValueList pairs;
    for (const auto& [key, value] : subject.as_dict().entries)
      pairs.push_back(Value::list({key, value}, true));
    return Value::list(std::move(pairs));
  }
  if (name == "dictsort") return dictsort_filter(subject, std::move(args));
  if (name == "selectattr" || name == "rejectattr") {
    return select_items(subject, std::move(args), ctx, true, name == "selectattr");
  }
  if (name == "select" || name == "reject")
    return select_items(subject, std::move(args), ctx, false, name == "select");
  if (name == "map") return map_items(subject, std::move(args), ctx);
  if (name == "unique") return unique_filter(subject, std::move(args));
  if (name == "sort") {
    const Params p(name, args, {"reverse", "case_sensitive", "attribute"});
    return Value::list(
        sorted_items(iterate(subject), p.optional_string(2), p.boolean(1, false), p.boolean(0, false)));
  }
  if (name == "min" || name == "max") return min_max(subject, std::move(args), name == "max");
  if (name == "sum") return sum_filter(subject, std::move(args));
  if (name == "abs") {
    no_args();
    if (subject.kind() == Value::Kind::floating) return Value::floating(std::fabs(subject.as_double()));
    if (!subject.is_number())
      throw TemplateRuntimeError("bad operand type for abs(): '" + subject.type_name() + "'");
    if (subject.as_int() == INT64_MIN) throw TemplateRuntimeError("integer overflow in abs()");
    return Value::integer(std::llabs(subject.as_int()));
  }
  if (name == "round") return round_filter(subject, std::move(args));
  if (name == "int") {
    const Params p(name, args, {"default", "base"});
    const Value fallback = p.get(0) ? *p.get(0) : Value::integer(0);
    if (p.integer(1, 10) != 10) p.fail("only base 10 is supported");
    if (subject.kind() == Value::Kind::integer || subject.kind() == Value::Kind::boolean) {
      return Value::integer(subject.as_int());
    }
    if (subject.kind() == Value::Kind::floating) {
      const double d = subject.as_double();
      if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
      return Value::integer(static_cast<int64_t>(d));
    }
    if (subject.is_string()) {
      if (const auto i = parse_python_int(subject.as_string())) return Value::integer(*i);
      if (const auto d = parse_python_float(subject.as_string());
          d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
        return Value::integer(static_cast<int64_t>(*d));
      }
    }
    return fallback;
  }
  if (name == "float") {
    const Params p(name, args, {"default"});
    const Value fallback = p.get(0) ? *p.get(0) : Value::floating(0.0);
    if (subject.is_number()) return Value::floating(subject.as_double());
    if (subject.is_string()) {
      if (const auto d = parse_python_float(subject.as_string())) return Value::floating(*d);
    }
    return fallback;
  }
  throw TemplateRuntimeError("filter '" + std::string(name) + "' is not implemented");
}

bool call_test(std::string_view name, const Value& v, const CallArgs& call_args, CallContext& ctx) {
  if (!has_test(name)) throw TemplateRuntimeError("No test named '" + std::string(name) + "' found.");
  CallArgs args = call_args;
  using K = Value::Kind;
  const auto other = [&]() -> const Value& {
    if (args.positional.size() != 1 || !args.keyword.empty()) {
      throw TemplateRuntimeError("test '" + std::string(name) + "' takes exactly one argument");
    }
    return args.positional[0];
  };
  static constexpr std::string_view kUnaryTests[] = {
      "defined", "undefined", "none",   "boolean", "true",     "false",    "integer",
      "float",   "number",    "string", "mapping", "iterable", "sequence", "callable",
      "escaped", "lower",     "upper",  "even",    "odd",      "filter",   "test"};
  if (std::find(std::begin(kUnaryTests), std::end(kUnaryTests), name) != std::end(kUnaryTests) &&
      (!args.positional.empty() || !args.keyword.empty())) {
    throw TemplateRuntimeError("test '" + std::string(name) + "' takes no arguments");
  }
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind() == K::boolean;
  if (name == "true") return v.kind() == K::boolean && v.as_bool();
  if (name == "false") return v.kind() == K::boolean && !v.as_bool();
  if (name == "integer") return v.kind() == K::integer;
  if (name == "float") return v.kind() == K::floating;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.kind() == K::callable;
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    const std::string& s = v.as_string();
    const std::string mapped = name == "lower" ? pystr::lower(s) : pystr::upper(s);
    const std::string opposite = name == "lower" ? pystr::upper(s) : pystr::lower(s);
    return mapped == s && opposite != s;
  }
  if (name == "even" || name == "odd") {
    if (v.is_undefined()) throw TemplateRuntimeError(v.undefined_message());
    if (v.kind() != K::integer && v.kind() != K::boolean) {
      throw TemplateRuntimeError("test '" + std::string(name) + "' needs an integer, got '" + v.type_name() +
                                 "'");
    }
    const bool even = v.as_int() % 2 == 0;
    return name == "even" ? even : !even;
  }
  if (name == "divisibleby") {
    const Value& d = other();
    if (!v.is_number() || !d.is_number()) throw TemplateRuntimeError("divisibleby needs numbers");
    if (v.kind() == K::floating || d.kind() == K::floating) {
      if (d.as_double() == 0.0) throw TemplateRuntimeError("float modulo by zero");
      return std::fmod(v.as_double(), d.as_double()) == 0.0;
    }
    if (d.as_int() == 0) throw TemplateRuntimeError("integer division or modulo by zero");
    return d.as_int() == -1 || v.as_int() % d.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, other());
  if (name == "ne" || name == "!=") return !equals(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return less_than(v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return less_than(other(), v);
  if (name == "le" || name == "<=") return less_than(v, other()) || equals(v, other());
  if (name == "ge" || name == ">=") return less_than(other(), v) || equals(v, other());
  if (name == "in") {
    const Value& container = other();
    if (container.is_string())
      return v.is_string() && container.as_string().find(v.as_string()) != std::string::npos;
    if (container.is_dict()) return container.as_dict().find(v) != nullptr;
    for (const Value& item : iterate(container)) {
      if (equals(item, v)) return true;
    }
    return false;
  }
  if (name == "sameas") {
    const Value& o = other();
    if (v.kind() != o.kind()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.kind() == K::boolean) return v.as_bool() == o.as_bool();
    if (v.kind() == K::ns) return &v.as_ns() == &o.as_ns();
    return false;
  }
  if (name == "filter") return v.is_string() && has_filter(v.as_string());
  if (name == "test") return v.is_string() && has_test(v.as_string());
  (void)ctx;
  throw TemplateRuntimeError("test '" + std::string(name) + "' is not implemented");
}

namespace {

Value string_method(const std::string& s, std::string_view name, CallArgs& args, CallContext& ctx) {
  const auto list_of = [&](std::vector<std::string> parts) {
    ValueList items;
    for (auto& part : parts) items.push_back(Value::string(std::move(part)));
    ctx.charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value) + s.size()));
    return Value::list(std::move(items));
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Params p(name, args, {"chars"});
    return Value::string(pystr::strip(s, p.optional_string(0), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    const Params p(name, args, {"sep", "maxsplit"});
    const int64_t maxsplit = p.integer(1, -1);
    if (name == "rsplit" && maxsplit >= 0) p.fail("maxsplit is not supported for rsplit");
    return list_of(pystr::split(s, p.optional_string(0), maxsplit));
  }
  if (name == "splitlines") {
    const Params p(name, args, {});
    return list_of(pystr::splitlines(s));
  }
  if (name == "startswith" || name == "endswith") {
    const Params p(name, args, {"prefix"});
    const Value& affix = p.required(0);
    std::vector<std::string> candidates;
    if (affix.is_string()) {
      candidates.push_back(affix.as_string());
    } else if (affix.is_list() && affix.is_tuple()) {
      for (const Value& v : affix.as_list()) {
        if (!v.is_string()) p.fail("tuple for " + std::string(name) + " must only contain str");
        candidates.push_back(v.as_string());
      }
    } else {
      p.fail("first arg must be str or a tuple of str, not " + affix.type_name());
    }
    for (const std::string& c : candidates) {
      const bool hit = name == "startswith"
                           ? s.compare(0, c.size(), c) == 0
                           : s.size() >= c.size() && s.compare(s.size() - c.size(), c.size(), c) == 0;
      if (hit) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    const Params p(name, args, {});
    if (name == "upper") return Value::string(pystr::upper(s));
    if (name == "lower") return Value::string(pystr::lower(s));
    if (name == "title") return Value::string(pystr::title(s));
    return Value::string(pystr::capitalize(s));
  }
  if (name == "replace") {
    const Params p(name, args, {"old", "new", "count"});
    const Value& from = p.required(0);
    const Value& to = p.required(1);
    if (!from.is_string() || !to.is_string()) p.fail("arguments must be strings");
    std::string out = pystr::replace(s, from.as_string(), to.as_string(), p.integer(2, -1));
    ctx.charge_bytes(static_cast<int64_t>(out.size()));
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "count") {
    const Params p(name, args, {"sub"});
    const Value& sub_v = p.required(0);
    if (!sub_v.is_string()) p.fail("argument must be a string");
    const std::string& sub = sub_v.as_string();
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(pystr::code_point_count(s) + 1));
      int64_t n = 0;
      for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
      return Value::integer(n);
    }
    const size_t hit = name == "find" ? s.find(sub) : s.rfind(sub);
    if (hit == std::string::npos) return Value::integer(-1);
    return Value::integer(static_cast<int64_t>(pystr::code_point_count(std::string_view(s).substr(0, hit))));
  }
  if (name == "join") {
    const Params p(name, args, {"iterable"});
    std::string out;
    bool first = true;
    for (const Value& item : iterate(p.required(0))) {
      if (!item.is_string()) p.fail("sequence item: expected str instance, " + item.type_name() + " found");
      if (!first) out += s;
      out += item.as_string();
      first = false;
    }
    ctx.charge_bytes(static_cast<int64_t>(out.size()));
    return Value::string(std::move(out));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    const Params p(name, args, {});
    if (name == "isupper" || name == "islower") {
      const bool want_upper = name == "isupper";
      const std::string same = want_upper ? pystr::upper(s) : pystr::lower(s);
      const std::string other = want_upper ? pystr::lower(s) : pystr::upper(s);
      return Value::boolean(same == s && other != s);
    }
    if (s.empty()) return Value::boolean(false);
    for (size_t pos = 0; pos < s.size();) {
      const char32_t cp = pystr::decode_one(s, pos);
      const bool digit = cp >= '0' && cp <= '9';
      const bool alpha = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
      const bool ok = name == "isdigit"   ? digit
                      : name == "isalpha" ? alpha
                      : name == "isalnum" ? digit || alpha
                                          : pystr::is_space(cp);
      if (!ok) return Value::boolean(false);
    }
    return Value::boolean(true);
  }
  throw TemplateRuntimeError("'str object' has no attribute '" + std::string(name) + "'");
}

// jinja2's Markup methods: the str method, with the strings a replace or join inserts escaped (replace's
// `old` is not), and its str results (or the parts of a split) marked as Markup.
Value markup_method(const std::string& s, std::string_view name, CallArgs& args, CallContext& ctx) {
  static constexpr std::string_view kMarkupMethods[] = {"strip", "lstrip", "rstrip",     "upper",
                                                        "lower", "title",  "capitalize", "replace",
                                                        "split", "rsplit", "splitlines", "join"};
  if (std::find(std::begin(kMarkupMethods), std::end(kMarkupMethods), name) == std::end(kMarkupMethods)) {
    return string_method(s, name, args, ctx);
  }
  if (name == "replace" && args.positional.size() >= 2) args.positional[1] = escape(args.positional[1]);
  for (auto& [key, arg] : args.keyword) {
    if (name == "replace" && key == "new") arg = escape(arg);
  }
  if (name == "join" && !args.positional.empty()) {
    ValueList escaped;
    for (const Value& item : iterate(args.positional[0])) escaped.push_back(escape(item));
    args.positional[0] = Value::list(std::move(escaped));
  }
  const Value result = string_method(s, name, args, ctx);
  if (result.is_string()) return Value::markup(result.as_string());
  ValueList parts;
  for (const Value& part : result.as_list()) parts.push_back(Value::markup(part.as_string()));
  return Value::list(std::move(parts));
}

Value dict_method(const ValueDict& d, std::string_view name, CallArgs& args, CallContext& ctx) {
  if (name == "items" || name == "keys" || name == "values") {
    const Params p(name, args, {});
    ValueList out;
    for (const auto& [key, value] : d.entries) {
      if (name == "items") {
        out.push_back(Value::list({key, value}, true));
      } else {
        out.push_back(name == "keys" ? key : value);
      }
    }
    ctx.charge_bytes(static_cast<int64_t>(out.size() * sizeof(Value)));
    return Value::list(std::move(out));
  }
  if (name == "get") {
    const Params p(name, args, {"key", "default"});
    if (const Value* v = d.find(p.required(0))) return *v;
    return p.get(1) ? *p.get(1) : Value::none();
  }
  throw TemplateRuntimeError("'dict object' has no attribute '" + std::string(name) + "'");
}

}  // namespace

Value call_method(const Value& self, std::string_view name, CallArgs args, CallContext& ctx) {
  // transformers' ImmutableSandboxedEnvironment refuses the methods that modify a list or dict.
  static constexpr std::string_view kListMutators[] = {"append", "clear", "pop",    "reverse",
                                                       "insert", "sort",  "extend", "remove"};
  static constexpr std::string_view kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
  const bool mutator =
      (self.is_list() && !self.is_tuple() &&
       std::find(std::begin(kListMutators), std::end(kListMutators), name) != std::end(kListMutators)) ||
      (self.is_dict() &&
       std::find(std::begin(kDictMutators), std::end(kDictMutators), name) != std::end(kDictMutators));
  if (mutator) {
    throw TemplateRuntimeError("access to attribute '" + std::string(name) + "' of '" + self.type_name() +
                               "' object is unsafe.");
  }
  switch (self.kind()) {
    case Value::Kind::string:
      if (self.is_markup()) return markup_method(self.as_string(), name, args, ctx);
      return string_method(self.as_string(), name, args, ctx);
    case Value::Kind::dict:
      return dict_method(self.as_dict(), name, args, ctx);
    case Value::Kind::loop:
      if (name == "cycle") {
        if (args.positional.empty()) throw TemplateRuntimeError("loop.cycle() needs at least one value");
        const LoopInfo& l = self.as_loop();
        return args.positional[static_cast<size_t>(l.index0) % args.positional.size()];
      }
      break;
    default:
      break;
  }
  throw TemplateRuntimeError("'" + object_type_repr(self) + "' has no attribute '" + std::string(name) + "'");
}

bool has_global_function(std::string_view name) {
  return name == "range" || name == "namespace" || name == "dict" || name == "raise_exception" ||
         name == "strftime_now";
}

Value call_global_function(std::string_view name, CallArgs args, CallContext& ctx) {
  if (name == "raise_exception") {
    const Params p(name, args, {"message"});
    throw TemplateRuntimeError(to_str(p.required(0)));
  }
  if (name == "range") {
    if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
      throw TemplateRuntimeError("range() takes 1 to 3 positional integer arguments");
    }
    std::vector<int64_t> bounds;
    for (const Value& v : args.positional) {
      if (v.kind() != Value::Kind::integer && v.kind() != Value::Kind::boolean) {
        throw TemplateRuntimeError("range() arguments must be integers, got '" + v.type_name() + "'");
      }
      bounds.push_back(v.as_int());
    }
    const int64_t start = bounds.size() == 1 ? 0 : bounds[0];
    const int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
    const int64_t step = bounds.size() == 3 ? bounds[2] : 1;
    if (step == 0) throw TemplateRuntimeError("range() arg 3 must not be zero");
    const long double span = (static_cast<long double>(stop) - start) / step;
    const long double count = span <= 0 ? 0 : std::ceil(span);
    if (count > kMaxRangeLength) {
      throw TemplateRuntimeError("range() longer than " + std::to_string(kMaxRangeLength) + " elements");
    }
    ValueList items;
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i)
      items.push_back(Value::integer(start + i * step));
    ctx.charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value)));
    return Value::list(std::move(items));
  }
  if (name == "namespace" || name == "dict") {
    ValueDict attrs;
    if (args.positional.size() > 1)
      throw TemplateRuntimeError(std::string(name) + "() takes at most 1 positional argument");
    if (!args.positional.empty()) {
      const Value& init = args.positional[0];
      if (init.is_undefined()) throw TemplateRuntimeError(init.undefined_message());
      if (init.is_dict()) {
        attrs = init.as_dict();
      } else {
        for (const Value& pair : iterate(init)) {
          if (!pair.is_list() || pair.as_list().size() != 2) {
            throw TemplateRuntimeError(std::string(name) + "() needs a mapping or (key, value) pairs");
          }
          attrs.set(pair.as_list()[0], pair.as_list()[1]);
        }
      }
    }
    for (auto& [key, value] : args.keyword) attrs.set(key, std::move(value));
    if (name == "dict") return Value::dict(std::move(attrs));
    for (const auto& [key, value] : attrs.entries) {
      if (key.is_string() && key.as_string().starts_with('_')) {
        throw TemplateRuntimeError("cannot store underscore-prefixed attribute '" + key.as_string() +
                                   "' on a namespace");
      }
    }
    std::shared_ptr<Namespace> ns = ctx.new_namespace();
    ns->attrs = std::move(attrs);
    return Value::ns(std::move(ns));
  }
  if (name == "strftime_now") {
    const Params p(name, args, {"format"});
    const std::optional<std::string> format = p.optional_string(0);
    if (!format) p.fail("needs a format string");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    for (size_t capacity = 256; capacity <= (size_t{1} << 16); capacity *= 4) {
      std::string buffer(capacity, '\0');
      const size_t n = std::strftime(buffer.data(), buffer.size(), format->c_str(), &local);
      if (n > 0 || format->empty()) {
        buffer.resize(n);
        return Value::string(std::move(buffer));
      }
    }
    p.fail("result is too long");
  }
  throw TemplateRuntimeError("'" + std::string(name) + "' is undefined");
}

}  // namespace mmrt::text::jinja
