// The shared golden table: which fixture folders hold Transformers goldens, and how one case becomes an
// `mmrt generate` command line.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/command.hpp"

namespace mmrt::test {

// One row per plugin: the folder under tests/fixtures whose goldens.json it must reproduce.
inline const char* const kPluginFixtures[] = {"llava", "blip2", "nougat", "qwen2_vl"};

inline std::filesystem::path fixture_dir(const char* fixture) {
  return kSourceDir / "tests" / "fixtures" / fixture;
}

inline std::vector<int64_t> ints(const boost::json::value& v) {
  return boost::json::value_to<std::vector<int64_t>>(v);
}

// Whether `mmrt generate --json` output `got` has golden case `c`'s prompt: the same prompt ids, or, for an
// encoder-decoder model that reads pixels only (Nougat: Transformers has no prompt ids, prompt_token_ids is
// null), as many prompt tokens as Transformers' encoder output has rows (mmrt counts the memory).
inline bool prompt_matches(const boost::json::object& got, const boost::json::object& c) {
  if (c.at("prompt_token_ids").is_null()) {
    return got.at("usage").at("prompt_tokens").as_int64() == c.at("encoder_input_rows").as_int64();
  }
  return ints(got.at("prompt_token_ids")) == ints(c.at("prompt_token_ids"));
}

// `mmrt generate --json` for golden case `c` of fixture folder `dir`, greedy, with the top-5 log-probs.
// Plugins come from `plugin_dir` (the build's plugin folder unless given).
inline std::string generate_command(const std::filesystem::path& dir, const boost::json::object& c,
                                    const std::string& extra_flags = "",
                                    const std::filesystem::path& plugin_dir = kPluginDir) {
  std::string cmd = shell_quote(kMmrt.string()) + " generate --json --top-logprobs 5 --plugin-dirs " +
                    shell_quote(plugin_dir.string()) + " --model " +
                    shell_quote((dir / std::string(c.at("model").as_string())).string()) + " --max-tokens " +
                    std::to_string(c.at("max_tokens").as_int64()) + " " + extra_flags;
  const bool chat = c.at("chat").as_bool();
  const std::string prompt(chat ? c.at("chat_messages_text").as_string() : c.at("prompt").as_string());
  cmd += " --prompt " + shell_quote(prompt);
  if (chat) cmd += " --chat";
  for (const auto& img : c.at("images").as_array()) {
    cmd += " --image " + shell_quote((dir / std::string(img.as_string())).string());
  }
  return cmd;
}

}  // namespace mmrt::test
