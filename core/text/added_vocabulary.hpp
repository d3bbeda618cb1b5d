#pragma once
// The "added_tokens" of tokenizer.json and how they are cut out of the input before the model sees it.
//
// As in `tokenizers`: tokens with normalized=false are matched on the raw input (leftmost-longest); each
// remaining piece is normalized, then tokens with normalized=true are matched (by their normalized form)
// on the normalized piece. single_word drops a match touching a word character; lstrip/rstrip pull the
// whitespace on that side into the token.
// Example (Llama-2): "Hi<s>there" -> "Hi", <s>=1, "there"; then each piece gets its own "▁" prefix.
// Immutable after construction; safe to share between threads.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "normalizer.hpp"

namespace mmrt::text {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
  // What decoding shows: the normalized content for normalized=true tokens (as `tokenizers` does, so that
  // the decoder can invert the normalization), else the content. Filled by AddedVocabulary.
  std::string decoded;
};

// A piece of the input after added-token extraction: either a token id, or normalized text for the
// pre-tokenizer.
struct InputPiece {
  std::string text;
  int32_t token_id = -1;   // >= 0 for an added token
  bool at_origin = false;  // text starts at byte 0 of the original input
};

class AddedVocabulary {
 public:
  // `normalizer` may be null; it is used to compute the normalized form of normalized=true tokens.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Splits `text` into added tokens and normalized text pieces (normalizer applied, may be null).
  std::vector<InputPiece> extract_and_normalize(std::string_view text, const Normalizer* normalizer) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Leftmost-longest matching over a byte trie of patterns.
  class Matcher {
   public:
    void add(std::string_view pattern, size_t token_index);
    bool empty() const { return nodes_.size() <= 1; }
    // Finds the leftmost-longest match starting at or after `from`; returns false when there is none.
    bool find(std::string_view text, size_t from, size_t& start, size_t& end, size_t& token_index) const;

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int64_t token_index = -1;
    };
    int32_t child(int32_t node, unsigned char byte) const;
    std::vector<Node> nodes_ = std::vector<Node>(1);
    bool first_byte_[256] = {};
  };

  struct Match {
    size_t start;
    size_t end;
    int32_t id;
  };
  std::vector<Match> find_matches(std::string_view text, const Matcher& matcher) const;

  std::vector<AddedToken> tokens_;
  Matcher raw_matcher_;
  Matcher normalized_matcher_;
};

}  // namespace mmrt::text
