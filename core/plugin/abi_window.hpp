// Which plugin ABI versions this host accepts (plugin_abi.md c.3).
//
// A plugin declares {major, built_minor, requires_host_minor} twice: in its manifest (checked at scan time,
// no code runs) and in MmrtPluginApi.abi (checked at load time). Both go through check_abi_version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::plugin {

// The oldest plugin minor this host still accepts. Raise it (never above MMRT_ABI_MINOR) when dropping
// support for plugins built against an old header.
inline constexpr uint32_t kOldestPluginMinor = 0;

// The window a host applies. Production uses the defaults; tests move it to exercise the "too old" and "too
// new" gates without building a second host. It only changes what the host accepts: plugins always see
// host_api().
struct AbiWindow {
  uint32_t host_minor = MMRT_ABI_MINOR;
  uint32_t oldest_plugin_minor = kOldestPluginMinor;
};

// A plugin's declared ABI version, from its manifest or its MmrtPluginApi.abi.
struct PluginAbi {
  uint32_t major = 0;
  uint32_t built_minor = 0;
  uint32_t requires_host_minor = 0;
};

// Null when the host accepts `plugin`; otherwise the reason, e.g.
// "ABI too new: needs host minor 1, this host is 1.0".
std::optional<std::string> check_abi_version(const PluginAbi& plugin, const AbiWindow& window);

}  // namespace mmrt::plugin
