// Shared helpers for the ABI tests: where each scenario's fixture plugins were built, scratch directories for
// arrangements made at test time, and the probe that records the fixtures' lifecycle calls.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/plugin/discovery.hpp"
#include "core/plugin/manifest.hpp"

namespace abi_test {

// The build directory of one scenario's plugins, e.g. scenario_dir("good").
std::filesystem::path scenario_dir(const std::string& scenario);

// An empty scratch directory for this test (recreated on every call).
std::filesystem::path fresh_scratch_dir(const std::string& name);

// Copies lib<stem>.so and lib<stem>.mmrt.json from `from` into `to`.
void copy_plugin(const std::filesystem::path& from, const std::string& stem, const std::filesystem::path& to);

// A search of exactly `dirs`: no environment, no install prefix.
mmrt::plugin::PluginSearch search_only(std::vector<std::filesystem::path> dirs);

// The manifest of lib<stem> in `scenario`.
mmrt::plugin::PluginManifest manifest_of(const std::string& scenario, const std::string& stem);

// "<plugin id>:<event>" for every probe call since the last clear, in order. The probe extension is
// registered with the host on first use of either function.
std::vector<std::string> probe_events();
void clear_probe_events();

}  // namespace abi_test
