#pragma once
// The activation dtypes the CUDA kernels take, and the status every launcher returns. Plain C++ (no CUDA
// headers beyond the runtime API), so host code compiled by g++ can call the launchers in kernels/cuda/*.cuh.
//
// Conventions shared by every launcher: pointers are device memory of the stream's device; tensors are
// compact row-major unless an argument says otherwise; arithmetic and accumulation are fp32 whatever the
// storage dtype; every launch goes on `stream` and nothing synchronises. A launcher returns cudaSuccess or
// the error cudaGetLastError reported after its launches (an invalid configuration, a missing kernel image
// for this GPU); errors inside a running kernel surface at the caller's next synchronisation.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mmrt::cuda {

enum class DType : uint8_t {
  f32,   // float
  f16,   // IEEE binary16 (__half)
  bf16,  // bfloat16 (__nv_bfloat16)
};

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
  }
  return "?";
}

inline int64_t dtype_size(DType t) {
  return t == DType::f32 ? 4 : 2;
}

}  // namespace mmrt::cuda
