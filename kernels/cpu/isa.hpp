#pragma once
// Internal to kernels/cpu: runtime choice of the vector instruction set, so one binary runs everywhere and
// uses AVX2 where the CPU has it. Code for a set is compiled with a target attribute on each function (not
// with per-file -m flags, which would let AVX2 copies of shared inline functions leak into generic code).

namespace mmrt::cpu {

// avx2 means AVX2 + FMA + F16C together (every x86 CPU since Haswell / Zen 1 has all three).
enum class Isa { scalar, avx2 };

#if defined(__x86_64__) || defined(__i386__)
#define MMRT_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
inline bool cpu_has_avx2() {
  static const bool has =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return has;
}
#else
#define MMRT_TARGET_AVX2
inline bool cpu_has_avx2() {
  return false;
}
#endif

inline Isa best_isa() {
  return cpu_has_avx2() ? Isa::avx2 : Isa::scalar;
}

}  // namespace mmrt::cpu
