// The "mmrt.host.kernels/1" table the host registers, the only kernel table plugins see: each slot checks
// the call against its contract (kernel_contracts.hpp) and forwards it to the CPU table (cpu_kernels.hpp)
// or the CUDA table (cuda_kernels.hpp) by the device the tensors are on (copy: CUDA when either side is).
// A CUDA tensor in a build without CUDA gets UNAVAILABLE.
//
// Static, const, lives for the process; every slot is thread-safe (the tables it forwards to are).
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* dispatch_kernels();

}  // namespace mmrt::backend
