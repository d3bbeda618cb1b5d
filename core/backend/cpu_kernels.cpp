#include "core/backend/cpu_kernels.hpp"

#include <atomic>
#include <cstring>
#include <string>

#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "kernels/cpu/ops.hpp"

namespace mmrt::backend {
namespace {

using namespace std::string_literals;

void expect_same_numel(const MmrtTensor* a, const MmrtTensor* b, const char* what) {
  if (numel(*a) != numel(*b)) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                      what + ": element counts differ, "s + shape_string(*a) + " vs " + shape_string(*b));
  }
}

std::atomic<uint64_t> weight_bytes_read{0};

struct CpuWeight {
  const void* data;
  cpu::WeightType type;
};

// A linear/embedding weight: f32, bf16 or f16, on the CPU, compact, aligned to its element size (the host's
// weight views are; the kernels' vector loads do not need more).
CpuWeight cpu_weight(const MmrtTensor* w, const char* what) {
  if (!w) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, what + " is NULL"s);
  cpu::WeightType type = cpu::WeightType::f32;
  if (w->dtype == kBF16) {
    type = cpu::WeightType::bf16;
  } else if (w->dtype == kF16) {
    type = cpu::WeightType::f16;
  } else if (!(w->dtype == kF32)) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                      what + ": expected f32, bf16 or f16, got "s + dtype_name(w->dtype));
  }
  const void* data = cpu_data(w, w->dtype, what);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(w->dtype) != 0) {
    throw StatusError(
        MMRT_STATUS_INVALID_ARGUMENT,
        what + ": data is not aligned to its "s + std::to_string(dtype_size(w->dtype)) + "-byte elements");
  }
  return {data, type};
}

MmrtStatus* linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                   const MmrtStream*) {
  return status_boundary("linear", [&] {
    const float* xp = cpu_f32(x, "x");
    const CpuWeight wp = cpu_weight(w, "w");
    expect_ndim(w, 2, "w");
    const int64_t n = w->shape[0], k = w->shape[1];
    if (cols_of(x) != k) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "x " + shape_string(*x) + " does not match weight " + shape_string(*w));
    }
    const int64_t m = rows_of(x);
    const float* bp = nullptr;
    if (bias) {
      bp = cpu_f32(bias, "bias");
      if (numel(*bias) != n) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bias " + shape_string(*bias));
    }
    float* yp = cpu_f32_mut(y, "y");
    if (rows_of(y) != m || cols_of(y) != n) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "y " + shape_string(*y) + ", expected [" +
                                                          std::to_string(m) + ", " + std::to_string(n) + "]");
    }
    cpu::linear(xp, wp.data, wp.type, bp, yp, m, n, k);
    weight_bytes_read.fetch_add(uint64_t(n * k) * dtype_size(w->dtype), std::memory_order_relaxed);
  });
}

MmrtStatus* embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("embedding", [&] {
    const CpuWeight tp = cpu_weight(table, "table");
    expect_ndim(table, 2, "table");
    const int64_t n = numel(*ids);
    float* op = cpu_f32_mut(out, "out");
    if (rows_of(out) != n || cols_of(out) != table->shape[1]) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "out " + shape_string(*out));
    }
    cpu::embedding(tp.data, tp.type, table->shape[0], table->shape[1], cpu_i32(ids, "ids"), n, op);
    weight_bytes_read.fetch_add(uint64_t(n * table->shape[1]) * dtype_size(table->dtype),
                                std::memory_order_relaxed);
  });
}

MmrtStatus* layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                       MmrtTensor* y, const MmrtStream*) {
  return status_boundary("layer_norm", [&] {
    const int64_t dim = cols_of(x);
    expect_same_numel(x, y, "layer_norm x/y");
    if (weight && numel(*weight) != dim) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "weight size");
    if (bias && numel(*bias) != dim) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bias size");
    cpu::layer_norm(cpu_f32(x, "x"), weight ? cpu_f32(weight, "weight") : nullptr,
                    bias ? cpu_f32(bias, "bias") : nullptr, cpu_f32_mut(y, "y"), rows_of(x), dim, eps);
  });
}

MmrtStatus* rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                     const MmrtStream*) {
  return status_boundary("rms_norm", [&] {
    const int64_t dim = cols_of(x);
    expect_same_numel(x, y, "rms_norm x/y");
    if (weight && numel(*weight) != dim) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "weight size");
    cpu::rms_norm(cpu_f32(x, "x"), weight ? cpu_f32(weight, "weight") : nullptr, cpu_f32_mut(y, "y"),
                  rows_of(x), dim, eps);
  });
}

cpu::Activation activation_kind(int32_t kind) {
  switch (kind) {
    case MMRT_ACT_GELU_ERF:
      return cpu::Activation::gelu_erf;
    case MMRT_ACT_GELU_TANH:
      return cpu::Activation::gelu_tanh;
    case MMRT_ACT_QUICK_GELU:
      return cpu::Activation::quick_gelu;
    case MMRT_ACT_SILU:
      return cpu::Activation::silu;
    case MMRT_ACT_RELU:
      return cpu::Activation::relu;
  }
  throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "unknown activation kind " + std::to_string(kind));
}

MmrtStatus* activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream*) {
  return status_boundary("activation", [&] {
    expect_same_numel(x, y, "activation x/y");
    cpu::activation(activation_kind(kind), cpu_f32(x, "x"), cpu_f32_mut(y, "y"), numel(*x));
  });
}

MmrtStatus* silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream*) {
  return status_boundary("silu_mul", [&] {
    expect_same_numel(gate, up, "silu_mul gate/up");
    expect_same_numel(gate, y, "silu_mul gate/y");
    cpu::silu_mul(cpu_f32(gate, "gate"), cpu_f32(up, "up"), cpu_f32_mut(y, "y"), numel(*gate));
  });
}

MmrtStatus* add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream*) {
  return status_boundary("add", [&] {
    expect_same_numel(a, y, "add a/y");
    const float* ap = cpu_f32(a, "a");
    const float* bp = cpu_f32(b, "b");
    float* yp = cpu_f32_mut(y, "y");
    if (numel(*a) == numel(*b)) {
      cpu::add(ap, bp, yp, numel(*a));
    } else if (numel(*b) == cols_of(a)) {
      if (yp != ap) std::memcpy(yp, ap, sizeof(float) * size_t(numel(*a)));
      cpu::add_bias_rows(yp, bp, rows_of(a), cols_of(a));
    } else {
      throw StatusError(
          MMRT_STATUS_INVALID_ARGUMENT,
          "add: b " + shape_string(*b) + " neither matches nor broadcasts over " + shape_string(*a));
    }
  });
}

MmrtStatus* rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                 const int32_t* mrope_section, float attention_scaling, const MmrtStream*) {
  return status_boundary("rope", [&] {
    expect_ndim(x, 3, "x");
    const int64_t n_tokens = x->shape[0], n_heads = x->shape[1], head_dim = x->shape[2];
    const int64_t rot_dim = 2 * numel(*inv_freq);
    float* xp = cpu_f32_mut(x, "x");
    const float* fp = cpu_f32(inv_freq, "inv_freq");
    if (mrope_section) {
      if (numel(*positions) != 3 * n_tokens) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "positions");
      cpu::mrope(xp, n_tokens, n_heads, head_dim, cpu_i32(positions, "positions"), fp, mrope_section);
    } else {
      if (numel(*positions) != n_tokens) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "positions");
      cpu::rope(xp, n_tokens, n_heads, head_dim, rot_dim, cpu_i32(positions, "positions"), fp,
                attention_scaling);
    }
  });
}

MmrtStatus* attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                      float scale, int32_t causal, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("attention", [&] {
    expect_ndim(q, 3, "q");
    expect_ndim(k, 3, "k");
    expect_ndim(v, 3, "v");
    const int64_t n_q = q->shape[0], n_head = q->shape[1], head_dim = q->shape[2];
    const int64_t n_kv = k->shape[0], n_head_kv = k->shape[1];
    expect_dim(k, 2, head_dim, "k");
    expect_same_numel(k, v, "attention k/v");
    expect_same_numel(q, out, "attention q/out");
    if (n_head_kv == 0 || n_head % n_head_kv != 0)
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "GQA heads");
    const float* bp = nullptr;
    if (bias) {
      if (numel(*bias) != n_head * n_q * n_kv) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bias shape");
      bp = cpu_f32(bias, "bias");
    }
    cpu::attention(cpu_f32(q, "q"), cpu_f32(k, "k"), cpu_f32(v, "v"), cpu_f32_mut(out, "out"), n_q, n_kv,
                   n_head, n_head_kv, head_dim, scale, causal != 0, bp);
  });
}

// Cache geometry of one layer: [n_blocks, block_size, n_head_kv, head_dim].
struct CacheGeometry {
  int64_t n_blocks, block_size, n_head_kv, head_dim;
};

CacheGeometry cache_geometry(MmrtKvLayer layer, const MmrtBatchLayout* layout) {
  if (!layer.k || !layer.v || !layout)
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "missing cache or layout");
  expect_ndim(layer.k, 4, "k_cache");
  expect_same_numel(layer.k, layer.v, "k_cache/v_cache");
  CacheGeometry g{layer.k->shape[0], layer.k->shape[1], layer.k->shape[2], layer.k->shape[3]};
  if (g.block_size != layout->block_size)
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "block size mismatch");
  return g;
}

MmrtStatus* kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                           const MmrtBatchLayout* layout, const MmrtStream*) {
  return status_boundary("kv_cache_write", [&] {
    const CacheGeometry g = cache_geometry(layer, layout);
    const int64_t kv_dim = g.n_head_kv * g.head_dim;
    if (kv_dim == 0 || numel(*k) % kv_dim != 0) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "k " + shape_string(*k) + " vs cache " + shape_string(*layer.k));
    }
    const int64_t tokens = numel(*k) / kv_dim;
    expect_same_numel(k, v, "k/v");
    if (numel(*layout->slot_mapping) != tokens) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "slot_mapping has " + std::to_string(numel(*layout->slot_mapping)) + " entries for " +
                            std::to_string(tokens) + " tokens");
    }
    const int64_t* slots = cpu_i64(layout->slot_mapping, "slot_mapping");
    const int64_t n_slots = g.n_blocks * g.block_size;
    for (int64_t i = 0; i < tokens; ++i) {
      if (slots[i] < -1 || slots[i] >= n_slots) {
        throw StatusError(MMRT_STATUS_OUT_OF_RANGE,
                          "slot " + std::to_string(slots[i]) + " outside the cache");
      }
    }
    cpu::kv_cache_write(cpu_f32(k, "k"), cpu_f32(v, "v"),
                        cpu_f32_mut(const_cast<MmrtTensor*>(layer.k), "k_cache"),
                        cpu_f32_mut(const_cast<MmrtTensor*>(layer.v), "v_cache"), slots, tokens, kv_dim);
  });
}

MmrtStatus* paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                            float scale, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("paged_attention", [&] {
    const CacheGeometry g = cache_geometry(layer, layout);
    expect_ndim(q, 3, "q");
    expect_dim(q, 2, g.head_dim, "q");
    expect_same_numel(q, out, "q/out");
    const int64_t n_tokens = q->shape[0], n_head = q->shape[1];
    if (n_head % g.n_head_kv != 0) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "GQA heads");
    const int32_t n_seqs = layout->n_seqs;
    expect_ndim(layout->block_tables, 2, "block_tables");
    expect_dim(layout->block_tables, 0, n_seqs, "block_tables");
    const int64_t max_blocks = layout->block_tables->shape[1];
    const int32_t* qs = cpu_i32(layout->query_start, "query_start");
    const int32_t* lens = cpu_i32(layout->seq_lens, "seq_lens");
    const int32_t* tables = cpu_i32(layout->block_tables, "block_tables");
    if (numel(*layout->query_start) != n_seqs + 1 || qs[0] != 0 || qs[n_seqs] != n_tokens) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "query_start does not cover the batch");
    }
    for (int32_t s = 0; s < n_seqs; ++s) {
      const int64_t n_q = qs[s + 1] - qs[s];
      if (n_q < 0 || lens[s] < n_q || lens[s] > max_blocks * g.block_size) {
        throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                          "sequence " + std::to_string(s) + " has a bad length");
      }
      for (int64_t b = 0; b < (lens[s] + g.block_size - 1) / g.block_size; ++b) {
        const int32_t block = tables[s * max_blocks + b];
        if (block < 0 || block >= g.n_blocks) {
          throw StatusError(MMRT_STATUS_OUT_OF_RANGE,
                            "block " + std::to_string(block) + " outside the cache");
        }
      }
    }
    cpu::paged_attention(cpu_f32(q, "q"), cpu_f32(layer.k, "k_cache"), cpu_f32(layer.v, "v_cache"),
                         cpu_f32_mut(out, "out"), qs, lens, tables, n_seqs, max_blocks, g.block_size, n_head,
                         g.n_head_kv, g.head_dim, scale);
  });
}

MmrtStatus* patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                        MmrtTensor* out, const MmrtStream*) {
  return status_boundary("patch_embed", [&] {
    expect_ndim(pixels, 3, "pixels");
    expect_ndim(weight, 4, "weight");
    const int64_t c = pixels->shape[0], h = pixels->shape[1], w = pixels->shape[2];
    const int64_t out_ch = weight->shape[0], p = weight->shape[2];
    expect_dim(weight, 1, c, "weight");
    expect_dim(weight, 3, p, "weight");
    if (p <= 0 || h % p || w % p)
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "image not a multiple of the patch");
    if (rows_of(out) != (h / p) * (w / p) || cols_of(out) != out_ch) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "out " + shape_string(*out));
    }
    cpu::patch_embed(cpu_f32(pixels, "pixels"), c, h, w, p, cpu_f32(weight, "weight"),
                     bias ? cpu_f32(bias, "bias") : nullptr, out_ch, cpu_f32_mut(out, "out"));
  });
}

// Row stride in elements of a 2-D view (strides may describe a column slice of a wider tensor).
int64_t row_stride(const MmrtTensor* t) {
  return t->strides ? t->strides[0] : t->shape[1];
}

MmrtStatus* copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("copy", [&] {
    if (src->ndim != 2 || dst->ndim != 2 || src->shape[0] != dst->shape[0] ||
        src->shape[1] != dst->shape[1]) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "copy needs equal 2-D shapes, got " +
                                                          shape_string(*src) + " and " + shape_string(*dst));
    }
    if (!(src->dtype == kF32) || !(dst->dtype == kF32) || src->device.device_type != MMRT_DEVICE_CPU ||
        dst->device.device_type != MMRT_DEVICE_CPU) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "copy: f32 CPU tensors only on this backend");
    }
    if ((src->strides && src->strides[1] != 1) || (dst->strides && dst->strides[1] != 1)) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "copy: columns must be contiguous");
    }
    const auto* s = reinterpret_cast<const float*>(static_cast<const char*>(src->data) + src->byte_offset);
    auto* d = reinterpret_cast<float*>(static_cast<char*>(dst->data) + dst->byte_offset);
    const int64_t rows = src->shape[0], cols = src->shape[1];
    for (int64_t r = 0; r < rows; ++r) {
      std::memmove(d + r * row_stride(dst), s + r * row_stride(src), sizeof(float) * size_t(cols));
    }
  });
}

MmrtStatus* gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("gather_rows", [&] {
    const int64_t n = numel(*rows), cols = cols_of(src), n_src = rows_of(src);
    if (rows_of(dst) != n || cols_of(dst) != cols)
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "dst shape");
    const int32_t* r = cpu_i32(rows, "rows");
    const float* s = cpu_f32(src, "src");
    float* d = cpu_f32_mut(dst, "dst");
    for (int64_t i = 0; i < n; ++i) {
      if (r[i] < 0 || r[i] >= n_src)
        throw StatusError(MMRT_STATUS_OUT_OF_RANGE, "row " + std::to_string(r[i]));
      std::memcpy(d + i * cols, s + int64_t(r[i]) * cols, sizeof(float) * size_t(cols));
    }
  });
}

MmrtStatus* scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("scatter_rows", [&] {
    const int64_t n = numel(*rows), cols = cols_of(dst), n_dst = rows_of(dst);
    if (rows_of(src) != n || cols_of(src) != cols) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "src " + shape_string(*src) + " does not fit dst " + shape_string(*dst));
    }
    const int32_t* r = cpu_i32(rows, "rows");
    const float* s = cpu_f32(src, "src");
    float* d = cpu_f32_mut(dst, "dst");
    for (int64_t i = 0; i < n; ++i) {
      if (r[i] < 0 || r[i] >= n_dst)
        throw StatusError(MMRT_STATUS_OUT_OF_RANGE, "row " + std::to_string(r[i]));
      std::memcpy(d + int64_t(r[i]) * cols, s + i * cols, sizeof(float) * size_t(cols));
    }
  });
}

MmrtStatus* scale(MmrtTensor* x, float s, const MmrtStream*) {
  return status_boundary("scale", [&] { cpu::scale(cpu_f32_mut(x, "x"), s, numel(*x)); });
}

const MmrtKernels kCpuKernels = {
    MMRT_SIZEOF(MmrtKernels, scale),
    0,
    nullptr,
    linear,
    embedding,
    layer_norm,
    rms_norm,
    activation,
    silu_mul,
    add,
    rope,
    attention,
    kv_cache_write,
    paged_attention,
    patch_embed,
    copy,
    gather_rows,
    scatter_rows,
    scale,
};

}  // namespace

const MmrtKernels* cpu_kernels() {
  return &kCpuKernels;
}

uint64_t cpu_weight_bytes_read() {
  return weight_bytes_read.load(std::memory_order_relaxed);
}

}  // namespace mmrt::backend
