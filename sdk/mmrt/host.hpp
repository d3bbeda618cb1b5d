// The host's service table as the plugin sees it: stored once by the entry point, read everywhere.
//
// Version rule (mmrt_abi.h): the plugin may use a host slot only when it lies inside host->struct_size and
// is not NULL, and it relies on behaviour of minor min(host minor, built minor) at most. Everything here
// checks that before calling, so a plugin loaded by an older host degrades instead of crashing.
//
// Threading: set_host runs on the loader thread inside the entry call; everything else only reads.
#ifndef MMRT_SDK_HOST_HPP_
#define MMRT_SDK_HOST_HPP_

#include <mmrt_abi.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

// Whether `table` (a pointer to a struct of type `type`) has a non-NULL slot `field` the reader may call.
#define MMRT_SDK_HAS_SLOT(table, type, field) (MMRT_HAS_FIELD(table, type, field) && (table)->field != NULL)

namespace mmrt::sdk {

namespace detail {
inline const MmrtHostApi* g_host = nullptr;
}  // namespace detail

inline void set_host(const MmrtHostApi* host) noexcept {
  detail::g_host = host;
}
inline const MmrtHostApi* host_or_null() noexcept {
  return detail::g_host;
}

// The host table; throws when the entry point has not run (a bug in the plugin, not in the input).
inline const MmrtHostApi& host() {
  if (detail::g_host == nullptr)
    throw std::logic_error("mmrt sdk: host table used before the entry point ran");
  return *detail::g_host;
}

// The minor both sides understand: behaviour newer than this must not be relied on.
inline uint32_t effective_minor() noexcept {
  const MmrtHostApi* h = detail::g_host;
  if (h == nullptr || !MMRT_HAS_FIELD(h, MmrtHostApi, abi)) return 0;
  return std::min<uint32_t>(h->abi.minor, MMRT_ABI_MINOR);
}

// Why `host` cannot load a plugin built against this header that needs host minor `required_host_minor`,
// or an empty string when it can.
inline std::string version_mismatch(const MmrtHostApi* host, uint32_t required_host_minor) {
  if (host == nullptr) return "host table is NULL";
  if (!MMRT_HAS_FIELD(host, MmrtHostApi, abi)) return "host table too small to carry an ABI version";
  const MmrtAbiVersion& v = host->abi;
  if (v.major != MMRT_ABI_MAJOR) {
    return "host ABI major " + std::to_string(v.major) + ", plugin built for major " +
           std::to_string(MMRT_ABI_MAJOR);
  }
  if (v.minor < required_host_minor) {
    return "host ABI minor " + std::to_string(v.minor) + " is older than the minor " +
           std::to_string(required_host_minor) + " this plugin needs";
  }
  if (v.required_minor > MMRT_ABI_MINOR) {
    return "host needs plugins built for ABI minor >= " + std::to_string(v.required_minor) +
           ", plugin built for minor " + std::to_string(MMRT_ABI_MINOR);
  }
  return {};
}

// A host extension table (MMRT_KERNELS_EXTENSION, MMRT_IMAGE_EXTENSION), or NULL when the host lacks it.
inline const void* host_extension(const char* id) {
  const MmrtHostApi& h = host();
  if (!MMRT_SDK_HAS_SLOT(&h, MmrtHostApi, get_extension)) return nullptr;
  return h.get_extension(id);
}

inline bool log_enabled(int32_t level) noexcept {
  const MmrtHostApi* h = detail::g_host;
  if (h == nullptr || !MMRT_SDK_HAS_SLOT(h, MmrtHostApi, log)) return false;
  if (!MMRT_SDK_HAS_SLOT(h, MmrtHostApi, log_enabled)) return true;
  return h->log_enabled(level) != 0;
}

// Logs through the host (copied there). Messages from a host without a log slot are dropped.
inline void log(int32_t level, std::string_view message, const char* file = nullptr,
                int32_t line = 0) noexcept {
  if (!log_enabled(level)) return;
  detail::g_host->log(level, file, line, message.data(), message.size());
}
inline void log_debug(std::string_view message) noexcept {
  log(MMRT_LOG_DEBUG, message);
}
inline void log_info(std::string_view message) noexcept {
  log(MMRT_LOG_INFO, message);
}
inline void log_warn(std::string_view message) noexcept {
  log(MMRT_LOG_WARN, message);
}

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_HOST_HPP_
