#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/model/dtype.hpp"

namespace mmrt::model {

// One tensor of a safetensors file: its header entry plus a view of its bytes in the file's read-only
// mapping. `data` stays valid while the SafetensorsFile (or Checkpoint) that produced it is alive, and is NOT
// aligned beyond one byte in general (the format puts tensors back to back after a header of arbitrary
// length), so read elements with memcpy or Checkpoint::read_f32.
struct TensorInfo {
  std::string name;  // the checkpoint key, e.g. "model.language_model.layers.0.self_attn.q_proj.weight"
  DType dtype;
  std::vector<int64_t> shape;  // row-major; [] for a scalar
  const std::byte* data;       // [nbytes] raw little-endian elements
  uint64_t nbytes;             // numel() * dtype_size(dtype)
  std::filesystem::path file;  // the .safetensors file holding it

  uint64_t numel() const {
    uint64_t count = 1;
    for (int64_t dim : shape) count *= static_cast<uint64_t>(dim);
    return count;
  }
};

}  // namespace mmrt::model
