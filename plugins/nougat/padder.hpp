// padder role: Nougat has no text prompt. The decoder prompt is empty (the host starts it with
// decoder_start_token_id) and the page is encoder memory only, so no placeholder is expanded; the host
// then takes the page's rows as the memory.
//
// Worked example: one page, prompt ids [0, 2] (what the tokenizer's template makes of an empty text:
// <s> </s>) -> emit ids [], no ranges. Any other prompt id, or a number of pages other than one, is
// INVALID_ARGUMENT: Transformers' Nougat reads one page and no text.
#ifndef MMRT_PLUGINS_NOUGAT_PADDER_HPP_
#define MMRT_PLUGINS_NOUGAT_PADDER_HPP_

#include <mmrt_abi.h>

#include <cstdint>

#include "mmrt/plugin.hpp"

namespace mmrt::nougat {

// [thread-safe]: immutable.
class NougatPadder : public sdk::Padder {
 public:
  // bos and eos: the ids the tokenizer wraps every text in (the decoder config's bos/eos_token_id).
  NougatPadder(int64_t bos_token_id, int64_t eos_token_id) : bos_(bos_token_id), eos_(eos_token_id) {}
  void expand(const MmrtPadArgs& args) override;

 private:
  int64_t bos_, eos_;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_PADDER_HPP_
