#include "core/plugin/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/util/json.hpp"

namespace mmrt::plugin {
namespace {

std::vector<std::string> read_string_list(const util::JsonObjectView& view, std::string_view key) {
  if (!view.contains(key)) view.fail(key, "required key is missing");
  const boost::json::value& value = view.object().at(key);
  if (!value.is_array()) view.fail(key, "expected an array of strings");
  std::vector<std::string> strings;
  for (const boost::json::value& element : value.as_array()) {
    if (!element.is_string() || element.as_string().empty()) {
      view.fail(key, "expected an array of non-empty strings");
    }
    strings.emplace_back(element.as_string());
  }
  return strings;
}

uint32_t read_uint32(const util::JsonObjectView& view, std::string_view key) {
  int64_t value = view.get_int(key);
  if (value < 0 || value > std::numeric_limits<uint32_t>::max()) {
    view.fail(key, "expected an integer in [0, 2^32), got " + std::to_string(value));
  }
  return static_cast<uint32_t>(value);
}

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

PluginManifest read_manifest(const std::filesystem::path& manifest_file) {
  try {
    const boost::json::object object = util::read_json_object(manifest_file);
    const util::JsonObjectView view(object, manifest_file.string());

    PluginManifest manifest;
    manifest.manifest_path = manifest_file;
    manifest.id = view.get_string("id");
    if (manifest.id.empty()) view.fail("id", "must not be empty");
    manifest.version = view.get_string("version");

    const std::string library = view.get_string("library");
    if (!is_plain_file_name(library)) {
      view.fail("library", "must be a file name beside the manifest, got \"" + library + "\"");
    }
    manifest.library_path = std::filesystem::absolute(manifest_file).parent_path() / library;

    if (!view.contains("abi")) view.fail("abi", "required key is missing");
    const util::JsonObjectView abi = view.get_object("abi");
    manifest.abi.major = read_uint32(abi, "major");
    manifest.abi.built_minor = read_uint32(abi, "built_minor");
    manifest.abi.requires_host_minor = read_uint32(abi, "requires_host_minor");

    manifest.architectures = read_string_list(view, "architectures");
    if (manifest.architectures.empty()) view.fail("architectures", "must name at least one architecture");
    manifest.roles = read_string_list(view, "roles");

    manifest.sha256 = view.get_string("sha256");
    std::transform(manifest.sha256.begin(), manifest.sha256.end(), manifest.sha256.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (manifest.sha256.size() != 64 || !std::all_of(manifest.sha256.begin(), manifest.sha256.end(),
                                                     [](unsigned char c) { return std::isxdigit(c) != 0; })) {
      view.fail("sha256", "expected 64 hex digits");
    }
    return manifest;
  } catch (const util::JsonError& error) {
    throw ManifestError(error.what());
  }
}

}  // namespace mmrt::plugin
