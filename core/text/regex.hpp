#pragma once
// A compiled PCRE2 pattern in UTF + UCP mode, so \p{L}, \s and \w follow Unicode like the Oniguruma
// patterns in tokenizer.json. Immutable after construction; find_all may be called from any thread.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mmrt::text {

// [start, end) byte offsets of one match.
using ByteRange = std::pair<size_t, size_t>;

class Regex {
 public:
  // Throws TokenizerError naming the pattern when PCRE2 rejects it.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches left to right (an empty match advances by one character). `text` must be
  // valid UTF-8.
  std::vector<ByteRange> find_all(std::string_view text) const;
  // Appends the matches to `out` (avoids an allocation per call in hot loops).
  void find_all(std::string_view text, std::vector<ByteRange>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_;  // pcre2_code_8*
};

}  // namespace mmrt::text
