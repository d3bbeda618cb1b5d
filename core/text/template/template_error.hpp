#pragma once
// Errors of the chat-template interpreter.
//
// Every error that reaches a caller is a ChatTemplateError whose message names the template
// (its origin, e.g. "/models/llava/chat_template.json") and the line and column, for example
// "chat template /m/tokenizer_config.json:3:14: unknown tag 'include'". A template that raises
// with raise_exception('...') surfaces that message verbatim after the location.

#include <stdexcept>
#include <string>

namespace mmrt::text {

class ChatTemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mmrt::text

namespace mmrt::text::jinja {

// A position in the template source: 1-based line and column (column counts bytes).
struct SourceLoc {
  int line = 0;
  int column = 0;
};

// Thrown by evaluation helpers that do not know where they run; the renderer catches it and
// rethrows a ChatTemplateError carrying the location of the expression being evaluated.
class TemplateRuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds the "chat template <origin>:<line>:<column>: <message>" error.
ChatTemplateError located_error(const std::string& origin, SourceLoc loc, const std::string& message);

}  // namespace mmrt::text::jinja
