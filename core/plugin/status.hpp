// MmrtStatus: the host's concrete error object behind the ABI's opaque pointer, and the C++ side of it.
//
// A plugin gets statuses only from MmrtHostApi.status_new and returns them; the host adopts every returned
// pointer (StatusPtr) or turns it into a PluginError (throw_if_error), which frees it. Because the message is
// a host std::string, a status stays valid after the plugin that produced it is unloaded.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "plugin_api/mmrt_abi.h"

// Completes the opaque C type. Immutable once created, so it may be read from any thread.
struct MmrtStatus {
  int32_t code;         // MMRT_STATUS_*, never MMRT_STATUS_OK
  std::string message;  // UTF-8
};

namespace mmrt::plugin {

// An error reported by (or about) a plugin. what() reads "<plugin id>: <message> [<CODE NAME>]".
class PluginError : public std::runtime_error {
 public:
  // plugin_id may be empty when the error is about a file whose id is not known yet.
  PluginError(int32_t code, std::string plugin_id, std::string message);

  int32_t code() const { return code_; }
  const std::string& plugin_id() const { return plugin_id_; }
  // The message without the id and code decorations.
  const std::string& message() const { return message_; }

 private:
  int32_t code_;
  std::string plugin_id_;
  std::string message_;
};

struct StatusDeleter {
  void operator()(MmrtStatus* status) const noexcept;
};
// Owns one status; null means success.
using StatusPtr = std::unique_ptr<MmrtStatus, StatusDeleter>;

// A new heap status (what MmrtHostApi.status_new returns). code MMRT_STATUS_OK is a caller bug and becomes
// MMRT_STATUS_UNKNOWN with the message saying so, because a non-null status must never read as success.
MmrtStatus* make_status(int32_t code, std::string_view message);

// "INVALID_ARGUMENT", "PLUGIN_INTERNAL", ...; "code <n>" for a number the ABI does not define.
std::string status_code_name(int32_t code);

// Takes ownership of `status`. Null: returns. Otherwise frees it and throws PluginError(code, plugin_id,
// "<context>: <status message>"); context says which call failed ("create", "init").
void throw_if_error(MmrtStatus* status, std::string_view plugin_id, std::string_view context);

}  // namespace mmrt::plugin
