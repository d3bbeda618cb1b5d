// The outcome of plugin discovery: one row per (plugin file, architecture), saying which file serves each
// architecture and why every other file does not. `mmrt plugins` prints it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mmrt::plugin {

enum class Decision {
  kLoaded,     // selected for the architecture and loaded into this process
  kAvailable,  // selected for the architecture; loads on first use
  kShadowed,   // acceptable, but an earlier directory or a pin selects another file
  kRejected,   // unusable: bad manifest, missing or corrupt library, ABI outside the window, failed load
  kConflict,   // several files in the highest directory claim the architecture and no pin decides
};

// "loaded", "available", "shadowed", "rejected", "conflict".
std::string_view decision_name(Decision decision);

struct DecisionRow {
  Decision decision = Decision::kRejected;
  std::string architecture;  // empty when the file was rejected before its architectures were known
  std::string plugin_id;     // empty when unknown
  std::string version;       // empty when unknown
  // The plugin's .so; the manifest when the manifest itself is unusable; the directory when that is missing.
  std::filesystem::path path;
  std::string reason;  // why; empty for selected rows
  size_t tier = 0;     // index into DecisionTable::directories
};

// Rows are ordered by directory, then file name, then the architecture's position in the manifest, so the
// table is the same whatever order the file system lists entries in.
struct DecisionTable {
  std::vector<std::filesystem::path> directories;  // searched, highest precedence first
  std::vector<DecisionRow> rows;

  // Rows naming `architecture`, in table order.
  std::vector<DecisionRow> rows_for(std::string_view architecture) const;
};

// Fixed-width text: the searched directories, then one line per row (status, architecture, id, version, path,
// reason), "-" for empty fields.
std::string format_decision_table(const DecisionTable& table);
// {"directories": [...], "plugins": [{"status", "architecture", "id", "version", "path", "reason", "tier"}]}
std::string format_decision_table_json(const DecisionTable& table);

}  // namespace mmrt::plugin
