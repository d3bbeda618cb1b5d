// The output stage: turns sampled tokens into what a client sees. It detokenizes incrementally, applies
// stop strings (cutting at the first match and holding back a tail that could still become one), decides
// EOS and length stops, and fills the request's events and timings.
//
// Not thread-safe: called on the engine thread for one sequence at a time.
#pragma once

#include <string>
#include <vector>

#include "core/engine/sequence.hpp"

namespace mmrt::text {
class Tokenizer;
}

namespace mmrt::engine {

class OutputStage {
 public:
  OutputStage(const text::Tokenizer& tokenizer, std::vector<int32_t> eos_token_ids);

  // Prepares a new sequence's detokenizer.
  void start(Sequence& seq) const;
  // Appends one sampled token to seq and describes it in `event`; returns the finish reason it causes
  // (none when the request goes on).
  FinishReason append(Sequence& seq, const Sample& sample, RequestEvent& event) const;
  // Completes the event that ends seq: the text still held back, the counts and the timings.
  void finish(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error) const;

 private:
  const text::Tokenizer& tokenizer_;
  std::vector<int32_t> eos_;
};

}  // namespace mmrt::engine
