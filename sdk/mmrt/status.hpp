// Errors inside a plugin are C++ exceptions; at the ABI boundary they become host statuses.
//
// Model code throws `Error` (or lets std::exception escape); every function the host calls is wrapped in
// `guard`, which catches everything and returns a host-created MmrtStatus*. Statuses coming back from the
// host (kernel calls, weight lookups) go through `check`, which frees them and throws. No exception ever
// crosses the C ABI.
#ifndef MMRT_SDK_STATUS_HPP_
#define MMRT_SDK_STATUS_HPP_

#include <mmrt_abi.h>

#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mmrt/host.hpp"

namespace mmrt::sdk {

// Concatenates anything streamable into one string: str("tensor ", name, " has ", n, " dims").
template <class... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// An error with an MMRT_STATUS_* code. The message names what failed (which tensor, which key, which
// input), since it is all the user sees.
class Error : public std::runtime_error {
 public:
  Error(int32_t code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int32_t code() const noexcept { return code_; }

 private:
  int32_t code_;
};

// Throws Error(code, message) unless `condition` holds.
inline void require(bool condition, int32_t code, std::string_view message) {
  if (!condition) throw Error(code, std::string(message));
}

// A new host status; MMRT_STATUS_OK maps to NULL (success). Falls back to NULL only when no host is set,
// which happens in unit tests that never cross the boundary.
inline MmrtStatus* to_status(int32_t code, std::string_view message) noexcept {
  if (code == MMRT_STATUS_OK) return nullptr;
  const MmrtHostApi* h = host_or_null();
  if (h == nullptr || !MMRT_SDK_HAS_SLOT(h, MmrtHostApi, status_new)) return nullptr;
  return h->status_new(code, message.data(), message.size());
}

inline MmrtStatus* to_status(const Error& error) noexcept {
  return to_status(error.code(), error.what());
}

// Runs `fn` and turns whatever it throws into a status: Error keeps its code, any other exception becomes
// PLUGIN_INTERNAL. `where` names the slot for the message ("llava encoder: ...").
template <class Fn>
MmrtStatus* guard(const char* where, Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
    return nullptr;
  } catch (const Error& e) {
    return to_status(e.code(), str(where, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    return to_status(MMRT_STATUS_RESOURCE_EXHAUSTED, str(where, ": out of host memory"));
  } catch (const std::exception& e) {
    return to_status(MMRT_STATUS_PLUGIN_INTERNAL, str(where, ": ", e.what()));
  } catch (...) {
    return to_status(MMRT_STATUS_PLUGIN_INTERNAL, str(where, ": unknown exception"));
  }
}

// Consumes a status the host returned: NULL passes; otherwise the status is freed and an Error with its
// code and message (prefixed by `context`) is thrown.
inline void check(MmrtStatus* status, std::string_view context) {
  if (status == nullptr) return;
  const MmrtHostApi& h = host();
  int32_t code = MMRT_STATUS_UNKNOWN;
  std::string message = "(no message)";
  if (MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, status_code)) code = h.status_code(status);
  if (MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, status_message)) {
    const char* m = h.status_message(status);
    if (m != nullptr) message = m;
  }
  if (MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, status_free)) h.status_free(status);
  throw Error(code, str(context, ": ", message));
}

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_STATUS_HPP_
