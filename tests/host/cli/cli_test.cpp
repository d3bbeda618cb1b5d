// The command-line contract other tools rely on: tokenize/detokenize print exactly what Transformers'
// tokenizer gives, `plugins` prints its decision table, options come from flags or a TOML file (flags
// win), and bad usage fails with exit code 2 and a message instead of a crash.
#include <doctest/doctest.h>

#include "tests/support/command.hpp"

#include <sys/wait.h>
#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace fs = std::filesystem;

namespace {

const fs::path kPlugins = mmrt::test::kPluginDir;
const fs::path kLlama = mmrt::test::kSourceDir / "tests" / "fixtures" / "tokenizers" / "llama2";
const fs::path& kSource = mmrt::test::kSourceDir;
using mmrt::test::read_json;

std::string quote(const std::string& s) {
  return mmrt::test::shell_quote(s);
}

// Runs mmrt with `args`; stderr is kept only when asked (to check error messages).
mmrt::test::CommandResult run(const std::string& args, bool with_stderr = false) {
  return mmrt::test::run_command(quote(mmrt::test::kMmrt.string()) + " " + args +
                                 (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace

TEST_CASE("tokenize --json prints Transformers' ids, with and without special tokens") {
  const boost::json::value goldens = read_json(kLlama / "goldens.json");
  int checked = 0;
  for (const auto& cv : goldens.at("cases").as_array()) {
    const auto& c = cv.as_object();
    const std::string text(c.at("text").as_string());
    if (text.empty() || text.find('\0') != std::string::npos) continue;
    CAPTURE(text);
    const fs::path file = fs::temp_directory_path() / "mmrt_cli_test_text.txt";
    std::ofstream(file, std::ios::binary) << text;
    const auto with =
        run("tokenize --json --model " + quote(kLlama.string()) + " --file " + quote(file.string()));
    REQUIRE(with.exit_code == 0);
    CHECK(boost::json::parse(with.out).at("ids") == c.at("ids"));
    const auto without =
        run("tokenize --json --no-special --model " + quote(kLlama.string()) + " --text " + quote(text));
    REQUIRE(without.exit_code == 0);
    CHECK(boost::json::parse(without.out).at("ids") == c.at("ids_no_special"));
    ++checked;
  }
  CHECK(checked > 20);
}

TEST_CASE("detokenize prints the text Transformers decodes") {
  const boost::json::value goldens = read_json(kLlama / "goldens.json");
  const auto& c = goldens.at("cases").as_array().at(3).as_object();
  std::string ids;
  for (const auto& id : c.at("ids").as_array())
    ids += (ids.empty() ? "" : ",") + std::to_string(id.as_int64());
  const auto r = run("detokenize --json --model " + quote(kLlama.string()) + " --ids " + ids);
  REQUIRE(r.exit_code == 0);
  CHECK(boost::json::parse(r.out).at("text") == c.at("decoded"));
  const auto skip =
      run("detokenize --json --skip-special --model " + quote(kLlama.string()) + " --ids " + ids);
  CHECK(boost::json::parse(skip.out).at("text") == c.at("decoded_skip_special"));
}

TEST_CASE("plugins lists the LLaVA and BLIP-2 plugins as available, in text and JSON") {
  const auto text = run("plugins --plugin-dirs " + quote(kPlugins.string()));
  REQUIRE(text.exit_code == 0);
  const auto json = run("plugins --json --plugin-dirs " + quote(kPlugins.string()));
  REQUIRE(json.exit_code == 0);
  const boost::json::value table = boost::json::parse(json.out);
  for (auto [architecture, id] : {std::pair{"LlavaForConditionalGeneration", "org.mmrt.llava"},
                                  std::pair{"Blip2ForConditionalGeneration", "org.mmrt.blip2"}}) {
    CAPTURE(architecture);
    CHECK(text.out.find(architecture) != std::string::npos);
    bool found = false;
    for (const auto& row : table.at("plugins").as_array()) {
      if (row.at("architecture") == architecture && row.at("id") == id) {
        found = true;
        CHECK(row.at("status") == "available");
      }
    }
    CHECK(found);
  }
  const auto missing = run("plugins --plugin-dirs /nonexistent/mmrt/plugins", true);
  CHECK(missing.exit_code == 0);
  CHECK(missing.out.find("/nonexistent/mmrt/plugins") != std::string::npos);
}

TEST_CASE("a TOML config supplies options and a flag overrides it") {
  const fs::path config = fs::temp_directory_path() / "mmrt_cli_test.toml";
  std::ofstream(config) << "model = " << boost::json::serialize(boost::json::value(kLlama.string())) << "\n"
                        << "no_special = true\n"
                        << "log_level = \"warn\"\n";
  const auto from_file = run("tokenize --json --config " + quote(config.string()) + " --text Hello");
  REQUIRE(from_file.exit_code == 0);
  const auto ids = boost::json::parse(from_file.out).at("ids").as_array();
  REQUIRE_FALSE(ids.empty());
  CHECK(ids.front().as_int64() != 1);  // no BOS: no_special came from the file

  // Integers, floats and arrays come through as the flags would.
  const fs::path model = kSource / "tests" / "fixtures" / "llava" / "llava_default";
  std::ofstream(config) << "model = " << boost::json::serialize(boost::json::value(model.string())) << "\n"
                        << "plugin_dirs = [" << boost::json::serialize(boost::json::value(kPlugins.string()))
                        << "]\nmax_tokens = 3\ntemperature = 0.0\nprompt = \"Hello\"\n";
  const auto generated = run("generate --json --config " + quote(config.string()));
  REQUIRE(generated.exit_code == 0);
  CHECK(boost::json::parse(generated.out).at("token_ids").as_array().size() == 3);
  const auto overridden = run("generate --json --max-tokens 2 --config " + quote(config.string()));
  REQUIRE(overridden.exit_code == 0);
  CHECK(boost::json::parse(overridden.out).at("token_ids").as_array().size() == 2);

  std::ofstream(config) << "unknown_key = 3\n";
  const auto bad = run("tokenize --config " + quote(config.string()) + " --text x", true);
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.find("unknown_key") != std::string::npos);
}

TEST_CASE("bad usage and bad input exit with a message, never a crash") {
  const auto unknown_cmd = run("frobnicate", true);
  CHECK(unknown_cmd.exit_code == 2);
  const auto unknown_flag = run("generate --model x --frob", true);
  CHECK(unknown_flag.exit_code == 2);
  CHECK(unknown_flag.out.find("--frob") != std::string::npos);
  const auto no_model = run("generate --prompt hi", true);
  CHECK(no_model.exit_code == 2);
  const auto bad_dir =
      run("generate --model /nonexistent --prompt hi --plugin-dirs " + quote(kPlugins.string()), true);
  CHECK(bad_dir.exit_code == 1);
  CHECK(bad_dir.out.find("/nonexistent") != std::string::npos);
  const fs::path model = kSource / "tests" / "fixtures" / "llava" / "llava_default";
  const auto bad_image =
      run("generate --model " + quote(model.string()) + " --prompt hi --image " +
              quote((kSource / "README.md").string()) + " --plugin-dirs " + quote(kPlugins.string()),
          true);
  CHECK(bad_image.exit_code == 1);
  CHECK(bad_image.out.find("README.md") != std::string::npos);
  const auto bad_ids = run("detokenize --model " + quote(kLlama.string()) + " --ids 1,x", true);
  CHECK(bad_ids.exit_code == 2);
}
