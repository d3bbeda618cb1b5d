#include "padder.hpp"

#include "mmrt/status.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;

void NougatPadder::expand(const MmrtPadArgs& args) {
  require(args.emit != nullptr && args.n_ids >= 0 && args.n_items >= 0, MMRT_STATUS_INVALID_ARGUMENT,
          "MmrtPadArgs has no emit or negative counts");
  require(args.n_items == 1, MMRT_STATUS_INVALID_ARGUMENT,
          str("Nougat reads exactly one page per request, ", args.n_items, " were given"));
  require(args.n_ids == 0 || args.ids != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "MmrtPadArgs.ids is NULL");
  int64_t n_text = 0;
  for (int64_t i = 0; i < args.n_ids; ++i) n_text += args.ids[i] != bos_ && args.ids[i] != eos_;
  require(
      n_text == 0, MMRT_STATUS_INVALID_ARGUMENT,
      str("Nougat takes no text prompt (the prompt has ", n_text, " text token(s)); send the page alone"));
  sdk::check(args.emit(args.host_ctx, nullptr, 0, nullptr, 0), "emitting the empty decoder prompt");
}

}  // namespace mmrt::nougat
