#include <doctest/doctest.h>

#include "fake_host.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/tensor.hpp"

using mmrt::sdk::Error;
using mmrt::sdk::TensorView;
using mmrt::test::FakeHost;

TEST_CASE("tensor: views copy their shape storage") {
  float data[24];
  TensorView a(data, mmrt::sdk::kCpu, mmrt::sdk::kF32, {2, 3, 4});
  TensorView b = a;
  a = TensorView(data, mmrt::sdk::kCpu, mmrt::sdk::kF32, {24});
  CHECK(b.raw()->shape != a.raw()->shape);  // b points at its own storage, not a's
  CHECK(b.raw()->ndim == 3);
  CHECK(b.raw()->shape[2] == 4);
  CHECK(b.raw()->strides == nullptr);
  CHECK(b.numel() == 24);
  CHECK(b.dim(-1) == 4);
  CHECK(b.describe() == "[2, 3, 4] f32");
}

TEST_CASE("tensor: row slices move the byte offset, column slices add a row stride") {
  float data[60];
  TensorView t(data, mmrt::sdk::kCpu, mmrt::sdk::kF32, {6, 10}, 8);
  TensorView r = t.rows(2, 3);
  CHECK(r.raw()->data == data);
  CHECK(r.byte_offset() == 8 + 2 * 10 * 4);
  CHECK(r.dim(0) == 3);
  CHECK(r.compact());

  TensorView c = t.cols(4, 3);
  REQUIRE(c.raw()->strides != nullptr);
  CHECK(c.raw()->strides[0] == 10);
  CHECK(c.raw()->strides[1] == 1);
  CHECK(c.byte_offset() == 8 + 4 * 4);
  CHECK(c.dim(1) == 3);
  TensorView cr = c.rows(1, 2);  // rows of a column slice keep the stride
  CHECK(cr.byte_offset() == 8 + 4 * 4 + 10 * 4);
  CHECK(cr.raw()->strides[0] == 10);

  CHECK(t.rows(1, 2).reshape({2, 2, 5}).byte_offset() == 8 + 40);
  CHECK_THROWS_AS(t.rows(5, 2), Error);
  CHECK_THROWS_AS(t.cols(8, 3), Error);
  CHECK_THROWS_AS(t.reshape({7, 10}), Error);
  CHECK_THROWS_AS(c.reshape({30}), Error);  // strided data cannot be reshaped

  int64_t shape[] = {6, 10};
  int64_t strides[] = {12, 1};
  MmrtTensor raw{data, {MMRT_DEVICE_CPU, 0}, 2, mmrt::sdk::kBF16, shape, strides, 0};
  TensorView from_host(raw);
  CHECK(from_host.row_stride() == 12);
  CHECK(from_host.rows(1, 1).byte_offset() == 12 * 2);
}

TEST_CASE("scratch: grows to the largest call, then stops allocating") {
  MmrtHostApi host = FakeHost::table();
  mmrt::sdk::set_host(&host);
  {
    mmrt::sdk::Scratch scratch(mmrt::sdk::kCpu);
    for (int step = 0; step < 3; ++step) {
      scratch.reset();
      TensorView a = scratch.tensor(mmrt::sdk::kF32, {100, 8});
      TensorView b = scratch.tensor(mmrt::sdk::kF32, {10});
      CHECK(a.raw()->data != nullptr);
      CHECK((a.raw()->data != b.raw()->data || a.byte_offset() != b.byte_offset()));
    }
    CHECK(scratch.n_allocations() == 3);  // the first call: two overflows, then one block for both
    CHECK(scratch.capacity() >= 100 * 8 * 4 + 10 * 4);
    const uint64_t before = scratch.n_allocations();
    for (int step = 0; step < 5; ++step) {
      scratch.reset();
      scratch.tensor(mmrt::sdk::kF32, {50, 8});  // smaller: fits
      scratch.tensor(mmrt::sdk::kF32, {10});
    }
    CHECK(scratch.n_allocations() == before);
    scratch.reset();
    scratch.tensor(mmrt::sdk::kF32, {1000, 8});  // larger: one overflow now, one bigger block next time
    scratch.reset();
    scratch.tensor(mmrt::sdk::kF32, {1000, 8});
    CHECK(scratch.n_allocations() == before + 2);
  }
  CHECK(FakeHost::live_allocations == 0);
  mmrt::sdk::set_host(nullptr);
}
