#include "core/backend/cuda_kernels.hpp"

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "core/backend/cuda_runtime.hpp"
#include "core/backend/kernel_slots.hpp"
#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/host_api.hpp"
#include "kernels/cpu/relative_position.hpp"
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

// The contract has checked dtype, device and layout: these only locate the elements.
template <typename T = void>
T* data_of(const MmrtTensor* t) {
  return t ? reinterpret_cast<T*>(static_cast<char*>(t->data) + t->byte_offset) : nullptr;
}

// The activation dtype of a tensor the contract admitted (f32, f16 or bf16 on CUDA).
DType dtype_of(const MmrtTensor* t) {
  if (t->dtype == kF16) return DType::f16;
  if (t->dtype == kBF16) return DType::bf16;
  return DType::f32;
}

int32_t gpu_of(const MmrtTensor* t) {
  return t->device.device_id;
}

void expect_head_dim(int64_t head_dim) {
  if (head_dim > cuda::kAttentionMaxHeadDim) {
    throw StatusError(MMRT_STATUS_UNIMPLEMENTED, "head_dim " + std::to_string(head_dim) + " above " +
                                                     std::to_string(cuda::kAttentionMaxHeadDim));
  }
}

// cuda::Activation numbers the kinds as MMRT_ACT_* does, and the contract admitted only those.
cuda::Activation activation_kind(int32_t kind) {
  return static_cast<cuda::Activation>(kind);
}

void linear_into(LaunchScope& scope, DType dt, const void* x, const void* w, const void* bias, void* y,
                 int64_t m, int64_t n, int64_t k) {
  scope.launch("cublasGemmEx", cuda::linear(dt, x, w, bias, y, m, n, k, scope.stream()));
}

MmrtStatus* linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                   const MmrtStream* stream) {
  return status_boundary("linear", [&] {
    LaunchScope scope(stream, gpu_of(x));
    linear_into(scope, dtype_of(x), data_of(x), data_of(w), data_of(bias), data_of(y), rows_of(x),
                w->shape[0], w->shape[1]);
  });
}

MmrtStatus* embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out,
                      const MmrtStream* stream) {
  return status_boundary("embedding", [&] {
    LaunchScope scope(stream, gpu_of(table));
    scope.launch("embedding",
                 cuda::gather_rows(dtype_of(table), data_of(table), table->shape[0], data_of<int32_t>(ids),
                                   numel(*ids), data_of(out), table->shape[1], scope.stream()));
  });
}

MmrtStatus* layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                       MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("layer_norm", [&] {
    LaunchScope scope(stream, gpu_of(x));
    scope.launch("layer_norm", cuda::layer_norm(dtype_of(x), data_of(x), data_of(weight), data_of(bias),
                                                data_of(y), rows_of(x), cols_of(x), eps, scope.stream()));
  });
}

MmrtStatus* rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                     const MmrtStream* stream) {
  return status_boundary("rms_norm", [&] {
    LaunchScope scope(stream, gpu_of(x));
    scope.launch("rms_norm", cuda::rms_norm(dtype_of(x), data_of(x), data_of(weight), data_of(y), rows_of(x),
                                            cols_of(x), eps, scope.stream()));
  });
}

MmrtStatus* activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("activation", [&] {
    LaunchScope scope(stream, gpu_of(x));
    scope.launch("activation", cuda::activation(activation_kind(kind), dtype_of(x), data_of(x), data_of(y),
                                                numel(*x), scope.stream()));
  });
}

MmrtStatus* gated_activation(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                             const MmrtStream* stream) {
  return status_boundary("gated_activation", [&] {
    LaunchScope scope(stream, gpu_of(gate));
    scope.launch("gated_activation",
                 cuda::gated_activation(activation_kind(kind), dtype_of(gate), data_of(gate), data_of(up),
                                        data_of(y), numel(*gate), scope.stream()));
  });
}

MmrtStatus* silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream* stream) {
  return gated_activation(MMRT_ACT_SILU, gate, up, y, stream);
}

MmrtStatus* add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream* stream) {
  return status_boundary("add", [&] {
    LaunchScope scope(stream, gpu_of(a));
    const DType dt = dtype_of(a);
    if (numel(*a) == numel(*b)) {
      scope.launch("add", cuda::add(dt, data_of(a), data_of(b), data_of(y), numel(*a), scope.stream()));
    } else {
      scope.launch("add_rows", cuda::add_rows(dt, data_of(a), data_of(b), data_of(y), rows_of(a), cols_of(a),
                                              scope.stream()));
    }
  });
}

MmrtStatus* rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                 const int32_t* mrope_section, float attention_scaling, const MmrtStream* stream) {
  return status_boundary("rope", [&] {
    const int64_t n_tokens = x->shape[0], n_heads = x->shape[1], head_dim = x->shape[2];
    LaunchScope scope(stream, gpu_of(x));
    if (mrope_section) {
      scope.launch("mrope", cuda::mrope(dtype_of(x), data_of(x), n_tokens, n_heads, head_dim,
                                        data_of<int32_t>(positions), data_of<float>(inv_freq), mrope_section,
                                        scope.stream()));
    } else {
      scope.launch("rope", cuda::rope(dtype_of(x), data_of(x), n_tokens, n_heads, head_dim,
                                      2 * numel(*inv_freq), data_of<int32_t>(positions),
                                      data_of<float>(inv_freq), attention_scaling, scope.stream()));
    }
  });
}

MmrtStatus* attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                      float scale, int32_t causal, MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("attention", [&] {
    expect_head_dim(q->shape[2]);
    LaunchScope scope(stream, gpu_of(q));
    scope.launch("attention",
                 cuda::attention(dtype_of(q), data_of(q), data_of(k), data_of(v), data_of<float>(bias),
                                 data_of(out), q->shape[0], k->shape[0], q->shape[1], k->shape[1],
                                 q->shape[2], scale, causal != 0, scope.stream()));
  });
}

MmrtStatus* attention_varlen(const MmrtVarlenAttentionArgs* args, const MmrtStream* stream) {
  return status_boundary("attention_varlen", [&] {
    const MmrtVarlenAttentionArgs& a = *args;
    expect_head_dim(a.q->shape[2]);
    LaunchScope scope(stream, gpu_of(a.q));
    // The chunk table goes to the device with the call: a pageable async copy is staged before it returns,
    // so the host vector (kept per thread, reused) may change right after.
    thread_local std::vector<int32_t> table;
    cuda::build_varlen_table(a.cu_q_host, a.cu_k_host, a.n_seqs, table);
    const int64_t n_chunks = cuda::varlen_chunks(table, a.n_seqs);
    Workspace device_table(gpu_of(a.q), sizeof(int32_t) * table.size());
    scope.launch("cudaMemcpyAsync",
                 cudaMemcpyAsync(device_table.data(), table.data(), sizeof(int32_t) * table.size(),
                                 cudaMemcpyHostToDevice, scope.stream()));
    scope.launch("attention_varlen",
                 cuda::attention_varlen(dtype_of(a.q), data_of(a.q), data_of(a.k), data_of(a.v),
                                        data_of<float>(a.bias), a.bias_period, data_of(a.out),
                                        static_cast<const int32_t*>(device_table.data()), n_chunks, a.n_seqs,
                                        a.q->shape[1], a.k->shape[1], a.q->shape[2], a.scale, a.causal != 0,
                                        scope.stream()));
  });
}

MmrtStatus* kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                           const MmrtBatchLayout* layout, const MmrtStream* stream) {
  return status_boundary("kv_cache_write", [&] {
    const int64_t kv_dim = layer.k->shape[2] * layer.k->shape[3];
    LaunchScope scope(stream, gpu_of(k));
    scope.launch("kv_cache_write",
                 cuda::kv_cache_write(dtype_of(k), data_of(k), data_of(v), data_of(layer.k), data_of(layer.v),
                                      data_of<int64_t>(layout->slot_mapping), numel(*k) / kv_dim, kv_dim,
                                      layer.k->shape[0] * layer.k->shape[1], scope.stream()));
  });
}

void run_paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float scale,
                         const cuda::PagedAttentionMode& mode, MmrtTensor* out, const MmrtStream* stream) {
  expect_head_dim(layer.k->shape[3]);
  const cuda::PagedAttentionShape shape{q->shape[0],       layout->n_seqs,    q->shape[1],
                                        layer.k->shape[2], layer.k->shape[3], layout->block_tables->shape[1],
                                        layer.k->shape[1], layer.k->shape[0]};
  LaunchScope scope(stream, gpu_of(q));
  const cuda::PagedAttentionPlan plan = cuda::plan_paged_attention(shape, cuda_sm_count(gpu_of(q)));
  Workspace workspace(gpu_of(q), plan.workspace_bytes);
  scope.launch(
      "paged_attention",
      cuda::paged_attention(dtype_of(q), shape, plan, data_of(q), data_of(layer.k), data_of(layer.v),
                            data_of<int32_t>(layout->query_start), data_of<int32_t>(layout->seq_lens),
                            data_of<int32_t>(layout->block_tables), scale, mode, data_of(out),
                            workspace.data(), scope.stream()));
}

MmrtStatus* paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                            float scale, MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("paged_attention", [&] {
    run_paged_attention(q, layer, layout, scale, cuda::PagedAttentionMode{true, {}}, out, stream);
  });
}

MmrtStatus* paged_attention_ex(const MmrtPagedAttentionArgs* args, const MmrtStream* stream) {
  return status_boundary("paged_attention_ex", [&] {
    const MmrtPagedAttentionArgs& a = *args;
    cuda::PagedAttentionMode mode{a.causal != 0, {}};
    if (a.rel_bias) {
      const cpu::RelativeBuckets b = cpu::relative_buckets(a.n_buckets, a.max_distance, a.bidirectional != 0);
      static_assert(cuda::RelativeBias::kMaxThresholds >= cpu::RelativeBuckets::kMaxBuckets / 2);
      mode.rel_bias.table = data_of<float>(a.rel_bias);
      mode.rel_bias.per_direction = b.per_direction;
      mode.rel_bias.max_exact = b.max_exact;
      mode.rel_bias.bidirectional = b.bidirectional ? 1 : 0;
      mode.rel_bias.n_thresholds = b.n_thresholds;
      for (int32_t i = 0; i < b.n_thresholds; ++i) mode.rel_bias.thresholds[i] = b.thresholds[i];
    }
    run_paged_attention(a.q, a.layer, a.layout, a.scale, mode, a.out, stream);
  });
}

MmrtStatus* patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                        MmrtTensor* out, const MmrtStream* stream) {
  return status_boundary("patch_embed", [&] {
    const DType dt = dtype_of(pixels);
    const int64_t c = pixels->shape[0], h = pixels->shape[1], w = pixels->shape[2];
    const int64_t out_ch = weight->shape[0], p = weight->shape[2];
    const int64_t n_patches = (h / p) * (w / p), patch_dim = c * p * p;
    LaunchScope scope(stream, gpu_of(pixels));
    Workspace cols(gpu_of(pixels), size_t(n_patches * patch_dim * cuda::dtype_size(dt)));
    scope.launch("im2col_patches",
                 cuda::im2col_patches(dt, data_of(pixels), c, h, w, p, cols.data(), scope.stream()));
    linear_into(scope, dt, cols.data(), data_of(weight), data_of(bias), data_of(out), n_patches, out_ch,
                patch_dim);
  });
}

// Row stride in elements of a 2-D view (strides may describe a column slice of a wider tensor).
int64_t row_stride(const MmrtTensor* t) {
  return t->strides ? t->strides[0] : t->shape[1];
}

MmrtStatus* copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream* stream) {
  return status_boundary("copy", [&] {
    const int64_t rows = src->shape[0], cols = src->shape[1];
    const bool src_gpu = src->device.device_type == MMRT_DEVICE_CUDA;
    const bool dst_gpu = dst->device.device_type == MMRT_DEVICE_CUDA;
    if (src_gpu && dst_gpu) {
      LaunchScope scope(stream, gpu_of(src));
      scope.launch("copy_2d", cuda::copy_2d(dtype_of(src), data_of(src), row_stride(src), dtype_of(dst),
                                            data_of(dst), row_stride(dst), rows, cols, scope.stream()));
      return;
    }
    // Across host and device: a plain 2-D memcpy (the contract keeps the dtype).
    const size_t elem = dtype_size(src->dtype);
    LaunchScope scope(stream, src_gpu ? gpu_of(src) : gpu_of(dst));
    if (rows == 0 || cols == 0) return;
    scope.launch(
        "cudaMemcpy2DAsync",
        cudaMemcpy2DAsync(data_of(dst), size_t(row_stride(dst)) * elem, data_of(src),
                          size_t(row_stride(src)) * elem, size_t(cols) * elem, size_t(rows),
                          src_gpu ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, scope.stream()));
  });
}

MmrtStatus* gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                        const MmrtStream* stream) {
  return status_boundary("gather_rows", [&] {
    LaunchScope scope(stream, gpu_of(src));
    scope.launch("gather_rows",
                 cuda::gather_rows(dtype_of(src), data_of(src), rows_of(src), data_of<int32_t>(rows),
                                   numel(*rows), data_of(dst), cols_of(src), scope.stream()));
  });
}

MmrtStatus* scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                         const MmrtStream* stream) {
  return status_boundary("scatter_rows", [&] {
    LaunchScope scope(stream, gpu_of(src));
    scope.launch("scatter_rows",
                 cuda::scatter_rows(dtype_of(src), data_of(src), data_of<int32_t>(rows), numel(*rows),
                                    data_of(dst), rows_of(dst), cols_of(dst), scope.stream()));
  });
}

MmrtStatus* scale(MmrtTensor* x, float s, const MmrtStream* stream) {
  return status_boundary("scale", [&] {
    LaunchScope scope(stream, gpu_of(x));
    scope.launch("scale", cuda::scale(dtype_of(x), data_of(x), s, numel(*x), scope.stream()));
  });
}

const MmrtKernels kCudaKernels = MMRT_KERNEL_TABLE(MMRT_KERNEL_BY_NAME);

}  // namespace

const MmrtKernels* cuda_kernels() {
  return &kCudaKernels;
}

}  // namespace mmrt::backend
