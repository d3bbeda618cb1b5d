#pragma once
// The value model of the chat-template interpreter: the Python objects a Jinja2 template sees.
//
// A template only reads JSON-like data (messages, tools, special tokens), so a value is one of
// undefined, None, bool, int, float, str, list/tuple, dict (string keys, insertion order as in
// Python 3.7+), a namespace (the only mutable object), a loop object or a callable. Strings,
// lists and dicts are immutable and shared by pointer, so copying a Value is cheap; this mirrors
// transformers' ImmutableSandboxedEnvironment, which forbids list.append and dict.update.
//
// Printing follows Python's str(): {{ [1, 'a', None] }} renders "[1, 'a', None]", {{ 1e20 }}
// renders "1e+20", {{ 10 / 2 }} renders "5.0".
//
// Threading: a Value may be read from several threads (shared_ptr counts are atomic); a
// namespace is only ever mutated by the single render call that created it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

namespace mmrt::text::jinja {

class Value;
struct MacroDef;
class Frame;

using ValueList = std::vector<Value>;

// A dict kept in insertion order like a Python dict. Keys are hashable values (None, bool, int, float,
// str, tuples of those) compared with Python's ==, so 1, 1.0 and True are one key; template variables
// and namespace attributes are dicts with str keys.
struct ValueDict {
  std::vector<std::pair<Value, Value>> entries;

  const Value* find(std::string_view key) const;
  const Value* find(const Value& key) const;
  // Replace the value of an existing key in place (keeping its position, and the first key spelling as
  // Python does) or append it. The Value overload throws TemplateRuntimeError for an unhashable key.
  void set(std::string key, Value value);
  void set(Value key, Value value);
};

// jinja2's Namespace: attributes assigned with {% set ns.x = ... %} persist across scopes.
struct Namespace {
  ValueDict attrs;
};

// The `loop` variable of a for statement.
struct LoopInfo {
  int64_t index0 = 0;
  int64_t length = 0;
  int64_t depth0 = 0;
  std::shared_ptr<const ValueList> items;  // the filtered sequence being iterated
};

// A macro bound to the frame it was defined in, or a global function named by `builtin`.
struct Callable {
  std::string builtin;              // "range", "namespace", ... when macro is null
  const MacroDef* macro = nullptr;  // owned by the parsed template, outlives every render
  // The scope the macro body resolves free names in. Weak, because that scope usually holds the
  // macro itself; calling a macro whose scope has ended is an error.
  std::weak_ptr<Frame> closure;
};

// Python's Undefined: printing gives "", truthiness is false, most operations fail naming `hint`.
struct Undefined {
  std::shared_ptr<const std::string> hint;  // e.g. "'foo' is undefined"; null for a bare undefined
};

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, ns, loop, callable };

  Value() = default;  // undefined
  static Value undefined(std::string hint);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value floating(double d);
  static Value string(std::string s);
  // jinja2's Markup, what | safe and | escape return: a str that HTML-escapes the plain strings it is
  // added to (`'<'|safe + '>'` is "<&gt;"), and whose str methods return Markup again. Everything else
  // treats it as a str.
  static Value markup(std::string s);
  static Value list(ValueList items, bool is_tuple = false);
  static Value dict(ValueDict d);
  static Value ns(std::shared_ptr<Namespace> n);
  static Value loop(std::shared_ptr<const LoopInfo> l);
  static Value callable(std::shared_ptr<const Callable> c);
  static Value from_json(const boost::json::value& json);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_tuple() const { return is_tuple_; }
  bool is_markup() const { return is_markup_; }
  // int or bool (Python's bool is an int subclass) or float.
  bool is_number() const;

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;    // bool or int
  double as_double() const;  // bool, int or float
  const std::string& as_string() const { return *std::get<std::shared_ptr<const std::string>>(data_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(data_); }
  const std::shared_ptr<const ValueList>& list_ptr() const {
    return std::get<std::shared_ptr<const ValueList>>(data_);
  }
  const ValueDict& as_dict() const { return *std::get<std::shared_ptr<const ValueDict>>(data_); }
  Namespace& as_ns() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const LoopInfo& as_loop() const { return *std::get<std::shared_ptr<const LoopInfo>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  // The message an operation on this undefined value fails with.
  std::string undefined_message() const;

  // Python's type name, for error messages: "str", "int", "dict", ...
  std::string type_name() const;
  // Levels of list/dict nesting inside this value: 0 for a scalar, 1 for [1, 2].
  int depth() const { return depth_; }

 private:
  std::variant<Undefined, std::monostate, bool, int64_t, double, std::shared_ptr<const std::string>,
               std::shared_ptr<const ValueList>, std::shared_ptr<const ValueDict>, std::shared_ptr<Namespace>,
               std::shared_ptr<const LoopInfo>, std::shared_ptr<const Callable>>
      data_;
  bool is_tuple_ = false;
  bool is_markup_ = false;
  uint8_t depth_ = 0;  // list/dict nesting below this value, capped by kMaxValueDepth
};

// Python truthiness: empty containers, 0, None and undefined are false.
bool truthy(const Value& v);
// Python str(v), which is what {{ v }} prints (undefined prints as "").
std::string to_str(const Value& v);
// Python repr(v), used for the elements of printed lists and dicts.
std::string to_repr(const Value& v);
// Python's float repr: the shortest string that round-trips, "1e+20", "0.1", "5.0".
std::string float_repr(double d);
// Python ==, including 1 == 1.0 == True and order-insensitive dict equality.
bool equals(const Value& a, const Value& b);
// Python <: numbers, strings and sequences; throws TemplateRuntimeError for other pairs.
bool less_than(const Value& a, const Value& b);

struct JsonOptions {
  int indent = -1;  // -1: single line
  bool has_separators = false;
  std::string item_separator;
  std::string key_separator;
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Python's json.dumps(v, ...), the output of transformers' tojson filter.
std::string to_json(const Value& v, const JsonOptions& options);

}  // namespace mmrt::text::jinja
