#include "template_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "python_string.hpp"
#include "template_ast.hpp"
#include "template_error.hpp"
#include "template_limits.hpp"

namespace mmrt::text::jinja {

namespace {

bool is_hashable(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::list:
      return v.is_tuple() && std::all_of(v.as_list().begin(), v.as_list().end(), is_hashable);
    case Value::Kind::dict:
    case Value::Kind::ns:
    case Value::Kind::loop:
      return false;
    default:
      return true;
  }
}

}  // namespace

const Value* ValueDict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* ValueDict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  if (!is_hashable(key)) return nullptr;
  for (const auto& [k, v] : entries) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

void ValueDict::set(std::string key, Value value) {
  for (auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(Value::string(std::move(key)), std::move(value));
}

void ValueDict::set(Value key, Value value) {
  if (key.is_string()) return set(key.as_string(), std::move(value));
  if (!is_hashable(key)) throw TemplateRuntimeError("unhashable type: '" + key.type_name() + "'");
  for (auto& [k, v] : entries) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.data_ = Undefined{std::make_shared<const std::string>(std::move(hint))};
  return v;
}

Value Value::none() {
  Value v;
  v.data_ = std::monostate{};
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.data_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.data_ = i;
  return v;
}

Value Value::floating(double d) {
  Value v;
  v.data_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.data_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::markup(std::string s) {
  Value v = string(std::move(s));
  v.is_markup_ = true;
  return v;
}

namespace {

uint8_t nested_depth(int child_depth) {
  if (child_depth + 1 > kMaxValueDepth) {
    throw TemplateRuntimeError("lists and dicts nest deeper than " + std::to_string(kMaxValueDepth) +
                               " levels");
  }
  return static_cast<uint8_t>(child_depth + 1);
}

}  // namespace

Value Value::list(ValueList items, bool is_tuple) {
  Value v;
  int child_depth = 0;
  for (const Value& item : items) child_depth = std::max(child_depth, item.depth());
  v.depth_ = nested_depth(child_depth);
  v.data_ = std::make_shared<const ValueList>(std::move(items));
  v.is_tuple_ = is_tuple;
  return v;
}

Value Value::dict(ValueDict d) {
  Value v;
  int child_depth = 0;
  for (const auto& entry : d.entries) child_depth = std::max(child_depth, entry.second.depth());
  v.depth_ = nested_depth(child_depth);
  v.data_ = std::make_shared<const ValueDict>(std::move(d));
  return v;
}

Value Value::ns(std::shared_ptr<Namespace> n) {
  Value v;
  v.data_ = std::move(n);
  return v;
}

Value Value::loop(std::shared_ptr<const LoopInfo> l) {
  Value v;
  v.data_ = std::move(l);
  return v;
}

Value Value::callable(std::shared_ptr<const Callable> c) {
  Value v;
  v.data_ = std::move(c);
  return v;
}

Value Value::from_json(const boost::json::value& json) {
  switch (json.kind()) {
    case boost::json::kind::null:
      return none();
    case boost::json::kind::bool_:
      return boolean(json.get_bool());
    case boost::json::kind::int64:
      return integer(json.get_int64());
    case boost::json::kind::uint64: {
      const uint64_t u = json.get_uint64();
      if (u > static_cast<uint64_t>(INT64_MAX)) return floating(static_cast<double>(u));
      return integer(static_cast<int64_t>(u));
    }
    case boost::json::kind::double_:
      return floating(json.get_double());
    case boost::json::kind::string:
      return string(std::string(json.get_string()));
    case boost::json::kind::array: {
      ValueList items;
      items.reserve(json.get_array().size());
      for (const auto& item : json.get_array()) items.push_back(from_json(item));
      return list(std::move(items));
    }
    case boost::json::kind::object: {
      ValueDict d;
      d.entries.reserve(json.get_object().size());
      for (const auto& [key, item] : json.get_object())
        d.entries.emplace_back(string(std::string(key)), from_json(item));
      return dict(std::move(d));
    }
  }
  return none();
}

bool Value::is_number() const {
  const Kind k = kind();
  return k == Kind::boolean || k == Kind::integer || k == Kind::floating;
}

int64_t Value::as_int() const {
  if (kind() == Kind::boolean) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind() == Kind::floating) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

std::string Value::undefined_message() const {
  const auto& hint = std::get<Undefined>(data_).hint;
  return hint ? *hint : std::string("value is undefined");
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::undefined:
      return "Undefined";
    case Kind::none:
      return "NoneType";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return is_markup_ ? "Markup" : "str";
    case Kind::list:
      return is_tuple_ ? "tuple" : "list";
    case Kind::dict:
      return "dict";
    case Kind::ns:
      return "Namespace";
    case Kind::loop:
      return "LoopContext";
    case Kind::callable:
      return "function";
  }
  return "object";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none:
      return false;
    case Value::Kind::boolean:
      return v.as_bool();
    case Value::Kind::integer:
      return v.as_int() != 0;
    case Value::Kind::floating:
      return v.as_double() != 0.0;
    case Value::Kind::string:
      return !v.as_string().empty();
    case Value::Kind::list:
      return !v.as_list().empty();
    case Value::Kind::dict:
      return !v.as_dict().entries.empty();
    default:
      return true;
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string out = std::signbit(d) ? "-" : "";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), std::fabs(d), std::chars_format::scientific);
  const std::string_view sci(buf, result.ptr - buf);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  const int decimal_point = exponent + 1;  // digits before the point in fixed notation
  const int n_digits = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    if (decimal_point <= 0) {
      out += "0." + std::string(-decimal_point, '0') + digits;
    } else if (decimal_point >= n_digits) {
      out += digits + std::string(decimal_point - n_digits, '0') + ".0";
    } else {
      out += digits.substr(0, decimal_point) + "." + digits.substr(decimal_point);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n_digits > 1) out += "." + digits.substr(1);
  out += exponent < 0 ? "e-" : "e+";
  const int magnitude = std::abs(exponent);
  if (magnitude < 10) out += "0";
  out += std::to_string(magnitude);
  return out;
}

namespace {

void append_sequence(std::string& out, const Value& v) {
  const ValueList& items = v.as_list();
  out += v.is_tuple() ? "(" : "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += to_repr(items[i]);
  }
  if (v.is_tuple() && items.size() == 1) out += ",";
  out += v.is_tuple() ? ")" : "]";
}

void append_dict(std::string& out, const ValueDict& d) {
  out += "{";
  for (size_t i = 0; i < d.entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += to_repr(d.entries[i].first) + ": " + to_repr(d.entries[i].second);
  }
  out += "}";
}

}  // namespace

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
      return "";
    case Value::Kind::none:
      return "None";
    case Value::Kind::boolean:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::integer:
      return std::to_string(v.as_int());
    case Value::Kind::floating:
      return float_repr(v.as_double());
    case Value::Kind::string:
      return v.as_string();
    case Value::Kind::list: {
      std::string out;
      append_sequence(out, v);
      return out;
    }
    case Value::Kind::dict: {
      std::string out;
      append_dict(out, v.as_dict());
      return out;
    }
    case Value::Kind::ns:
      return "<Namespace>";
    case Value::Kind::loop:
      return "<LoopContext " + std::to_string(v.as_loop().index0 + 1) + "/" +
             std::to_string(v.as_loop().length) + ">";
    case Value::Kind::callable: {
      const Callable& c = v.as_callable();
      return c.macro ? "<Macro '" + c.macro->name + "'>" : "<function " + c.builtin + ">";
    }
  }
  return "";
}

std::string to_repr(const Value& v) {
  if (v.is_markup()) return "Markup(" + pystr::repr(v.as_string()) + ")";
  if (v.is_string()) return pystr::repr(v.as_string());
  if (v.is_undefined()) return "Undefined";
  return to_str(v);
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind() != K::floating && b.kind() != K::floating) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::undefined:
    case K::none:
      return true;
    case K::string:
      return a.as_string() == b.as_string();
    case K::list: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const ValueList& x = a.as_list();
      const ValueList& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case K::dict: {
      const ValueDict& x = a.as_dict();
      const ValueDict& y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (!other || !equals(value, *other)) return false;
      }
      return true;
    }
    case K::ns:
      return &a.as_ns() == &b.as_ns();
    case K::loop:
      return &a.as_loop() == &b.as_loop();
    case K::callable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

bool less_than(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind() != K::floating && b.kind() != K::floating) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const ValueList& x = a.as_list();
    const ValueList& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) throw TemplateRuntimeError(a.undefined_message());
  if (b.is_undefined()) throw TemplateRuntimeError(b.undefined_message());
  throw TemplateRuntimeError("'<' not supported between instances of '" + a.type_name() + "' and '" +
                             b.type_name() + "'");
}

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto append_u = [&](uint32_t unit) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(unit >> shift) & 0xF]);
  };
  out.push_back('"');
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const char32_t cp = pystr::decode_one(s, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20) {
      append_u(cp);
    } else if (ensure_ascii && cp >= 0x7F) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        append_u(0xD800 + (v >> 10));
        append_u(0xDC00 + (v & 0x3FF));
      } else {
        append_u(cp);
      }
    } else {
      out.append(s.substr(start, pos - start));
    }
  }
  out.push_back('"');
}

// json.dumps turns dict keys into strings: 1 -> "1", True -> "true", None -> "null".
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::string:
      return key.as_string();
    case Value::Kind::none:
      return "null";
    case Value::Kind::boolean:
      return key.as_bool() ? "true" : "false";
    case Value::Kind::integer:
      return std::to_string(key.as_int());
    case Value::Kind::floating:
      return float_repr(key.as_double());
    default:
      throw TemplateRuntimeError("keys must be str, int, float, bool or None, not " + key.type_name());
  }
}

void append_json(std::string& out, const Value& v, const JsonOptions& o, int depth) {
  const bool pretty = o.indent >= 0;
  const std::string item_sep = o.has_separators ? o.item_separator : pretty ? "," : ", ";
  const std::string key_sep = o.has_separators ? o.key_separator : ": ";
  const auto newline = [&](int level) {
    out.push_back('\n');
    out.append(static_cast<size_t>(o.indent) * level, ' ');
  };
  switch (v.kind()) {
    case Value::Kind::none:
      out += "null";
      return;
    case Value::Kind::boolean:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::integer:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::floating: {
      const double d = v.as_double();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += float_repr(d);
      }
      return;
    }
    case Value::Kind::string:
      append_json_string(out, v.as_string(), o.ensure_ascii);
      return;
    case Value::Kind::list: {
      const ValueList& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_sep;
        if (pretty) newline(depth + 1);
        append_json(out, items[i], o, depth + 1);
      }
      if (pretty) newline(depth);
      out += "]";
      return;
    }
    case Value::Kind::dict: {
      const ValueDict& d = v.as_dict();
      if (d.entries.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> order;
      for (const auto& entry : d.entries) order.push_back(&entry);
      if (o.sort_keys) {
        std::stable_sort(order.begin(), order.end(),
                         [](auto* x, auto* y) { return less_than(x->first, y->first); });
      }
      out += "{";
      for (size_t i = 0; i < order.size(); ++i) {
        if (i > 0) out += item_sep;
        if (pretty) newline(depth + 1);
        append_json_string(out, json_key(order[i]->first), o.ensure_ascii);
        out += key_sep;
        append_json(out, order[i]->second, o, depth + 1);
      }
      if (pretty) newline(depth);
      out += "}";
      return;
    }
    default:
      throw TemplateRuntimeError("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  append_json(out, v, options, 0);
  return out;
}

}  // namespace mmrt::text::jinja
