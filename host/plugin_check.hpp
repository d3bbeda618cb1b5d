// The conformance checks of `mmrt plugin-check`: what a plugin author needs to know holds before shipping a
// .so. Each check runs alone in a child process (cmd_plugin_check.cpp), so a plugin that crashes or hangs
// fails that check and nothing else.
//
// The checks, in order: the manifest; the library file (ELF, exports, sha256); entry and version
// negotiation; loading as the host loads; create and destroy; create with bad arguments; get_role; for
// every role the descriptor declares, its table, its error paths on bad arguments, real calls and, where a
// slot is [thread-safe], concurrent calls; and create/destroy cycles without leaks. The first five are gates:
// when one fails, the checks after it are not run.
//
// The per-role checks are table-driven (role_specs() in plugin_check.cpp): a new role is one more entry.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mmrt::host::plugin_check {

// A failed check, with the reason the author reads.
class CheckFailed : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The plugin under test and the model it is created with. Builds what a check asks for on first use (the
// manifest, the loaded plugin, an instance); throws CheckFailed when that cannot be built. One per process.
class Subject;

struct CheckTarget {
  std::filesystem::path library;               // lib<name>.so; its manifest is lib<name>.mmrt.json beside it
  std::optional<std::filesystem::path> model;  // a checkpoint to create the instance from, else none
};

struct Check {
  std::string name;
  bool gate;  // the checks after it need it to pass
  void (*run)(Subject& subject, const std::string& role_id);
  std::string role_id;  // for the per-role checks, else empty
};

// The checks for `target`, in order. Reads the manifest (no plugin code) for the declared roles; roles this
// host does not know are listed in `unknown_roles` and get no checks.
std::vector<Check> plan_checks(const CheckTarget& target, std::vector<std::string>* unknown_roles);

// Runs one check in this process; throws CheckFailed (or any exception) when it fails. `notes` receives
// remarks that do not fail the check.
void run_check(const CheckTarget& target, const Check& check, std::vector<std::string>& notes);

}  // namespace mmrt::host::plugin_check
