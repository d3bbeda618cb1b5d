#include "host/runtime.hpp"

#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace mmrt::host {

std::vector<OptionSpec> plugin_options() {
  return {
      {"plugin-dirs", true, true, "plugin directories, searched first, in order (also MMRT_PLUGIN_PATH)"}};
}

std::vector<OptionSpec> model_options() {
  auto out = plugin_options();
  out.push_back({"model", true, false, "Hugging Face model folder (config.json, safetensors, tokenizer)"});
  out.push_back({"device", true, false, "cpu|cuda (default cpu)"});
  out.push_back({"chat-template", true, false, "Jinja file used instead of the checkpoint's chat template"});
  return out;
}

void setup_logging(const Args& args) {
  auto logger = spdlog::stderr_color_mt("mmrt");
  spdlog::set_default_logger(logger);
  const std::string level = args.get("log-level", "warn");
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") throw UsageError("unknown --log-level '" + level + "'");
  spdlog::set_level(parsed);
}

plugin::PluginSearch plugin_search(const Args& args) {
  plugin::PluginSearch search;
  for (const auto& d : args.list("plugin-dirs")) search.dirs.emplace_back(d);
  search.prefix_dir = plugin::default_prefix_plugin_dir();
  return search;
}

LoadedModel load_model(const Args& args) {
  if (!args.has("model")) throw UsageError("--model is required");
  const std::string dir = args.get("model");
  const auto started = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO);
  LoadedModel out{plugin::PluginRegistry::scan(plugin_search(args)), nullptr};
  engine::ModelLoadOptions options;
  options.dir = dir;
  options.device = args.get("device", "cpu");
  options.chat_template = args.get("chat-template");
  if (tty) {
    // One self-overwriting line, redrawn at most once per percent.
    options.progress = [&dir, last = -1](uint64_t read, uint64_t total) mutable {
      const int percent = total ? int(100 * read / total) : 100;
      if (percent == last) return;
      last = percent;
      std::fprintf(stderr, "\rloading %s: %3d%% (%.2f of %.2f GB)", dir.c_str(), percent, double(read) / 1e9,
                   double(total) / 1e9);
    };
  }
  out.model = engine::Model::load(options, out.registry);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (tty) std::fprintf(stderr, "\rloaded %s in %.2f s%30s\n", dir.c_str(), s, "");
  return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace mmrt::host
