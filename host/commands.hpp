// The mmrt subcommands. Each takes the arguments after its name and returns the process exit code;
// errors are thrown (UsageError for bad flags) and reported by main.
#pragma once

#include <string>
#include <vector>

namespace mmrt::host {

int run_generate(const std::vector<std::string>& argv);
int run_tokenize(const std::vector<std::string>& argv);
int run_detokenize(const std::vector<std::string>& argv);
int run_preprocess(const std::vector<std::string>& argv);
int run_plugins(const std::vector<std::string>& argv);
int run_plugin_check(const std::vector<std::string>& argv);
int run_serve(const std::vector<std::string>& argv);
int run_bench(const std::vector<std::string>& argv);

}  // namespace mmrt::host
