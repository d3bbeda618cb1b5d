// Host-owned tensors and checked access to the MmrtTensor views that cross the plugin ABI.
//
// Tensor owns its memory and shape storage; view() hands out an MmrtTensor that stays valid as long as
// the Tensor lives and is not moved-from. CPU tensors are zero-filled host memory; tensors on another
// device come from that device's allocator behind MmrtHostApi.alloc (for CUDA the caching pool that
// cuda_init registers) and start uninitialised. Not thread-safe for mutation; concurrent reads are fine.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

inline constexpr MmrtDataType kF32{MMRT_DTYPE_FLOAT, 32, 1};
inline constexpr MmrtDataType kF16{MMRT_DTYPE_FLOAT, 16, 1};
inline constexpr MmrtDataType kBF16{MMRT_DTYPE_BFLOAT, 16, 1};
inline constexpr MmrtDataType kI32{MMRT_DTYPE_INT, 32, 1};
inline constexpr MmrtDataType kI64{MMRT_DTYPE_INT, 64, 1};

bool operator==(const MmrtDataType& a, const MmrtDataType& b);
std::string dtype_name(const MmrtDataType& t);
size_t dtype_size(const MmrtDataType& t);
std::string shape_string(const MmrtTensor& t);
int64_t numel(const MmrtTensor& t);
// Whether the view is compact row-major (NULL strides, or strides that say so).
bool is_compact(const MmrtTensor* t);

class Tensor {
 public:
  Tensor() = default;
  Tensor(MmrtDevice device, MmrtDataType dtype, std::vector<int64_t> shape);
  Tensor(Tensor&&) noexcept;
  Tensor& operator=(Tensor&&) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor();

  const MmrtTensor& view() const { return view_; }
  MmrtTensor& view() { return view_; }
  const MmrtTensor* get() const { return &view_; }
  MmrtTensor* get() { return &view_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  MmrtDevice device() const { return device_; }
  MmrtDataType dtype() const { return dtype_; }
  int64_t numel() const;
  size_t nbytes() const { return nbytes_; }
  void* data() const { return data_; }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data_);
  }
  bool empty() const { return data_ == nullptr; }

  // A copy of this tensor on `device`, enqueued on `stream` (a CUDA stream whenever either side is on
  // CUDA; CPU to CPU copies at once). This tensor must stay alive and unchanged, and a CPU result holds
  // the data only, once the stream is synchronised.
  Tensor copy_to(MmrtDevice device, const MmrtStream& stream) const;
  // Enqueues src -> this; src must have this tensor's dtype and element count. Same rules as copy_to.
  void copy_from(const Tensor& src, const MmrtStream& stream);

 private:
  void reset_view();
  void release() noexcept;
  MmrtDevice device_{MMRT_DEVICE_CPU, 0};
  MmrtDataType dtype_{kF32};
  std::vector<int64_t> shape_;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  MmrtTensor view_{};
};

// Shape checks of kernel arguments; `what` names the argument in the error.
void expect_ndim(const MmrtTensor* t, int32_t ndim, const char* what);
void expect_dim(const MmrtTensor* t, int32_t axis, int64_t size, const char* what);
// Rows and row width of a tensor seen as 2-D (all leading dims folded into rows).
int64_t rows_of(const MmrtTensor* t);
int64_t cols_of(const MmrtTensor* t);

}  // namespace mmrt::backend
