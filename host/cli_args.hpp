// Command-line options of one mmrt subcommand, merged with a TOML config file.
//
// Every option a command declares may also be set in the file given by --config, under the same name
// with '_' for '-' (`plugin_dirs = ["a", "b"]`, `max_tokens = 32`); a flag on the command line wins over
// the file. Unknown flags and unknown config keys are errors that name them.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mmrt::host {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value;  // false: a boolean flag
  bool repeatable;   // values accumulate (comma-separated values are split too)
  std::string help;
};

class Args {
 public:
  Args(std::string command, std::vector<OptionSpec> specs, const std::vector<std::string>& argv);

  bool has(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::optional<std::string> optional(const std::string& name) const;
  std::vector<std::string> list(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  std::string usage() const;

 private:
  void set(const OptionSpec& spec, const std::string& value, bool from_file);
  void merge_config_file(const std::string& path);
  const OptionSpec* find(const std::string& name) const;

  std::string command_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, bool> from_cli_;
};

// Options every command accepts.
std::vector<OptionSpec> common_options();

}  // namespace mmrt::host
