#include "template_renderer.hpp"

#include <cmath>

#include "python_string.hpp"
#include "template_builtins.hpp"
#include "template_error.hpp"
#include "template_limits.hpp"

namespace mmrt::text::jinja {

// One scope of variables. Lookups fall through to the parent scope.
class Frame {
 public:
  explicit Frame(std::shared_ptr<Frame> parent) : parent_(std::move(parent)) {}

  const Value* lookup(std::string_view name) const {
    for (const Frame* f = this; f; f = f->parent_.get()) {
      if (const Value* v = f->vars_.find(name)) return v;
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) { vars_.set(name, std::move(v)); }
  void set_all(const ValueDict& vars) {
    for (const auto& [name, value] : vars.entries) vars_.set(name, value);
  }

 private:
  std::shared_ptr<Frame> parent_;
  ValueDict vars_;
};

namespace {

using FramePtr = std::shared_ptr<Frame>;

enum class Flow { normal, break_loop, continue_loop };

[[noreturn]] void fail_undefined(const Value& v) {
  throw TemplateRuntimeError(v.undefined_message());
}

void fail_overflow() {
  throw TemplateRuntimeError("integer overflow: mmrt's templates use 64-bit integers");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail_overflow();
  return r;
}

int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) fail_overflow();
  return r;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail_overflow();
  return r;
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) throw TemplateRuntimeError("integer division or modulo by zero");
  if (a == INT64_MIN && b == -1) fail_overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) throw TemplateRuntimeError("integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

std::string binary_type_error(const std::string& op, const Value& a, const Value& b) {
  return "unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'";
}

// Python's slice.indices(): the concrete start, stop and step for a sequence of length n.
struct SliceBounds {
  int64_t start, stop, step;
};

SliceBounds slice_bounds(const Value* start_v, const Value* stop_v, const Value* step_v, int64_t n) {
  const auto as_index = [](const Value* v) -> std::optional<int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (v->kind() == Value::Kind::integer || v->kind() == Value::Kind::boolean) return v->as_int();
    throw TemplateRuntimeError("slice indices must be integers or None, not '" + v->type_name() + "'");
  };
  const std::optional<int64_t> step_opt = as_index(step_v);
  const int64_t step = step_opt.value_or(1);
  if (step == 0) throw TemplateRuntimeError("slice step cannot be zero");
  const auto clamp = [&](std::optional<int64_t> v, int64_t default_value) {
    if (!v) return default_value;
    int64_t i = *v;
    if (i < 0) {
      i = i < -n ? (step < 0 ? -1 : 0) : i + n;
    } else if (i >= n) {
      i = step < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t start = clamp(as_index(start_v), step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(as_index(stop_v), step < 0 ? -1 : n);
  return SliceBounds{start, stop, step};
}

class Renderer final : public CallContext {
 public:
  explicit Renderer(const ParsedTemplate& parsed) : parsed_(parsed) {}

  ~Renderer() override {
    // Namespaces can hold themselves ([ns] stored in ns.x); emptying them breaks such cycles.
    for (const auto& ns : namespaces_) ns->attrs.entries.clear();
  }

  std::string run(const ValueDict& variables) {
    auto root = std::make_shared<Frame>(nullptr);
    root->set_all(variables);
    std::string out;
    out_ = &out;
    try {
      exec_body(parsed_.body, root);
    } catch (const TemplateRuntimeError& e) {
      throw located_error(parsed_.origin, loc_, e.what());
    }
    return out;
  }

  void charge_bytes(int64_t n_bytes) override {
    bytes_ += n_bytes;
    if (bytes_ > kMaxAllocatedBytes) {
      throw TemplateRuntimeError("template allocated more than " + std::to_string(kMaxAllocatedBytes >> 20) +
                                 " MiB while rendering");
    }
  }

  std::shared_ptr<Namespace> new_namespace() override {
    auto ns = std::make_shared<Namespace>();
    namespaces_.push_back(ns);
    return ns;
  }

  Value call_value(const Value& callee, CallArgs args) override {
    if (callee.is_undefined()) fail_undefined(callee);
    if (callee.kind() != Value::Kind::callable) {
      throw TemplateRuntimeError("'" + callee.type_name() + "' object is not callable");
    }
    const Callable& c = callee.as_callable();
    if (!c.macro) return call_global_function(c.builtin, std::move(args), *this);
    return call_macro(c, std::move(args));
  }

 private:
  void step(SourceLoc loc) {
    loc_ = loc;
    if (++steps_ > kMaxEvaluationSteps) {
      throw TemplateRuntimeError("template exceeded " + std::to_string(kMaxEvaluationSteps) +
                                 " evaluation steps");
    }
  }

  void emit(std::string_view text) {
    charge_bytes(static_cast<int64_t>(text.size()));
    out_->append(text);
  }

  // ---- statements ----

  Flow exec_body(const Body& body, const FramePtr& frame) {
    for (const StmtPtr& stmt : body) {
      const Flow flow = exec(*stmt, frame);
      if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  Flow exec(const Stmt& s, const FramePtr& frame) {
    step(s.loc);
    switch (s.kind) {
      case StmtKind::text:
        emit(s.text);
        return Flow::normal;
      case StmtKind::print:
        emit(to_str(eval(*s.expr, frame)));
        return Flow::normal;
      case StmtKind::if_:
        for (size_t i = 0; i < s.conditions.size(); ++i) {
          if (truthy(eval(*s.conditions[i], frame))) return exec_body(s.bodies[i], frame);
        }
        return exec_body(s.else_body, frame);
      case StmtKind::for_:
        exec_for(s, frame);
        return Flow::normal;
      case StmtKind::set:
        assign(s.targets, eval(*s.expr, frame), *frame);
        return Flow::normal;
      case StmtKind::set_attr:
        exec_set_attr(s, frame);
        return Flow::normal;
      case StmtKind::set_block: {
        Value text = Value::string(render_to_string(s.body, std::make_shared<Frame>(frame)));
        frame->set(s.targets[0], apply_filters(s.filters, std::move(text), frame));
        return Flow::normal;
      }
      case StmtKind::filter_block: {
        Value text = Value::string(render_to_string(s.body, std::make_shared<Frame>(frame)));
        emit(to_str(apply_filters(s.filters, std::move(text), frame)));
        return Flow::normal;
      }
      case StmtKind::macro: {
        auto callable = std::make_shared<Callable>();
        callable->macro = s.macro.get();
        callable->closure = frame;
        frame->set(s.macro->name, Value::callable(std::move(callable)));
        return Flow::normal;
      }
      case StmtKind::break_:
        return Flow::break_loop;
      case StmtKind::continue_:
        return Flow::continue_loop;
      case StmtKind::block:
        return exec_body(s.body, std::make_shared<Frame>(frame));
    }
    return Flow::normal;
  }

  Value apply_filters(const std::vector<ExprPtr>& filters, Value value, const FramePtr& frame) {
    for (const ExprPtr& filter : filters) {
      step(filter->loc);
      value = call_filter(filter->name, value, eval_args(*filter, 1, frame), *this);
    }
    return value;
  }

  void assign(const std::vector<std::string>& targets, const Value& value, Frame& frame) {
    if (targets.size() == 1) {
      frame.set(targets[0], value);
      return;
    }
    if (value.is_undefined()) fail_undefined(value);
    const ValueList items = iterate(value);
    if (items.size() != targets.size()) {
      throw TemplateRuntimeError(
          items.size() > targets.size()
              ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
              : "not enough values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                    std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < targets.size(); ++i) frame.set(targets[i], items[i]);
  }

  void exec_set_attr(const Stmt& s, const FramePtr& frame) {
    const Value* target = frame->lookup(s.targets[0]);
    if (!target || target->kind() != Value::Kind::ns) {
      throw TemplateRuntimeError("cannot assign attribute '" + s.attr + "' on '" + s.targets[0] +
                                 "': it is not a namespace");
    }
    if (!s.attr.empty() && s.attr[0] == '_') {
      throw TemplateRuntimeError("cannot store underscore-prefixed attribute '" + s.attr +
                                 "' on a namespace");
    }
    Namespace& ns = target->as_ns();
    Value value = eval(*s.expr, frame);
    ns.attrs.set(s.attr, std::move(value));
  }

  void exec_for(const Stmt& s, const FramePtr& frame) {
    const Value iterable = eval(*s.expr, frame);
    if (iterable.is_none() || iterable.is_number()) {
      throw TemplateRuntimeError("'" + iterable.type_name() + "' object is not iterable");
    }
    ValueList items = iterate(iterable);
    if (s.filter) {
      ValueList kept;
      for (Value& item : items) {
        auto scope = std::make_shared<Frame>(frame);
        assign(s.targets, item, *scope);
        if (truthy(eval(*s.filter, scope))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value)));
    auto shared_items = std::make_shared<const ValueList>(std::move(items));
    const Value* outer_loop = frame->lookup("loop");
    const int64_t depth0 =
        outer_loop && outer_loop->kind() == Value::Kind::loop ? outer_loop->as_loop().depth0 + 1 : 0;
    const int64_t length = static_cast<int64_t>(shared_items->size());
    for (int64_t i = 0; i < length; ++i) {
      step(s.loc);
      auto scope = std::make_shared<Frame>(frame);
      assign(s.targets, (*shared_items)[i], *scope);
      auto info = std::make_shared<LoopInfo>();
      info->index0 = i;
      info->length = length;
      info->depth0 = depth0;
      info->items = shared_items;
      scope->set("loop", Value::loop(std::move(info)));
      if (exec_body(s.body, scope) == Flow::break_loop) break;
    }
    if (length == 0) exec_body(s.else_body, std::make_shared<Frame>(frame));
  }

  std::string render_to_string(const Body& body, const FramePtr& frame) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    try {
      exec_body(body, frame);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buffer;
  }

  Value call_macro(const Callable& c, CallArgs args) {
    const MacroDef& m = *c.macro;
    FramePtr closure = c.closure.lock();
    if (!closure)
      throw TemplateRuntimeError("macro '" + m.name + "' called after the scope defining it ended");
    if (call_depth_ >= kMaxCallDepth) {
      throw TemplateRuntimeError("macro calls nest deeper than " + std::to_string(kMaxCallDepth) + " levels");
    }
    if (args.positional.size() > m.params.size()) {
      throw TemplateRuntimeError("macro '" + m.name + "' takes not more than " +
                                 std::to_string(m.params.size()) + " argument(s)");
    }
    auto scope = std::make_shared<Frame>(closure);
    std::vector<bool> bound(m.params.size(), false);
    for (size_t i = 0; i < args.positional.size(); ++i) {
      scope->set(m.params[i], std::move(args.positional[i]));
      bound[i] = true;
    }
    for (auto& [key, value] : args.keyword) {
      size_t i = 0;
      while (i < m.params.size() && m.params[i] != key) ++i;
      if (i == m.params.size())
        throw TemplateRuntimeError("macro '" + m.name + "' takes no keyword argument '" + key + "'");
      if (bound[i])
        throw TemplateRuntimeError("macro '" + m.name + "' got multiple values for argument '" + key + "'");
      scope->set(key, std::move(value));
      bound[i] = true;
    }
    for (size_t i = 0; i < m.params.size(); ++i) {
      if (bound[i]) continue;
      scope->set(m.params[i], m.defaults[i]
                                  ? eval(*m.defaults[i], scope)
                                  : Value::undefined("parameter '" + m.params[i] + "' was not provided"));
    }
    ++call_depth_;
    std::string text;
    try {
      text = render_to_string(m.body, scope);
    } catch (...) {
      --call_depth_;
      throw;
    }
    --call_depth_;
    return Value::string(std::move(text));
  }

  // ---- expressions ----

  CallArgs eval_args(const Expr& e, size_t first_positional, const FramePtr& frame) {
    CallArgs args;
    for (size_t i = first_positional; i < e.children.size(); ++i)
      args.positional.push_back(eval(*e.children[i], frame));
    for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value, frame));
    return args;
  }

  Value eval(const Expr& e, const FramePtr& frame) {
    step(e.loc);
    switch (e.kind) {
      case ExprKind::constant:
        return e.value;
      case ExprKind::name: {
        if (const Value* v = frame->lookup(e.name)) return *v;
        if (has_global_function(e.name)) {
          auto callable = std::make_shared<Callable>();
          callable->builtin = e.name;
          return Value::callable(std::move(callable));
        }
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case ExprKind::list:
      case ExprKind::tuple: {
        ValueList items;
        items.reserve(e.children.size());
        for (const ExprPtr& child : e.children) items.push_back(eval(*child, frame));
        charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value)));
        return Value::list(std::move(items), e.kind == ExprKind::tuple);
      }
      case ExprKind::dict: {
        ValueDict d;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          Value key = eval(*e.children[i], frame);
          d.set(std::move(key), eval(*e.children[i + 1], frame));
        }
        charge_bytes(static_cast<int64_t>(d.entries.size() * sizeof(Value)));
        return Value::dict(std::move(d));
      }
      case ExprKind::get_attr: {
        const Value obj = eval(*e.children[0], frame);
        if (obj.is_undefined()) fail_undefined(obj);
        return get_attribute(obj, e.name);
      }
      case ExprKind::get_item: {
        const Value obj = eval(*e.children[0], frame);
        if (obj.is_undefined()) fail_undefined(obj);
        return get_item(obj, eval(*e.children[1], frame));
      }
      case ExprKind::slice:
        return eval_slice(e, frame);
      case ExprKind::call:
        return eval_call(e, frame);
      case ExprKind::filter: {
        const Value subject = eval(*e.children[0], frame);
        return call_filter(e.name, subject, eval_args(e, 1, frame), *this);
      }
      case ExprKind::test: {
        const Value subject = eval(*e.children[0], frame);
        const bool result = call_test(e.name, subject, eval_args(e, 1, frame), *this);
        return Value::boolean(result != e.negated);
      }
      case ExprKind::negate:
      case ExprKind::unary_plus: {
        const Value v = eval(*e.children[0], frame);
        if (v.is_undefined()) fail_undefined(v);
        if (!v.is_number())
          throw TemplateRuntimeError("bad operand type for unary " +
                                     std::string(e.kind == ExprKind::negate ? "-" : "+") + ": '" +
                                     v.type_name() + "'");
        if (e.kind == ExprKind::unary_plus)
          return v.kind() == Value::Kind::boolean ? Value::integer(v.as_int()) : v;
        if (v.kind() == Value::Kind::floating) return Value::floating(-v.as_double());
        return Value::integer(checked_sub(0, v.as_int()));
      }
      case ExprKind::logical_not:
        return Value::boolean(!truthy(eval(*e.children[0], frame)));
      case ExprKind::logical_and: {
        Value left = eval(*e.children[0], frame);
        return truthy(left) ? eval(*e.children[1], frame) : left;
      }
      case ExprKind::logical_or: {
        Value left = eval(*e.children[0], frame);
        return truthy(left) ? left : eval(*e.children[1], frame);
      }
      case ExprKind::binary:
        return eval_binary(e.name, eval(*e.children[0], frame), eval(*e.children[1], frame));
      case ExprKind::compare: {
        Value left = eval(*e.children[0], frame);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.children[i + 1], frame);
          if (!compare(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case ExprKind::conditional:
        if (truthy(eval(*e.children[0], frame))) return eval(*e.children[1], frame);
        if (e.children[2]) return eval(*e.children[2], frame);
        return Value::undefined("the conditional expression has no else branch");
    }
    return Value();
  }

  Value eval_call(const Expr& e, const FramePtr& frame) {
    const Expr& callee = *e.children[0];
    if (callee.kind == ExprKind::get_attr) {
      const Value self = eval(*callee.children[0], frame);
      if (self.is_undefined()) fail_undefined(self);
      CallArgs args = eval_args(e, 1, frame);
      const Value attribute = get_attribute(self, callee.name);
      if (attribute.kind() == Value::Kind::callable) return call_value(attribute, std::move(args));
      return call_method(self, callee.name, std::move(args), *this);
    }
    const Value target = eval(callee, frame);
    return call_value(target, eval_args(e, 1, frame));
  }

  Value eval_slice(const Expr& e, const FramePtr& frame) {
    const Value obj = eval(*e.children[0], frame);
    if (obj.is_undefined()) fail_undefined(obj);
    Value parts[3];
    const Value* part_ptrs[3] = {nullptr, nullptr, nullptr};
    for (int i = 0; i < 3; ++i) {
      if (e.children[i + 1]) {
        parts[i] = eval(*e.children[i + 1], frame);
        part_ptrs[i] = &parts[i];
      }
    }
    if (obj.is_string()) {
      const std::string& s = obj.as_string();
      const std::vector<size_t> offsets = pystr::code_point_offsets(s);
      const int64_t n = static_cast<int64_t>(offsets.size()) - 1;
      const SliceBounds b = slice_bounds(part_ptrs[0], part_ptrs[1], part_ptrs[2], n);
      std::string out;
      for (int64_t i = b.start; b.step > 0 ? i < b.stop : i > b.stop; i += b.step) {
        out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
      }
      charge_bytes(static_cast<int64_t>(out.size()));
      return Value::string(std::move(out));
    }
    if (obj.is_list()) {
      const ValueList& items = obj.as_list();
      const SliceBounds b =
          slice_bounds(part_ptrs[0], part_ptrs[1], part_ptrs[2], static_cast<int64_t>(items.size()));
      ValueList out;
      for (int64_t i = b.start; b.step > 0 ? i < b.stop : i > b.stop; i += b.step) out.push_back(items[i]);
      charge_bytes(static_cast<int64_t>(out.size() * sizeof(Value)));
      return Value::list(std::move(out), obj.is_tuple());
    }
    throw TemplateRuntimeError("'" + obj.type_name() + "' object is not subscriptable");
  }

  bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return less_than(a, b) || equals(a, b);
    if (op == ">=") return less_than(b, a) || equals(a, b);
    const bool found = contains(b, a);
    return op == "in" ? found : !found;
  }

  static bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
      case Value::Kind::undefined:
        return false;
      case Value::Kind::string:
        if (!item.is_string()) {
          throw TemplateRuntimeError("'in <string>' requires string as left operand, not " +
                                     item.type_name());
        }
        return container.as_string().find(item.as_string()) != std::string::npos;
      case Value::Kind::list:
        for (const Value& v : container.as_list()) {
          if (equals(v, item)) return true;
        }
        return false;
      case Value::Kind::dict:
        return container.as_dict().find(item) != nullptr;
      default:
        throw TemplateRuntimeError("argument of type '" + container.type_name() + "' is not iterable");
    }
  }

  Value eval_binary(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
      std::string text = to_str(a) + to_str(b);
      charge_bytes(static_cast<int64_t>(text.size()));
      return Value::string(std::move(text));
    }
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
    if (op == "+" && a.is_string() && b.is_string()) {
      charge_bytes(static_cast<int64_t>(a.as_string().size() + b.as_string().size()));
      // Markup.__add__ and __radd__ escape the plain operand.
      if (a.is_markup() || b.is_markup()) return Value::markup(escape(a).as_string() + escape(b).as_string());
      return Value::string(a.as_string() + b.as_string());
    }
    if (op == "+" && a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      ValueList items = a.as_list();
      items.insert(items.end(), b.as_list().begin(), b.as_list().end());
      charge_bytes(static_cast<int64_t>(items.size() * sizeof(Value)));
      return Value::list(std::move(items), a.is_tuple());
    }
    if (op == "*") {
      const bool int_right = b.kind() == Value::Kind::integer || b.kind() == Value::Kind::boolean;
      const bool int_left = a.kind() == Value::Kind::integer || a.kind() == Value::Kind::boolean;
      if ((a.is_string() || a.is_list()) && int_right) return repeat(a, b.as_int());
      if ((b.is_string() || b.is_list()) && int_left) return repeat(b, a.as_int());
    }
    if (op == "+" && a.is_string() && !a.is_markup()) {
      throw TemplateRuntimeError("can only concatenate str (not \"" + b.type_name() + "\") to str");
    }
    throw TemplateRuntimeError(binary_type_error(op, a, b));
  }

  Value repeat(const Value& seq, int64_t times) {
    if (times < 0) times = 0;
    const int64_t unit = seq.is_string() ? static_cast<int64_t>(seq.as_string().size())
                                         : static_cast<int64_t>(seq.as_list().size() * sizeof(Value));
    if (unit > 0 && times > kMaxAllocatedBytes / unit) charge_bytes(kMaxAllocatedBytes + 1);
    charge_bytes(unit * times);
    if (seq.is_string()) {
      std::string out;
      out.reserve(static_cast<size_t>(unit * times));
      for (int64_t i = 0; i < times; ++i) out += seq.as_string();
      return seq.is_markup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
    }
    ValueList items;
    for (int64_t i = 0; i < times; ++i) items.insert(items.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(items), seq.is_tuple());
  }

  static Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    const bool both_int = a.kind() != Value::Kind::floating && b.kind() != Value::Kind::floating;
    if (op == "/") {
      if (b.as_double() == 0.0) throw TemplateRuntimeError("division by zero");
      return Value::floating(a.as_double() / b.as_double());
    }
    if (both_int) {
      const int64_t x = a.as_int();
      const int64_t y = b.as_int();
      if (op == "+") return Value::integer(checked_add(x, y));
      if (op == "-") return Value::integer(checked_sub(x, y));
      if (op == "*") return Value::integer(checked_mul(x, y));
      if (op == "//") return Value::integer(floor_div(x, y));
      if (op == "%") return Value::integer(floor_mod(x, y));
      if (op == "**") {
        if (y < 0) return Value::floating(std::pow(static_cast<double>(x), static_cast<double>(y)));
        int64_t result = 1;
        for (int64_t i = 0; i < y; ++i) {
          result = checked_mul(result, x);
          if (result == 0 || result == 1) break;
          if (result == -1) {
            result = (y - i - 1) % 2 == 0 ? -1 : 1;
            break;
          }
        }
        return Value::integer(result);
      }
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (op == "+") return Value::floating(x + y);
    if (op == "-") return Value::floating(x - y);
    if (op == "*") return Value::floating(x * y);
    if (op == "//" || op == "%") {
      if (y == 0.0) throw TemplateRuntimeError("float division or modulo by zero");
      double mod = std::fmod(x, y);
      if (mod != 0.0 && ((y < 0) != (mod < 0))) mod += y;
      if (op == "%") return Value::floating(mod);
      return Value::floating(std::floor((x - mod) / y + 0.5));
    }
    if (op == "**") return Value::floating(std::pow(x, y));
    throw TemplateRuntimeError("unsupported operator " + op);
  }

  const ParsedTemplate& parsed_;
  std::string* out_ = nullptr;
  SourceLoc loc_;
  int64_t steps_ = 0;
  int64_t bytes_ = 0;
  int call_depth_ = 0;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
};

}  // namespace

std::string render_template(const ParsedTemplate& parsed, const ValueDict& variables) {
  return Renderer(parsed).run(variables);
}

}  // namespace mmrt::text::jinja
