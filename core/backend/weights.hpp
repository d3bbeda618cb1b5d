// The weights a plugin instance reads through MmrtWeightsApi: a memory-mapped checkpoint whose tensors are
// handed out on first request and kept until the instance is gone.
//
// get() gives the compute dtype: CPU takes f32; CUDA f32, f16 or bf16. get_as() [1.1] gives the dtype the
// plugin asks for, or with {0, 0, 0} the checkpoint's own. A tensor already in the asked dtype is, on the
// CPU, a view into the read-only mapping (no copy; linear and embedding read 16-bit weights like that), and
// on CUDA uploaded as is; any other float dtype is converted on the host through fp32 (exact for f16/bf16
// sources, round to nearest even towards 16 bits), once. After a tensor has been converted or uploaded,
// its pages of the mapping are released (madvise MADV_DONTNEED), so the process holds each weight once:
// peak RSS is about the checkpoint's size when every weight is used as stored.
//
// Thread-safe: get()/get_as() may race with themselves (one mutex guards the cache). The object must
// outlive every plugin instance created with it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
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
  // Bytes of the copies the store made (converted or uploaded tensors); views into the mapping are not
  // copies and count in bytes_mapped().
  size_t bytes_loaded() const;
  size_t bytes_mapped() const;

  const MmrtTensor& get(const std::string& name);  // throws StatusError NOT_FOUND
  // dtype {0, 0, 0}: the checkpoint's own. Throws StatusError NOT_FOUND, or INVALID_ARGUMENT for a dtype the
  // tensor cannot be given in (an integer tensor as float, a float one as integer).
  const MmrtTensor& get_as(const std::string& name, MmrtDataType dtype);
  bool contains(const std::string& name) const { return checkpoint_.find(name) != nullptr; }
  void ignore(const std::string& name);
  const std::vector<std::string>& names() const { return names_; }

 private:
  // One handed-out tensor: a copy the store owns, or (mapped) a view of the checkpoint's bytes.
  struct Entry {
    Tensor copy;
    std::vector<int64_t> shape;
    MmrtTensor view{};
    bool mapped = false;
  };
  using Key = std::pair<std::string, uint32_t>;  // name, packed dtype

  const MmrtTensor& load(const std::string& name, MmrtDataType dtype);
  Entry make_entry(const model::TensorInfo& info, MmrtDataType dtype) const;

  const model::Checkpoint& checkpoint_;
  MmrtDevice device_;
  MmrtDataType compute_dtype_;
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> loaded_;
  std::set<std::string, std::less<>> claimed_;
  std::set<std::string, std::less<>> ignored_;
  Progress progress_;
  uint64_t bytes_read_ = 0, bytes_total_ = 0;
};

}  // namespace mmrt::backend
