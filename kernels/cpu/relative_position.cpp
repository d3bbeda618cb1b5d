#include "kernels/cpu/relative_position.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mmrt::cpu {

namespace {

// transformers' relative_position_if_large before its clamp, in float32 as torch computes it:
// max_exact + long(log(float(d) / max_exact) / log(max_distance / max_exact) * (n - max_exact)).
int64_t log_bucket(int64_t distance, int32_t per_direction, int32_t max_exact, int32_t max_distance) {
  const float ratio = static_cast<float>(distance) / static_cast<float>(max_exact);
  const auto log_range = static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact));
  const float scaled = std::log(ratio) / log_range * static_cast<float>(per_direction - max_exact);
  return max_exact + static_cast<int64_t>(scaled);
}

}  // namespace

RelativeBuckets relative_buckets(int32_t n_buckets, int32_t max_distance, bool bidirectional) {
  RelativeBuckets b{};
  b.bidirectional = bidirectional;
  b.per_direction = bidirectional ? n_buckets / 2 : n_buckets;
  b.max_exact = b.per_direction / 2;
  if (n_buckets > RelativeBuckets::kMaxBuckets || b.per_direction < 2) {
    throw std::invalid_argument("n_buckets " + std::to_string(n_buckets) + " outside [" +
                                (bidirectional ? "4" : "2") + ", " +
                                std::to_string(RelativeBuckets::kMaxBuckets) + "]");
  }
  if (max_distance <= b.max_exact) {
    throw std::invalid_argument("max_distance " + std::to_string(max_distance) +
                                " must exceed the exact buckets (" + std::to_string(b.max_exact) + ")");
  }
  b.n_thresholds = b.per_direction - b.max_exact - 1;
  // log_bucket grows with the distance and reaches the last bucket by max_distance, so each threshold is
  // the first distance in [max_exact, max_distance] whose bucket reaches it.
  for (int32_t i = 0; i < b.n_thresholds; ++i) {
    const int64_t target = b.max_exact + 1 + i;
    int64_t lo = b.max_exact, hi = max_distance;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (log_bucket(mid, b.per_direction, b.max_exact, max_distance) >= target) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    b.thresholds[i] = lo;
  }
  return b;
}

}  // namespace mmrt::cpu
