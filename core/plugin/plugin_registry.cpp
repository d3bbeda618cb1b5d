#include "core/plugin/plugin_registry.hpp"

#include <map>
#include <mutex>
#include <string>

#include "core/plugin/status.hpp"

namespace mmrt::plugin {

struct PluginRegistry::State {
  AbiWindow abi_window;
  Discovery discovery;
  std::mutex mutex;  // guards discovery.table, discovery.selected and loaded
  std::map<std::string, std::shared_ptr<LoadedPlugin>, std::less<>> loaded;  // by architecture
};

namespace {

std::string describe_candidates(const DecisionTable& table, std::string_view architecture) {
  std::string text;
  for (const DecisionRow& row : table.rows) {
    if (row.architecture != architecture) continue;
    text += "\n  " + row.path.string() + " (" + std::string(decision_name(row.decision)) +
            (row.reason.empty() ? "" : ": " + row.reason) + ")";
  }
  if (text.empty()) text = "\n  (no plugin declares it)";
  std::string unknown;
  for (const DecisionRow& row : table.rows) {
    if (row.architecture.empty()) unknown += "\n  " + row.path.string() + " (" + row.reason + ")";
  }
  if (!unknown.empty()) text += "\nrejected before their architectures were known:" + unknown;
  return text;
}

}  // namespace

PluginRegistry::PluginRegistry(std::unique_ptr<State> state) : state_(std::move(state)) {}
PluginRegistry::PluginRegistry(PluginRegistry&&) noexcept = default;
PluginRegistry& PluginRegistry::operator=(PluginRegistry&&) noexcept = default;
PluginRegistry::~PluginRegistry() = default;

PluginRegistry PluginRegistry::scan(const PluginSearch& search) {
  auto state = std::make_unique<State>();
  state->abi_window = search.abi_window;
  state->discovery = discover_plugins(search);
  return PluginRegistry(std::move(state));
}

const DecisionTable& PluginRegistry::table() const {
  return state_->discovery.table;
}

std::shared_ptr<LoadedPlugin> PluginRegistry::load_for_architecture(std::string_view architecture) {
  std::lock_guard lock(state_->mutex);
  if (auto it = state_->loaded.find(architecture); it != state_->loaded.end()) return it->second;

  Discovery& discovery = state_->discovery;
  auto selected = discovery.selected.find(architecture);
  if (selected == discovery.selected.end()) {
    bool conflict = false;
    for (const DecisionRow& row : discovery.table.rows) {
      conflict |= row.architecture == architecture && row.decision == Decision::kConflict;
    }
    throw PluginError(conflict ? MMRT_STATUS_FAILED_PRECONDITION : MMRT_STATUS_NOT_FOUND, "",
                      "no usable plugin for architecture " + std::string(architecture) +
                          "; candidates:" + describe_candidates(discovery.table, architecture));
  }
  DecisionRow& row = discovery.table.rows[discovery.selected_row.at(std::string(architecture))];
  auto reject = [&](const std::string& reason) {
    row.decision = Decision::kRejected;
    row.reason = "load failed: " + reason;
    discovery.selected.erase(selected);
    discovery.selected_row.erase(discovery.selected_row.find(architecture));
  };
  try {
    std::shared_ptr<LoadedPlugin> plugin = load_plugin(selected->second, state_->abi_window);
    row.decision = Decision::kLoaded;
    state_->loaded.emplace(std::string(architecture), plugin);
    return plugin;
  } catch (const PluginError& error) {
    reject(error.message());
    throw PluginError(error.code(), error.plugin_id(),
                      "architecture " + std::string(architecture) + ": " + error.message());
  } catch (const std::exception& error) {
    const std::string plugin_id = selected->second.id;
    reject(error.what());
    throw PluginError(MMRT_STATUS_INTERNAL, plugin_id,
                      "architecture " + std::string(architecture) + ": " + error.what());
  }
}

}  // namespace mmrt::plugin
