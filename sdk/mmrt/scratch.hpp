// Per-call scratch memory that stops allocating once the working set is known.
//
// A call starts with reset() and then takes tensors with tensor(); they stay valid until the next reset().
// While a call fits in the block, tensor() only bumps an offset. When it does not fit, the rest of that call
// is served from one-off overflow buffers, and the next reset() replaces the block with one as large as the
// whole previous call needed. So a steady state (the same or smaller sizes) makes no host->alloc at all,
// which is what principle 12 of the house style asks of forward().
//
// Ownership: the Scratch owns all its memory. Threading: one caller at a time (give each role its own).
#ifndef MMRT_SDK_SCRATCH_HPP_
#define MMRT_SDK_SCRATCH_HPP_

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "mmrt/tensor.hpp"

namespace mmrt::sdk {

class Scratch {
 public:
  static constexpr uint64_t kAlignment = 256;

  explicit Scratch(MmrtDevice device) : device_(device) {}

  // Starts a call: every tensor handed out before becomes invalid.
  void reset() {
    overflow_.clear();
    if (needed_ > block_.size()) {
      block_ = Buffer();  // free first, so peak memory is not old + new
      block_ = Buffer(device_, needed_, kAlignment);
      ++n_allocations_;
    }
    used_ = 0;
    needed_ = 0;
  }

  // A compact uninitialised tensor on the scratch device.
  TensorView tensor(MmrtDataType dtype, std::initializer_list<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    uint64_t bytes = align(static_cast<uint64_t>(n) * dtype_size(dtype));
    needed_ += bytes;
    if (used_ + bytes <= block_.size()) {
      TensorView v = block_.view(dtype, shape, used_);
      used_ += bytes;
      return v;
    }
    overflow_.emplace_back(device_, bytes, kAlignment);
    ++n_allocations_;
    return overflow_.back().view(dtype, shape);
  }

  uint64_t capacity() const { return block_.size(); }
  // host->alloc calls so far; tests use it to show a steady state allocates nothing.
  uint64_t n_allocations() const { return n_allocations_; }

 private:
  static uint64_t align(uint64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

  MmrtDevice device_;
  Buffer block_;
  std::vector<Buffer> overflow_;
  uint64_t used_ = 0;
  uint64_t needed_ = 0;
  uint64_t n_allocations_ = 0;
};

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_SCRATCH_HPP_
