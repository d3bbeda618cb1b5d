#pragma once
// Parses chat-template tokens into a syntax tree, following Jinja2's grammar and operator
// precedence (including its quirks: -x|abs is abs(-x), and `a is test b` takes one bare argument).
//
// Supported statements: for (with else, `if` filter and tuple unpacking), if/elif/else, set
// (plain, tuple, namespace attribute, block with optional filters), filter blocks, macro, break,
// continue, and transformers' {% generation %}. Anything else, e.g. {% include %} or {% extends %},
// is a ChatTemplateError naming the tag, line and column: an unsupported template must never render
// a wrong prompt. Unknown filters and tests are rejected here too, where Jinja rejects them when it
// compiles a template: everywhere but inside if statements and conditional expressions, where Jinja
// defers the error until the filter or test runs.

#include <string>
#include <vector>

#include "template_ast.hpp"
#include "template_lexer.hpp"

namespace mmrt::text::jinja {

ParsedTemplate parse_template(const std::string& source, const std::string& origin);

}  // namespace mmrt::text::jinja
