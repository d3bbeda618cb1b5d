#include "core/plugin/abi_window.hpp"

#include <string>

namespace mmrt::plugin {

std::optional<std::string> check_abi_version(const PluginAbi& plugin, const AbiWindow& window) {
  const std::string host_version = std::to_string(MMRT_ABI_MAJOR) + "." + std::to_string(window.host_minor);
  if (plugin.major != MMRT_ABI_MAJOR) {
    return "ABI major mismatch: plugin is " + std::to_string(plugin.major) + ".x, this host is " +
           host_version;
  }
  if (plugin.requires_host_minor > plugin.built_minor) {
    return "invalid ABI version: requires host minor " + std::to_string(plugin.requires_host_minor) +
           " but was built against minor " + std::to_string(plugin.built_minor);
  }
  if (plugin.requires_host_minor > window.host_minor) {
    return "ABI too new: needs host minor " + std::to_string(plugin.requires_host_minor) + ", this host is " +
           host_version;
  }
  if (plugin.built_minor < window.oldest_plugin_minor) {
    return "ABI too old: built against " + std::to_string(plugin.major) + "." +
           std::to_string(plugin.built_minor) + ", this host accepts " + std::to_string(MMRT_ABI_MAJOR) +
           "." + std::to_string(window.oldest_plugin_minor) + " or newer";
  }
  return std::nullopt;
}

}  // namespace mmrt::plugin
