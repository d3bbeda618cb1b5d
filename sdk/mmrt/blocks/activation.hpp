// Hugging Face activation names (ACT2FN keys in config.json) -> the kernel table's MMRT_ACT_* kinds.
#ifndef MMRT_SDK_BLOCKS_ACTIVATION_HPP_
#define MMRT_SDK_BLOCKS_ACTIVATION_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk::blocks {

// "gelu" is the exact erf form; "gelu_new" and "gelu_pytorch_tanh" are the tanh approximation.
inline int32_t activation_kind(std::string_view name, std::string_view where) {
  if (name == "gelu") return MMRT_ACT_GELU_ERF;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return MMRT_ACT_GELU_TANH;
  if (name == "quick_gelu") return MMRT_ACT_QUICK_GELU;
  if (name == "silu" || name == "swish") return MMRT_ACT_SILU;
  if (name == "relu") return MMRT_ACT_RELU;
  throw Error(MMRT_STATUS_UNIMPLEMENTED, str(where, "activation '", name, "' is not supported"));
}

// The activation under `key`, or `fallback` (an ACT2FN name) when absent.
inline int32_t parse_activation(const json::Reader& config, std::string_view key, std::string_view fallback) {
  return activation_kind(config.get_string(key, fallback), config.where(key));
}

}  // namespace mmrt::sdk::blocks

#endif  // MMRT_SDK_BLOCKS_ACTIVATION_HPP_
