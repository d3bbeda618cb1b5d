#include "core/backend/status.hpp"

#include "core/plugin/status.hpp"

namespace mmrt::backend {

MmrtStatus* make_status(int32_t code, const std::string& message) {
  return plugin::make_status(code, message);
}

}  // namespace mmrt::backend
