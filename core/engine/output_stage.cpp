#include "core/engine/output_stage.hpp"

#include <algorithm>

#include "core/text/streaming_detokenizer.hpp"
#include "core/text/tokenizer.hpp"

namespace mmrt::engine {
namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void fill_counts(const Sequence& seq, RequestEvent& event) {
  event.id = seq.id;
  // An encoder-decoder prompt is the encoder input plus whatever follows the decoder start token.
  event.prompt_tokens = seq.encoder ? seq.encoder->length() + seq.prompt_len - 1 : seq.prompt_len;
  event.completion_tokens = seq.n_generated;
  event.cached_tokens = seq.n_cached;
}

}  // namespace

OutputStage::OutputStage(const text::Tokenizer& tokenizer, std::vector<int32_t> eos_token_ids)
    : tokenizer_(tokenizer), eos_(std::move(eos_token_ids)) {}

void OutputStage::start(Sequence& seq) const {
  seq.detokenizer = std::make_unique<text::StreamingDetokenizer>(tokenizer_, true);
}

FinishReason OutputStage::append(Sequence& seq, const Sample& sample, RequestEvent& event) const {
  event.samples.push_back(sample);
  seq.tokens.push_back(sample.token);
  ++seq.n_generated;
  const bool is_eos =
      !seq.params.ignore_eos && std::find(eos_.begin(), eos_.end(), sample.token) != eos_.end();
  if (!is_eos) seq.text += seq.detokenizer->push(sample.token);

  size_t cut = std::string::npos;
  for (const auto& stop : seq.params.stop) {
    const size_t from = seq.emitted > stop.size() ? seq.emitted - stop.size() : 0;
    const size_t at = seq.text.find(stop, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    seq.text.resize(std::max(cut, seq.emitted));
    seq.cut_by_stop_string = true;
    return FinishReason::stop;
  }
  if (is_eos) return FinishReason::stop;
  if (seq.n_generated >= seq.params.max_tokens) return FinishReason::length;
  size_t hold = 0;
  for (const auto& stop : seq.params.stop) {
    for (size_t k = std::min(stop.size() - 1, seq.text.size()); k > hold; --k) {
      if (seq.text.compare(seq.text.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  const size_t ready = seq.text.size() - hold;
  if (ready > seq.emitted) {
    event.text_delta = seq.text.substr(seq.emitted, ready - seq.emitted);
    seq.emitted = ready;
  }
  fill_counts(seq, event);
  return FinishReason::none;
}

void OutputStage::finish(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error) const {
  // A natural end (EOS or length) flushes bytes the detokenizer still holds (an incomplete UTF-8 run);
  // after a stop string the text past the cut is dropped anyway.
  if ((reason == FinishReason::length || reason == FinishReason::stop) && !seq.cut_by_stop_string &&
      seq.detokenizer) {
    seq.text += seq.detokenizer->finish();
  }
  if (seq.text.size() > seq.emitted) event.text_delta += seq.text.substr(seq.emitted);
  seq.emitted = seq.text.size();
  event.finish = reason;
  event.error = std::move(error);
  fill_counts(seq, event);
  const auto now = Clock::now();
  const auto first = seq.n_generated > 0 ? seq.first_token : now;
  event.timings.ttft_ms = ms_between(seq.arrival, first);
  event.timings.total_ms = ms_between(seq.arrival, now);
  event.timings.tpot_ms =
      seq.n_generated > 1 ? ms_between(seq.first_token, seq.last_token) / double(seq.n_generated - 1) : 0;
}

}  // namespace mmrt::engine
