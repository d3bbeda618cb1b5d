// The kernel table plugins see (dispatch, then the CPU backend) is a trust boundary: plugins may pass
// anything. Wrong shapes, dtypes, slots and rows must come back as statuses, never as a crash or an
// out-of-bounds write.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/status.hpp"

using namespace mmrt::backend;

namespace {

const MmrtDevice kCpu{MMRT_DEVICE_CPU, 0};

int32_t code_of(MmrtStatus* st) {
  mmrt::plugin::StatusPtr owned(st);
  return owned ? owned->code : MMRT_STATUS_OK;
}

}  // namespace

TEST_CASE("linear through the table computes x·wᵀ + b") {
  Tensor x(kCpu, kF32, {2, 3}), w(kCpu, kF32, {2, 3}), b(kCpu, kF32, {2}), y(kCpu, kF32, {2, 2});
  const float xv[] = {1, 2, 3, 4, 5, 6}, wv[] = {1, 0, 0, 0, 1, 1}, bv[] = {0.5f, -1};
  std::copy(xv, xv + 6, x.data_as<float>());
  std::copy(wv, wv + 6, w.data_as<float>());
  std::copy(bv, bv + 2, b.data_as<float>());
  REQUIRE(code_of(dispatch_kernels()->linear(x.get(), w.get(), b.get(), y.get(), nullptr)) == MMRT_STATUS_OK);
  const float* out = y.data_as<float>();
  CHECK(out[0] == 1.5f);
  CHECK(out[1] == 4.0f);
  CHECK(out[2] == 4.5f);
  CHECK(out[3] == 10.0f);
}

TEST_CASE("linear and embedding take bf16 and f16 weights with f32 activations, and count the bytes read") {
  Tensor x(kCpu, kF32, {1, 3}), y(kCpu, kF32, {1, 2}), ids(kCpu, kI32, {2}), rows(kCpu, kF32, {2, 3});
  const float xv[] = {1, 2, 3};
  std::copy(xv, xv + 3, x.data_as<float>());
  ids.data_as<int32_t>()[0] = 1;
  ids.data_as<int32_t>()[1] = 0;
  // 1, 0, 0 / 0, 1, 1 in bf16 (0x3F80 = 1.0) and f16 (0x3C00 = 1.0).
  for (auto [dtype, one] : {std::pair{kBF16, uint16_t{0x3F80}}, std::pair{kF16, uint16_t{0x3C00}}}) {
    Tensor w(kCpu, dtype, {2, 3});
    const uint16_t wv[] = {one, 0, 0, 0, one, one};
    std::copy(wv, wv + 6, w.data_as<uint16_t>());
    const uint64_t before = cpu_weight_bytes_read();
    REQUIRE(code_of(dispatch_kernels()->linear(x.get(), w.get(), nullptr, y.get(), nullptr)) ==
            MMRT_STATUS_OK);
    CHECK(y.data_as<float>()[0] == 1.0f);
    CHECK(y.data_as<float>()[1] == 5.0f);
    REQUIRE(code_of(dispatch_kernels()->embedding(w.get(), ids.get(), rows.get(), nullptr)) ==
            MMRT_STATUS_OK);
    CHECK(std::vector<float>(rows.data_as<float>(), rows.data_as<float>() + 6) ==
          std::vector<float>{0, 1, 1, 1, 0, 0});
    CHECK(cpu_weight_bytes_read() - before == 6 * 2 + 2 * 3 * 2);  // all of w, then two rows of it
  }
}

TEST_CASE("a weight of another dtype or misaligned for its elements is INVALID_ARGUMENT") {
  Tensor x(kCpu, kF32, {1, 2}), y(kCpu, kF32, {1, 1}), w_i32(kCpu, kI32, {1, 2}), w(kCpu, kBF16, {1, 3});
  CHECK(code_of(dispatch_kernels()->linear(x.get(), w_i32.get(), nullptr, y.get(), nullptr)) ==
        MMRT_STATUS_INVALID_ARGUMENT);
  MmrtTensor odd = w.view();  // [1, 2] starting one byte in
  int64_t shape[] = {1, 2};
  odd.shape = shape;
  odd.byte_offset = 1;
  CHECK(code_of(dispatch_kernels()->linear(x.get(), &odd, nullptr, y.get(), nullptr)) ==
        MMRT_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("mismatched shapes and dtypes are INVALID_ARGUMENT") {
  Tensor x(kCpu, kF32, {2, 3}), w(kCpu, kF32, {2, 4}), y(kCpu, kF32, {2, 2}), ids(kCpu, kF32, {2});
  CHECK(code_of(dispatch_kernels()->linear(x.get(), w.get(), nullptr, y.get(), nullptr)) ==
        MMRT_STATUS_INVALID_ARGUMENT);
  Tensor table(kCpu, kF32, {4, 3});
  CHECK(code_of(dispatch_kernels()->embedding(table.get(), ids.get(), y.get(), nullptr)) ==
        MMRT_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("out-of-range ids, rows, slots and blocks are refused") {
  Tensor table(kCpu, kF32, {4, 3}), ids(kCpu, kI32, {1}), out(kCpu, kF32, {1, 3});
  ids.data_as<int32_t>()[0] = 4;
  CHECK(code_of(dispatch_kernels()->embedding(table.get(), ids.get(), out.get(), nullptr)) != MMRT_STATUS_OK);

  Tensor rows(kCpu, kI32, {1}), dst(kCpu, kF32, {2, 3});
  rows.data_as<int32_t>()[0] = 2;
  CHECK(code_of(dispatch_kernels()->scatter_rows(out.get(), rows.get(), dst.get(), nullptr)) ==
        MMRT_STATUS_OUT_OF_RANGE);

  Tensor k_cache(kCpu, kF32, {2, 4, 1, 3}), v_cache(kCpu, kF32, {2, 4, 1, 3});
  Tensor k(kCpu, kF32, {1, 1, 3}), v(kCpu, kF32, {1, 1, 3}), slots(kCpu, kI64, {1});
  Tensor qs(kCpu, kI32, {2}), lens(kCpu, kI32, {1}), tables(kCpu, kI32, {1, 2});
  slots.data_as<int64_t>()[0] = 8;  // the cache has 2 blocks x 4 slots
  MmrtBatchLayout layout{};
  layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
  layout.n_seqs = 1;
  layout.block_size = 4;
  layout.query_start = qs.get();
  layout.seq_lens = lens.get();
  layout.block_tables = tables.get();
  layout.slot_mapping = slots.get();
  MmrtKvLayer layer{k_cache.get(), v_cache.get()};
  CHECK(code_of(dispatch_kernels()->kv_cache_write(k.get(), v.get(), layer, &layout, nullptr)) ==
        MMRT_STATUS_OUT_OF_RANGE);

  qs.data_as<int32_t>()[1] = 1;
  lens.data_as<int32_t>()[0] = 1;
  tables.data_as<int32_t>()[0] = 5;  // no such block
  Tensor q(kCpu, kF32, {1, 1, 3}), o(kCpu, kF32, {1, 1, 3});
  CHECK(code_of(dispatch_kernels()->paged_attention(q.get(), layer, &layout, 1.0f, o.get(), nullptr)) ==
        MMRT_STATUS_OUT_OF_RANGE);
}
