#include "core/backend/kernels_dispatch.hpp"

#include <string>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/cuda_kernels.hpp"
#include "core/backend/status.hpp"

namespace mmrt::backend {
namespace {

bool on_cuda(const MmrtTensor* t) {
  return t != nullptr && t->device.device_type == MMRT_DEVICE_CUDA;
}

// The table for a call whose deciding tensor is `t`, or null when its device has no backend in this build.
const MmrtKernels* table_for(bool cuda) {
  return cuda ? cuda_kernels() : cpu_kernels();
}

MmrtStatus* no_backend(const char* op) {
  return make_status(MMRT_STATUS_UNAVAILABLE,
                     std::string(op) + ": the tensors are on CUDA but this build has no CUDA backend");
}

// Calls slot `op` of the table `cuda` selects with every argument as given (a macro, since each slot
// has its own signature).
#define MMRT_FORWARD(op, cuda, ...)                            \
  do {                                                         \
    const MmrtKernels* chosen = table_for(cuda);               \
    return chosen ? chosen->op(__VA_ARGS__) : no_backend(#op); \
  } while (0)

MmrtStatus* linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                   const MmrtStream* stream) {
  MMRT_FORWARD(linear, on_cuda(x), x, w, bias, y, stream);
}

MmrtStatus* embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out,
                      const MmrtStream* stream) {
  MMRT_FORWARD(embedding, on_cuda(table), table, ids, out, stream);
}

MmrtStatus* layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                       MmrtTensor* y, const MmrtStream* stream) {
  MMRT_FORWARD(layer_norm, on_cuda(x), x, weight, bias, eps, y, stream);
}

MmrtStatus* rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                     const MmrtStream* stream) {
  MMRT_FORWARD(rms_norm, on_cuda(x), x, weight, eps, y, stream);
}

MmrtStatus* activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream* stream) {
  MMRT_FORWARD(activation, on_cuda(x), kind, x, y, stream);
}

MmrtStatus* silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream* stream) {
  MMRT_FORWARD(silu_mul, on_cuda(gate), gate, up, y, stream);
}

MmrtStatus* add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream* stream) {
  MMRT_FORWARD(add, on_cuda(a), a, b, y, stream);
}

MmrtStatus* rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                 const int32_t* mrope_section, float attention_scaling, const MmrtStream* stream) {
  MMRT_FORWARD(rope, on_cuda(x), x, positions, inv_freq, mrope_section, attention_scaling, stream);
}

MmrtStatus* attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                      float scale, int32_t causal, MmrtTensor* out, const MmrtStream* stream) {
  MMRT_FORWARD(attention, on_cuda(q), q, k, v, bias, scale, causal, out, stream);
}

MmrtStatus* kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                           const MmrtBatchLayout* layout, const MmrtStream* stream) {
  MMRT_FORWARD(kv_cache_write, on_cuda(k), k, v, layer, layout, stream);
}

MmrtStatus* paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout,
                            float scale, MmrtTensor* out, const MmrtStream* stream) {
  MMRT_FORWARD(paged_attention, on_cuda(q), q, layer, layout, scale, out, stream);
}

MmrtStatus* patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                        MmrtTensor* out, const MmrtStream* stream) {
  MMRT_FORWARD(patch_embed, on_cuda(pixels), pixels, weight, bias, out, stream);
}

MmrtStatus* copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream* stream) {
  MMRT_FORWARD(copy, on_cuda(src) || on_cuda(dst), src, dst, stream);
}

MmrtStatus* gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                        const MmrtStream* stream) {
  MMRT_FORWARD(gather_rows, on_cuda(src), src, rows, dst, stream);
}

MmrtStatus* scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                         const MmrtStream* stream) {
  MMRT_FORWARD(scatter_rows, on_cuda(src), src, rows, dst, stream);
}

MmrtStatus* scale(MmrtTensor* x, float s, const MmrtStream* stream) {
  MMRT_FORWARD(scale, on_cuda(x), x, s, stream);
}

#undef MMRT_FORWARD

const MmrtKernels kDispatchKernels = {
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

const MmrtKernels* dispatch_kernels() {
  return &kDispatchKernels;
}

}  // namespace mmrt::backend
