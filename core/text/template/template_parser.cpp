#include "template_parser.hpp"

#include <algorithm>
#include <initializer_list>

#include "template_builtins.hpp"
#include "template_limits.hpp"

namespace mmrt::text::jinja {
namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& origin)
      : tokens_(std::move(tokens)), origin_(origin) {}

  Body parse_all() {
    Body body = parse_body({}, nullptr);
    return body;
  }

 private:
  // Bounds parser (and evaluator) recursion; see kMaxSyntaxDepth.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxSyntaxDepth) {
        p_.fail(p_.current().loc,
                "template nests deeper than " + std::to_string(kMaxSyntaxDepth) + " levels");
      }
    }
    ~DepthGuard() { --p_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& p_;
  };

  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  [[noreturn]] void fail(SourceLoc loc, const std::string& message) const {
    throw located_error(origin_, loc, message);
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::data:
        return "template text";
      case TokenKind::var_begin:
        return "'{{'";
      case TokenKind::var_end:
        return "end of print statement '}}'";
      case TokenKind::block_begin:
        return "'{%'";
      case TokenKind::block_end:
        return "end of statement block '%}'";
      case TokenKind::string:
        return "string literal";
      case TokenKind::integer:
      case TokenKind::floating:
        return "number " + t.text;
      case TokenKind::eof:
        return "end of template";
      default:
        return "'" + t.text + "'";
    }
  }

  bool at_op(const char* op) const { return current().kind == TokenKind::op && current().text == op; }
  bool at_name(const char* name) const { return current().kind == TokenKind::name && current().text == name; }
  bool at_name_in(std::initializer_list<const char*> names) const {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return at_name(n); });
  }

  void expect_op(const char* op) {
    if (!at_op(op)) fail(current().loc, std::string("expected '") + op + "', got " + describe(current()));
    advance();
  }
  void expect_block_end(const std::string& tag) {
    if (current().kind != TokenKind::block_end) {
      fail(current().loc, "expected end of '" + tag + "' statement '%}', got " + describe(current()));
    }
    advance();
  }
  std::string expect_name(const char* what) {
    if (current().kind != TokenKind::name)
      fail(current().loc, std::string("expected ") + what + ", got " + describe(current()));
    return advance().text;
  }

  static ExprPtr make_expr(ExprKind kind, SourceLoc loc) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    return e;
  }

  // ---- statements ----

  // Parses statements until a block tag whose name is in end_tags; leaves the position on that
  // name and stores it in found_end. At top level end_tags is empty and the body ends at eof.
  Body parse_body(std::initializer_list<const char*> end_tags, std::string* found_end,
                  const Token* opener = nullptr, const char* expected = nullptr) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = current();
      switch (t.kind) {
        case TokenKind::data: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::text;
          s->loc = t.loc;
          s->text = t.text;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case TokenKind::var_begin: {
          advance();
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::print;
          s->loc = t.loc;
          s->expr = parse_tuple(true);
          if (current().kind != TokenKind::var_end) {
            fail(current().loc, "expected end of print statement '}}', got " + describe(current()));
          }
          advance();
          body.push_back(std::move(s));
          break;
        }
        case TokenKind::block_begin: {
          const Token& name = peek();
          if (name.kind == TokenKind::name &&
              std::any_of(end_tags.begin(), end_tags.end(), [&](const char* e) { return name.text == e; })) {
            advance();
            *found_end = advance().text;
            return body;
          }
          advance();
          body.push_back(parse_statement(t));
          break;
        }
        case TokenKind::eof:
          if (opener) {
            fail(opener->loc, "'" + peek_tag_name(*opener) + "' block is never closed: expected '" +
                                  expected + "' before the end of the template");
          }
          return body;
        default:
          fail(t.loc, "unexpected " + describe(t));
      }
    }
  }

  std::string peek_tag_name(const Token& block_begin) const {
    const size_t index = static_cast<size_t>(&block_begin - tokens_.data());
    return index + 1 < tokens_.size() ? tokens_[index + 1].text : "";
  }

  StmtPtr parse_statement(const Token& opener) {
    if (current().kind != TokenKind::name)
      fail(current().loc, "expected a tag name, got " + describe(current()));
    const Token& tag = current();
    const std::string name = tag.text;
    if (name == "for") return parse_for(opener);
    if (name == "if") return parse_if(opener);
    if (name == "set") return parse_set(opener);
    if (name == "macro") return parse_macro(opener);
    if (name == "generation") return parse_block(opener, "endgeneration");
    if (name == "filter") return parse_filter_block(opener);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail(tag.loc, "'" + name + "' outside of a for loop");
      advance();
      expect_block_end(name);
      auto s = std::make_unique<Stmt>();
      s->kind = name == "break" ? StmtKind::break_ : StmtKind::continue_;
      s->loc = opener.loc;
      return s;
    }
    static constexpr const char* kClosers[] = {"endfor",   "endif",         "elif",   "else",     "endset",
                                               "endmacro", "endgeneration", "endraw", "endfilter"};
    for (const char* closer : kClosers) {
      if (name == closer) fail(tag.loc, "unexpected '" + name + "': no open block takes it here");
    }
    static constexpr const char* kUnsupported[] = {"include", "import", "from", "extends",    "block",
                                                   "call",    "with",   "do",   "autoescape", "trans"};
    for (const char* unsupported : kUnsupported) {
      if (name == unsupported) fail(tag.loc, "unsupported tag '" + name + "' (mmrt's Jinja subset lacks it)");
    }
    fail(tag.loc, "unknown tag '" + name + "'");
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    const bool parenthesized = at_op("(");
    if (parenthesized) advance();
    targets.push_back(expect_name("a variable name"));
    while (at_op(",")) {
      advance();
      if (current().kind != TokenKind::name) break;
      targets.push_back(advance().text);
    }
    if (parenthesized) expect_op(")");
    return targets;
  }

  StmtPtr parse_for(const Token& opener) {
    advance();  // for
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::for_;
    s->loc = opener.loc;
    s->targets = parse_targets();
    if (!at_name("in")) fail(current().loc, "expected 'in' in for statement, got " + describe(current()));
    advance();
    s->expr = parse_tuple(false);
    if (at_name("if")) {
      advance();
      s->filter = parse_expression(true);
    }
    if (at_name("recursive")) fail(current().loc, "recursive for loops are not supported");
    expect_block_end("for");
    std::string end;
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"}, &end, &opener, "endfor");
    --loop_depth_;
    if (end == "else") {
      expect_block_end("else");
      s->else_body = parse_body({"endfor"}, &end, &opener, "endfor");
    }
    expect_block_end("endfor");
    return s;
  }

  StmtPtr parse_if(const Token& opener) {
    advance();  // if
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::if_;
    s->loc = opener.loc;
    while (true) {
      s->conditions.push_back(parse_tuple(true));
      expect_block_end("if");
      std::string end;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, &end, &opener, "endif"));
      if (end == "elif") continue;
      if (end == "else") {
        expect_block_end("else");
        s->else_body = parse_body({"endif"}, &end, &opener, "endif");
      }
      expect_block_end("endif");
      return s;
    }
  }

  StmtPtr parse_set(const Token& opener) {
    advance();  // set
    auto s = std::make_unique<Stmt>();
    s->loc = opener.loc;
    if (current().kind == TokenKind::name && peek().kind == TokenKind::op && peek().text == ".") {
      s->kind = StmtKind::set_attr;
      s->targets.push_back(advance().text);
      advance();  // .
      s->attr = expect_name("an attribute name");
      expect_op("=");
      s->expr = parse_tuple(true);
      expect_block_end("set");
      return s;
    }
    s->targets = parse_targets();
    if (at_op("=")) {
      advance();
      s->kind = StmtKind::set;
      s->expr = parse_tuple(true);
      expect_block_end("set");
      return s;
    }
    if (s->targets.size() != 1) fail(current().loc, "a block set assigns exactly one name");
    while (at_op("|")) s->filters.push_back(parse_filter(nullptr));
    expect_block_end("set");
    s->kind = StmtKind::set_block;
    std::string end;
    s->body = parse_body({"endset"}, &end, &opener, "endset");
    expect_block_end("endset");
    return s;
  }

  StmtPtr parse_macro(const Token& opener) {
    advance();  // macro
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::macro;
    s->loc = opener.loc;
    s->macro = std::make_unique<MacroDef>();
    s->macro->name = expect_name("a macro name");
    expect_op("(");
    while (!at_op(")")) {
      if (!s->macro->params.empty()) expect_op(",");
      if (at_op(")")) break;
      s->macro->params.push_back(expect_name("a macro parameter name"));
      if (at_op("=")) {
        advance();
        s->macro->defaults.push_back(parse_expression(true));
      } else {
        s->macro->defaults.push_back(nullptr);
      }
    }
    advance();  // )
    expect_block_end("macro");
    std::string end;
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    s->macro->body = parse_body({"endmacro"}, &end, &opener, "endmacro");
    loop_depth_ = saved_loop_depth;
    expect_block_end("endmacro");
    return s;
  }

  StmtPtr parse_block(const Token& opener, const char* end_tag) {
    const std::string tag = advance().text;
    expect_block_end(tag);
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::block;
    s->loc = opener.loc;
    std::string end;
    s->body = parse_body({end_tag}, &end, &opener, end_tag);
    expect_block_end(end_tag);
    return s;
  }

  // {% filter name(args) | name2 %}body{% endfilter %}
  StmtPtr parse_filter_block(const Token& opener) {
    advance();  // filter
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::filter_block;
    s->loc = opener.loc;
    s->filters.push_back(parse_filter_call(nullptr));
    while (at_op("|")) s->filters.push_back(parse_filter(nullptr));
    expect_block_end("filter");
    std::string end;
    s->body = parse_body({"endfilter"}, &end, &opener, "endfilter");
    expect_block_end("endfilter");
    return s;
  }

  // ---- expressions ----

  // An expression, or a tuple when commas follow (`{{ a, b }}`, `for x in a, b`).
  ExprPtr parse_tuple(bool with_condexpr) {
    const SourceLoc loc = current().loc;
    ExprPtr first = parse_expression(with_condexpr);
    if (!at_op(",")) return first;
    auto tuple = make_expr(ExprKind::tuple, loc);
    tuple->children.push_back(std::move(first));
    while (at_op(",")) {
      advance();
      if (!starts_expression()) break;
      tuple->children.push_back(parse_expression(with_condexpr));
    }
    return tuple;
  }

  bool starts_expression() const {
    const Token& t = current();
    switch (t.kind) {
      case TokenKind::name:
        return t.text != "in" && t.text != "if" && t.text != "else";
      case TokenKind::string:
      case TokenKind::integer:
      case TokenKind::floating:
        return true;
      case TokenKind::op:
        return t.text == "(" || t.text == "[" || t.text == "{" || t.text == "-" || t.text == "+";
      default:
        return false;
    }
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (at_name("if")) {
      const SourceLoc loc = advance().loc;
      auto cond = make_expr(ExprKind::conditional, loc);
      cond->children.push_back(parse_or());
      cond->children.push_back(std::move(expr));
      if (at_name("else")) {
        advance();
        cond->children.push_back(parse_condexpr());
      } else {
        cond->children.push_back(nullptr);
      }
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      auto node = make_expr(ExprKind::logical_or, advance().loc);
      node->children.push_back(std::move(left));
      node->children.push_back(parse_and());
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      auto node = make_expr(ExprKind::logical_and, advance().loc);
      node->children.push_back(std::move(left));
      node->children.push_back(parse_not());
      left = std::move(node);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      DepthGuard guard(*this);
      auto node = make_expr(ExprKind::logical_not, advance().loc);
      node->children.push_back(parse_not());
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const SourceLoc loc = current().loc;
    ExprPtr first = parse_math1();
    ExprPtr node;
    while (true) {
      std::string op;
      if (current().kind == TokenKind::op &&
          (at_op("==") || at_op("!=") || at_op("<") || at_op("<=") || at_op(">") || at_op(">="))) {
        op = advance().text;
      } else if (at_name("in")) {
        advance();
        op = "in";
      } else if (at_name("not") && peek().kind == TokenKind::name && peek().text == "in") {
        advance();
        advance();
        op = "notin";
      } else {
        break;
      }
      if (!node) {
        node = make_expr(ExprKind::compare, loc);
        node->children.push_back(std::move(first));
      }
      node->ops.push_back(op);
      node->children.push_back(parse_math1());
    }
    return node ? std::move(node) : std::move(first);
  }

  ExprPtr binary(ExprPtr left, const Token& op, ExprPtr right) {
    auto node = make_expr(ExprKind::binary, op.loc);
    node->name = op.text;
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    return node;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_op("+") || at_op("-")) {
      const Token& op = advance();
      left = binary(std::move(left), op, parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_op("~")) {
      const Token& op = advance();
      left = binary(std::move(left), op, parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& op = advance();
      left = binary(std::move(left), op, parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_op("**")) {
      const Token& op = advance();
      left = binary(std::move(left), op, parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (at_op("-") || at_op("+")) {
      const Token& op = advance();
      node = make_expr(op.text == "-" ? ExprKind::negate : ExprKind::unary_plus, op.loc);
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    switch (t.kind) {
      case TokenKind::name: {
        advance();
        static const std::pair<const char*, int> kLiterals[] = {{"true", 1},  {"True", 1},  {"false", 0},
                                                                {"False", 0}, {"none", -1}, {"None", -1}};
        for (const auto& [word, kind] : kLiterals) {
          if (t.text == word) {
            auto c = make_expr(ExprKind::constant, t.loc);
            c->value = kind < 0 ? Value::none() : Value::boolean(kind == 1);
            return c;
          }
        }
        auto n = make_expr(ExprKind::name, t.loc);
        n->name = t.text;
        return n;
      }
      case TokenKind::string: {
        std::string text;
        const SourceLoc loc = t.loc;
        while (current().kind == TokenKind::string) text += advance().text;
        auto c = make_expr(ExprKind::constant, loc);
        c->value = Value::string(std::move(text));
        return c;
      }
      case TokenKind::integer: {
        advance();
        auto c = make_expr(ExprKind::constant, t.loc);
        c->value = Value::integer(t.int_value);
        return c;
      }
      case TokenKind::floating: {
        advance();
        auto c = make_expr(ExprKind::constant, t.loc);
        c->value = Value::floating(t.float_value);
        return c;
      }
      case TokenKind::op:
        if (t.text == "(") return parse_parenthesized();
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail(t.loc, "unexpected " + describe(t) + " in expression");
  }

  ExprPtr parse_parenthesized() {
    const SourceLoc loc = advance().loc;  // (
    if (at_op(")")) {
      advance();
      return make_expr(ExprKind::tuple, loc);
    }
    ExprPtr first = parse_expression(true);
    if (at_op(")")) {
      advance();
      return first;
    }
    auto tuple = make_expr(ExprKind::tuple, loc);
    tuple->children.push_back(std::move(first));
    while (at_op(",")) {
      advance();
      if (at_op(")")) break;
      tuple->children.push_back(parse_expression(true));
    }
    expect_op(")");
    return tuple;
  }

  ExprPtr parse_list() {
    auto list = make_expr(ExprKind::list, advance().loc);  // [
    while (!at_op("]")) {
      if (!list->children.empty()) expect_op(",");
      if (at_op("]")) break;
      list->children.push_back(parse_expression(true));
    }
    advance();
    return list;
  }

  ExprPtr parse_dict() {
    auto dict = make_expr(ExprKind::dict, advance().loc);  // {
    while (!at_op("}")) {
      if (!dict->children.empty()) expect_op(",");
      if (at_op("}")) break;
      dict->children.push_back(parse_expression(true));
      expect_op(":");
      dict->children.push_back(parse_expression(true));
    }
    advance();
    return dict;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (at_op(".") || at_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (at_op("|")) {
        node = parse_filter(std::move(node));
      } else if (at_name("is")) {
        node = parse_test(std::move(node));
      } else if (at_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& op = advance();
    if (op.text == ".") {
      const Token& attr = current();
      if (attr.kind == TokenKind::name) {
        advance();
        auto get = make_expr(ExprKind::get_attr, attr.loc);
        get->name = attr.text;
        get->children.push_back(std::move(node));
        return get;
      }
      if (attr.kind == TokenKind::integer) {
        advance();
        auto get = make_expr(ExprKind::get_item, attr.loc);
        auto index = make_expr(ExprKind::constant, attr.loc);
        index->value = Value::integer(attr.int_value);
        get->children.push_back(std::move(node));
        get->children.push_back(std::move(index));
        return get;
      }
      fail(attr.loc, "expected an attribute name after '.', got " + describe(attr));
    }
    // '[' index or slice ']'
    ExprPtr parts[3];
    int n_colons = 0;
    while (!at_op("]")) {
      if (at_op(":")) {
        if (++n_colons > 2) fail(current().loc, "a slice takes at most two ':'");
        advance();
        continue;
      }
      if (parts[n_colons])
        fail(current().loc, "expected ':' or ']' in subscript, got " + describe(current()));
      parts[n_colons] = parse_expression(true);
      if (at_op(",")) fail(current().loc, "tuple subscripts are not supported");
    }
    advance();  // ]
    if (n_colons == 0) {
      if (!parts[0]) fail(op.loc, "empty subscript '[]'");
      auto get = make_expr(ExprKind::get_item, op.loc);
      get->children.push_back(std::move(node));
      get->children.push_back(std::move(parts[0]));
      return get;
    }
    auto slice = make_expr(ExprKind::slice, op.loc);
    slice->children.push_back(std::move(node));
    for (auto& part : parts) slice->children.push_back(std::move(part));
    return slice;
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    bool seen_keyword = false;
    size_t n_args = 0;
    while (!at_op(")")) {
      if (n_args++ > 0) {
        expect_op(",");
        if (at_op(")")) break;
      }
      if (at_op("*") || at_op("**")) fail(current().loc, "*args and **kwargs in calls are not supported");
      if (current().kind == TokenKind::name && peek().kind == TokenKind::op && peek().text == "=") {
        std::string key = advance().text;
        advance();  // =
        call.kwargs.emplace_back(std::move(key), parse_expression(true));
        seen_keyword = true;
      } else {
        if (seen_keyword) fail(current().loc, "positional argument follows keyword argument");
        call.children.push_back(parse_expression(true));
      }
    }
    advance();  // )
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = make_expr(ExprKind::call, current().loc);
    call->children.push_back(std::move(callee));
    parse_call_args(*call);
    return call;
  }

  ExprPtr parse_filter(ExprPtr subject) {
    advance();  // |
    return parse_filter_call(std::move(subject));
  }

  // A filter name and its optional arguments. Unknown names are left to NameChecker.
  ExprPtr parse_filter_call(ExprPtr subject) {
    const Token& name = current();
    if (name.kind != TokenKind::name)
      fail(name.loc, "expected a filter name after '|', got " + describe(name));
    advance();
    auto filter = make_expr(ExprKind::filter, name.loc);
    filter->name = name.text;
    filter->children.push_back(std::move(subject));
    if (at_op("(")) parse_call_args(*filter);
    return filter;
  }

  ExprPtr parse_test(ExprPtr subject) {
    advance();  // is
    auto test = make_expr(ExprKind::test, current().loc);
    if (at_name("not")) {
      advance();
      test->negated = true;
    }
    const Token& name = current();
    if (name.kind != TokenKind::name)
      fail(name.loc, "expected a test name after 'is', got " + describe(name));
    advance();
    test->name = name.text;
    test->children.push_back(std::move(subject));
    if (at_op("(")) {
      parse_call_args(*test);
    } else if ((current().kind == TokenKind::name || current().kind == TokenKind::string ||
                current().kind == TokenKind::integer || current().kind == TokenKind::floating || at_op("(") ||
                at_op("[") || at_op("{")) &&
               !at_name_in({"else", "or", "and"})) {
      if (at_name("is")) fail(current().loc, "tests cannot be chained with 'is'");
      test->children.push_back(parse_postfix(parse_primary()));
    }
    return test;
  }

  std::vector<Token> tokens_;
  const std::string& origin_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

// Jinja resolves filter and test names when it compiles a template, except inside an if statement or
// a conditional expression (a "soft" frame), where an unknown name fails only when it runs, with "No
// filter named 'x' found.". Loops, macros and blocks compile in inner frames, which are strict again.
class NameChecker {
 public:
  explicit NameChecker(const std::string& origin) : origin_(origin) {}

  void body(const Body& statements, bool soft) const {
    for (const StmtPtr& s : statements) statement(*s, soft);
  }

 private:
  void statement(const Stmt& s, bool soft) const {
    expr(s.expr.get(), soft);
    switch (s.kind) {
      case StmtKind::if_:
        for (const ExprPtr& condition : s.conditions) expr(condition.get(), true);
        for (const Body& branch : s.bodies) body(branch, true);
        body(s.else_body, true);
        return;
      case StmtKind::for_:
        expr(s.filter.get(), false);
        body(s.body, false);
        body(s.else_body, false);
        return;
      case StmtKind::macro:
        for (const ExprPtr& d : s.macro->defaults) expr(d.get(), false);
        body(s.macro->body, false);
        return;
      case StmtKind::set_block:
      case StmtKind::filter_block:
      case StmtKind::block:
        for (const ExprPtr& f : s.filters) expr(f.get(), false);
        body(s.body, false);
        return;
      default:
        return;
    }
  }

  void expr(const Expr* e, bool soft) const {
    if (!e) return;
    if (e->kind == ExprKind::conditional) soft = true;
    if (!soft && e->kind == ExprKind::filter && !has_filter(e->name)) {
      throw located_error(origin_, e->loc, "No filter named '" + e->name + "'.");
    }
    if (!soft && e->kind == ExprKind::test && !has_test(e->name)) {
      throw located_error(origin_, e->loc, "No test named '" + e->name + "'.");
    }
    for (const ExprPtr& child : e->children) expr(child.get(), soft);
    for (const auto& [key, value] : e->kwargs) expr(value.get(), soft);
  }

  const std::string& origin_;
};

}  // namespace

ParsedTemplate parse_template(const std::string& source, const std::string& origin) {
  ParsedTemplate parsed;
  parsed.origin = origin;
  parsed.body = Parser(tokenize(source, origin), parsed.origin).parse_all();
  NameChecker(parsed.origin).body(parsed.body, false);
  return parsed;
}

}  // namespace mmrt::text::jinja
