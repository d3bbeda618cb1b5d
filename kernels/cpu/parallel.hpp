#pragma once
// Internal to kernels/cpu: when an element-wise or row-wise op is worth an OpenMP parallel region. Below
// this many elements the fork/join costs more than the work (a decode step touches a few thousand values).

#include <cstdint>

namespace mmrt::cpu {

constexpr int64_t kMinParallelElements = int64_t{1} << 15;

}  // namespace mmrt::cpu
