#include "core/backend/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <utility>

#include "core/backend/cuda_runtime.hpp"
#include "core/backend/status.hpp"
#include "core/plugin/host_api.hpp"

namespace mmrt::backend {

bool operator==(const MmrtDataType& a, const MmrtDataType& b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

std::string dtype_name(const MmrtDataType& t) {
  switch (t.code) {
    case MMRT_DTYPE_FLOAT:
      return "f" + std::to_string(t.bits);
    case MMRT_DTYPE_BFLOAT:
      return "bf" + std::to_string(t.bits);
    case MMRT_DTYPE_INT:
      return "i" + std::to_string(t.bits);
    case MMRT_DTYPE_UINT:
      return "u" + std::to_string(t.bits);
  }
  return "dtype(" + std::to_string(t.code) + "," + std::to_string(t.bits) + ")";
}

size_t dtype_size(const MmrtDataType& t) {
  return (size_t(t.bits) * t.lanes + 7) / 8;
}

std::string shape_string(const MmrtTensor& t) {
  std::ostringstream s;
  s << '[';
  for (int32_t i = 0; i < t.ndim; ++i) s << (i ? ", " : "") << t.shape[i];
  s << ']';
  return s.str();
}

int64_t numel(const MmrtTensor& t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}

namespace {

// Device memory through the host allocator registry (MmrtHostApi.alloc), which reports its own errors.
void* device_alloc(MmrtDevice device, size_t bytes) {
  const MmrtHostApi* host = plugin::host_api();
  void* data = nullptr;
  if (MmrtStatus* s = host->alloc(device, std::max<size_t>(bytes, 1), 256, &data)) {
    const std::string message = host->status_message(s);
    const int32_t code = host->status_code(s);
    host->status_free(s);
    throw StatusError(code, "tensor of " + std::to_string(bytes) + " bytes on device type " +
                                std::to_string(device.device_type) + ": " + message);
  }
  return data;
}

}  // namespace

Tensor::Tensor(MmrtDevice device, MmrtDataType dtype, std::vector<int64_t> shape)
    : device_(device), dtype_(dtype), shape_(std::move(shape)) {
  int64_t n = 1;
  for (int64_t d : shape_) {
    if (d < 0) throw std::invalid_argument("negative tensor dimension");
    n *= d;
  }
  nbytes_ = size_t(n) * dtype_size(dtype_);
  if (device_.device_type != MMRT_DEVICE_CPU) {
    data_ = device_alloc(device_, nbytes_);
    reset_view();
    return;
  }
  size_t rounded = (std::max<size_t>(nbytes_, 1) + 63) / 64 * 64;
  data_ = std::aligned_alloc(64, rounded);
  if (!data_) throw std::bad_alloc();
  std::memset(data_, 0, rounded);
  reset_view();
}

Tensor::Tensor(Tensor&& o) noexcept
    : device_(o.device_), dtype_(o.dtype_), shape_(std::move(o.shape_)), data_(o.data_), nbytes_(o.nbytes_) {
  o.data_ = nullptr;
  o.nbytes_ = 0;
  o.view_ = {};
  reset_view();
}

Tensor& Tensor::operator=(Tensor&& o) noexcept {
  if (this != &o) {
    release();
    device_ = o.device_;
    dtype_ = o.dtype_;
    shape_ = std::move(o.shape_);
    data_ = o.data_;
    nbytes_ = o.nbytes_;
    o.data_ = nullptr;
    o.nbytes_ = 0;
    o.view_ = {};
    reset_view();
  }
  return *this;
}

Tensor::~Tensor() {
  release();
}

void Tensor::release() noexcept {
  if (data_ == nullptr) return;
  if (device_.device_type == MMRT_DEVICE_CPU) {
    std::free(data_);
  } else {
    plugin::host_api()->free(device_, data_);
  }
  data_ = nullptr;
}

Tensor Tensor::copy_to(MmrtDevice device, const MmrtStream& stream) const {
  Tensor out(device, dtype_, shape_);
  out.copy_from(*this, stream);
  return out;
}

void Tensor::copy_from(const Tensor& src, const MmrtStream& stream) {
  if (!(src.dtype_ == dtype_) || src.nbytes_ != nbytes_) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "tensor copy from " + dtype_name(src.dtype_) + " " +
                                                        shape_string(src.view_) + " into " +
                                                        dtype_name(dtype_) + " " + shape_string(view_));
  }
  copy_bytes(data_, device_, src.data_, src.device_, nbytes_, stream);
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

void Tensor::reset_view() {
  view_ = {};
  view_.data = data_;
  view_.device = device_;
  view_.ndim = int32_t(shape_.size());
  view_.dtype = dtype_;
  view_.shape = shape_.data();
  view_.strides = nullptr;
  view_.byte_offset = 0;
}

bool is_compact(const MmrtTensor* t) {
  if (!t->strides) return true;
  int64_t expect = 1;
  for (int32_t i = t->ndim - 1; i >= 0; --i) {
    if (t->shape[i] != 1 && t->strides[i] != expect) return false;
    expect *= t->shape[i];
  }
  return true;
}

void expect_ndim(const MmrtTensor* t, int32_t ndim, const char* what) {
  if (t->ndim != ndim) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, std::string(what) + ": expected " + std::to_string(ndim) +
                                                        " dims, got " + shape_string(*t));
  }
}

void expect_dim(const MmrtTensor* t, int32_t axis, int64_t size, const char* what) {
  if (axis >= t->ndim || t->shape[axis] != size) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, std::string(what) + ": expected dim " +
                                                        std::to_string(axis) + " = " + std::to_string(size) +
                                                        ", got " + shape_string(*t));
  }
}

int64_t cols_of(const MmrtTensor* t) {
  return t->ndim == 0 ? 1 : t->shape[t->ndim - 1];
}
int64_t rows_of(const MmrtTensor* t) {
  int64_t c = cols_of(t);
  return c == 0 ? 0 : numel(*t) / c;
}

}  // namespace mmrt::backend
