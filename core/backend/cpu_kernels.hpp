// The kernel table for tensors on the CPU: the reference ops of kernels/cpu on f32 activations. It takes
// calls that passed their contract (kernel_contracts.hpp; the dispatch table checks it, and only that table
// reaches plugins) and checks what lives in CPU memory only it reads: ids, rows, cache slots and blocks
// inside their tables (OUT_OF_RANGE), the layout's query_start and lengths. Static, const, lives for the
// process; every slot is thread-safe.
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* cpu_kernels();

}  // namespace mmrt::backend
