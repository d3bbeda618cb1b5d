// mmrt plugin-check LIB.so [--model DIR]: the ABI conformance checks of host/plugin_check.hpp, each run in a
// child process (this executable again, with the internal --run-check), so a plugin that crashes or hangs
// fails one check and the checker carries on. Prints one line per check and exits 1 when any failed.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/plugin/manifest.hpp"
#include "host/commands.hpp"
#include "host/plugin_check.hpp"
#include "host/runtime.hpp"

extern char** environ;

namespace mmrt::host {
namespace {

namespace fs = std::filesystem;
using plugin_check::Check;
using plugin_check::CheckTarget;

// The child writes its verdict to this descriptor, so whatever the plugin prints cannot be mistaken for one.
constexpr int kReportFd = 3;

struct Verdict {
  bool passed = false;
  std::string reason;
  std::vector<std::string> notes;
};

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// The child side: run `check` here and report on kReportFd.
int run_one(const CheckTarget& target, const Check& check) {
  FILE* report = fdopen(kReportFd, "w");
  if (report == nullptr) {
    std::fprintf(stderr, "mmrt plugin-check: --run-check is for plugin-check's own child processes\n");
    return 2;
  }
  std::vector<std::string> notes;
  std::string verdict = "PASS";
  try {
    plugin_check::run_check(target, check, notes);
  } catch (const std::exception& error) {
    verdict = "FAIL " + one_line(error.what());
  }
  for (const std::string& note : notes) std::fprintf(report, "NOTE %s\n", one_line(note).c_str());
  std::fprintf(report, "%s\n", verdict.c_str());
  std::fclose(report);
  return 0;
}

// Runs `check` in a child and reads its verdict; a signal, an exit without a verdict or a timeout fails it.
Verdict run_in_child(const CheckTarget& target, const Check& check, const std::string& log_level,
                     int timeout_s) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {
      exe, "plugin-check", target.library.string(), "--run-check", check.name, "--log-level", log_level};
  if (target.model) {
    args.push_back("--model");
    args.push_back(target.model->string());
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], kReportFd);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);  // plugin output stays off stdout
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + exe + ": " + std::strerror(spawned));
  }

  std::string output;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, int(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, size_t(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  Verdict verdict;
  bool answered = false;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("NOTE ")) verdict.notes.push_back(line.substr(5));
    if (line == "PASS") answered = verdict.passed = true;
    if (line.starts_with("FAIL ")) {
      answered = true;
      verdict.reason = line.substr(5);
    }
  }
  if (timed_out) {
    verdict = {
        false, "no verdict within " + std::to_string(timeout_s) + " s: the plugin hangs (--timeout)", {}};
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    verdict = {false,
               "the plugin crashed the process: signal " + std::to_string(sig) + " (" + strsignal(sig) + ")",
               verdict.notes};
  } else if (!answered) {
    verdict = {false,
               "the process exited with code " + std::to_string(WEXITSTATUS(status)) +
                   " before the check finished (the plugin called exit?)",
               {}};
  }
  return verdict;
}

}  // namespace

int run_plugin_check(const std::vector<std::string>& argv) {
  std::vector<std::string> rest = argv;
  std::string library;
  if (!rest.empty() && !rest.front().starts_with("--")) {
    library = rest.front();
    rest.erase(rest.begin());
  }
  Args args(
      "plugin-check",
      {{"model", true, false, "checkpoint folder to create the instance from (default: none, config {})"},
       {"timeout", true, false, "seconds each check may take (default 60)"},
       {"run-check", true, false, "internal: run one check in this process (plugin-check's children)"}},
      rest);
  if (args.flag("help")) {
    std::cout
        << "mmrt plugin-check LIB.so: loads the plugin LIB.so (with its manifest beside it) in child\n"
           "processes and runs the ABI conformance checks; exits 1 when one fails. Plugin log lines are\n"
           "off unless --log-level says otherwise.\n"
        << args.usage();
    return 0;
  }
  if (library.empty()) throw UsageError("plugin-check needs the plugin library: mmrt plugin-check LIB.so");
  setup_logging(args);
  CheckTarget target{fs::absolute(library).lexically_normal(), std::nullopt};
  if (args.has("model")) target.model = fs::absolute(args.get("model"));
  std::vector<std::string> unknown_roles;
  const std::vector<Check> checks = plugin_check::plan_checks(target, &unknown_roles);

  if (auto name = args.optional("run-check")) {
    for (const Check& check : checks) {
      if (check.name == *name) return run_one(target, check);
    }
    throw UsageError("no check named '" + *name + "'");
  }

  std::string who;
  try {
    const plugin::PluginManifest manifest =
        plugin::read_manifest(target.library.parent_path() / (target.library.stem().string() + ".mmrt.json"));
    who = " (" + manifest.id + " " + manifest.version + ")";
  } catch (const std::exception&) {
    // The manifest check says why.
  }
  std::cout << "plugin-check " << target.library.string() << who << "\n";
  for (const std::string& role : unknown_roles) {
    std::cout << "  note  role " << role << " is not known to this mmrt (ABI " << MMRT_ABI_MAJOR << "."
              << MMRT_ABI_MINOR << "): not checked\n";
  }
  const int timeout_s = int(args.get_int("timeout", 60));
  if (timeout_s <= 0) throw UsageError("--timeout must be positive");
  const std::string log_level = args.get("log-level", "off");
  int passed = 0, failed = 0;
  std::string failed_gate;
  for (const Check& check : checks) {
    if (!failed_gate.empty()) {
      std::cout << "  ----  " << check.name << ": not run, it needs \"" << failed_gate << "\"\n";
      continue;
    }
    const Verdict verdict = run_in_child(target, check, log_level, timeout_s);
    for (const std::string& note : verdict.notes)
      std::cout << "  note  " << check.name << ": " << note << "\n";
    if (verdict.passed) {
      std::cout << "  PASS  " << check.name << "\n";
      ++passed;
    } else {
      std::cout << "  FAIL  " << check.name << ": " << verdict.reason << "\n";
      ++failed;
      if (check.gate) failed_gate = check.name;
    }
    std::cout.flush();
  }
  std::cout << (failed ? "FAILED: " : "OK: ") << passed << " passed, " << failed << " failed"
            << (failed_gate.empty() ? "" : ", the rest not run") << "\n";
  return failed ? 1 : 0;
}

}  // namespace mmrt::host
