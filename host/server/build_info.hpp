// What this build is: the mmrt version, the plugin ABI it speaks and the compute backends compiled in.
// Shown by `mmrt --version` and GET /version.
#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace mmrt::server {

boost::json::object build_info();
// One line: "mmrt 0.1.0 (plugin ABI 1.0; backends: cpu)".
std::string build_info_line();

}  // namespace mmrt::server
