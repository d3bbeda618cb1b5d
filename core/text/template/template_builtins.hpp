#pragma once
// Jinja's filters, tests, global functions and the Python str/dict methods chat templates call,
// with transformers' additions: tojson (json.dumps with ensure_ascii=False), raise_exception,
// strftime_now, namespace and dict.
//
// `messages | selectattr('type', 'equalto', 'image') | list` runs call_filter("selectattr", ...)
// then call_filter("list", ...); `s.strip()` runs call_method(s, "strip", ...). Builtins that
// need to call back into the interpreter (map('upper'), macros) get it through CallContext.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "template_value.hpp"

namespace mmrt::text::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// What a builtin may ask of the running render. Single-threaded, lives for one render.
class CallContext {
 public:
  virtual ~CallContext() = default;
  // Charges allocated bytes against the render's memory budget (throws when it is spent).
  virtual void charge_bytes(int64_t n_bytes) = 0;
  // Calls a macro or global function value.
  virtual Value call_value(const Value& callee, CallArgs args) = 0;
  // A new namespace, emptied when the render ends so that cycles through it cannot leak.
  virtual std::shared_ptr<Namespace> new_namespace() = 0;
};

bool has_filter(std::string_view name);
bool has_test(std::string_view name);

Value call_filter(std::string_view name, const Value& subject, CallArgs args, CallContext& ctx);
bool call_test(std::string_view name, const Value& subject, const CallArgs& args, CallContext& ctx);
// A method of a str, dict, list or loop value; throws when the value has no such method.
Value call_method(const Value& self, std::string_view name, CallArgs args, CallContext& ctx);
// range, namespace, dict, raise_exception, strftime_now; nullopt-like empty name when unknown.
bool has_global_function(std::string_view name);
Value call_global_function(std::string_view name, CallArgs args, CallContext& ctx);

// Jinja's getattr for `obj.name`: a dict key, a namespace attribute or a loop property; undefined
// (naming the missing attribute) otherwise.
Value get_attribute(const Value& obj, const std::string& name);
// Jinja's getitem for `obj[key]`: list/str index (negative from the end), dict key; undefined
// when missing.
Value get_item(const Value& obj, const Value& key);

// markupsafe.escape(v): a Markup as it is; anything else str()-ed, with & < > " ' replaced by HTML
// entities, as Markup.
Value escape(const Value& v);

// Python iteration: list/tuple elements, dict keys, str code points; undefined iterates as empty.
ValueList iterate(const Value& v);

}  // namespace mmrt::text::jinja
