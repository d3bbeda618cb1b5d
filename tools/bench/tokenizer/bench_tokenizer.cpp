// Encode throughput of mmrt::text::Tokenizer on one thread.
// Usage: mmrt_bench_tokenizer <tokenizer dir> <corpus file> [repeats=3]
// The corpus is split into lines and each line is encoded on its own (add_special_tokens = true), like a
// server tokenizing prompts; the best of `repeats` passes is reported. tools/bench/tokenizer/bench_hf.py
// runs Hugging Face `tokenizers` on the same lines for comparison.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/text/tokenizer.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <tokenizer dir> <corpus file> [repeats]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  try {
    const auto tokenizer = mmrt::text::Tokenizer::from_dir(argv[1]);
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open corpus %s\n", argv[2]);
      return 2;
    }
    std::vector<std::string> lines;
    size_t n_bytes = 0;
    for (std::string line; std::getline(in, line);) {
      n_bytes += line.size();
      lines.push_back(std::move(line));
    }
    double best_seconds = 1e30;
    size_t n_tokens = 0;
    for (int r = 0; r < repeats; ++r) {
      n_tokens = 0;
      const auto start = std::chrono::steady_clock::now();
      for (const auto& line : lines) n_tokens += tokenizer.encode(line).size();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best_seconds = std::min(best_seconds, seconds);
    }
    std::printf("mmrt encode: %zu lines, %.2f MB, %zu tokens, best of %d: %.3f s, %.2f MB/s, %.0f tokens/s\n",
                lines.size(), n_bytes / 1e6, n_tokens, repeats, best_seconds, n_bytes / 1e6 / best_seconds,
                n_tokens / best_seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
