// The contract of every MmrtKernels slot, checked once for all backends: the dispatch table
// (kernels_dispatch.cpp) runs the check named like the slot before it forwards a call, so a backend sees
// only calls that passed it and checks only what lives on its device (values inside its index tensors,
// its stream, its size limits).
//
// A check covers what the host can see without touching device memory: tensors present and well-formed,
// compact row-major (copy: row-strided), data present, every tensor of the call on one device, dtypes
// (activations of one op share one dtype the device computes in; index tensors int32/int64; the f32
// operands the header names), shapes, host-memory arguments (activation kinds, mrope sections, varlen
// offsets) and aliasing. Aliasing rule: an output may be an input only where the slot's comment in
// mmrt_abi.h says "y may be ..." and then only as the very same view; every other overlap between an
// output and another operand is refused.
//
// Each throws StatusError(INVALID_ARGUMENT) naming the operand (the dispatch table prefixes the op) and
// returns the device the call runs on: the tensors' device (copy: the CUDA side when there is one).
// Stateless and thread-safe.
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend::contracts {

// The one rule for linear's w and embedding's table (ABI 1.1): the activation dtype, or bf16/f16 under f32
// activations on the CPU (weights kept in the checkpoint's dtype).
bool weight_dtype_allowed(MmrtDevice device, MmrtDataType activation, MmrtDataType weight);

MmrtDevice linear(const MmrtTensor* x, const MmrtTensor* w, const MmrtTensor* bias, MmrtTensor* y,
                  const MmrtStream* stream);
MmrtDevice embedding(const MmrtTensor* table, const MmrtTensor* ids, MmrtTensor* out,
                     const MmrtStream* stream);
MmrtDevice layer_norm(const MmrtTensor* x, const MmrtTensor* weight, const MmrtTensor* bias, float eps,
                      MmrtTensor* y, const MmrtStream* stream);
MmrtDevice rms_norm(const MmrtTensor* x, const MmrtTensor* weight, float eps, MmrtTensor* y,
                    const MmrtStream* stream);
MmrtDevice activation(int32_t kind, const MmrtTensor* x, MmrtTensor* y, const MmrtStream* stream);
MmrtDevice silu_mul(const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y, const MmrtStream* stream);
MmrtDevice add(const MmrtTensor* a, const MmrtTensor* b, MmrtTensor* y, const MmrtStream* stream);
MmrtDevice rope(MmrtTensor* x, const MmrtTensor* positions, const MmrtTensor* inv_freq,
                const int32_t* mrope_section, float attention_scaling, const MmrtStream* stream);
MmrtDevice attention(const MmrtTensor* q, const MmrtTensor* k, const MmrtTensor* v, const MmrtTensor* bias,
                     float scale, int32_t causal, MmrtTensor* out, const MmrtStream* stream);
MmrtDevice kv_cache_write(const MmrtTensor* k, const MmrtTensor* v, MmrtKvLayer layer,
                          const MmrtBatchLayout* layout, const MmrtStream* stream);
MmrtDevice paged_attention(const MmrtTensor* q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float scale,
                           MmrtTensor* out, const MmrtStream* stream);
MmrtDevice patch_embed(const MmrtTensor* pixels, const MmrtTensor* weight, const MmrtTensor* bias,
                       MmrtTensor* out, const MmrtStream* stream);
MmrtDevice copy(const MmrtTensor* src, MmrtTensor* dst, const MmrtStream* stream);
MmrtDevice gather_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                       const MmrtStream* stream);
MmrtDevice scatter_rows(const MmrtTensor* src, const MmrtTensor* rows, MmrtTensor* dst,
                        const MmrtStream* stream);
MmrtDevice scale(MmrtTensor* x, float s, const MmrtStream* stream);
MmrtDevice gated_activation(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                            const MmrtStream* stream);
MmrtDevice paged_attention_ex(const MmrtPagedAttentionArgs* args, const MmrtStream* stream);
MmrtDevice attention_varlen(const MmrtVarlenAttentionArgs* args, const MmrtStream* stream);

}  // namespace mmrt::backend::contracts
