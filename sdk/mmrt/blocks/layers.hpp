// Parameter groups shared by blocks: a linear layer and a layer norm, loaded by HF module name.
#ifndef MMRT_SDK_BLOCKS_LAYERS_HPP_
#define MMRT_SDK_BLOCKS_LAYERS_HPP_

#include <cstdint>
#include <string>

#include "mmrt/tensor.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::sdk::blocks {

struct Linear {
  TensorView weight;  // [out, in], from Weights::matmul_weight (maybe 16-bit; linear widens it)
  TensorView bias;    // [out], or empty
};

struct LayerNorm {
  TensorView weight;  // [D]
  TensorView bias;    // [D]
};

// `<module>.weight` [out, in] and, when `bias`, `<module>.bias` [out].
inline Linear load_linear(Weights& w, const std::string& module, int64_t out, int64_t in, bool bias) {
  Linear l;
  l.weight = w.matmul_weight(module + ".weight", {out, in});
  if (bias) l.bias = w.get(module + ".bias", {out});
  return l;
}

// `<module>.weight` and `<module>.bias`, both [d].
inline LayerNorm load_layer_norm(Weights& w, const std::string& module, int64_t d) {
  return {w.get(module + ".weight", {d}), w.get(module + ".bias", {d})};
}

}  // namespace mmrt::sdk::blocks

#endif  // MMRT_SDK_BLOCKS_LAYERS_HPP_
