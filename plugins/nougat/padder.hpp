// padder role: Nougat has no text prompt. The decoder prompt is empty (the host starts it with
// decoder_start_token_id) and the page is encoder memory only, so no placeholder is expanded.
//
// Worked example: one page, prompt ids [] -> emit ids [], no ranges. A prompt with ids, or a number of
// pages other than one, is INVALID_ARGUMENT: Transformers' Nougat reads one page and no text.
#ifndef MMRT_PLUGINS_NOUGAT_PADDER_HPP_
#define MMRT_PLUGINS_NOUGAT_PADDER_HPP_

#include <mmrt_abi.h>

#include "mmrt/plugin.hpp"

namespace mmrt::nougat {

// [thread-safe]: stateless.
class NougatPadder : public sdk::Padder {
 public:
  void expand(const MmrtPadArgs& args) override;
};

}  // namespace mmrt::nougat

#endif  // MMRT_PLUGINS_NOUGAT_PADDER_HPP_
