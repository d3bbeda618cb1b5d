#include "host/commands.hpp"
#include <stdexcept>
namespace mmrt::host {
int run_serve(const std::vector<std::string>&) { throw std::runtime_error("serve: not built yet"); }
int run_bench(const std::vector<std::string>&) { throw std::runtime_error("bench: not built yet"); }
}
