// The kernel table for tensors on a CUDA device: launches kernels/cuda on the caller's stream. It takes
// calls that passed their contract (kernel_contracts.hpp; the dispatch table checks it, and only that table
// reaches plugins: devices, dtypes, shapes, aliasing) and checks what is its own: the stream is a CUDA
// stream of the tensors' GPU, head_dim within what the attention kernels hold (UNIMPLEMENTED beyond).
// Activations are f32, f16 or bf16, one dtype per op except where a slot says otherwise (copy converts;
// rope's inv_freq and the attention biases are f32). Nothing synchronises and nothing allocates in steady
// state (workspaces come from the caching pool).
//
// Values inside device index tensors cannot be checked without a synchronisation: the kernels treat
// out-of-range ids, rows and slots defensively (kernels/cuda/rows.cuh, paged_attention.cuh) instead of
// returning OUT_OF_RANGE as the CPU table does.
//
// Static, const, lives for the process; every slot is thread-safe across streams. nullptr in a build
// without CUDA (no_cuda.cpp).
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* cuda_kernels();

}  // namespace mmrt::backend
