// Tensors on the plugin side: dtype helpers, a non-owning view, and an owning device buffer.
//
// `TensorView` is an MmrtTensor plus inline storage for its shape and strides, so a view can be copied,
// sliced and passed to a kernel without allocating. Views never dereference `data`: model code only hands
// them to kernels, so the same code runs on CPU and CUDA. A view is a handle, so `const TensorView&`
// still allows kernels to write the data it points at.
//
// `Buffer` owns memory from host->alloc and returns it with host->free (never the plugin's allocator).
// Ownership: a Buffer is move-only; its views are valid while it lives. Not thread-safe.
#ifndef MMRT_SDK_TENSOR_HPP_
#define MMRT_SDK_TENSOR_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mmrt/status.hpp"

namespace mmrt::sdk {

inline constexpr MmrtDataType kF32 = {MMRT_DTYPE_FLOAT, 32, 1};
inline constexpr MmrtDataType kF16 = {MMRT_DTYPE_FLOAT, 16, 1};
inline constexpr MmrtDataType kBF16 = {MMRT_DTYPE_BFLOAT, 16, 1};
inline constexpr MmrtDataType kI32 = {MMRT_DTYPE_INT, 32, 1};
inline constexpr MmrtDataType kI64 = {MMRT_DTYPE_INT, 64, 1};
inline constexpr MmrtDevice kCpu = {MMRT_DEVICE_CPU, 0};

// Equality of the C descriptors (named functions: operators on C types would not be found by ADL).
inline bool same(const MmrtDataType& a, const MmrtDataType& b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
inline bool same(const MmrtDevice& a, const MmrtDevice& b) {
  return a.device_type == b.device_type && a.device_id == b.device_id;
}

inline uint64_t dtype_size(MmrtDataType dtype) {
  return (uint64_t{dtype.bits} * dtype.lanes + 7) / 8;
}

inline std::string dtype_name(MmrtDataType dtype) {
  if (same(dtype, kF32)) return "f32";
  if (same(dtype, kF16)) return "f16";
  if (same(dtype, kBF16)) return "bf16";
  if (same(dtype, kI32)) return "i32";
  if (same(dtype, kI64)) return "i64";
  return str("dtype(code ", int{dtype.code}, ", bits ", int{dtype.bits}, ")");
}

inline std::string shape_string(std::span<const int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

class TensorView {
 public:
  static constexpr int kMaxDims = 6;

  TensorView() { point_at_storage(); }

  // A compact row-major view of `data` (+ byte_offset) with `shape`.
  TensorView(void* data, MmrtDevice device, MmrtDataType dtype, std::span<const int64_t> shape,
             uint64_t byte_offset = 0) {
    require(shape.size() <= kMaxDims, MMRT_STATUS_INVALID_ARGUMENT, "tensor has more than 6 dims");
    tensor_.data = data;
    tensor_.device = device;
    tensor_.dtype = dtype;
    tensor_.byte_offset = byte_offset;
    tensor_.ndim = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) shape_[i] = shape[i];
    point_at_storage();
  }
  TensorView(void* data, MmrtDevice device, MmrtDataType dtype, std::initializer_list<int64_t> shape,
             uint64_t byte_offset = 0)
      : TensorView(data, device, dtype, std::span<const int64_t>(shape.begin(), shape.size()), byte_offset) {}

  // Copies a tensor descriptor the host handed over (shape and strides copied, data not).
  explicit TensorView(const MmrtTensor& t) {
    require(t.ndim >= 0 && t.ndim <= kMaxDims, MMRT_STATUS_INVALID_ARGUMENT,
            str("tensor has ", t.ndim, " dims; at most 6 are supported"));
    tensor_ = t;
    for (int i = 0; i < t.ndim; ++i) {
      shape_[i] = t.shape[i];
      if (t.strides != nullptr) strides_[i] = t.strides[i];
    }
    has_strides_ = t.strides != nullptr;
    point_at_storage();
  }

  TensorView(const TensorView& other) { *this = other; }
  TensorView& operator=(const TensorView& other) {
    tensor_ = other.tensor_;
    for (int i = 0; i < kMaxDims; ++i) {
      shape_[i] = other.shape_[i];
      strides_[i] = other.strides_[i];
    }
    has_strides_ = other.has_strides_;
    point_at_storage();
    return *this;
  }

  // The descriptor to pass to a kernel. Valid while this view lives and is not reassigned.
  MmrtTensor* raw() const { return &tensor_; }

  bool empty() const { return tensor_.data == nullptr; }
  int ndim() const { return tensor_.ndim; }
  // Dimension i; negative counts from the end.
  int64_t dim(int i) const {
    int k = i < 0 ? tensor_.ndim + i : i;
    require(k >= 0 && k < tensor_.ndim, MMRT_STATUS_INTERNAL, str("dim ", i, " of a ", ndim(), "-d tensor"));
    return shape_[k];
  }
  std::span<const int64_t> shape() const { return {shape_, static_cast<size_t>(tensor_.ndim)}; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < tensor_.ndim; ++i) n *= shape_[i];
    return n;
  }
  MmrtDataType dtype() const { return tensor_.dtype; }
  MmrtDevice device() const { return tensor_.device; }
  uint64_t byte_offset() const { return tensor_.byte_offset; }
  bool compact() const { return !has_strides_; }
  // Elements between consecutive rows (dim 0).
  int64_t row_stride() const {
    if (has_strides_) return strides_[0];
    int64_t n = 1;
    for (int i = 1; i < tensor_.ndim; ++i) n *= shape_[i];
    return n;
  }
  std::string describe() const { return shape_string(shape()) + " " + dtype_name(dtype()); }

  // Rows [begin, begin + count) of dim 0, by byte offset (no copy). Keeps the row stride.
  TensorView rows(int64_t begin, int64_t count) const {
    require(tensor_.ndim >= 1 && begin >= 0 && count >= 0 && begin + count <= shape_[0], MMRT_STATUS_INTERNAL,
            str("rows(", begin, ", ", count, ") of a tensor ", describe()));
    TensorView v(*this);
    v.shape_[0] = count;
    v.tensor_.byte_offset += static_cast<uint64_t>(begin * row_stride()) * dtype_size(dtype());
    return v;
  }

  // Columns [begin, begin + count) of a 2-D tensor: a row-strided view (the `copy` kernel accepts it).
  TensorView cols(int64_t begin, int64_t count) const {
    require(tensor_.ndim == 2 && begin >= 0 && count >= 0 && begin + count <= shape_[1] &&
                (!has_strides_ || strides_[1] == 1),
            MMRT_STATUS_INTERNAL, str("cols(", begin, ", ", count, ") of a tensor ", describe()));
    TensorView v(*this);
    v.strides_[0] = row_stride();
    v.strides_[1] = 1;
    v.has_strides_ = true;
    v.shape_[1] = count;
    v.tensor_.byte_offset += static_cast<uint64_t>(begin) * dtype_size(dtype());
    v.point_at_storage();
    return v;
  }

  // The same compact data with another shape of equal element count.
  TensorView reshape(std::initializer_list<int64_t> shape) const {
    TensorView v(tensor_.data, tensor_.device, tensor_.dtype, shape, tensor_.byte_offset);
    require(compact() && v.numel() == numel(), MMRT_STATUS_INTERNAL,
            str("reshape of a tensor ", describe(), " to ", v.describe()));
    return v;
  }

 private:
  void point_at_storage() {
    tensor_.shape = shape_;
    tensor_.strides = has_strides_ ? strides_ : nullptr;
  }

  mutable MmrtTensor tensor_{};
  int64_t shape_[kMaxDims] = {};
  int64_t strides_[kMaxDims] = {};
  bool has_strides_ = false;
};

// Memory from the host allocator on one device.
class Buffer {
 public:
  Buffer() = default;
  Buffer(MmrtDevice device, uint64_t bytes, uint64_t alignment = 256) : device_(device), bytes_(bytes) {
    const MmrtHostApi& h = host();
    require(MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, alloc) && MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, free),
            MMRT_STATUS_UNIMPLEMENTED, "host lacks alloc/free");
    if (bytes == 0) return;
    check(h.alloc(device, bytes, alignment, &data_), str("allocating ", bytes, " bytes"));
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release();
      device_ = other.device_;
      bytes_ = std::exchange(other.bytes_, 0);
      data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
  }
  ~Buffer() { release(); }

  void* data() const { return data_; }
  uint64_t size() const { return bytes_; }
  MmrtDevice device() const { return device_; }

  // A compact view of the buffer's first bytes as `dtype` with `shape`.
  TensorView view(MmrtDataType dtype, std::initializer_list<int64_t> shape, uint64_t byte_offset = 0) const {
    TensorView v(data_, device_, dtype, shape, byte_offset);
    require(byte_offset + static_cast<uint64_t>(v.numel()) * dtype_size(dtype) <= bytes_,
            MMRT_STATUS_INTERNAL, str("view ", v.describe(), " exceeds a buffer of ", bytes_, " bytes"));
    return v;
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) host_or_null()->free(device_, data_);
    data_ = nullptr;
    bytes_ = 0;
  }

  MmrtDevice device_ = kCpu;
  uint64_t bytes_ = 0;
  void* data_ = nullptr;
};

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_TENSOR_HPP_
