#include "scenario.hpp"

#include <mutex>

#include "core/plugin/host_api.hpp"
#include "test_probe.hpp"

namespace abi_test {
namespace {

namespace fs = std::filesystem;

std::mutex probe_mutex;
std::vector<std::string> probe_log;

void record(const char* plugin_id, const char* event) {
  std::lock_guard lock(probe_mutex);
  probe_log.push_back(std::string(plugin_id) + ":" + event);
}

constexpr TestProbe kProbe = {MMRT_SIZEOF(TestProbe, record), 0, nullptr, record};

void ensure_probe_registered() {
  static const bool registered = [] {
    mmrt::plugin::register_host_extension(TEST_PROBE_EXTENSION, &kProbe);
    return true;
  }();
  (void)registered;
}

}  // namespace

fs::path scenario_dir(const std::string& scenario) {
  return fs::path(ABI_SCENARIOS) / scenario;
}

fs::path fresh_scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(ABI_SCRATCH) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void copy_plugin(const fs::path& from, const std::string& stem, const fs::path& to) {
  fs::copy_file(from / ("lib" + stem + ".so"), to / ("lib" + stem + ".so"),
                fs::copy_options::overwrite_existing);
  fs::copy_file(from / ("lib" + stem + ".mmrt.json"), to / ("lib" + stem + ".mmrt.json"),
                fs::copy_options::overwrite_existing);
}

mmrt::plugin::PluginSearch search_only(std::vector<fs::path> dirs) {
  mmrt::plugin::PluginSearch search;
  search.dirs = std::move(dirs);
  search.use_env = false;
  return search;
}

mmrt::plugin::PluginManifest manifest_of(const std::string& scenario, const std::string& stem) {
  return mmrt::plugin::read_manifest(scenario_dir(scenario) / ("lib" + stem + ".mmrt.json"));
}

std::vector<std::string> probe_events() {
  ensure_probe_registered();
  std::lock_guard lock(probe_mutex);
  return probe_log;
}

void clear_probe_events() {
  ensure_probe_registered();
  std::lock_guard lock(probe_mutex);
  probe_log.clear();
}

}  // namespace abi_test
