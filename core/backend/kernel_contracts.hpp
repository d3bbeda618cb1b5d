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

#include "core/backend/kernel_slots.hpp"
#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend::contracts {

// The one rule for linear's w and embedding's table (ABI 1.1): the activation dtype, or bf16/f16 under f32
// activations on the CPU (weights kept in the checkpoint's dtype).
bool weight_dtype_allowed(MmrtDevice device, MmrtDataType activation, MmrtDataType weight);

// The contract of slot `op` takes the slot's parameters: MmrtDevice op(<the slot's parameters>).
template <typename Slot>
struct ContractOf;
template <typename... Args>
struct ContractOf<MmrtStatus* (*)(Args...)> {
  using type = MmrtDevice(Args...);
};

#define MMRT_DECLARE_CONTRACT(op) ContractOf<decltype(MmrtKernels::op)>::type op;
MMRT_KERNEL_SLOTS(MMRT_DECLARE_CONTRACT)
#undef MMRT_DECLARE_CONTRACT

}  // namespace mmrt::backend::contracts
