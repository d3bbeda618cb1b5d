#include "template_error.hpp"

namespace mmrt::text::jinja {

ChatTemplateError located_error(const std::string& origin, SourceLoc loc, const std::string& message) {
  return ChatTemplateError("chat template " + origin + ":" + std::to_string(loc.line) + ":" +
                           std::to_string(loc.column) + ": " + message);
}

}  // namespace mmrt::text::jinja
