// The "mmrt.host.kernels/1" table the host registers: each slot forwards to the CPU table (cpu_kernels.hpp)
// or the CUDA table (cuda_kernels.hpp) by the device of the call's first tensor. `copy` goes to CUDA when
// either side is on CUDA, since that table also copies between host and device. A CUDA tensor in a build
// without CUDA gets UNAVAILABLE.
//
// Static, const, lives for the process; every slot is thread-safe (the tables it forwards to are).
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* dispatch_kernels();

}  // namespace mmrt::backend
