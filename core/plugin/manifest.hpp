// A plugin's sidecar manifest, lib<name>.mmrt.json, written by mmrt_add_plugin next to lib<name>.so:
//   {"id": "org.mmrt.llava", "version": "0.1.0", "library": "libllava.so",
//    "abi": {"major": 1, "built_minor": 0, "requires_host_minor": 0},
//    "architectures": ["LlavaForConditionalGeneration"], "roles": ["mmrt.role.decoder/1"], "sha256":
//    "ab12..."}
// Discovery reads only manifests, so deciding which plugin serves which architecture runs no plugin code.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/plugin/abi_window.hpp"

namespace mmrt::plugin {

// A manifest that cannot be used; the message names the file and the offending key.
class ManifestError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// A parsed, validated manifest. Plain data; copy freely.
struct PluginManifest {
  std::filesystem::path manifest_path;  // the .mmrt.json it came from
  std::filesystem::path library_path;   // absolute: the manifest's folder / "library"
  std::string id;                       // reverse DNS, non-empty
  std::string version;                  // semver as written
  PluginAbi abi;
  std::vector<std::string> architectures;  // non-empty, as written
  std::vector<std::string> roles;
  std::string sha256;  // 64 lowercase hex digits
};

// Reads and validates `manifest_file`. Throws ManifestError when it is missing, not JSON, lacks a key, has a
// value of the wrong type, a "library" that is not a plain file name (no folders: a manifest may only name a
// file beside itself), no architectures, or a sha256 that is not 64 hex digits.
PluginManifest read_manifest(const std::filesystem::path& manifest_file);

}  // namespace mmrt::plugin
