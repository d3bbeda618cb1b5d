// mmrt: serve vision-language models from one process. Subcommands are in host/cmd_*.cpp.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "host/cli_args.hpp"
#include "host/commands.hpp"
#include "host/server/build_info.hpp"

namespace {

const char* kUsage =
    "usage: mmrt <command> [options]   (mmrt <command> --help for its options; mmrt --version)\n"
    "commands:\n"
    "  generate     run one prompt (with images) and print the answer\n"
    "  serve        OpenAI-compatible HTTP server\n"
    "  bench        measure latency and throughput\n"
    "  plugins      list model plugins and why each is loaded, shadowed or rejected\n"
    "  plugin-check run the ABI conformance checks on one plugin .so\n"
    "  tokenize     text -> token ids with a checkpoint's tokenizer\n"
    "  detokenize   token ids -> text\n"
    "  preprocess   show what the image encoder receives for an image\n";

// The CPU kernels use OpenMP next to OpenBLAS's own threads. libgomp's default is to spin after each
// parallel region, which starves OpenBLAS on small machines (measured 4x slower decoding on 2 cores).
// libgomp reads its settings when it is loaded, before main, so the process restarts itself once with
// the passive policy unless the user chose a policy.
void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "version")) {
    std::puts(mmrt::server::build_info_line().c_str());
    return 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  try {
    using namespace mmrt::host;
    if (command == "generate") return run_generate(rest);
    if (command == "serve") return run_serve(rest);
    if (command == "bench") return run_bench(rest);
    if (command == "plugins") return run_plugins(rest);
    if (command == "plugin-check") return run_plugin_check(rest);
    if (command == "tokenize") return run_tokenize(rest);
    if (command == "detokenize") return run_detokenize(rest);
    if (command == "preprocess") return run_preprocess(rest);
    std::fprintf(stderr, "mmrt: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const mmrt::host::UsageError& e) {
    std::fprintf(stderr, "mmrt %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmrt %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
