#include "host/cli_args.hpp"

#include <toml++/toml.h>
#include <charconv>
#include <sstream>

namespace mmrt::host {

std::vector<OptionSpec> common_options() {
  return {
      {"config", true, false, "TOML file with default values for any option of this command"},
      {"log-level", true, false, "trace|debug|info|warn|error|off (default warn)"},
      {"help", false, false, "show this help"},
  };
}

Args::Args(std::string command, std::vector<OptionSpec> specs, const std::vector<std::string>& argv)
    : command_(std::move(command)), specs_(std::move(specs)) {
  for (auto& s : common_options()) specs_.push_back(s);
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) throw UsageError(command_ + ": unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = find(name);
    if (!spec) throw UsageError(command_ + ": unknown option --" + name);
    if (!spec->takes_value) {
      if (inline_value) throw UsageError(command_ + ": --" + name + " takes no value");
      set(*spec, "true", false);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) throw UsageError(command_ + ": --" + name + " needs a value");
      value = argv[++i];
    }
    set(*spec, value, false);
  }
  if (has("config")) merge_config_file(get("config"));
}

const OptionSpec* Args::find(const std::string& name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void Args::set(const OptionSpec& spec, const std::string& value, bool from_file) {
  auto& slot = values_[spec.name];
  if (!from_file) {
    if (!from_cli_[spec.name]) slot.clear();
    from_cli_[spec.name] = true;
  }
  if (spec.repeatable) {
    std::stringstream parts(value);
    std::string part;
    while (std::getline(parts, part, ',')) {
      if (!part.empty()) slot.push_back(part);
    }
  } else {
    slot = {value};
  }
}

void Args::merge_config_file(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path << ":" << e.source().begin.line << ": " << e.description();
    throw UsageError(msg.str());
  }
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    for (char& c : name) c = c == '_' ? '-' : c;
    const OptionSpec* spec = find(name);
    if (!spec || name == "config") throw UsageError(path + ": unknown key '" + std::string(key.str()) + "'");
    if (from_cli_[name]) continue;
    // Test the node's type first: toml++'s value<bool>() also converts integers.
    auto scalar = [&](const toml::node& n) -> std::string {
      if (n.is_string()) return *n.value<std::string>();
      if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
      if (n.is_integer()) return std::to_string(*n.value<int64_t>());
      if (n.is_floating_point()) {
        std::ostringstream o;
        o << *n.value<double>();
        return o.str();
      }
      throw UsageError(path + ": key '" + std::string(key.str()) + "' has an unsupported type");
    };
    if (auto* arr = node.as_array()) {
      if (!spec->repeatable)
        throw UsageError(path + ": key '" + std::string(key.str()) + "' takes one value");
      for (const auto& el : *arr) set(*spec, scalar(el), true);
    } else {
      const std::string v = scalar(node);
      if (!spec->takes_value && v == "false") continue;
      set(*spec, v, true);
    }
  }
}

bool Args::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

bool Args::flag(const std::string& name) const {
  return has(name) && values_.at(name).back() == "true";
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  return has(name) ? values_.at(name).back() : fallback;
}

std::optional<std::string> Args::optional(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return values_.at(name).back();
}

std::vector<std::string> Args::list(const std::string& name) const {
  return has(name) ? values_.at(name) : std::vector<std::string>{};
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    throw UsageError(command_ + ": --" + name + " expects an integer, got '" + v + "'");
  }
  return out;
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    double out = std::stod(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return out;
  } catch (const std::exception&) {
    throw UsageError(command_ + ": --" + name + " expects a number, got '" + v + "'");
  }
}

std::string Args::usage() const {
  std::ostringstream o;
  o << "usage: mmrt " << command_ << " [options]\n";
  for (const auto& s : specs_) {
    o << "  --" << s.name << (s.takes_value ? " VALUE" : "") << (s.repeatable ? " (repeatable)" : "");
    o << "\n      " << s.help << "\n";
  }
  return o.str();
}

}  // namespace mmrt::host
