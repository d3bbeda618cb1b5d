#pragma once
// Incremental decoding for generation: feed ids one at a time, get the text that became final.
//
// Guarantees: a delta never ends inside a UTF-8 character or an unfinished run of <0xNN> byte tokens, and
// the concatenation of all push() results plus finish() equals Tokenizer::decode of the same ids.
// How: the ids since the last emission are decoded together with the ids of that emission as context, so
// decoder rules that only touch the first token (Metaspace, Strip after Fuse) see the same first token as
// the one-shot decode; text that still ends in U+FFFD, or a trailing byte-token run, is held back; with
// clean_up_tokenization_spaces the text is cut only before a space whose left neighbour is neither a space
// nor an apostrophe, where the clean-up's patterns cannot straddle the cut.
// Example (Llama-2): push(22557) -> "Hello", push(1526) -> " world", finish() -> "".
//
// Ownership and threading: holds a copy of the Tokenizer handle; one instance per stream, not thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer.hpp"

namespace mmrt::text {

class StreamingDetokenizer {
 public:
  StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Text that became final with this token (often empty).
  std::string push(int32_t id);
  // Whatever is left; the detokenizer is then empty and may start a new stream.
  std::string finish();

 private:
  // Passes newly final decoder text through the clean-up, holding back what a later token could change.
  std::string emit(std::string_view raw, bool final);

  Tokenizer tokenizer_;
  bool skip_special_tokens_;
  std::vector<int32_t> window_;  // context ids (the last emission's) followed by ids not emitted yet
  size_t context_end_ = 0;       // window_[0, context_end_) is the context
  std::string context_text_;     // decode_raw of the context
  std::string pending_raw_;      // decoded text held back for the clean-up
};

}  // namespace mmrt::text
