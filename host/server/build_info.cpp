#include "host/server/build_info.hpp"

#include <boost/json.hpp>

#include "core/backend/cuda_runtime.hpp"
#include "plugin_api/mmrt_abi.h"

namespace mmrt::server {

namespace {

boost::json::array backends() {
  boost::json::array out{"cpu"};
  if (backend::cuda_compiled()) out.push_back("cuda");
  return out;
}

std::string abi_version() {
  return std::to_string(MMRT_ABI_MAJOR) + "." + std::to_string(MMRT_ABI_MINOR);
}

}  // namespace

boost::json::object build_info() {
  return {{"version", MMRT_VERSION}, {"abi_version", abi_version()}, {"backends", backends()}};
}

std::string build_info_line() {
  std::string line = std::string("mmrt ") + MMRT_VERSION + " (plugin ABI " + abi_version() + "; backends:";
  for (const auto& b : backends()) line += " " + std::string(b.as_string());
  return line + ")";
}

}  // namespace mmrt::server
