#include "core/backend/kernel_contracts.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "kernels/cpu/relative_position.hpp"

namespace mmrt::backend::contracts {

using namespace std::string_literals;

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, message);
}

std::string device_name(MmrtDevice d) {
  if (d.device_type == MMRT_DEVICE_CPU) return "the CPU";
  if (d.device_type == MMRT_DEVICE_CUDA) return "cuda:" + std::to_string(d.device_id);
  return "device type " + std::to_string(d.device_type);
}

// The activation dtypes each backend computes in: f32 on the CPU; f32, f16 and bf16 on CUDA.
bool is_activation_dtype(MmrtDevice device, MmrtDataType t) {
  return t == kF32 || (device.device_type == MMRT_DEVICE_CUDA && (t == kF16 || t == kBF16));
}

// Present, well-formed, on a device that has kernels, data present; compact unless row-strided is allowed
// (then the last dim is contiguous and no stride is negative).
void check_tensor(const MmrtTensor* t, const char* what, bool row_strided = false) {
  if (!t) invalid(what + " is NULL"s);
  if (t->ndim < 0 || (t->ndim > 0 && !t->shape)) invalid(what + ": malformed shape"s);
  for (int32_t i = 0; i < t->ndim; ++i) {
    if (t->shape[i] < 0) invalid(what + ": negative dimension in "s + shape_string(*t));
  }
  if (t->device.device_type != MMRT_DEVICE_CPU && t->device.device_type != MMRT_DEVICE_CUDA) {
    invalid(what + " is on "s + device_name(t->device) + ", which has no kernels");
  }
  if (row_strided) {
    if (t->strides) {
      for (int32_t i = 0; i < t->ndim; ++i) {
        if (t->strides[i] < 0) invalid(what + ": negative stride"s);
      }
      if (t->ndim > 0 && t->shape[t->ndim - 1] > 1 && t->strides[t->ndim - 1] != 1) {
        invalid(what + ": the last dim must be contiguous"s);
      }
    }
  } else if (!is_compact(t)) {
    invalid(what + ": must be compact row-major"s);
  }
  if (!t->data && numel(*t) > 0) invalid(what + ": no data"s);
}

// Byte range [begin, end) a tensor's elements span; empty for a tensor without elements.
struct ByteRange {
  uintptr_t begin = 0, end = 0;
};

ByteRange bytes_of(const MmrtTensor* t) {
  if (!t || numel(*t) == 0) return {};
  int64_t last = 0;  // offset of the last element, in elements
  int64_t compact_stride = 1;
  for (int32_t i = t->ndim - 1; i >= 0; --i) {
    const int64_t stride = t->strides ? t->strides[i] : compact_stride;
    last += (t->shape[i] - 1) * stride;
    compact_stride *= t->shape[i];
  }
  const size_t elem = dtype_size(t->dtype);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t->data) + t->byte_offset;
  return {begin, begin + uintptr_t(last + 1) * elem};
}

bool overlap(const MmrtTensor* a, const MmrtTensor* b) {
  const ByteRange ra = bytes_of(a), rb = bytes_of(b);
  return ra.begin < ra.end && rb.begin < rb.end && ra.begin < rb.end && rb.begin < ra.end;
}

bool same_view(const MmrtTensor* a, const MmrtTensor* b) {
  const ByteRange ra = bytes_of(a), rb = bytes_of(b);
  return ra.begin == rb.begin && ra.end == rb.end && a->dtype == b->dtype;
}

// The output must not share memory with the input.
void expect_distinct(const MmrtTensor* out, const char* out_name, const MmrtTensor* in, const char* in_name) {
  if (in && overlap(out, in)) invalid(out_name + " must not overlap "s + in_name);
}

// The output may be the input itself (the slot says "y may be ..."), but not overlap it otherwise.
void expect_same_or_distinct(const MmrtTensor* out, const char* out_name, const MmrtTensor* in,
                             const char* in_name) {
  if (overlap(out, in) && !same_view(out, in)) {
    invalid(out_name + " overlaps "s + in_name + " without being the same view (it may be " + in_name +
            " itself)");
  }
}

void expect_same_numel(const MmrtTensor* a, const char* a_name, const MmrtTensor* b, const char* b_name) {
  if (numel(*a) != numel(*b)) {
    invalid(a_name + " "s + shape_string(*a) + " and " + b_name + " " + shape_string(*b) +
            " differ in element count");
  }
}

void expect_same_shape(const MmrtTensor* a, const char* a_name, const MmrtTensor* b, const char* b_name) {
  bool same = a->ndim == b->ndim;
  for (int32_t i = 0; same && i < a->ndim; ++i) same = a->shape[i] == b->shape[i];
  if (!same)
    invalid(a_name + " "s + shape_string(*a) + " and " + b_name + " " + shape_string(*b) + " differ");
}

void expect_activation_kind(int32_t kind) {
  if (kind < MMRT_ACT_GELU_ERF || kind > MMRT_ACT_RELU)
    invalid("unknown activation kind " + std::to_string(kind));
}

void expect_flag(int32_t value, const char* what) {
  if (value != 0 && value != 1) invalid(what + " must be 0 or 1, got "s + std::to_string(value));
}

// The operands of one call: every tensor on the device of the first one checked; activations in one
// dtype the device computes in (the first activation checked fixes it).
class Operands {
 public:
  void tensor(const MmrtTensor* t, const char* what) {
    check_tensor(t, what);
    if (!has_device_) {
      device_ = t->device;
      has_device_ = true;
    } else if (t->device.device_type != device_.device_type || t->device.device_id != device_.device_id) {
      invalid(what + " is on "s + device_name(t->device) + ", the call's other tensors on " +
              device_name(device_));
    }
  }
  void activation(const MmrtTensor* t, const char* what) {
    tensor(t, what);
    if (!has_dtype_) {
      if (!is_activation_dtype(device_, t->dtype)) {
        invalid(what + ": "s + dtype_name(t->dtype) + " activations are not computed on " +
                device_name(device_) + (device_.device_type == MMRT_DEVICE_CPU ? " (f32 only)" : ""));
      }
      dtype_ = t->dtype;
      has_dtype_ = true;
    } else if (!(t->dtype == dtype_)) {
      invalid(what + ": dtype "s + dtype_name(t->dtype) + " differs from the op's " + dtype_name(dtype_));
    }
  }
  void of_dtype(const MmrtTensor* t, MmrtDataType want, const char* what) {
    tensor(t, what);
    if (!(t->dtype == want))
      invalid(what + ": expected "s + dtype_name(want) + ", got " + dtype_name(t->dtype));
  }
  // linear's w and embedding's table, after the activations fixed the dtype.
  void weight(const MmrtTensor* t, const char* what) {
    tensor(t, what);
    if (!weight_dtype_allowed(device_, dtype_, t->dtype)) {
      invalid(what + ": "s + dtype_name(t->dtype) + " weights with " + dtype_name(dtype_) +
              " activations are not supported on " + device_name(device_));
    }
  }
  MmrtDevice device() const { return device_; }

 private:
  MmrtDevice device_{MMRT_DEVICE_CPU, 0};
  bool has_device_ = false;
  MmrtDataType dtype_{};
  bool has_dtype_ = false;
};

// A layer's caches [n_blocks, block_size, n_head_kv, head_dim] and the layout's block size.
struct CacheGeometry {
  int64_t n_blocks, block_size, n_head_kv, head_dim;
};

CacheGeometry cache_geometry(Operands& ops, MmrtKvLayer layer, const MmrtBatchLayout* layout) {
  ops.activation(layer.k, "k_cache");
  ops.activation(layer.v, "v_cache");
  expect_ndim(layer.k, 4, "k_cache");
  expect_same_shape(layer.k, "k_cache", layer.v, "v_cache");
  expect_distinct(layer.k, "k_cache", layer.v, "v_cache");
  if (!layout) invalid("layout is NULL");
  const CacheGeometry g{layer.k->shape[0], layer.k->shape[1], layer.k->shape[2], layer.k->shape[3]};
  if (g.block_size != layout->block_size) {
    invalid("k_cache has blocks of " + std::to_string(g.block_size) + " but layout block_size is " +
            std::to_string(layout->block_size));
  }
  if (g.block_size <= 0 || g.n_head_kv <= 0) invalid("k_cache " + shape_string(*layer.k) + " has no slots");
  return g;
}

// query_start [n_seqs + 1], seq_lens [n_seqs], block_tables [n_seqs, max_blocks], all int32. Their values
// live on the device: the backend checks them.
void check_layout_tensors(Operands& ops, const MmrtBatchLayout* layout) {
  if (layout->n_seqs < 0) invalid("layout n_seqs " + std::to_string(layout->n_seqs));
  ops.of_dtype(layout->query_start, kI32, "query_start");
  ops.of_dtype(layout->seq_lens, kI32, "seq_lens");
  ops.of_dtype(layout->block_tables, kI32, "block_tables");
  if (numel(*layout->query_start) != int64_t{layout->n_seqs} + 1) {
    invalid("query_start " + shape_string(*layout->query_start) + " for " + std::to_string(layout->n_seqs) +
            " sequences");
  }
  if (numel(*layout->seq_lens) != layout->n_seqs) {
    invalid("seq_lens " + shape_string(*layout->seq_lens) + " for " + std::to_string(layout->n_seqs) +
            " sequences");
  }
  expect_ndim(layout->block_tables, 2, "block_tables");
  expect_dim(layout->block_tables, 0, layout->n_seqs, "block_tables");
}

void expect_gqa(int64_t n_head, int64_t n_head_kv, const MmrtTensor* q, const MmrtTensor* kv) {
  if (n_head_kv <= 0 || n_head % n_head_kv != 0) {
    invalid("q " + shape_string(*q) + " has heads that are not a multiple of the kv heads of " +
            shape_string(*kv));
  }
}

// q [n_tokens, n_head, head_dim] over a paged cache, out like q: what paged_attention and
// paged_attention_ex share.
MmrtDevice check_paged(Operands& ops, const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                       const MmrtTensor* out) {
  ops.activation(q, "q");
  ops.activation(out, "out");
  const CacheGeometry g = cache_geometry(ops, layer, layout);
  expect_ndim(q, 3, "q");
  expect_dim(q, 2, g.head_dim, "q");
  expect_same_numel(out, "out", q, "q");
  expect_gqa(q->shape[1], g.n_head_kv, q, layer.k);
  check_layout_tensors(ops, layout);
  expect_distinct(out, "out", q, "q");
  expect_distinct(out, "out", layer.k, "k_cache");
  expect_distinct(out, "out", layer.v, "v_cache");
  return ops.device();
}

// Dense q [n_q, n_head, d], k, v [n_kv, n_head_kv, d], out like q, in one dtype.
void check_dense(Operands& ops, const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v,
                 const MmrtTensor* out) {
  ops.activation(q, "q");
  ops.activation(k, "k");
  ops.activation(v, "v");
  ops.activation(out, "out");
  expect_ndim(q, 3, "q");
  expect_ndim(k, 3, "k");
  expect_dim(k, 2, q->shape[2], "k");
  expect_same_numel(v, "v", k, "k");
  expect_same_numel(out, "out", q, "q");
  expect_gqa(q->shape[1], k->shape[1], q, k);
  expect_distinct(out, "out", q, "q");
  expect_distinct(out, "out", k, "k");
  expect_distinct(out, "out", v, "v");
}

MmrtDevice check_gated(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, const MmrtTensor* y) {
  expect_activation_kind(kind);
  Operands ops;
  ops.activation(gate, "gate");
  ops.activation(up, "up");
  ops.activation(y, "y");
  expect_same_numel(gate, "gate", up, "up");
  expect_same_numel(y, "y", gate, "gate");
  expect_same_or_distinct(y, "y", gate, "gate");
  expect_same_or_distinct(y, "y", up, "up");
  return ops.device();
}

// Sequence s of a varlen offset array: non-decreasing from 0 to `total`.
void check_offsets(const int32_t* cu, int32_t n_seqs, int64_t total, const char* what) {
  if (!cu) invalid(what + " is NULL"s);
  if (cu[0] != 0) invalid(what + "[0] is "s + std::to_string(cu[0]) + ", not 0");
  for (int32_t s = 0; s < n_seqs; ++s) {
    if (cu[s + 1] < cu[s]) invalid(what + " decreases at sequence "s + std::to_string(s));
  }
  if (cu[n_seqs] != total) {
    invalid(what + "["s + std::to_string(n_seqs) + "] is " + std::to_string(cu[n_seqs]) +
            " but the tensor has " + std::to_string(total) + " rows");
  }
}

}  // namespace

bool weight_dtype_allowed(MmrtDevice device, MmrtDataType activation, MmrtDataType weight) {
  return weight == activation ||
         (device.device_type == MMRT_DEVICE_CPU && activation == kF32 && (weight == kBF16 || weight == kF16));
}

MmrtDevice linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                  const MmrtStream*) {
  Operands ops;
  ops.activation(x, "x");
  ops.activation(y, "y");
  ops.weight(w, "w");
  expect_ndim(w, 2, "w");
  const int64_t n = w->shape[0], k = w->shape[1];
  if (cols_of(x) != k) invalid("x " + shape_string(*x) + " does not match w " + shape_string(*w));
  if (rows_of(y) != rows_of(x) || cols_of(y) != n) {
    invalid("y " + shape_string(*y) + ", expected [" + std::to_string(rows_of(x)) + ", " + std::to_string(n) +
            "]");
  }
  if (bias) {
    ops.activation(bias, "bias");
    if (numel(*bias) != n) invalid("bias " + shape_string(*bias) + " for " + std::to_string(n) + " outputs");
  }
  expect_distinct(y, "y", x, "x");
  expect_distinct(y, "y", w, "w");
  expect_distinct(y, "y", bias, "bias");
  return ops.device();
}

MmrtDevice embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out, const MmrtStream*) {
  Operands ops;
  ops.activation(out, "out");
  ops.weight(table, "table");
  ops.of_dtype(ids, kI32, "ids");
  expect_ndim(table, 2, "table");
  if (rows_of(out) != numel(*ids) || cols_of(out) != table->shape[1]) {
    invalid("out " + shape_string(*out) + " for ids " + shape_string(*ids) + " of table " +
            shape_string(*table));
  }
  expect_distinct(out, "out", table, "table");
  expect_distinct(out, "out", ids, "ids");
  return ops.device();
}

MmrtDevice layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float,
                      MmrtTensor* y, const MmrtStream*) {
  Operands ops;
  ops.activation(x, "x");
  ops.activation(y, "y");
  expect_same_numel(y, "y", x, "x");
  for (const auto& [t, what] : {std::pair{weight, "weight"}, std::pair{bias, "bias"}}) {
    if (!t) continue;
    ops.activation(t, what);
    if (numel(*t) != cols_of(x)) invalid(what + " "s + shape_string(*t) + " for rows of " + shape_string(*x));
    expect_distinct(y, "y", t, what);
  }
  expect_distinct(y, "y", x, "x");
  return ops.device();
}

MmrtDevice rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                    const MmrtStream* stream) {
  return layer_norm(x, weight, nullptr, eps, y, stream);
}

MmrtDevice activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream*) {
  expect_activation_kind(kind);
  Operands ops;
  ops.activation(x, "x");
  ops.activation(y, "y");
  expect_same_numel(y, "y", x, "x");
  expect_same_or_distinct(y, "y", x, "x");
  return ops.device();
}

MmrtDevice silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream*) {
  return check_gated(MMRT_ACT_SILU, gate, up, y);
}

MmrtDevice add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream*) {
  Operands ops;
  ops.activation(a, "a");
  ops.activation(b, "b");
  ops.activation(y, "y");
  expect_same_numel(y, "y", a, "a");
  if (numel(*b) != numel(*a) && (cols_of(a) == 0 || numel(*b) != cols_of(a))) {
    invalid("b " + shape_string(*b) + " neither matches nor broadcasts over a " + shape_string(*a));
  }
  expect_same_or_distinct(y, "y", a, "a");
  expect_distinct(y, "y", b, "b");
  return ops.device();
}

MmrtDevice rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                const int32_t* mrope_section, float, const MmrtStream*) {
  Operands ops;
  ops.activation(x, "x");
  ops.of_dtype(positions, kI32, "positions");
  ops.of_dtype(inv_freq, kF32, "inv_freq");
  expect_ndim(x, 3, "x");
  const int64_t n_tokens = x->shape[0], head_dim = x->shape[2];
  const int64_t rot_dim = 2 * numel(*inv_freq);
  if (mrope_section) {
    if (numel(*positions) != 3 * n_tokens) invalid("positions " + shape_string(*positions) + " for mrope");
    const int64_t sum = int64_t{mrope_section[0]} + mrope_section[1] + mrope_section[2];
    if (mrope_section[0] < 0 || mrope_section[1] < 0 || mrope_section[2] < 0 || sum != head_dim / 2 ||
        rot_dim != head_dim) {
      invalid("mrope_section {" + std::to_string(mrope_section[0]) + ", " + std::to_string(mrope_section[1]) +
              ", " + std::to_string(mrope_section[2]) + "} must be non-negative and sum to head_dim / 2 = " +
              std::to_string(head_dim / 2) + ", with inv_freq of head_dim / 2");
    }
  } else {
    if (numel(*positions) != n_tokens)
      invalid("positions " + shape_string(*positions) + " for x " + shape_string(*x));
    if (rot_dim > head_dim) {
      invalid("inv_freq " + shape_string(*inv_freq) + " rotates more than head_dim " +
              std::to_string(head_dim));
    }
  }
  expect_distinct(x, "x", positions, "positions");
  expect_distinct(x, "x", inv_freq, "inv_freq");
  return ops.device();
}

MmrtDevice attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                     float, int32_t causal, MmrtTensor* out, const MmrtStream*) {
  Operands ops;
  check_dense(ops, q, k, v, out);
  expect_flag(causal, "causal");
  if (bias) {
    ops.of_dtype(bias, kF32, "bias");
    if (numel(*bias) != q->shape[1] * q->shape[0] * k->shape[0]) {
      invalid("bias " + shape_string(*bias) + ", expected [" + std::to_string(q->shape[1]) + ", " +
              std::to_string(q->shape[0]) + ", " + std::to_string(k->shape[0]) + "]");
    }
    expect_distinct(out, "out", bias, "bias");
  }
  return ops.device();
}

MmrtDevice kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                          const MmrtBatchLayout* layout, const MmrtStream*) {
  Operands ops;
  ops.activation(k, "k");
  ops.activation(v, "v");
  const CacheGeometry g = cache_geometry(ops, layer, layout);
  const int64_t kv_dim = g.n_head_kv * g.head_dim;
  if (kv_dim == 0 || numel(*k) % kv_dim != 0) {
    invalid("k " + shape_string(*k) + " does not fit rows of k_cache " + shape_string(*layer.k));
  }
  expect_same_numel(v, "v", k, "k");
  ops.of_dtype(layout->slot_mapping, kI64, "slot_mapping");
  if (numel(*layout->slot_mapping) != numel(*k) / kv_dim) {
    invalid("slot_mapping has " + std::to_string(numel(*layout->slot_mapping)) + " entries for " +
            std::to_string(numel(*k) / kv_dim) + " tokens");
  }
  for (const MmrtTensor* cache : {layer.k, layer.v}) {
    const char* name = cache == layer.k ? "k_cache" : "v_cache";
    expect_distinct(cache, name, k, "k");
    expect_distinct(cache, name, v, "v");
    expect_distinct(cache, name, layout->slot_mapping, "slot_mapping");
  }
  return ops.device();
}

MmrtDevice paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float,
                           MmrtTensor* out, const MmrtStream*) {
  Operands ops;
  return check_paged(ops, q, layer, layout, out);
}

MmrtDevice patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                       MmrtTensor* out, const MmrtStream*) {
  Operands ops;
  ops.activation(pixels, "pixels");
  ops.activation(weight, "weight");
  ops.activation(out, "out");
  expect_ndim(pixels, 3, "pixels");
  expect_ndim(weight, 4, "weight");
  const int64_t c = pixels->shape[0], h = pixels->shape[1], w = pixels->shape[2];
  const int64_t out_ch = weight->shape[0], p = weight->shape[2];
  expect_dim(weight, 1, c, "weight");
  expect_dim(weight, 3, p, "weight");
  if (p <= 0 || h % p || w % p) {
    invalid("pixels " + shape_string(*pixels) + " are not a multiple of the patch " + std::to_string(p));
  }
  if (rows_of(out) != (h / p) * (w / p) || cols_of(out) != out_ch) {
    invalid("out " + shape_string(*out) + ", expected [" + std::to_string((h / p) * (w / p)) + ", " +
            std::to_string(out_ch) + "]");
  }
  if (bias) {
    ops.activation(bias, "bias");
    if (numel(*bias) != out_ch)
      invalid("bias " + shape_string(*bias) + " for " + std::to_string(out_ch) + " channels");
    expect_distinct(out, "out", bias, "bias");
  }
  expect_distinct(out, "out", pixels, "pixels");
  expect_distinct(out, "out", weight, "weight");
  return ops.device();
}

MmrtDevice copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream*) {
  check_tensor(src, "src", true);
  check_tensor(dst, "dst", true);
  if (src->ndim != 2 || dst->ndim != 2 || src->shape[0] != dst->shape[0] || src->shape[1] != dst->shape[1]) {
    invalid("src " + shape_string(*src) + " and dst " + shape_string(*dst) + " must be equal 2-D shapes");
  }
  const std::pair<const MmrtTensor*, const char*> sides[] = {{src, "src"}, {dst, "dst"}};
  for (const auto& [t, what] : sides) {
    if (t->strides && t->shape[0] > 1 && t->strides[0] < t->shape[1]) {
      invalid(what + ": row stride "s + std::to_string(t->strides[0]) + " shorter than a row of " +
              std::to_string(t->shape[1]));
    }
  }
  const bool src_gpu = src->device.device_type == MMRT_DEVICE_CUDA;
  const bool dst_gpu = dst->device.device_type == MMRT_DEVICE_CUDA;
  if (src_gpu == dst_gpu) {
    if (src->device.device_id != dst->device.device_id) {
      invalid("src on " + device_name(src->device) + " and dst on " + device_name(dst->device) +
              ": copies between two GPUs are not supported");
    }
    for (const auto& [t, what] : sides) {
      if (!is_activation_dtype(t->device, t->dtype)) {
        invalid(what + ": "s + dtype_name(t->dtype) + " is not an activation dtype of " +
                device_name(t->device));
      }
    }
    expect_distinct(dst, "dst", src, "src");
  } else if (!(src->dtype == dst->dtype)) {
    // Across host and device a copy moves bytes; conversion happens on the device.
    invalid("src " + dtype_name(src->dtype) + " and dst " + dtype_name(dst->dtype) +
            ": a copy between the CPU and CUDA keeps the dtype");
  }
  return dst_gpu ? dst->device : src->device;
}

MmrtDevice gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  Operands ops;
  ops.activation(src, "src");
  ops.activation(dst, "dst");
  ops.of_dtype(rows, kI32, "rows");
  if (rows_of(dst) != numel(*rows) || cols_of(dst) != cols_of(src)) {
    invalid("dst " + shape_string(*dst) + " for rows " + shape_string(*rows) + " of src " +
            shape_string(*src));
  }
  expect_distinct(dst, "dst", src, "src");
  expect_distinct(dst, "dst", rows, "rows");
  return ops.device();
}

MmrtDevice scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst, const MmrtStream*) {
  Operands ops;
  ops.activation(src, "src");
  ops.activation(dst, "dst");
  ops.of_dtype(rows, kI32, "rows");
  if (rows_of(src) != numel(*rows) || cols_of(src) != cols_of(dst)) {
    invalid("src " + shape_string(*src) + " for rows " + shape_string(*rows) + " of dst " +
            shape_string(*dst));
  }
  expect_distinct(dst, "dst", src, "src");
  expect_distinct(dst, "dst", rows, "rows");
  return ops.device();
}

MmrtDevice scale(MmrtTensor* x, float, const MmrtStream*) {
  Operands ops;
  ops.activation(x, "x");
  return ops.device();
}

MmrtDevice gated_activation(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                            const MmrtStream*) {
  return check_gated(kind, gate, up, y);
}

MmrtDevice paged_attention_ex(const MmrtPagedAttentionArgs* args, const MmrtStream*) {
  if (!args) invalid("args is NULL");
  if (args->struct_size < MMRT_SIZEOF(MmrtPagedAttentionArgs, out)) {
    invalid("args struct_size " + std::to_string(args->struct_size) + " does not reach out");
  }
  Operands ops;
  check_paged(ops, args->q, args->layer, args->layout, args->out);
  expect_flag(args->causal, "causal");
  if (args->rel_bias) {
    ops.of_dtype(args->rel_bias, kF32, "rel_bias");
    expect_flag(args->bidirectional, "bidirectional");
    try {
      cpu::relative_buckets(args->n_buckets, args->max_distance, args->bidirectional != 0);
    } catch (const std::invalid_argument& e) {
      invalid("rel_bias: "s + e.what());
    }
    expect_ndim(args->rel_bias, 2, "rel_bias");
    expect_dim(args->rel_bias, 0, args->n_buckets, "rel_bias");
    expect_dim(args->rel_bias, 1, args->q->shape[1], "rel_bias");
    expect_distinct(args->out, "out", args->rel_bias, "rel_bias");
  }
  return ops.device();
}

MmrtDevice attention_varlen(const MmrtVarlenAttentionArgs* args, const MmrtStream*) {
  if (!args) invalid("args is NULL");
  if (args->struct_size < MMRT_SIZEOF(MmrtVarlenAttentionArgs, out)) {
    invalid("args struct_size " + std::to_string(args->struct_size) + " does not reach out");
  }
  Operands ops;
  check_dense(ops, args->q, args->k, args->v, args->out);
  expect_flag(args->causal, "causal");
  const int32_t n_seqs = args->n_seqs;
  if (n_seqs < 0) invalid("n_seqs " + std::to_string(n_seqs));
  check_offsets(args->cu_q_host, n_seqs, args->q->shape[0], "cu_q_host");
  check_offsets(args->cu_k_host, n_seqs, args->k->shape[0], "cu_k_host");
  if (args->bias) {
    ops.of_dtype(args->bias, kF32, "bias");
    expect_ndim(args->bias, 4, "bias");
    if (args->bias_period < 1 || args->bias->shape[0] != args->bias_period) {
      invalid("bias " + shape_string(*args->bias) + " with bias_period " + std::to_string(args->bias_period));
    }
    expect_dim(args->bias, 1, args->q->shape[1], "bias");
    const int64_t n_q = args->bias->shape[2], n_k = args->bias->shape[3];
    for (int32_t s = 0; s < n_seqs; ++s) {
      if (args->cu_q_host[s + 1] - args->cu_q_host[s] != n_q ||
          args->cu_k_host[s + 1] - args->cu_k_host[s] != n_k) {
        invalid("sequence " + std::to_string(s) + " is " +
                std::to_string(args->cu_q_host[s + 1] - args->cu_q_host[s]) + " x " +
                std::to_string(args->cu_k_host[s + 1] - args->cu_k_host[s]) + " but the shared bias " +
                shape_string(*args->bias) + " is " + std::to_string(n_q) + " x " + std::to_string(n_k));
      }
    }
    expect_distinct(args->out, "out", args->bias, "bias");
  }
  return ops.device();
}

}  // namespace mmrt::backend::contracts
