// mmrt plugins: the discovery decision table (loaded, shadowed, rejected and why) without running any
// plugin code.
#include <iostream>

#include "core/plugin/decision_table.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

int run_plugins(const std::vector<std::string>& argv) {
  auto specs = plugin_options();
  specs.push_back({"json", false, false, "print the table as JSON"});
  Args args("plugins", specs, argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  const plugin::PluginRegistry registry = plugin::PluginRegistry::scan(plugin_search(args));
  std::cout << (args.flag("json") ? plugin::format_decision_table_json(registry.table())
                                  : plugin::format_decision_table(registry.table()));
  return 0;
}

}  // namespace mmrt::host
