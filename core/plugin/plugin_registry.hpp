// The host's view of its plugins: the decision table from one discovery scan, and lazy loading of the file
// selected for an architecture the first time a model needs it.
//
//   PluginRegistry registry = PluginRegistry::scan({.dirs = {"./my-plugins"}, .prefix_dir =
//                                                   default_prefix_plugin_dir()});
//   std::shared_ptr<LoadedPlugin> llava = registry.load_for_architecture("LlavaForConditionalGeneration");
//   Instance model = llava->create(args);
#pragma once

#include <memory>
#include <string_view>

#include "core/plugin/decision_table.hpp"
#include "core/plugin/discovery.hpp"
#include "core/plugin/loaded_plugin.hpp"

namespace mmrt::plugin {

// Movable, not copyable. load_for_architecture may be called from several threads; table() must not be read
// while another thread loads (a load updates the row it loads from).
class PluginRegistry {
 public:
  // Scans `search` (see discovery.h); runs no plugin code.
  static PluginRegistry scan(const PluginSearch& search);

  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;
  ~PluginRegistry();

  const DecisionTable& table() const;

  // The plugin selected for `architecture`, loaded on the first call and shared afterwards (its row becomes
  // "loaded"). A load failure turns the row "rejected" with the reason and throws PluginError; there is no
  // fallback to a lower directory, so a broken override is never silently replaced. When no file is selected
  // throws PluginError (NOT_FOUND, or FAILED_PRECONDITION for a conflict) naming the architecture, every
  // candidate row with its status and reason, and any files whose architectures are unknown.
  std::shared_ptr<LoadedPlugin> load_for_architecture(std::string_view architecture);

 private:
  struct State;
  explicit PluginRegistry(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace mmrt::plugin
