// The weights a plugin instance reads through MmrtWeightsApi: a memory-mapped checkpoint whose tensors
// are converted to the compute dtype and device on first request and kept until the instance is gone.
// CPU takes f32. CUDA takes f32, f16 or bf16: a checkpoint tensor already in that dtype is uploaded as is,
// any other is converted on the host (through fp32, round to nearest even) and then uploaded, once.
//
// Thread-safe: get() may race with itself (one mutex guards the converted-tensor cache). The object must
// outlive every plugin instance created with it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/backend/tensor.hpp"
#include "core/model/checkpoint.hpp"
#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

class WeightStore {
 public:
  // Called after each tensor is loaded with the checkpoint bytes read so far and in all; runs on the
  // thread that asked for the tensor, under the store's lock, so it must be quick.
  using Progress = std::function<void(uint64_t bytes_read, uint64_t bytes_total)>;

  WeightStore(const model::Checkpoint& checkpoint, MmrtDevice device, MmrtDataType compute_dtype,
              Progress progress = {});

  const MmrtWeightsApi* api() const;
  MmrtWeights* handle() { return reinterpret_cast<MmrtWeights*>(this); }

  // Checkpoint tensors the plugin neither read nor ignored: a checkpoint the model does not fully
  // explain is an error, since it usually means a wrong layout or a wrong architecture.
  std::vector<std::string> unclaimed() const;
  size_t bytes_loaded() const;

  const MmrtTensor& get(const std::string& name);  // throws StatusError NOT_FOUND
  bool contains(const std::string& name) const { return checkpoint_.find(name) != nullptr; }
  void ignore(const std::string& name);
  const std::vector<std::string>& names() const { return names_; }

 private:
  const model::Checkpoint& checkpoint_;
  MmrtDevice device_;
  MmrtDataType compute_dtype_;
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  std::map<std::string, Tensor, std::less<>> loaded_;
  std::set<std::string, std::less<>> ignored_;
  Progress progress_;
  uint64_t bytes_read_ = 0, bytes_total_ = 0;
};

}  // namespace mmrt::backend
