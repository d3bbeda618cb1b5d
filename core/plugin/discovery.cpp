#include "core/plugin/discovery.hpp"

#include <sys/auxv.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include <spdlog/spdlog.h>

#include "core/plugin/library_check.hpp"
#include "core/plugin/sha256.hpp"

namespace mmrt::plugin {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kManifestSuffix = ".mmrt.json";
constexpr std::string_view kLibrarySuffix = ".so";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A manifest that passed every check, for one of its architectures.
struct Candidate {
  size_t row;  // index into the table
  size_t manifest;
};

struct DirectoryListing {
  std::vector<std::string> manifests;  // file names, sorted
  std::vector<std::string> libraries;  // file names, sorted
};

// Why a manifest's plugin cannot be used, checking the cheap things first; nullopt when it can.
std::optional<std::string> reject_reason(const PluginManifest& manifest, const AbiWindow& window) {
  if (auto version_problem = check_abi_version(manifest.abi, window)) return *version_problem;
  std::error_code error;
  if (!fs::is_regular_file(manifest.library_path, error)) return "library file missing";
  std::string actual;
  try {
    actual = sha256_hex_of_file(manifest.library_path);
  } catch (const std::exception& read_error) {
    return read_error.what();
  }
  if (actual != manifest.sha256)
    return "sha256 mismatch: manifest says " + manifest.sha256 + ", file is " + actual;
  return inspect_plugin_library(manifest.library_path);
}

class Scanner {
 public:
  explicit Scanner(const PluginSearch& search) : search_(search) {
    discovery_.table.directories = search_directories(search);
  }

  Discovery run() {
    for (size_t tier = 0; tier < discovery_.table.directories.size(); ++tier) scan_directory(tier);
    resolve();
    return std::move(discovery_);
  }

 private:
  void add_row(Decision decision, std::string architecture, const PluginManifest* manifest, fs::path path,
               std::string reason, size_t tier) {
    DecisionRow row;
    row.decision = decision;
    row.architecture = std::move(architecture);
    if (manifest != nullptr) {
      row.plugin_id = manifest->id;
      row.version = manifest->version;
    }
    row.path = std::move(path);
    row.reason = std::move(reason);
    row.tier = tier;
    discovery_.table.rows.push_back(std::move(row));
  }

  std::optional<DirectoryListing> list_directory(const fs::path& directory, size_t tier) {
    std::error_code error;
    if (!fs::exists(directory, error)) {
      add_row(Decision::kRejected, "", nullptr, directory, "plugin directory does not exist", tier);
      return std::nullopt;
    }
    if (!fs::is_directory(directory, error)) {
      add_row(Decision::kRejected, "", nullptr, directory, "plugin path is not a directory", tier);
      return std::nullopt;
    }
    DirectoryListing listing;
    fs::directory_iterator it(directory, error);
    for (; !error && it != fs::directory_iterator(); it.increment(error)) {
      std::error_code status_error;
      if (!it->is_regular_file(status_error)) continue;
      std::string name = it->path().filename().string();
      if (ends_with(name, kManifestSuffix)) {
        listing.manifests.push_back(std::move(name));
      } else if (ends_with(name, kLibrarySuffix)) {
        listing.libraries.push_back(std::move(name));
      }
    }
    if (error) {
      add_row(Decision::kRejected, "", nullptr, directory, "cannot list directory: " + error.message(), tier);
      return std::nullopt;
    }
    std::sort(listing.manifests.begin(), listing.manifests.end());
    std::sort(listing.libraries.begin(), listing.libraries.end());
    return listing;
  }

  void scan_directory(size_t tier) {
    const fs::path& directory = discovery_.table.directories[tier];
    std::optional<DirectoryListing> listing = list_directory(directory, tier);
    if (!listing) return;

    // Libraries some manifest speaks for, so they are not also reported as lacking one. An unparsable
    // lib<name>.mmrt.json still speaks for lib<name>.so, its conventional partner.
    std::set<std::string> covered;
    for (const std::string& name : listing->manifests) {
      const fs::path manifest_file = directory / name;
      covered.insert(name.substr(0, name.size() - kManifestSuffix.size()) + std::string(kLibrarySuffix));
      PluginManifest manifest;
      try {
        manifest = read_manifest(manifest_file);
      } catch (const std::exception& error) {
        add_row(Decision::kRejected, "", nullptr, manifest_file,
                std::string("unparsable manifest: ") + error.what(), tier);
        continue;
      }
      covered.insert(manifest.library_path.filename().string());
      add_manifest(std::move(manifest), tier);
    }
    for (const std::string& name : listing->libraries) {
      if (!covered.contains(name)) {
        add_row(Decision::kRejected, "", nullptr, directory / name, "no manifest", tier);
      }
    }
  }

  void add_manifest(PluginManifest manifest, size_t tier) {
    std::optional<std::string> problem = reject_reason(manifest, search_.abi_window);
    if (problem) spdlog::debug("plugin {} rejected: {}", manifest.library_path.string(), *problem);
    const size_t manifest_index = manifests_.size();
    for (const std::string& architecture : manifest.architectures) {
      if (!problem) candidates_[architecture].push_back({discovery_.table.rows.size(), manifest_index});
      add_row(problem ? Decision::kRejected : Decision::kShadowed, architecture, &manifest,
              manifest.library_path, problem.value_or(""), tier);
    }
    manifests_.push_back(std::move(manifest));
  }

  DecisionRow& row_of(const Candidate& candidate) { return discovery_.table.rows[candidate.row]; }

  // Candidates are listed in table order (tier, then file name), so "first" never depends on readdir order.
  void resolve() {
    for (auto& [architecture, candidates] : candidates_) {
      auto pin = search_.pins.find(architecture);
      std::vector<Candidate> pool;
      for (const Candidate& candidate : candidates) {
        if (pin == search_.pins.end() || manifests_[candidate.manifest].id == pin->second) {
          pool.push_back(candidate);
        } else {
          row_of(candidate).reason = "architecture pinned to " + pin->second;
        }
      }
      if (pool.empty()) {
        spdlog::warn("architecture {} is pinned to {}, which no usable plugin provides", architecture,
                     pin->second);
        continue;
      }
      const size_t winning_tier = row_of(pool.front()).tier;
      std::vector<Candidate> winners;
      for (const Candidate& candidate : pool) {
        if (row_of(candidate).tier == winning_tier) winners.push_back(candidate);
      }
      if (winners.size() > 1) {
        mark_conflict(architecture, winners, pool);
      } else {
        mark_selected(architecture, winners.front(), pool);
      }
    }
  }

  void mark_conflict(const std::string& architecture, const std::vector<Candidate>& winners,
                     const std::vector<Candidate>& pool) {
    const fs::path& directory = discovery_.table.directories[row_of(winners.front()).tier];
    std::string paths;
    for (const Candidate& winner : winners) {
      paths += (paths.empty() ? "" : ", ") + row_of(winner).path.string();
    }
    spdlog::warn("architecture {}: several plugins in {} claim it ({}); pin one", architecture,
                 directory.string(), paths);
    for (const Candidate& candidate : pool) {
      DecisionRow& row = row_of(candidate);
      if (row.tier == row_of(winners.front()).tier) {
        std::string others;
        for (const Candidate& winner : winners) {
          if (winner.row != candidate.row)
            others += (others.empty() ? "" : ", ") + row_of(winner).path.string();
        }
        row.decision = Decision::kConflict;
        row.reason = "also claimed in the same directory by " + others;
      } else {
        row.reason = "architecture " + architecture + " is in conflict in " + directory.string();
      }
    }
  }

  void mark_selected(const std::string& architecture, const Candidate& winner,
                     const std::vector<Candidate>& pool) {
    DecisionRow& selected = row_of(winner);
    selected.decision = Decision::kAvailable;
    discovery_.selected.emplace(architecture, manifests_[winner.manifest]);
    discovery_.selected_row.emplace(architecture, winner.row);
    for (const Candidate& candidate : pool) {
      if (candidate.row == winner.row) continue;
      DecisionRow& row = row_of(candidate);
      row.reason = "shadowed by " + selected.path.string();
      if (row.plugin_id != selected.plugin_id) {
        spdlog::warn("architecture {}: {} ({}) overrides {} ({})", architecture, selected.plugin_id,
                     selected.path.string(), row.plugin_id, row.path.string());
      }
    }
  }

  const PluginSearch& search_;
  Discovery discovery_;
  std::vector<PluginManifest> manifests_;
  std::map<std::string, std::vector<Candidate>> candidates_;  // by architecture, in table order
};

}  // namespace

std::optional<fs::path> default_prefix_plugin_dir() {
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (error) return std::nullopt;
  return (executable.parent_path() / ".." / "lib" / "mmrt" / "plugins").lexically_normal();
}

std::vector<fs::path> search_directories(const PluginSearch& search) {
  std::vector<fs::path> ordered = search.dirs;
  if (search.use_env && getauxval(AT_SECURE) == 0) {
    if (const char* env = std::getenv("MMRT_PLUGIN_PATH")) {
      std::string_view remaining(env);
      while (!remaining.empty()) {
        const size_t colon = remaining.find(':');
        std::string_view entry = remaining.substr(0, colon);
        if (!entry.empty()) ordered.emplace_back(entry);
        remaining = colon == std::string_view::npos ? std::string_view() : remaining.substr(colon + 1);
      }
    }
  }
  if (search.prefix_dir) ordered.push_back(*search.prefix_dir);

  std::vector<fs::path> unique;
  std::set<fs::path> seen;
  for (const fs::path& directory : ordered) {
    std::error_code error;
    fs::path absolute = fs::weakly_canonical(fs::absolute(directory, error), error);
    if (error) absolute = fs::absolute(directory).lexically_normal();
    if (seen.insert(absolute).second) unique.push_back(absolute);
  }
  return unique;
}

Discovery discover_plugins(const PluginSearch& search) {
  return Scanner(search).run();
}

}  // namespace mmrt::plugin
