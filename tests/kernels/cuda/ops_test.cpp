// Every CUDA kernel of the table against the CPU table on the same (dtype-rounded) random inputs, odd
// sizes, in f32, f16 and bf16. Tolerances: cuda_test_util.hpp's tolerance() unless a case states one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cuda/sampling.cuh"
#include "tests/kernels/cuda/cuda_test_util.hpp"

using namespace mmrt;
using namespace mmrt::cuda_test;
using mmrt::backend::cpu_kernels;
using mmrt::backend::cuda_kernels;
using mmrt::backend::kF32;
using mmrt::backend::kI32;

namespace {

// Random values rounded through `dtype`, so host reference and device see the same numbers.
std::vector<float> inputs(MmrtDataType dtype, int64_t n, uint32_t seed, float stddev = 1.0f) {
  return rounded(dtype, cpu::test::random_normal(n, seed, stddev));
}

}  // namespace

TEST_CASE("linear (cuBLAS) matches the CPU GEMM, with and without bias") {
  const int64_t m = 7, n = 33, k = 61;
  for (MmrtDataType dt : kDtypes) {
    for (bool with_bias : {false, true}) {
      CAPTURE(name_of(dt));
      CAPTURE(with_bias);
      const auto x = inputs(dt, m * k, 1), w = inputs(dt, n * k, 2, 0.2f), b = inputs(dt, n, 3);
      Tensor hx = host_f32({m, k}, x), hw = host_f32({n, k}, w), hb = host_f32({n}, b),
             hy = host_f32({m, n}, std::vector<float>(m * n));
      Tensor dx = device_tensor(dt, {m, k}, x), dw = device_tensor(dt, {n, k}, w),
             db = device_tensor(dt, {n}, b);
      Tensor dy(kGpu, dt, {m, n});
      ok(cpu_kernels()->linear(hx.get(), hw.get(), with_bias ? hb.get() : nullptr, hy.get(), nullptr));
      ok(cuda_kernels()->linear(dx.get(), dw.get(), with_bias ? db.get() : nullptr, dy.get(), stream()));
      expect_close(dy, hy, dt);
    }
  }
}

TEST_CASE("embedding, gather_rows and scatter_rows move the same rows as on the CPU") {
  const int64_t vocab = 37, dim = 19;
  const std::vector<int32_t> ids = {0, 36, 5, 5, 17, 2, 30, 11, 8, 1, 23};
  const int64_t n = int64_t(ids.size());
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    const auto table = inputs(dt, vocab * dim, 4);
    Tensor htable = host_f32({vocab, dim}, table), hids = host_int<int32_t>({n}, ids);
    Tensor dtable = device_tensor(dt, {vocab, dim}, table), dids = device_int<int32_t>({n}, ids);
    Tensor hout = host_f32({n, dim}, std::vector<float>(n * dim)), dout(kGpu, dt, {n, dim});
    ok(cpu_kernels()->embedding(htable.get(), hids.get(), hout.get(), nullptr));
    ok(cuda_kernels()->embedding(dtable.get(), dids.get(), dout.get(), stream()));
    expect_close(dout, hout, dt, 1e-7);  // a pure copy

    ok(cpu_kernels()->gather_rows(htable.get(), hids.get(), hout.get(), nullptr));
    ok(cuda_kernels()->gather_rows(dtable.get(), dids.get(), dout.get(), stream()));
    expect_close(dout, hout, dt, 1e-7);

    // Scatter 4 distinct rows of a [4, dim] source into a copy of the table.
    const std::vector<int32_t> rows = {3, 0, 36, 12};
    const auto src = inputs(dt, 4 * dim, 5);
    Tensor hsrc = host_f32({4, dim}, src), hrows = host_int<int32_t>({4}, rows);
    Tensor dsrc = device_tensor(dt, {4, dim}, src), drows = device_int<int32_t>({4}, rows);
    ok(cpu_kernels()->scatter_rows(hsrc.get(), hrows.get(), htable.get(), nullptr));
    ok(cuda_kernels()->scatter_rows(dsrc.get(), drows.get(), dtable.get(), stream()));
    expect_close(dtable, htable, dt, 1e-7);
  }
}

TEST_CASE("out-of-range device indices are handled defensively: zero rows, skipped writes") {
  const int64_t dim = 5;
  Tensor table = device_tensor(kF32, {3, dim}, std::vector<float>(3 * dim, 1.0f));
  Tensor ids = device_int<int32_t>({3}, std::vector<int32_t>{-1, 1, 3});
  Tensor out(kGpu, kF32, {3, dim});
  ok(cuda_kernels()->embedding(table.get(), ids.get(), out.get(), stream()));
  const std::vector<float> got = to_host(out);
  for (int64_t c = 0; c < dim; ++c) {
    CHECK(got[size_t(c)] == 0.0f);
    CHECK(got[size_t(dim + c)] == 1.0f);
    CHECK(got[size_t(2 * dim + c)] == 0.0f);
  }
  Tensor src = device_tensor(kF32, {3, dim}, std::vector<float>(3 * dim, 7.0f));
  ok(cuda_kernels()->scatter_rows(src.get(), ids.get(), table.get(), stream()));
  const std::vector<float> after = to_host(table);
  CHECK(after[0] == 1.0f);            // row 0 untouched
  CHECK(after[size_t(dim)] == 7.0f);  // row 1 written
}

TEST_CASE("layer_norm and rms_norm match the CPU, with and without affine parameters") {
  const int64_t rows = 5, dim = 131;
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    // An offset row mean checks the two-pass variance.
    auto x = cpu::test::random_normal(rows * dim, 6, 2.0f, 3.0f);
    x = rounded(dt, x);
    const auto w = inputs(dt, dim, 7), b = inputs(dt, dim, 8);
    Tensor hx = host_f32({rows, dim}, x), hw = host_f32({dim}, w), hb = host_f32({dim}, b);
    Tensor dx = device_tensor(dt, {rows, dim}, x), dw = device_tensor(dt, {dim}, w),
           db = device_tensor(dt, {dim}, b);
    Tensor hy = host_f32({rows, dim}, std::vector<float>(rows * dim)), dy(kGpu, dt, {rows, dim});
    for (bool affine : {false, true}) {
      CAPTURE(affine);
      ok(cpu_kernels()->layer_norm(hx.get(), affine ? hw.get() : nullptr, affine ? hb.get() : nullptr, 1e-5f,
                                   hy.get(), nullptr));
      ok(cuda_kernels()->layer_norm(dx.get(), affine ? dw.get() : nullptr, affine ? db.get() : nullptr, 1e-5f,
                                    dy.get(), stream()));
      expect_close(dy, hy, dt);
      ok(cpu_kernels()->rms_norm(hx.get(), affine ? hw.get() : nullptr, 1e-6f, hy.get(), nullptr));
      ok(cuda_kernels()->rms_norm(dx.get(), affine ? dw.get() : nullptr, 1e-6f, dy.get(), stream()));
      // bf16/f16 round the normalised row before the weight (as LlamaRMSNorm): twice the output rounding.
      expect_close(dy, hy, dt, 2 * tolerance(dt));
    }
  }
}

TEST_CASE("activations, silu_mul, gated_activation, add (full and row broadcast) and scale match the CPU") {
  const int64_t rows = 7, cols = 143, n = rows * cols;
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    const auto x = inputs(dt, n, 9, 2.0f), u = inputs(dt, n, 10), brow = inputs(dt, cols, 11);
    Tensor hx = host_f32({rows, cols}, x), hu = host_f32({rows, cols}, u), hb = host_f32({cols}, brow);
    Tensor dx = device_tensor(dt, {rows, cols}, x), du = device_tensor(dt, {rows, cols}, u),
           db = device_tensor(dt, {cols}, brow);
    Tensor hy = host_f32({rows, cols}, std::vector<float>(n)), dy(kGpu, dt, {rows, cols});
    for (int32_t kind :
         {MMRT_ACT_GELU_ERF, MMRT_ACT_GELU_TANH, MMRT_ACT_QUICK_GELU, MMRT_ACT_SILU, MMRT_ACT_RELU}) {
      CAPTURE(kind);
      ok(cpu_kernels()->activation(kind, hx.get(), hy.get(), nullptr));
      ok(cuda_kernels()->activation(kind, dx.get(), dy.get(), stream()));
      expect_close(dy, hy, dt);
    }
    ok(cpu_kernels()->silu_mul(hx.get(), hu.get(), hy.get(), nullptr));
    ok(cuda_kernels()->silu_mul(dx.get(), du.get(), dy.get(), stream()));
    expect_close(dy, hy, dt, 2 * tolerance(dt));  // silu rounded to the dtype before the product
    for (int32_t kind :
         {MMRT_ACT_GELU_ERF, MMRT_ACT_GELU_TANH, MMRT_ACT_QUICK_GELU, MMRT_ACT_SILU, MMRT_ACT_RELU}) {
      CAPTURE(kind);
      ok(cpu_kernels()->gated_activation(kind, hx.get(), hu.get(), hy.get(), nullptr));
      ok(cuda_kernels()->gated_activation(kind, dx.get(), du.get(), dy.get(), stream()));
      expect_close(dy, hy, dt, 2 * tolerance(dt));  // the activation rounded to the dtype before the product
    }
    ok(cpu_kernels()->add(hx.get(), hu.get(), hy.get(), nullptr));
    ok(cuda_kernels()->add(dx.get(), du.get(), dy.get(), stream()));
    expect_close(dy, hy, dt);
    ok(cpu_kernels()->add(hx.get(), hb.get(), hx.get(), nullptr));  // broadcast, in place
    ok(cuda_kernels()->add(dx.get(), db.get(), dx.get(), stream()));
    expect_close(dx, hx, dt);
    ok(cpu_kernels()->scale(hx.get(), -0.37f, nullptr));
    ok(cuda_kernels()->scale(dx.get(), -0.37f, stream()));
    expect_close(dx, hx, dt, 2 * tolerance(dt));
  }
}

TEST_CASE("rope (partial rotary, attention scaling) and mrope match the CPU") {
  const int64_t n_tokens = 5, n_heads = 3;
  const std::vector<int32_t> positions = {0, 1, 7, 300, 4095};
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    {
      const int64_t head_dim = 24, rot_dim = 16;
      std::vector<float> inv_freq(rot_dim / 2);
      for (int64_t j = 0; j < rot_dim / 2; ++j)
        inv_freq[size_t(j)] = std::pow(10000.0f, -2.0f * float(j) / float(rot_dim));
      const auto x = inputs(dt, n_tokens * n_heads * head_dim, 12);
      Tensor hx = host_f32({n_tokens, n_heads, head_dim}, x),
             dx = device_tensor(dt, {n_tokens, n_heads, head_dim}, x);
      Tensor hpos = host_int<int32_t>({n_tokens}, positions),
             dpos = device_int<int32_t>({n_tokens}, positions);
      Tensor hf = host_f32({rot_dim / 2}, inv_freq), df = device_tensor(kF32, {rot_dim / 2}, inv_freq);
      ok(cpu_kernels()->rope(hx.get(), hpos.get(), hf.get(), nullptr, 0.9f, nullptr));
      ok(cuda_kernels()->rope(dx.get(), dpos.get(), df.get(), nullptr, 0.9f, stream()));
      // Large positions make the fp32 angle's cos/sin differ by a few ulps between libm and CUDA.
      expect_close(dx, hx, dt, std::max(tolerance(dt), 1e-4));
    }
    {
      const int64_t head_dim = 16;
      const int32_t section[3] = {2, 3, 3};
      std::vector<float> inv_freq(head_dim / 2);
      for (int64_t j = 0; j < head_dim / 2; ++j)
        inv_freq[size_t(j)] = std::pow(10000.0f, -2.0f * float(j) / float(head_dim));
      std::vector<int32_t> pos3(3 * n_tokens);
      for (size_t i = 0; i < pos3.size(); ++i) pos3[i] = int32_t((i * 37) % 53);
      const auto x = inputs(dt, n_tokens * n_heads * head_dim, 13);
      Tensor hx = host_f32({n_tokens, n_heads, head_dim}, x),
             dx = device_tensor(dt, {n_tokens, n_heads, head_dim}, x);
      Tensor hpos = host_int<int32_t>({3, n_tokens}, pos3), dpos = device_int<int32_t>({3, n_tokens}, pos3);
      Tensor hf = host_f32({head_dim / 2}, inv_freq), df = device_tensor(kF32, {head_dim / 2}, inv_freq);
      ok(cpu_kernels()->rope(hx.get(), hpos.get(), hf.get(), section, 1.0f, nullptr));
      ok(cuda_kernels()->rope(dx.get(), dpos.get(), df.get(), section, 1.0f, stream()));
      expect_close(dx, hx, dt, std::max(tolerance(dt), 1e-4));
    }
  }
}

TEST_CASE("patch_embed matches the CPU im2col + GEMM") {
  const int64_t c = 3, h = 21, w = 35, p = 7, out_ch = 17, n_patches = (h / p) * (w / p);
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    const auto pixels = inputs(dt, c * h * w, 14), weight = inputs(dt, out_ch * c * p * p, 15, 0.1f),
               bias = inputs(dt, out_ch, 16);
    Tensor hp = host_f32({c, h, w}, pixels), hw = host_f32({out_ch, c, p, p}, weight),
           hb = host_f32({out_ch}, bias);
    Tensor dp = device_tensor(dt, {c, h, w}, pixels), dw = device_tensor(dt, {out_ch, c, p, p}, weight),
           db = device_tensor(dt, {out_ch}, bias);
    Tensor hout = host_f32({n_patches, out_ch}, std::vector<float>(n_patches * out_ch)),
           dout(kGpu, dt, {n_patches, out_ch});
    ok(cpu_kernels()->patch_embed(hp.get(), hw.get(), hb.get(), hout.get(), nullptr));
    ok(cuda_kernels()->patch_embed(dp.get(), dw.get(), db.get(), dout.get(), stream()));
    expect_close(dout, hout, dt);
  }
}

TEST_CASE("copy converts between dtypes, honours row strides and crosses host and device") {
  const int64_t rows = 9, cols = 13, wide = 40;
  const auto src = cpu::test::random_normal(rows * cols, 17);
  for (MmrtDataType from : kDtypes) {
    for (MmrtDataType to : kDtypes) {
      CAPTURE(name_of(from));
      CAPTURE(name_of(to));
      const auto v = rounded(from, src);
      Tensor dsrc = device_tensor(from, {rows, cols}, v);
      // Destination: columns [5, 5 + cols) of a [rows, wide] tensor, as a row-strided view.
      Tensor wide_dst = device_tensor(to, {rows, wide}, std::vector<float>(rows * wide, -3.0f));
      MmrtTensor view = wide_dst.view();
      int64_t shape[2] = {rows, cols}, strides[2] = {wide, 1};
      view.shape = shape;
      view.strides = strides;
      view.byte_offset = 5 * backend::dtype_size(to);
      ok(cuda_kernels()->copy(dsrc.get(), &view, stream()));
      const std::vector<float> got = to_host(wide_dst);
      const std::vector<float> want = rounded(to, v);
      int mismatches = 0;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t col = 0; col < wide; ++col) {
          const float expect = col >= 5 && col < 5 + cols ? want[size_t(r * cols + col - 5)] : -3.0f;
          mismatches += got[size_t(r * wide + col)] != expect;
        }
      }
      CHECK(mismatches == 0);  // conversions round to nearest even exactly like kernels/cpu/convert
    }
  }
  // Host -> device and device -> host, same dtype (what DeviceTable uploads use).
  Tensor host = host_f32({rows, cols}, src);
  Tensor dev(kGpu, kF32, {rows, cols});
  ok(cuda_kernels()->copy(host.get(), dev.get(), stream()));
  Tensor back = host_f32({rows, cols}, std::vector<float>(rows * cols));
  ok(cuda_kernels()->copy(dev.get(), back.get(), stream()));
  sync_stream();
  CHECK(values(back) == src);
  // Across devices the dtype must not change.
  Tensor dev16(kGpu, backend::kBF16, {rows, cols});
  CHECK(code_of(cuda_kernels()->copy(host.get(), dev16.get(), stream())) == MMRT_STATUS_INVALID_ARGUMENT);
}

TEST_CASE("device greedy sampling: argmax (first on ties), its log-probability and the top-k") {
  const int64_t n_rows = 3, vocab = 1001;
  const int32_t k = 5;
  auto logits = cpu::test::random_normal(n_rows * vocab, 81, 3.0f);
  logits[size_t(vocab + 17)] = 50.0f;  // row 1: a tie for the max at ids 17 and 900
  logits[size_t(vocab + 900)] = 50.0f;
  Tensor dlogits = device_tensor(kF32, {n_rows, vocab}, logits);
  Tensor tokens(kGpu, kI32, {n_rows}), token_lp(kGpu, kF32, {n_rows});
  Tensor top_ids(kGpu, kI32, {n_rows, k}), top_lp(kGpu, kF32, {n_rows, k});
  REQUIRE(cuda::sample_greedy_logprobs(dlogits.data_as<float>(), n_rows, vocab, k, tokens.data_as<int32_t>(),
                                       token_lp.data_as<float>(), top_ids.data_as<int32_t>(),
                                       top_lp.data_as<float>(),
                                       static_cast<cudaStream_t>(stream()->native)) == cudaSuccess);
  const auto host_of = [](const Tensor& t) { return t.copy_to(kCpu, *stream()); };
  Tensor h_tokens = host_of(tokens), h_token_lp = host_of(token_lp), h_ids = host_of(top_ids),
         h_lp = host_of(top_lp);
  sync_stream();
  for (int64_t r = 0; r < n_rows; ++r) {
    CAPTURE(r);
    const float* x = logits.data() + r * vocab;
    // Reference: log-softmax in double, candidates ordered by logit then id.
    double max_logit = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i) max_logit = std::max<double>(max_logit, x[i]);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(x[i]) - max_logit);
    const double log_z = max_logit + std::log(sum);
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
    CHECK(h_tokens.data_as<int32_t>()[r] == order[0]);
    CHECK(std::abs(h_token_lp.data_as<float>()[r] - float(double(x[order[0]]) - log_z)) <= 1e-6);
    for (int32_t j = 0; j < k; ++j) {
      CHECK(h_ids.data_as<int32_t>()[r * k + j] == order[size_t(j)]);
      CHECK(std::abs(h_lp.data_as<float>()[r * k + j] - float(double(x[order[size_t(j)]]) - log_z)) <= 1e-6);
    }
  }
  CHECK(h_tokens.data_as<int32_t>()[1] == 17);
}
