// A small f32 table computed on the CPU at create time and read by kernels on the compute device
// (RoPE inv_freq). On the CPU the kernels read the plugin's own vector; elsewhere the first use uploads it
// once through the `copy` kernel (CPU source, device destination) on the caller's stream, since create()
// has no stream to upload on.
//
// Threading: first use must not race (call it from a [serialized-per-instance] role).
#ifndef MMRT_SDK_DEVICE_TABLE_HPP_
#define MMRT_SDK_DEVICE_TABLE_HPP_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "mmrt/ops.hpp"
#include "mmrt/tensor.hpp"

namespace mmrt::sdk {

class DeviceTable {
 public:
  DeviceTable() = default;
  DeviceTable(std::vector<float> values, MmrtDevice device) : values_(std::move(values)), device_(device) {}

  // The table as f32 [n] on the compute device.
  const TensorView& get(const Ops& ops) {
    if (view_) return *view_;
    const int64_t n = static_cast<int64_t>(values_.size());
    TensorView host_view(values_.data(), kCpu, kF32, {n});
    if (same(device_, kCpu)) {
      view_ = host_view;
    } else {
      buffer_ = Buffer(device_, values_.size() * sizeof(float));
      TensorView device_view = buffer_.view(kF32, {n});
      ops.copy(host_view.reshape({1, n}), device_view.reshape({1, n}));
      view_ = device_view;
    }
    return *view_;
  }

 private:
  std::vector<float> values_;
  MmrtDevice device_ = kCpu;
  Buffer buffer_;
  std::optional<TensorView> view_;
};

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_DEVICE_TABLE_HPP_
