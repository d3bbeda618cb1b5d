// The kernel table for tensors on the CPU: the reference ops of kernels/cpu on f32 activations. It takes
// calls that passed their contract (kernel_contracts.hpp; the dispatch table checks it, and only that table
// reaches plugins) and checks what lives in CPU memory only it reads: ids, rows, cache slots and blocks
// inside their tables (OUT_OF_RANGE), the layout's query_start and lengths. Static, const, lives for the
// process; every slot is thread-safe.
// linear and embedding take weights in f32, bf16 or f16 (the checkpoint's dtype) with f32 activations.
#pragma once

#include <cstdint>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* cpu_kernels();

// Bytes of weights the table's linear and embedding slots have read since the process started: a linear
// call reads its whole weight once, an embedding call the rows it picks. mmrt bench divides the growth over
// decode steps by their time to report the weight-read bandwidth. Thread-safe.
uint64_t cpu_weight_bytes_read();

}  // namespace mmrt::backend
