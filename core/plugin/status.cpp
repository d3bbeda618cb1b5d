#include "core/plugin/status.hpp"

namespace mmrt::plugin {
namespace {

std::string describe(int32_t code, const std::string& plugin_id, const std::string& message) {
  std::string text = plugin_id.empty() ? message : plugin_id + ": " + message;
  return text + " [" + status_code_name(code) + "]";
}

}  // namespace

PluginError::PluginError(int32_t code, std::string plugin_id, std::string message)
    : std::runtime_error(describe(code, plugin_id, message)),
      code_(code),
      plugin_id_(std::move(plugin_id)),
      message_(std::move(message)) {}

void StatusDeleter::operator()(MmrtStatus* status) const noexcept {
  delete status;
}

MmrtStatus* make_status(int32_t code, std::string_view message) {
  if (code == MMRT_STATUS_OK) {
    return new MmrtStatus{MMRT_STATUS_UNKNOWN, "status created with MMRT_STATUS_OK (a bug in its creator): " +
                                                   std::string(message)};
  }
  return new MmrtStatus{code, std::string(message)};
}

std::string status_code_name(int32_t code) {
  switch (code) {
    case MMRT_STATUS_OK:
      return "OK";
    case MMRT_STATUS_CANCELLED:
      return "CANCELLED";
    case MMRT_STATUS_UNKNOWN:
      return "UNKNOWN";
    case MMRT_STATUS_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case MMRT_STATUS_NOT_FOUND:
      return "NOT_FOUND";
    case MMRT_STATUS_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case MMRT_STATUS_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case MMRT_STATUS_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case MMRT_STATUS_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case MMRT_STATUS_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case MMRT_STATUS_INTERNAL:
      return "INTERNAL";
    case MMRT_STATUS_UNAVAILABLE:
      return "UNAVAILABLE";
    case MMRT_STATUS_DATA_LOSS:
      return "DATA_LOSS";
    case MMRT_STATUS_UNSUPPORTED_VERSION:
      return "UNSUPPORTED_VERSION";
    case MMRT_STATUS_PLUGIN_INTERNAL:
      return "PLUGIN_INTERNAL";
  }
  return "code " + std::to_string(code);
}

void throw_if_error(MmrtStatus* status, std::string_view plugin_id, std::string_view context) {
  StatusPtr owned(status);
  if (!owned) return;
  throw PluginError(owned->code, std::string(plugin_id), std::string(context) + ": " + owned->message);
}

}  // namespace mmrt::plugin
