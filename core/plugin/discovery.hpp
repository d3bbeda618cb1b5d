// Finding plugins (plugin_abi.md c.10): scan the manifests in several directories, filter out the unusable
// ones, and resolve one file per architecture, without running any plugin code.
//
// Directories ("tiers"), highest precedence first: PluginSearch::dirs in order (--plugin-dirs), then each
// entry of $MMRT_PLUGIN_PATH, then the install prefix's <exe dir>/../lib/mmrt/plugins. Resolution per
// architecture:
//   1. a pin (architecture -> plugin id) keeps only that id's files;
//   2. the highest directory holding a candidate wins; candidates in lower directories are "shadowed"
//      (the same id installed twice, or another id overridden by an earlier directory);
//   3. two or more candidates in that winning directory make the architecture a "conflict": an error naming
//      every path, never a choice by file-system order.
// Rejected files are removed before precedence applies, so a too-new plugin in --plugin-dirs falls through to
// a compatible one further down.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plugin/abi_window.hpp"
#include "core/plugin/decision_table.hpp"
#include "core/plugin/manifest.hpp"

namespace mmrt::plugin {

struct PluginSearch {
  std::vector<std::filesystem::path> dirs;  // --plugin-dirs values, in order
  // Also search $MMRT_PLUGIN_PATH (':'-separated). Ignored in set-uid/set-gid processes (AT_SECURE), where
  // the environment must not choose the code that runs.
  bool use_env = true;
  std::optional<std::filesystem::path> prefix_dir;  // usually default_prefix_plugin_dir()
  std::map<std::string, std::string> pins;          // architecture -> plugin id
  AbiWindow abi_window;                             // which ABI versions count as compatible
};

// <directory of the running executable>/../lib/mmrt/plugins (lexically normalised), or nullopt when
// /proc/self/exe cannot be read. The build tree and the install prefix share this layout.
std::optional<std::filesystem::path> default_prefix_plugin_dir();

// The directories `search` names, highest precedence first, each once (a later duplicate is dropped).
std::vector<std::filesystem::path> search_directories(const PluginSearch& search);

// What a scan found: the decision table and, for every architecture with a selected file, that file's
// manifest.
struct Discovery {
  DecisionTable table;
  std::map<std::string, PluginManifest, std::less<>> selected;  // architecture -> manifest
  std::map<std::string, size_t, std::less<>> selected_row;      // architecture -> index into table.rows
};

// Scans every directory of `search` and resolves each architecture. Never throws for a bad file or directory:
// each is a rejected row with its reason. Reads and hashes each library named by a manifest.
Discovery discover_plugins(const PluginSearch& search);

}  // namespace mmrt::plugin
