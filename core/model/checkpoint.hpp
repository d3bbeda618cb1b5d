// All weights of one Hugging Face model folder, as downloaded from the hub, with no conversion step.
//
// Which files make up the checkpoint, in this order of preference:
//   1. model.safetensors.index.json: {"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors",
//   ...}}.
//      The index and the shards must agree exactly: every listed shard exists, every listed tensor is in the
//      shard the index names, and no shard holds a tensor the index does not list.
//   2. model.safetensors.
//   3. Every *.safetensors file in the folder (no recursion), in name order.
// A tensor name found in two files is an error in every case.
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/safetensors_file.hpp"
#include "core/model/tensor_info.hpp"

namespace mmrt::model {

// Owns the mappings of every shard. Immutable after open(): every const member may be called from many
// threads at once. Move-only; TensorInfo pointers and references stay valid across moves until destruction.
class Checkpoint {
 public:
  // Throws ModelError naming the folder, file and tensor on any defect (see the file comment).
  static Checkpoint open(const std::filesystem::path& model_dir);

  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // Throws ModelError naming the tensor and the folder when absent.
  const TensorInfo& at(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // The files in load order.
  const std::vector<SafetensorsFile>& files() const { return files_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Converts `tensor` (F32, F16 or BF16) to fp32 into `out`, which must hold exactly tensor.numel() floats.
  // Throws ModelError naming the tensor for any other dtype or a size mismatch.
  void read_f32(const TensorInfo& tensor, std::span<float> out) const;

  // Page residency of the read-only mappings; neither changes what a read returns, so both are safe
  // from many threads. release() drops the whole pages inside `tensor` from this process (madvise
  // MADV_DONTNEED) once a copy of it exists, so it stops counting in RSS; reading it again pages it back in
  // from the file. prefetch() starts reading `tensor` from the file ahead of use (MADV_WILLNEED).
  void release(const TensorInfo& tensor) const;
  void prefetch(const TensorInfo& tensor) const;

 private:
  Checkpoint() = default;
  void add_file(SafetensorsFile file);

  std::filesystem::path dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const TensorInfo*, std::less<>> tensors_;  // points into files_[i].tensors()
};

}  // namespace mmrt::model
