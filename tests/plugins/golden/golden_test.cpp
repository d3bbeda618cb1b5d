// Every plugin's golden cases, one shared table: each tests/fixtures/<arch>/goldens.json case runs through
// `mmrt generate --json` (the real CLI, the real plugin loaded from the build's plugin folder, the CPU
// backend) and must reproduce Transformers: identical prompt and generated ids, the same text, and every
// golden top-1 log-probability within 1e-3.
#include <doctest/doctest.h>

#include "tests/plugins/golden/golden_case.hpp"

#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mmrt;

namespace {

void check_case(const fs::path& dir, const boost::json::object& c,
                const fs::path& plugin_dir = test::kPluginDir) {
  const std::string name(c.at("name").as_string());
  CAPTURE(name);
  const std::string cmd = test::generate_command(dir, c, "", plugin_dir);
  const test::CommandResult r = test::run_command(cmd + " 2>/dev/null");
  REQUIRE_MESSAGE(r.exit_code == 0, "mmrt generate failed: " << cmd);
  const boost::json::object got = boost::json::parse(r.out).as_object();

  CHECK(test::prompt_matches(got, c));
  CHECK(test::ints(got.at("token_ids")) == test::ints(c.at("token_ids")));
  CHECK(got.at("finish_reason").as_string() == c.at("finish_reason").as_string());
  CHECK(got.at("text").as_string() == c.at("text").as_string());

  const auto& want_lp = c.at("top_logprobs").as_array();
  const auto& got_lp = got.at("top_logprobs").as_array();
  REQUIRE(got_lp.size() == want_lp.size());
  double worst = 0;
  for (size_t step = 0; step < want_lp.size(); ++step) {
    const auto& want_top1 = want_lp[step].as_array().at(0).as_array();
    const auto& got_top1 = got_lp[step].as_array().at(0).as_array();
    CHECK(got_top1.at(0).as_int64() == want_top1.at(0).as_int64());
    worst =
        std::max(worst, std::abs(got_top1.at(1).to_number<double>() - want_top1.at(1).to_number<double>()));
  }
  CHECK_MESSAGE(worst <= 1e-3, "largest top-1 logprob difference " << worst);
}

}  // namespace

TEST_CASE("plugins reproduce the Transformers goldens through mmrt generate") {
  int n_cases = 0;
  for (const char* fixture : test::kPluginFixtures) {
    const fs::path dir = test::fixture_dir(fixture);
    const boost::json::value goldens = test::read_json(dir / "goldens.json");
    for (const auto& c : goldens.as_array()) {
      SUBCASE(std::string(c.at("name").as_string()).c_str()) {
        check_case(dir, c.as_object());
      }
      ++n_cases;
    }
  }
  CHECK(n_cases >= 26);
}

// The LLaVA plugin binary as the last ABI 1.0 commit built it (tests/fixtures/abi_1_0/README.md): the 1.1
// host must select it from --plugin-dirs, load it and give the same answers as the current plugin.
TEST_CASE("a plugin built against ABI 1.0 runs unchanged on the 1.1 host") {
  const fs::path legacy = test::kSourceDir / "tests" / "fixtures" / "abi_1_0";
  const test::CommandResult listed =
      test::run_command(test::shell_quote(test::kMmrt.string()) + " plugins --json --plugin-dirs " +
                        test::shell_quote(legacy.string()) + " 2>/dev/null");
  REQUIRE(listed.exit_code == 0);
  const boost::json::value listing = boost::json::parse(listed.out);
  int n_selected = 0;
  for (const auto& p : listing.at("plugins").as_array()) {
    if (p.at("status").as_string() != "available" ||
        p.at("architecture").as_string() != "LlavaForConditionalGeneration") {
      continue;  // other plugins of the build folder are listed too
    }
    CHECK(std::string(p.at("path").as_string()) == (legacy / "libmmrt_llava.so").string());
    ++n_selected;
  }
  CHECK(n_selected == 1);
  const boost::json::value manifest = test::read_json(legacy / "libmmrt_llava.mmrt.json");
  CHECK(manifest.at("abi").at("built_minor").as_int64() == 0);
  const fs::path dir = test::fixture_dir("llava");
  const boost::json::value goldens = test::read_json(dir / "goldens.json");
  int n_cases = 0;
  for (const auto& c : goldens.as_array()) {
    SUBCASE(std::string(c.at("name").as_string()).c_str()) {
      check_case(dir, c.as_object(), legacy);
    }
    ++n_cases;
  }
  CHECK(n_cases >= 11);
}

TEST_CASE("mmrt preprocess reports the processor output Transformers computed") {
  int n_cases = 0;
  for (const char* fixture : test::kPluginFixtures) {
    const fs::path dir = test::fixture_dir(fixture);
    const boost::json::value goldens = test::read_json(dir / "goldens.json");
    for (const auto& cv : goldens.as_array()) {
      const auto& c = cv.as_object();
      if (c.at("images").as_array().empty()) continue;
      CAPTURE(std::string(c.at("name").as_string()));
      const std::string cmd =
          test::shell_quote(test::kMmrt.string()) + " preprocess --json --plugin-dirs " +
          test::shell_quote(test::kPluginDir.string()) + " --model " +
          test::shell_quote((dir / std::string(c.at("model").as_string())).string()) + " --image " +
          test::shell_quote((dir / std::string(c.at("images").as_array()[0].as_string())).string());
      const test::CommandResult r = test::run_command(cmd + " 2>/dev/null");
      REQUIRE(r.exit_code == 0);
      const auto got = boost::json::parse(r.out).as_object();
      const auto& want = c.at("pixel_values").as_object();
      const auto& gp = got.at("pixel_values").as_object();
      const std::vector<int64_t> shape = test::ints(want.at("shape"));
      CHECK(test::ints(gp.at("shape")) == shape);
      const auto& wh = want.at("head").as_array();
      const auto& gh = gp.at("head").as_array();
      REQUIRE(gh.size() == wh.size());
      for (size_t i = 0; i < wh.size(); ++i)
        CHECK(std::abs(gh[i].to_number<double>() - wh[i].to_number<double>()) <= 0.02);
      double n = 1;
      for (int64_t d : shape) n *= double(d);
      CHECK(std::abs(gp.at("sum").to_number<double>() - want.at("sum").to_number<double>()) / n <= 0.002);
      // Processors with per-image metadata (Qwen2-VL) report the grid and the token count too.
      if (want.contains("image_grid_thw")) {
        CHECK(test::ints(got.at("image_grid_thw").as_array().at(0)) == test::ints(want.at("image_grid_thw")));
        CHECK(got.at("num_image_tokens").as_int64() == want.at("num_image_tokens").as_int64());
      }
      ++n_cases;
    }
  }
  CHECK(n_cases >= 20);
}
