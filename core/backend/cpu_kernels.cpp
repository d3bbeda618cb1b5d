#include "core/backend/cpu_kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "core/backend/kernel_slots.hpp"
#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "kernels/cpu/ops.hpp"

namespace mmrt::backend {
namespace {

// The contract has checked dtype, device and layout: these only locate the elements.
template <typename T = float>
T* data_of(const MmrtTensor* t) {
  return t ? reinterpret_cast<T*>(static_cast<char*>(t->data) + t->byte_offset) : nullptr;
}

[[noreturn]] void out_of_range(const std::string& message) {
  throw StatusError(MMRT_STATUS_OUT_OF_RANGE, message);
}

std::atomic<uint64_t> weight_bytes_read{0};

// The element type of a linear/embedding weight: f32, bf16 or f16 (kernel_contracts.hpp
// weight_dtype_allowed), kept in the checkpoint's dtype and widened inside the kernel. The vector loads
// need the data aligned to its element size, which the host's weight views are.
cpu::WeightType weight_type(const MmrtTensor* w, const char* what) {
  const cpu::WeightType type = w->dtype == kBF16  ? cpu::WeightType::bf16
                               : w->dtype == kF16 ? cpu::WeightType::f16
                                                  : cpu::WeightType::f32;
  if (reinterpret_cast<uintptr_t>(data_of<const char>(w)) % dtype_size(w->dtype) != 0) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, std::string(what) + ": data is not aligned to its " +
                                                        std::to_string(dtype_size(w->dtype)) +
                                                        "-byte elements");
  }
  return type;
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

MmrtStatus* linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                   const MmrtStream*) {
  return status_boundary("linear", [&] {
    const int64_t n = w->shape[0], k = w->shape[1];
    cpu::linear(data_of(x), data_of<const void>(w), weight_type(w, "w"), data_of(bias), data_of(y),
                rows_of(x), n, k);
    weight_bytes_read.fetch_add(uint64_t(n * k) * dtype_size(w->dtype), std::memory_order_relaxed);
  });
}

MmrtStatus* embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("embedding", [&] {
    const int64_t n = numel(*ids);
    cpu::embedding(data_of<const void>(table), weight_type(table, "table"), table->shape[0], table->shape[1],
                   data_of<int32_t>(ids), n, data_of(out));
    weight_bytes_read.fetch_add(uint64_t(n * table->shape[1]) * dtype_size(table->dtype),
                                std::memory_order_relaxed);
  });
}

MmrtStatus* layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                       MmrtTensor* y, const MmrtStream*) {
  return status_boundary("layer_norm", [&] {
    cpu::layer_norm(data_of(x), data_of(weight), data_of(bias), data_of(y), rows_of(x), cols_of(x), eps);
  });
}

MmrtStatus* rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                     const MmrtStream*) {
  return status_boundary("rms_norm", [&] {
    cpu::rms_norm(data_of(x), data_of(weight), data_of(y), rows_of(x), cols_of(x), eps);
  });
}

MmrtStatus* activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream*) {
  return status_boundary("activation",
                         [&] { cpu::activation(activation_kind(kind), data_of(x), data_of(y), numel(*x)); });
}

MmrtStatus* gated_activation(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                             const MmrtStream*) {
  return status_boundary("gated_activation", [&] {
    cpu::gated_activation(activation_kind(kind), data_of(gate), data_of(up), data_of(y), numel(*gate));
  });
}

MmrtStatus* silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream* stream) {
  return gated_activation(MMRT_ACT_SILU, gate, up, y, stream);
}

MmrtStatus* add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream*) {
  return status_boundary("add", [&] {
    const float* ap = data_of(a);
    float* yp = data_of(y);
    if (numel(*a) == numel(*b)) {
      cpu::add(ap, data_of(b), yp, numel(*a));
    } else {
      if (yp != ap) std::memcpy(yp, ap, sizeof(float) * size_t(numel(*a)));
      cpu::add_bias_rows(yp, data_of(b), rows_of(a), cols_of(a));
    }
  });
}

MmrtStatus* rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                 const int32_t* mrope_section, float attention_scaling, const MmrtStream*) {
  return status_boundary("rope", [&] {
    const int64_t n_tokens = x->shape[0], n_heads = x->shape[1], head_dim = x->shape[2];
    if (mrope_section) {
      cpu::mrope(data_of(x), n_tokens, n_heads, head_dim, data_of<int32_t>(positions), data_of(inv_freq),
                 mrope_section);
    } else {
      cpu::rope(data_of(x), n_tokens, n_heads, head_dim, 2 * numel(*inv_freq), data_of<int32_t>(positions),
                data_of(inv_freq), attention_scaling);
    }
  });
}

MmrtStatus* attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                      float scale, int32_t causal, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("attention", [&] {
    cpu::attention(data_of(q), data_of(k), data_of(v), data_of(out), q->shape[0], k->shape[0], q->shape[1],
                   k->shape[1], q->shape[2], scale, causal != 0, data_of(bias));
  });
}

MmrtStatus* attention_varlen(const MmrtVarlenAttentionArgs* args, const MmrtStream*) {
  return status_boundary("attention_varlen", [&] {
    const MmrtVarlenAttentionArgs& a = *args;
    cpu::attention_varlen(data_of(a.q), data_of(a.k), data_of(a.v), data_of(a.out), a.n_seqs, a.cu_q_host,
                          a.cu_k_host, a.q->shape[1], a.k->shape[1], a.q->shape[2], a.scale, a.causal != 0,
                          data_of(a.bias), a.bias_period);
  });
}

MmrtStatus* kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                           const MmrtBatchLayout* layout, const MmrtStream*) {
  return status_boundary("kv_cache_write", [&] {
    const int64_t kv_dim = layer.k->shape[2] * layer.k->shape[3];
    const int64_t n_slots = layer.k->shape[0] * layer.k->shape[1];
    const int64_t tokens = numel(*k) / kv_dim;
    const int64_t* slots = data_of<int64_t>(layout->slot_mapping);
    for (int64_t i = 0; i < tokens; ++i) {
      if (slots[i] < -1 || slots[i] >= n_slots) {
        out_of_range("slot_mapping[" + std::to_string(i) + "] = " + std::to_string(slots[i]) +
                     " outside the cache of " + std::to_string(n_slots) + " slots");
      }
    }
    cpu::kv_cache_write(data_of(k), data_of(v), data_of(layer.k), data_of(layer.v), slots, tokens, kv_dim);
  });
}

// The layout's values, which live in CPU memory: query_start covers q's rows, every block a sequence
// reads is inside the cache. (cpu::paged_attention checks the lengths against the block table.)
void check_layout_values(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout) {
  const int32_t n_seqs = layout->n_seqs;
  const int32_t* qs = data_of<int32_t>(layout->query_start);
  const int32_t* lens = data_of<int32_t>(layout->seq_lens);
  const int32_t* tables = data_of<int32_t>(layout->block_tables);
  if (qs[0] != 0 || qs[n_seqs] != q->shape[0]) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "query_start runs from " + std::to_string(qs[0]) +
                                                        " to " + std::to_string(qs[n_seqs]) + " over q " +
                                                        shape_string(*q));
  }
  const int64_t n_blocks = layer.k->shape[0], block_size = layer.k->shape[1];
  const int64_t max_blocks = layout->block_tables->shape[1];
  for (int32_t s = 0; s < n_seqs; ++s) {
    const int64_t used = std::min<int64_t>(max_blocks, (int64_t{lens[s]} + block_size - 1) / block_size);
    for (int64_t b = 0; b < used; ++b) {
      const int32_t block = tables[s * max_blocks + b];
      if (block < 0 || block >= n_blocks) {
        out_of_range("sequence " + std::to_string(s) + " reads block " + std::to_string(block) +
                     " outside the cache of " + std::to_string(n_blocks));
      }
    }
  }
}

void run_paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float scale,
                         bool causal, const cpu::RelativePositionBias* rel_bias, MmrtTensor* out) {
  check_layout_values(q, layer, layout);
  cpu::paged_attention(data_of(q), data_of(layer.k), data_of(layer.v), data_of(out),
                       data_of<int32_t>(layout->query_start), data_of<int32_t>(layout->seq_lens),
                       data_of<int32_t>(layout->block_tables), layout->n_seqs, layout->block_tables->shape[1],
                       layer.k->shape[1], q->shape[1], layer.k->shape[2], layer.k->shape[3], scale, causal,
                       rel_bias);
}

MmrtStatus* paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                            float scale, MmrtTensor* out, const MmrtStream*) {
  return status_boundary("paged_attention",
                         [&] { run_paged_attention(q, layer, layout, scale, true, nullptr, out); });
}

MmrtStatus* paged_attention_ex(const MmrtPagedAttentionArgs* args, const MmrtStream*) {
  return status_boundary("paged_attention_ex", [&] {
    const MmrtPagedAttentionArgs& a = *args;
    if (!a.rel_bias) {
      run_paged_attention(a.q, a.layer, a.layout, a.scale, a.causal != 0, nullptr, a.out);
      return;
    }
    const cpu::RelativePositionBias bias{
        data_of(a.rel_bias), cpu::relative_buckets(a.n_buckets, a.max_distance, a.bidirectional != 0)};
    run_paged_attention(a.q, a.layer, a.layout, a.scale, a.causal != 0, &bias, a.out);
  });
}

MmrtStatus* patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                        MmrtTensor* out, const MmrtStream*) {
  return status_boundary("patch_embed", [&] {
    cpu::patch_embed(data_of(pixels), pixels->shape[0], pixels->shape[1], pixels->shape[2], weight->shape[2],
                     data_of(weight), data_of(bias), weight->shape[0], data_of(out));
  });
}

// Row stride in elements of a 2-D view (strides may describe a column slice of a wider tensor).
int64_t row_stride(const MmrtTensor* t) {
  return t->strides ? t->strides[0] : t->shape[1];
}

MmrtStatus* copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("copy", [&] {
    const float* s = data_of(src);
    float* d = data_of(dst);
    for (int64_t r = 0; r < src->shape[0]; ++r) {
      std::memcpy(d + r * row_stride(dst), s + r * row_stride(src), sizeof(float) * size_t(src->shape[1]));
    }
  });
}

// Every row index inside [0, n).
void check_rows(const int32_t* rows, int64_t n_rows, int64_t n, const char* what) {
  for (int64_t i = 0; i < n_rows; ++i) {
    if (rows[i] < 0 || rows[i] >= n) {
      out_of_range("rows[" + std::to_string(i) + "] = " + std::to_string(rows[i]) + " outside the " +
                   std::to_string(n) + " rows of " + what);
    }
  }
}

MmrtStatus* gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("gather_rows", [&] {
    const int64_t n = numel(*rows), cols = cols_of(src);
    const int32_t* r = data_of<int32_t>(rows);
    check_rows(r, n, rows_of(src), "src");
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(data_of(dst) + i * cols, data_of(src) + int64_t{r[i]} * cols, sizeof(float) * size_t(cols));
    }
  });
}

MmrtStatus* scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  return status_boundary("scatter_rows", [&] {
    const int64_t n = numel(*rows), cols = cols_of(dst);
    const int32_t* r = data_of<int32_t>(rows);
    check_rows(r, n, rows_of(dst), "dst");
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(data_of(dst) + int64_t{r[i]} * cols, data_of(src) + i * cols, sizeof(float) * size_t(cols));
    }
  });
}

MmrtStatus* scale(MmrtTensor* x, float s, const MmrtStream*) {
  return status_boundary("scale", [&] { cpu::scale(data_of(x), s, numel(*x)); });
}

const MmrtKernels kCpuKernels = MMRT_KERNEL_TABLE(MMRT_KERNEL_BY_NAME);

}  // namespace

const MmrtKernels* cpu_kernels() {
  return &kCpuKernels;
}

uint64_t cpu_weight_bytes_read() {
  return weight_bytes_read.load(std::memory_order_relaxed);
}

}  // namespace mmrt::backend
