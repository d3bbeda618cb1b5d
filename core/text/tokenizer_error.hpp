#pragma once
// The one exception type of mmrt::text: unreadable files, unsupported tokenizer.json pieces and invalid
// input.

#include <stdexcept>
#include <string>

namespace mmrt::text {

// Thrown by Tokenizer loading (message names the file and the unsupported or malformed piece) and by
// Tokenizer::encode for input that is not valid UTF-8 (message gives the byte offset).
class TokenizerError : public std::runtime_error {
 public:
  explicit TokenizerError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mmrt::text
