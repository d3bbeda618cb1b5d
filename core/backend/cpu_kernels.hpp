// The "mmrt.host.kernels/1" table for tensors on the CPU: checks every argument (dtype, device, shape)
// and runs the reference ops of kernels/cpu. Static, const, lives for the process; every slot is
// thread-safe.
#pragma once

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

const MmrtKernels* cpu_kernels();

}  // namespace mmrt::backend
