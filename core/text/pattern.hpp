#pragma once
// The {"String": "..."} / {"Regex": "..."} pattern of Split, Replace and their decoders: a literal or a
// PCRE2 regex, searched the same way. Immutable, shareable between threads.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "regex.hpp"

namespace mmrt::text {

class Pattern {
 public:
  static Pattern from_json(const boost::json::value& value, const std::string& path);
  static Pattern literal(std::string text);

  // Non-overlapping matches, left to right.
  void find_all(std::string_view text, std::vector<ByteRange>& out) const;
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::shared_ptr<const Regex> regex_;  // null for a literal
};

}  // namespace mmrt::text
