// What every mmrt command sets up the same way: logging, the plugin search path and model loading.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/engine/model.hpp"
#include "core/plugin/plugin_registry.hpp"
#include "host/cli_args.hpp"

namespace mmrt::host {

// Options for commands that load plugins (--plugin-dirs) or a model (--model, --device).
std::vector<OptionSpec> plugin_options();
std::vector<OptionSpec> model_options();

// Logs go to stderr; stdout is reserved for the command's output.
void setup_logging(const Args& args);
plugin::PluginSearch plugin_search(const Args& args);

struct LoadedModel {
  plugin::PluginRegistry registry;
  std::unique_ptr<engine::Model> model;
};
LoadedModel load_model(const Args& args);

// Reads a whole file; throws naming it.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace mmrt::host
