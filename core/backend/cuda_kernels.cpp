#include "core/backend/cuda_kernels.hpp"

#include <cuda_runtime_api.h>

#include <string>

#include "core/backend/cuda_runtime.hpp"
#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/host_api.hpp"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/conv.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/linear.cuh"
#include "kernels/cuda/norm.cuh"
#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/rows.cuh"

namespace mmrt::backend {
namespace {

using namespace std::string_literals;
using cuda::DType;

[[noreturn]] void invalid(const std::string& message) {
  throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, message);
}

// The GPU every tensor of one call must be on; set by the first tensor checked.
class CallDevice {
 public:
  void expect(const MmrtTensor* t, const char* what) {
    if (t->device.device_type != MMRT_DEVICE_CUDA) invalid(what + " is not on a CUDA device"s);
    if (device_ < 0) {
      device_ = t->device.device_id;
    } else if (t->device.device_id != device_) {
      invalid(what + " is on cuda:"s + std::to_string(t->device.device_id) +
              ", the call's other tensors on cuda:" + std::to_string(device_));
    }
  }
  int32_t id() const { return device_; }

 private:
  int32_t device_ = -1;
};

// Common checks: not null, on the call's GPU, well-formed, compact, data present.
void* checked_ptr(CallDevice& device, const MmrtTensor* t, const char* what, bool allow_strided = false) {
  if (!t) invalid(what + " is NULL"s);
  device.expect(t, what);
  if (t->ndim < 0 || (t->ndim > 0 && !t->shape)) invalid(what + ": malformed shape"s);
  if (!allow_strided && !is_compact(t)) invalid(what + ": must be compact row-major"s);
  if (!t->data && numel(*t) > 0) invalid(what + ": no data"s);
  return static_cast<char*>(t->data) + t->byte_offset;
}

DType activation_dtype(const MmrtTensor* t, const char* what) {
  if (t->dtype == kF32) return DType::f32;
  if (t->dtype == kF16) return DType::f16;
  if (t->dtype == kBF16) return DType::bf16;
  invalid(what + ": expected f32, f16 or bf16, got "s + dtype_name(t->dtype));
}

// An activation operand; its dtype must equal `dtype` when given (the op's first operand fixes it).
void* act(CallDevice& device, const MmrtTensor* t, const char* what, DType* dtype) {
  void* p = checked_ptr(device, t, what);
  const DType d = activation_dtype(t, what);
  if (*dtype != d) {
    invalid(what + ": dtype "s + cuda::dtype_name(d) + " differs from the op's " + cuda::dtype_name(*dtype));
  }
  return p;
}

void* first_act(CallDevice& device, const MmrtTensor* t, const char* what, DType* dtype) {
  if (!t) invalid(what + " is NULL"s);
  *dtype = activation_dtype(t, what);
  return act(device, t, what, dtype);
}

template <typename V>
const V* typed(CallDevice& device, const MmrtTensor* t, MmrtDataType want, const char* what) {
  void* p = checked_ptr(device, t, what);
  if (!(t->dtype == want))
    invalid(what + ": expected "s + dtype_name(want) + ", got " + dtype_name(t->dtype));
  return static_cast<const V*>(p);
}

// The CUDA stream of the call's GPU; makes that GPU current for the launches of the scope.
class LaunchScope {
 public:
  LaunchScope(const MmrtStream* stream, int32_t device) {
    if (!stream || stream->device_type != MMRT_DEVICE_CUDA || stream->native == nullptr) {
      invalid(
          "needs a CUDA stream (MmrtStream with device_type CUDA and a cudaStream_t; the legacy default "
          "stream is not allowed)");
    }
    if (stream->device_id != device) {
      invalid("the stream is on cuda:" + std::to_string(stream->device_id) +
              ", the tensors on cuda:" + std::to_string(device));
    }
    stream_ = static_cast<cudaStream_t>(stream->native);
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = device;
    if (previous_ != device) {
      launch("cudaSetDevice", cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~LaunchScope() {
    if (switched_) cudaSetDevice(previous_);
  }
  LaunchScope(const LaunchScope&) = delete;
  LaunchScope& operator=(const LaunchScope&) = delete;

  cudaStream_t stream() const { return stream_; }

  // Turns a launcher's result into an error naming the kernel.
  void launch(const char* kernel, cudaError_t e) {
    if (e == cudaSuccess) return;
    throw StatusError(e == cudaErrorMemoryAllocation ? MMRT_STATUS_RESOURCE_EXHAUSTED : MMRT_STATUS_INTERNAL,
                      kernel + ": "s + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
  void launch(const char* kernel, const char* error) {
    if (error) throw StatusError(MMRT_STATUS_INTERNAL, kernel + ": "s + error);
  }

 private:
  cudaStream_t stream_ = nullptr;
  int previous_ = 0;
  bool switched_ = false;
};

// Device scratch for one call from the caching pool. Freed when the call returns, while kernels using it
// may still be queued: safe because the pool's next user is queued behind them on the same stream (see
// cuda_allocator.hpp).
class Workspace {
 public:
  Workspace(int32_t device, size_t bytes) : device_{MMRT_DEVICE_CUDA, device} {
    if (bytes == 0) return;
    const MmrtHostApi* host = plugin::host_api();
    if (MmrtStatus* s = host->alloc(device_, bytes, 256, &data_)) {
      const std::string message = host->status_message(s);
      const int32_t code = host->status_code(s);
      host->status_free(s);
      throw StatusError(code, "workspace of " + std::to_string(bytes) + " bytes: " + message);
    }
  }
  ~Workspace() {
    if (data_) plugin::host_api()->free(device_, data_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data() const { return data_; }

 private:
  MmrtDevice device_;
  void* data_ = nullptr;
};

void expect_same_numel(const MmrtTensor* a, const MmrtTensor* b, const char* what) {
  if (numel(*a) != numel(*b)) {
    invalid(what + ": element counts differ, "s + shape_string(*a) + " vs " + shape_string(*b));
  }
}

void linear_into(LaunchScope& scope, DType dt, const void* x, const void* w, const void* bias, void* y,
                 int64_t m, int64_t n, int64_t k) {
  scope.launch("cublasGemmEx", cuda::linear(dt, x, w, bias, y, m, n, k, scope.stream()));
}

MmrtStatus* linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                   const MmrtStream* stream) {
  return status_boundary("linear", [&] {
    CallDevice device;
    DType dt{};
    const void* xp = first_act(device, x, "x", &dt);
    const void* wp = act(device, w, "w", &dt);
    expect_ndim(w, 2, "w");
    const int64_t n = w->shape[0], k = w->shape[1];
    if (cols_of(x) != k) invalid("x " + shape_string(*x) + " does not match weight " + shape_string(*w));
    const int64_t m = rows_of(x);
    const void* bp = nullptr;
    if (bias) {
      bp = act(device, bias, "bias", &dt);
      if (numel(*bias) != n) invalid("bias " + shape_string(*bias));
    }
    void* yp = act(device, y, "y", &dt);
    if (rows_of(y) != m || cols_of(y) != n) {
      invalid("y " + shape_string(*y) + ", expected [" + std::to_string(m) + ", " + std::to_string(n) + "]");
    }
    if (yp == xp || yp == wp) invalid("y must not alias x or w");
    LaunchScope scope(stream, device.id());
    linear_into(scope, dt, xp, wp, bp, yp, m, n, k);
  });
}

MmrtStatus* embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out,
                      const MmrtStream* stream) {
  return status_boundary("embedding", [&] {
    CallDevice device;
    DType dt{};
    const void* tp = first_act(device, table, "table", &dt);
    expect_ndim(table, 2, "table");
    const int32_t* ip = typed<int32_t>(device, ids, kI32, "ids");
    const int64_t n = numel(*ids);
    void* op = act(device, out, "out", &dt);
    if (rows_of(out) != n || cols_of(out) != table->shape[1]) invalid("out " + shape_string(*out));
    LaunchScope scope(stream, device.id());
    scope.launch("embedding",
                 cuda::gather_rows(dt, tp, table->shape[0], ip, n, op, table->shape[1], scope.stream()));
  });
}

MmrtStatus* layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                       MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("layer_norm", [&] {
    CallDevice device;
    DType dt{};
    const void* xp = first_act(device, x, "x", &dt);
    const int64_t dim = cols_of(x);
    expect_same_numel(x, y, "layer_norm x/y");
    void* yp = act(device, y, "y", &dt);
    const void* wp = nullptr;
    const void* bp = nullptr;
    if (weight) {
      wp = act(device, weight, "weight", &dt);
      if (numel(*weight) != dim) invalid("weight size " + shape_string(*weight));
    }
    if (bias) {
      bp = act(device, bias, "bias", &dt);
      if (numel(*bias) != dim) invalid("bias size " + shape_string(*bias));
    }
    LaunchScope scope(stream, device.id());
    scope.launch("layer_norm", cuda::layer_norm(dt, xp, wp, bp, yp, rows_of(x), dim, eps, scope.stream()));
  });
}

MmrtStatus* rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                     const MmrtStream* stream) {
  return status_boundary("rms_norm", [&] {
    CallDevice device;
    DType dt{};
    const void* xp = first_act(device, x, "x", &dt);
    const int64_t dim = cols_of(x);
    expect_same_numel(x, y, "rms_norm x/y");
    void* yp = act(device, y, "y", &dt);
    const void* wp = nullptr;
    if (weight) {
      wp = act(device, weight, "weight", &dt);
      if (numel(*weight) != dim) invalid("weight size " + shape_string(*weight));
    }
    LaunchScope scope(stream, device.id());
    scope.launch("rms_norm", cuda::rms_norm(dt, xp, wp, yp, rows_of(x), dim, eps, scope.stream()));
  });
}

cuda::Activation activation_kind(int32_t kind) {
  switch (kind) {
    case MMRT_ACT_GELU_ERF:
      return cuda::Activation::gelu_erf;
    case MMRT_ACT_GELU_TANH:
      return cuda::Activation::gelu_tanh;
    case MMRT_ACT_QUICK_GELU:
      return cuda::Activation::quick_gelu;
    case MMRT_ACT_SILU:
      return cuda::Activation::silu;
    case MMRT_ACT_RELU:
      return cuda::Activation::relu;
  }
  invalid("unknown activation kind " + std::to_string(kind));
}

MmrtStatus* activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("activation", [&] {
    const cuda::Activation a = activation_kind(kind);
    CallDevice device;
    DType dt{};
    const void* xp = first_act(device, x, "x", &dt);
    void* yp = act(device, y, "y", &dt);
    expect_same_numel(x, y, "activation x/y");
    LaunchScope scope(stream, device.id());
    scope.launch("activation", cuda::activation(a, dt, xp, yp, numel(*x), scope.stream()));
  });
}

MmrtStatus* silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("silu_mul", [&] {
    CallDevice device;
    DType dt{};
    const void* gp = first_act(device, gate, "gate", &dt);
    const void* up_p = act(device, up, "up", &dt);
    void* yp = act(device, y, "y", &dt);
    expect_same_numel(gate, up, "silu_mul gate/up");
    expect_same_numel(gate, y, "silu_mul gate/y");
    LaunchScope scope(stream, device.id());
    scope.launch("silu_mul", cuda::silu_mul(dt, gp, up_p, yp, numel(*gate), scope.stream()));
  });
}

MmrtStatus* add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("add", [&] {
    CallDevice device;
    DType dt{};
    const void* ap = first_act(device, a, "a", &dt);
    const void* bp = act(device, b, "b", &dt);
    void* yp = act(device, y, "y", &dt);
    expect_same_numel(a, y, "add a/y");
    LaunchScope scope(stream, device.id());
    if (numel(*a) == numel(*b)) {
      scope.launch("add", cuda::add(dt, ap, bp, yp, numel(*a), scope.stream()));
    } else if (numel(*b) == cols_of(a)) {
      scope.launch("add_rows", cuda::add_rows(dt, ap, bp, yp, rows_of(a), cols_of(a), scope.stream()));
    } else {
      invalid("b " + shape_string(*b) + " neither matches nor broadcasts over " + shape_string(*a));
    }
  });
}

MmrtStatus* rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                 const int32_t* mrope_section, float attention_scaling, const MmrtStream* stream) {
  return status_boundary("rope", [&] {
    CallDevice device;
    DType dt{};
    void* xp = first_act(device, x, "x", &dt);
    expect_ndim(x, 3, "x");
    const int64_t n_tokens = x->shape[0], n_heads = x->shape[1], head_dim = x->shape[2];
    const float* fp = typed<float>(device, inv_freq, kF32, "inv_freq");
    const int32_t* pp = typed<int32_t>(device, positions, kI32, "positions");
    const int64_t rot_dim = 2 * numel(*inv_freq);
    LaunchScope scope(stream, device.id());
    if (mrope_section) {
      if (numel(*positions) != 3 * n_tokens) invalid("positions " + shape_string(*positions) + " for mrope");
      const int64_t sum = int64_t(mrope_section[0]) + mrope_section[1] + mrope_section[2];
      if (mrope_section[0] < 0 || mrope_section[1] < 0 || mrope_section[2] < 0 || sum != head_dim / 2 ||
          rot_dim != head_dim) {
        invalid("mrope_section {" + std::to_string(mrope_section[0]) + ", " +
                std::to_string(mrope_section[1]) + ", " + std::to_string(mrope_section[2]) +
                "} must be non-negative and sum to head_dim / 2 = " + std::to_string(head_dim / 2) +
                ", with inv_freq of head_dim / 2");
      }
      scope.launch("mrope",
                   cuda::mrope(dt, xp, n_tokens, n_heads, head_dim, pp, fp, mrope_section, scope.stream()));
    } else {
      if (numel(*positions) != n_tokens) invalid("positions " + shape_string(*positions));
      if (rot_dim > head_dim) {
        invalid("inv_freq " + shape_string(*inv_freq) + " rotates more than head_dim " +
                std::to_string(head_dim));
      }
      scope.launch("rope", cuda::rope(dt, xp, n_tokens, n_heads, head_dim, rot_dim, pp, fp, attention_scaling,
                                      scope.stream()));
    }
  });
}

MmrtStatus* attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                      float scale, int32_t causal, MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("attention", [&] {
    CallDevice device;
    DType dt{};
    const void* qp = first_act(device, q, "q", &dt);
    const void* kp = act(device, k, "k", &dt);
    const void* vp = act(device, v, "v", &dt);
    void* op = act(device, out, "out", &dt);
    expect_ndim(q, 3, "q");
    expect_ndim(k, 3, "k");
    expect_ndim(v, 3, "v");
    const int64_t n_q = q->shape[0], n_head = q->shape[1], head_dim = q->shape[2];
    const int64_t n_kv = k->shape[0], n_head_kv = k->shape[1];
    expect_dim(k, 2, head_dim, "k");
    expect_same_numel(k, v, "attention k/v");
    expect_same_numel(q, out, "attention q/out");
    if (n_head_kv == 0 || n_head % n_head_kv != 0)
      invalid("GQA heads: " + shape_string(*q) + " over " + shape_string(*k));
    if (head_dim > cuda::kAttentionMaxHeadDim) {
      throw StatusError(MMRT_STATUS_UNIMPLEMENTED, "head_dim " + std::to_string(head_dim) + " above " +
                                                       std::to_string(cuda::kAttentionMaxHeadDim));
    }
    const float* bp = nullptr;
    if (bias) {
      bp = typed<float>(device, bias, kF32, "bias");
      if (numel(*bias) != n_head * n_q * n_kv) invalid("bias shape " + shape_string(*bias));
    }
    LaunchScope scope(stream, device.id());
    scope.launch("attention", cuda::attention(dt, qp, kp, vp, bp, op, n_q, n_kv, n_head, n_head_kv, head_dim,
                                              scale, causal != 0, scope.stream()));
  });
}

// Cache geometry of one layer: [n_blocks, block_size, n_head_kv, head_dim].
struct CacheGeometry {
  int64_t n_blocks, block_size, n_head_kv, head_dim;
};

CacheGeometry cache_geometry(MmrtKvLayer layer, const MmrtBatchLayout* layout) {
  if (!layer.k || !layer.v || !layout) invalid("missing cache or layout");
  expect_ndim(layer.k, 4, "k_cache");
  expect_same_numel(layer.k, layer.v, "k_cache/v_cache");
  CacheGeometry g{layer.k->shape[0], layer.k->shape[1], layer.k->shape[2], layer.k->shape[3]};
  if (g.block_size != layout->block_size) {
    invalid("cache block size " + std::to_string(g.block_size) + " but layout block_size " +
            std::to_string(layout->block_size));
  }
  return g;
}

MmrtStatus* kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                           const MmrtBatchLayout* layout, const MmrtStream* stream) {
  return status_boundary("kv_cache_write", [&] {
    const CacheGeometry g = cache_geometry(layer, layout);
    CallDevice device;
    DType dt{};
    const void* kp = first_act(device, k, "k", &dt);
    const void* vp = act(device, v, "v", &dt);
    void* kc = act(device, layer.k, "k_cache", &dt);
    void* vc = act(device, layer.v, "v_cache", &dt);
    const int64_t kv_dim = g.n_head_kv * g.head_dim;
    if (kv_dim == 0 || numel(*k) % kv_dim != 0) {
      invalid("k " + shape_string(*k) + " vs cache " + shape_string(*layer.k));
    }
    expect_same_numel(k, v, "k/v");
    const int64_t tokens = numel(*k) / kv_dim;
    if (!layout->slot_mapping) invalid("layout has no slot_mapping");
    const int64_t* slots = typed<int64_t>(device, layout->slot_mapping, kI64, "slot_mapping");
    if (numel(*layout->slot_mapping) != tokens) {
      invalid("slot_mapping has " + std::to_string(numel(*layout->slot_mapping)) + " entries for " +
              std::to_string(tokens) + " tokens");
    }
    LaunchScope scope(stream, device.id());
    scope.launch("kv_cache_write", cuda::kv_cache_write(dt, kp, vp, kc, vc, slots, tokens, kv_dim,
                                                        g.n_blocks * g.block_size, scope.stream()));
  });
}

MmrtStatus* paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                            float scale, MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("paged_attention", [&] {
    const CacheGeometry g = cache_geometry(layer, layout);
    CallDevice device;
    DType dt{};
    const void* qp = first_act(device, q, "q", &dt);
    void* op = act(device, out, "out", &dt);
    const void* kc = act(device, layer.k, "k_cache", &dt);
    const void* vc = act(device, layer.v, "v_cache", &dt);
    expect_ndim(q, 3, "q");
    expect_dim(q, 2, g.head_dim, "q");
    expect_same_numel(q, out, "q/out");
    const int64_t n_tokens = q->shape[0], n_head = q->shape[1];
    if (g.n_head_kv == 0 || n_head % g.n_head_kv != 0) invalid("GQA heads");
    if (g.head_dim > cuda::kAttentionMaxHeadDim) {
      throw StatusError(MMRT_STATUS_UNIMPLEMENTED, "head_dim " + std::to_string(g.head_dim) + " above " +
                                                       std::to_string(cuda::kAttentionMaxHeadDim));
    }
    const int32_t n_seqs = layout->n_seqs;
    if (n_seqs < 0) invalid("n_seqs " + std::to_string(n_seqs));
    if (!layout->query_start || !layout->seq_lens || !layout->block_tables) invalid("layout tensors missing");
    expect_ndim(layout->block_tables, 2, "block_tables");
    expect_dim(layout->block_tables, 0, n_seqs, "block_tables");
    const int32_t* qs = typed<int32_t>(device, layout->query_start, kI32, "query_start");
    const int32_t* lens = typed<int32_t>(device, layout->seq_lens, kI32, "seq_lens");
    const int32_t* tables = typed<int32_t>(device, layout->block_tables, kI32, "block_tables");
    if (numel(*layout->query_start) != n_seqs + 1)
      invalid("query_start " + shape_string(*layout->query_start));
    if (numel(*layout->seq_lens) != n_seqs) invalid("seq_lens " + shape_string(*layout->seq_lens));
    const cuda::PagedAttentionShape shape{n_tokens,     n_seqs,     n_head,
                                          g.n_head_kv,  g.head_dim, layout->block_tables->shape[1],
                                          g.block_size, g.n_blocks};
    const cuda::PagedAttentionPlan plan = cuda::plan_paged_attention(shape, cuda_sm_count(device.id()));
    LaunchScope scope(stream, device.id());
    Workspace workspace(device.id(), plan.workspace_bytes);
    scope.launch("paged_attention", cuda::paged_attention(dt, shape, plan, qp, kc, vc, qs, lens, tables,
                                                          scale, op, workspace.data(), scope.stream()));
  });
}

MmrtStatus* patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                        MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("patch_embed", [&] {
    CallDevice device;
    DType dt{};
    const void* pp = first_act(device, pixels, "pixels", &dt);
    const void* wp = act(device, weight, "weight", &dt);
    void* op = act(device, out, "out", &dt);
    expect_ndim(pixels, 3, "pixels");
    expect_ndim(weight, 4, "weight");
    const int64_t c = pixels->shape[0], h = pixels->shape[1], w = pixels->shape[2];
    const int64_t out_ch = weight->shape[0], p = weight->shape[2];
    expect_dim(weight, 1, c, "weight");
    expect_dim(weight, 3, p, "weight");
    if (p <= 0 || h % p || w % p) invalid("image " + shape_string(*pixels) + " not a multiple of the patch");
    const int64_t n_patches = (h / p) * (w / p), patch_dim = c * p * p;
    if (rows_of(out) != n_patches || cols_of(out) != out_ch) invalid("out " + shape_string(*out));
    const void* bp = nullptr;
    if (bias) {
      bp = act(device, bias, "bias", &dt);
      if (numel(*bias) != out_ch) invalid("bias " + shape_string(*bias));
    }
    LaunchScope scope(stream, device.id());
    Workspace cols(device.id(), size_t(n_patches * patch_dim * cuda::dtype_size(dt)));
    scope.launch("im2col_patches", cuda::im2col_patches(dt, pp, c, h, w, p, cols.data(), scope.stream()));
    linear_into(scope, dt, cols.data(), wp, bp, op, n_patches, out_ch, patch_dim);
  });
}

// Row stride in elements of a 2-D view (strides may describe a column slice of a wider tensor).
int64_t row_stride(const MmrtTensor* t) {
  return t->strides ? t->strides[0] : t->shape[1];
}

MmrtStatus* copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream* stream) {
  return status_boundary("copy", [&] {
    if (!src || !dst) invalid("src or dst is NULL");
    if (src->ndim != 2 || dst->ndim != 2 || src->shape[0] != dst->shape[0] ||
        src->shape[1] != dst->shape[1]) {
      invalid("copy needs equal 2-D shapes, got " + shape_string(*src) + " and " + shape_string(*dst));
    }
    if ((src->strides && src->strides[1] != 1) || (dst->strides && dst->strides[1] != 1)) {
      invalid("columns must be contiguous");
    }
    const int64_t rows = src->shape[0], cols = src->shape[1];
    if (row_stride(src) < cols || row_stride(dst) < cols) invalid("row stride shorter than a row");
    if ((rows > 0 && cols > 0) && (!src->data || !dst->data)) invalid("no data");
    const char* sp = static_cast<const char*>(src->data) + src->byte_offset;
    char* dp = static_cast<char*>(dst->data) + dst->byte_offset;
    const bool src_gpu = src->device.device_type == MMRT_DEVICE_CUDA;
    const bool dst_gpu = dst->device.device_type == MMRT_DEVICE_CUDA;
    if ((!src_gpu && src->device.device_type != MMRT_DEVICE_CPU) ||
        (!dst_gpu && dst->device.device_type != MMRT_DEVICE_CPU)) {
      invalid("copy between CPU and CUDA tensors only");
    }
    if (src_gpu && dst_gpu) {
      if (src->device.device_id != dst->device.device_id) invalid("copy between two GPUs is not supported");
      const DType sd = activation_dtype(src, "src"), dd = activation_dtype(dst, "dst");
      LaunchScope scope(stream, src->device.device_id);
      scope.launch("copy_2d", cuda::copy_2d(sd, sp, row_stride(src), dd, dp, row_stride(dst), rows, cols,
                                            scope.stream()));
      return;
    }
    // Across host and device: a plain 2-D memcpy, so the dtypes must agree (convert on the device).
    if (!(src->dtype == dst->dtype)) {
      invalid("copy between CPU and CUDA keeps the dtype (" + dtype_name(src->dtype) + " to " +
              dtype_name(dst->dtype) + "); convert on the device");
    }
    const size_t elem = dtype_size(src->dtype);
    const int32_t gpu = src_gpu ? src->device.device_id : dst->device.device_id;
    LaunchScope scope(stream, gpu);
    if (rows == 0 || cols == 0) return;
    scope.launch(
        "cudaMemcpy2DAsync",
        cudaMemcpy2DAsync(dp, size_t(row_stride(dst)) * elem, sp, size_t(row_stride(src)) * elem,
                          size_t(cols) * elem, size_t(rows),
                          src_gpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, scope.stream()));
  });
}

MmrtStatus* gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                        const MmrtStream* stream) {
  return status_boundary("gather_rows", [&] {
    CallDevice device;
    DType dt{};
    const void* sp = first_act(device, src, "src", &dt);
    void* dp = act(device, dst, "dst", &dt);
    const int32_t* rp = typed<int32_t>(device, rows, kI32, "rows");
    const int64_t n = numel(*rows), cols = cols_of(src);
    if (rows_of(dst) != n || cols_of(dst) != cols) invalid("dst " + shape_string(*dst));
    LaunchScope scope(stream, device.id());
    scope.launch("gather_rows", cuda::gather_rows(dt, sp, rows_of(src), rp, n, dp, cols, scope.stream()));
  });
}

MmrtStatus* scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                         const MmrtStream* stream) {
  return status_boundary("scatter_rows", [&] {
    CallDevice device;
    DType dt{};
    const void* sp = first_act(device, src, "src", &dt);
    void* dp = act(device, dst, "dst", &dt);
    const int32_t* rp = typed<int32_t>(device, rows, kI32, "rows");
    const int64_t n = numel(*rows), cols = cols_of(dst);
    if (rows_of(src) != n || cols_of(src) != cols) {
      invalid("src " + shape_string(*src) + " does not fit dst " + shape_string(*dst));
    }
    LaunchScope scope(stream, device.id());
    scope.launch("scatter_rows", cuda::scatter_rows(dt, sp, rp, n, dp, rows_of(dst), cols, scope.stream()));
  });
}

MmrtStatus* scale(MmrtTensor* x, float s, const MmrtStream* stream) {
  return status_boundary("scale", [&] {
    CallDevice device;
    DType dt{};
    void* xp = first_act(device, x, "x", &dt);
    LaunchScope scope(stream, device.id());
    scope.launch("scale", cuda::scale(dt, xp, s, numel(*x), scope.stream()));
  });
}

const MmrtKernels kCudaKernels = {
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

const MmrtKernels* cuda_kernels() {
  return &kCudaKernels;
}

}  // namespace mmrt::backend
