// Vetting a plugin's .so file without running any of its code (no dlopen, so no static constructors run).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mmrt::plugin {

// Null when `library` is a regular file holding an ELF shared object for this machine (same class, byte order
// and e_machine as the running executable) that exports mmrt_plugin_entry_v1; otherwise why not, e.g.
// "not an ELF file" or "does not export mmrt_plugin_entry_v1". Never throws.
std::optional<std::string> inspect_plugin_library(const std::filesystem::path& library);

// The symbols `library` exports (global or weak, default or protected visibility, defined), read from its ELF
// symbol tables with boost::dll::library_info. Throws std::runtime_error naming the file when it is not a
// readable ELF file.
std::vector<std::string> exported_symbols(const std::filesystem::path& library);

}  // namespace mmrt::plugin
