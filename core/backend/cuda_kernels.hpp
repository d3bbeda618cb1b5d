// The "mmrt.host.kernels/1" table for tensors on a CUDA device: checks every argument the host can see
// (device, dtype, shape, layout; all of an op's tensors on one GPU, the stream a CUDA stream of that GPU)
// and launches kernels/cuda on the caller's stream. Activations are f32, f16 or bf16, one dtype per op
// except where a slot says otherwise (copy converts; rope's inv_freq and attention's bias are f32); index
// tensors (ids, rows, positions, layout) are int32/int64 on the same GPU. Nothing synchronises and nothing
// allocates in steady state (workspaces come from the caching pool).
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
