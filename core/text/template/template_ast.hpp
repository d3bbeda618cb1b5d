#pragma once
// The syntax tree of a parsed chat template.
//
// `{% for m in messages if m.role != 'system' %}{{ m.content | trim }}{% endfor %}` parses to
//   Stmt{for, targets=[m], children=[Expr{name messages}, Expr{compare ...}], body=[
//     Stmt{print, expr=Expr{filter "trim", children=[Expr{getattr "content", children=[Expr{name m}]}]}}]}
// Nodes are generic (a kind, a name, child expressions) rather than one class per construct,
// which keeps the parser and the evaluator a pair of switch statements.
//
// Ownership: a ParsedTemplate owns its whole tree; nodes are immutable after parsing, so any
// number of threads can render the same tree at once.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template_error.hpp"
#include "template_value.hpp"

namespace mmrt::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  constant,     // value
  name,         // name
  list,         // children = elements
  tuple,        // children = elements
  dict,         // children = key0, value0, key1, value1, ...
  get_attr,     // children[0].name
  get_item,     // children[0][children[1]]
  slice,        // children[0][children[1]:children[2]:children[3]], absent parts are null
  call,         // children[0](children[1..], kwargs)
  filter,       // children[0] | name(children[1..], kwargs); children[0] is null in a block's filter chain
  test,         // children[0] is [not] name(children[1..]); negated
  negate,       // -children[0]
  unary_plus,   // +children[0]
  logical_not,  // not children[0]
  logical_and,  // children[0] and children[1]
  logical_or,   // children[0] or children[1]
  binary,       // children[0] op children[1], op in + - * / // % ** ~
  compare,      // children[0] ops[0] children[1] ops[1] children[2] ... (chained like Python)
  conditional,  // children[1] if children[0] else children[2] (children[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::constant;
  SourceLoc loc;
  Value value;                                          // constant
  std::string name;                                     // name, attribute, filter, test, binary operator
  std::vector<std::string> ops;                         // compare operators: == != < <= > >= in notin
  std::vector<ExprPtr> children;                        // see ExprKind
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call, filter, test keyword arguments
  bool negated = false;                                 // test
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// {% macro name(params) %}body{% endmacro %}; callables point at it during a render.
struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned with params; null where there is none
  Body body;
};

enum class StmtKind {
  text,          // literal template data: text
  print,         // {{ expr }}
  if_,           // branches: conditions[i] -> bodies[i]; else_body
  for_,          // for targets in expr [if filter]: body [else else_body]
  set,           // set targets = expr
  set_attr,      // set targets[0].attr = expr (namespace attribute)
  set_block,     // set targets[0] %}body{% endset
  macro,         // macro definition
  break_,        // {% break %}
  continue_,     // {% continue %}
  block,         // a body rendered in place: {% generation %}...{% endgeneration %}
  filter_block,  // {% filter f | g %}body{% endfilter %}: the rendered body through filters
};

struct Stmt {
  StmtKind kind = StmtKind::text;
  SourceLoc loc;
  std::string text;                  // text
  std::string attr;                  // set_attr
  std::vector<std::string> targets;  // for, set, set_block: assigned names (several unpack a sequence)
  ExprPtr expr;                      // print, for (iterable), set, set_attr
  ExprPtr filter;                    // for: the optional `if` clause
  std::vector<ExprPtr> conditions;   // if
  std::vector<Body> bodies;          // if
  Body body;                         // for, set_block, block, filter_block
  // filter_block, set_block: filter expressions (ExprKind::filter, null subject) applied in order to
  // the rendered body.
  std::vector<ExprPtr> filters;
  Body else_body;                   // if, for
  std::unique_ptr<MacroDef> macro;  // macro
};

struct ParsedTemplate {
  std::string origin;  // where the template came from, for error messages
  Body body;
};

}  // namespace mmrt::text::jinja
