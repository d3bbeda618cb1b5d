// mmrt_bench_memory: the machine's memory read bandwidth, the floor under a memory-bound decode step.
//
// Usage: mmrt_bench_memory [MiB to stream, default 2048] [passes, default 5]
// Streams one buffer (far larger than the last-level cache) with every OpenMP thread, each summing its own
// contiguous share the way the decode kernel reads its share of a weight matrix, and prints the median and
// best pass in GB/s. A decode step that reads B bytes of weights cannot take less than B / bandwidth.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2048;
  const int passes = argc > 2 ? std::atoi(argv[2]) : 5;
  if (mib == 0 || passes < 1) {
    std::fprintf(stderr, "usage: mmrt_bench_memory [MiB > 0] [passes > 0]\n");
    return 2;
  }
  const size_t n = mib * (size_t(1) << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buffer(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) buffer[i] = i;  // first touch by the thread that later reads the page

  std::vector<double> gb_per_s;
  uint64_t checksum = 0;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t sum = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; ++i) sum += buffer[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    checksum += sum;
    gb_per_s.push_back(double(n * sizeof(uint64_t)) / s / 1e9);
  }
  std::sort(gb_per_s.begin(), gb_per_s.end());
  std::printf(
      "{\"threads\": %d, \"mib\": %zu, \"passes\": %d, \"read_gb_per_s_median\": %.2f, "
      "\"read_gb_per_s_best\": %.2f, \"checksum\": %llu}\n",
      omp_get_max_threads(), mib, passes, gb_per_s[gb_per_s.size() / 2], gb_per_s.back(),
      static_cast<unsigned long long>(checksum));
  return 0;
}
