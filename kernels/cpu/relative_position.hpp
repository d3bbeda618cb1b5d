#pragma once
// T5's relative position buckets (transformers T5Attention._relative_position_bucket): a key at relative
// position d = key - query falls into one of n_buckets buckets, exact for |d| below max_exact and
// logarithmic up to max_distance, with the sign as a separate half when bidirectional.
//
// The logarithmic part is evaluated once per call, in transformers' float32 order of operations, into the
// first distance of each logarithmic bucket; relative_bucket() then only compares integers, so the CPU and
// CUDA kernels (kernels/cuda/paged_attention.cuh mirrors the lookup) agree bucket for bucket.

#include <cstdint>

namespace mmrt::cpu {

struct RelativeBuckets {
  static constexpr int32_t kMaxBuckets = 256;
  int32_t per_direction;  // n_buckets, halved when bidirectional
  int32_t max_exact;      // per_direction / 2: distances below it have a bucket each
  bool bidirectional;
  int32_t n_thresholds;                 // per_direction - max_exact - 1
  int64_t thresholds[kMaxBuckets / 2];  // [i]: first distance of bucket max_exact + 1 + i
};

// Throws std::invalid_argument unless 2 <= n_buckets (per direction) <= kMaxBuckets and max_distance >
// max_exact (transformers would divide by log(1) or less).
RelativeBuckets relative_buckets(int32_t n_buckets, int32_t max_distance, bool bidirectional);

inline int32_t relative_bucket(const RelativeBuckets& b, int64_t relative_position) {
  int32_t bucket = 0;
  int64_t distance = 0;
  if (b.bidirectional) {
    if (relative_position > 0) bucket = b.per_direction;
    distance = relative_position < 0 ? -relative_position : relative_position;
  } else {
    distance = relative_position < 0 ? -relative_position : 0;
  }
  if (distance < b.max_exact) return bucket + static_cast<int32_t>(distance);
  int32_t large = b.max_exact;
  for (int32_t i = 0; i < b.n_thresholds && distance >= b.thresholds[i]; ++i) ++large;
  return bucket + large;
}

}  // namespace mmrt::cpu
