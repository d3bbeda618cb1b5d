#pragma once
// Umbrella header of the CPU reference kernels (namespace mmrt::cpu). Conventions shared by every op:
// fp32 activations and weights (linear and embedding also take bf16/fp16 weights), row-major and contiguous,
// shapes in `// [rows, dim]` comments on each declaration; fp32 (or wider) accumulation; plain loops
// parallelised with OpenMP, GEMMs through OpenBLAS. No op allocates in steady state (per-thread scratch is
// reused) and none keeps state between calls, so any op may be called from any thread, but not from inside an
// OpenMP parallel region of the caller.

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "kernels/cpu/kv_cache.hpp"
#include "kernels/cpu/linear.hpp"
#include "kernels/cpu/norm.hpp"
#include "kernels/cpu/paged_attention.hpp"
#include "kernels/cpu/relative_position.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/softmax.hpp"
