#pragma once
// Splits chat-template source into tokens, applying Jinja's whitespace rules as transformers
// configures them (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False).
//
// "  {% if x -%}\n  hi\n{% endif %}\n" lexes to
//   block_begin, name "if", name "x", block_end, data "hi\n", block_begin, name "endif", block_end
// lstrip_blocks dropped the two spaces before {% if, "-%}" dropped "\n  ", trim_blocks dropped the
// newline after {% endif %}, and keep_trailing_newline=False dropped the template's final newline.
// Comments vanish; {% raw %}...{% endraw %} becomes one data token.

#include <cstdint>
#include <string>
#include <vector>

#include "template_error.hpp"

namespace mmrt::text::jinja {

enum class TokenKind {
  data,
  var_begin,
  var_end,
  block_begin,
  block_end,
  name,
  string,
  integer,
  floating,
  op,
  eof
};

struct Token {
  TokenKind kind = TokenKind::eof;
  SourceLoc loc;
  std::string text;  // data text, name, decoded string literal or operator
  int64_t int_value = 0;
  double float_value = 0.0;
};

// Throws ChatTemplateError naming origin, line and column on an unclosed tag, comment, string or
// raw block and on characters that are not part of Jinja's expression syntax.
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

}  // namespace mmrt::text::jinja
