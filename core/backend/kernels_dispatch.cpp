#include "core/backend/kernels_dispatch.hpp"

#include <string>
#include <type_traits>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/cuda_kernels.hpp"
#include "core/backend/kernel_contracts.hpp"
#include "core/backend/kernel_slots.hpp"
#include "core/backend/status.hpp"

namespace mmrt::backend {
namespace {

// Checks a call against the slot's contract, then hands it unchanged to the same slot of the backend of
// the device the contract reports.
template <typename... Args>
MmrtStatus* forward(const char* op, MmrtStatus* (*MmrtKernels::*slot)(Args...),
                    MmrtDevice (*contract)(Args...), std::type_identity_t<Args>... args) {
  MmrtDevice device{};
  if (MmrtStatus* refused = status_boundary(op, [&] { device = contract(args...); })) return refused;
  const MmrtKernels* backend = device.device_type == MMRT_DEVICE_CUDA ? cuda_kernels() : cpu_kernels();
  if (!backend) {
    return make_status(MMRT_STATUS_UNAVAILABLE,
                       std::string(op) + ": the tensors are on CUDA but this build has no CUDA backend");
  }
  return (backend->*slot)(args...);
}

// Each slot is a captureless lambda taking exactly the slot's parameters (deduced from the slot's type).
#define MMRT_DISPATCH_ENTRY(op) \
  .op = [](auto... args) -> MmrtStatus* { return forward(#op, &MmrtKernels::op, &contracts::op, args...); },

const MmrtKernels kDispatchKernels = MMRT_KERNEL_TABLE(MMRT_DISPATCH_ENTRY);

#undef MMRT_DISPATCH_ENTRY

}  // namespace

const MmrtKernels* dispatch_kernels() {
  return &kDispatchKernels;
}

}  // namespace mmrt::backend
