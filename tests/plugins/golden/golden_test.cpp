// Every plugin's golden cases, one shared table: each tests/fixtures/<arch>/goldens.json case runs through
// `mmrt generate --json` (the real CLI, the real plugin loaded from the build's plugin folder, the CPU
// backend) and must reproduce Transformers: identical prompt and generated ids, the same text, and every
// golden top-1 log-probability within 1e-3.
#include <doctest/doctest.h>

#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures";
const fs::path kBinary = fs::path(MMRT_BINARY_DIR) / "bin" / "mmrt";
const fs::path kPlugins = fs::path(MMRT_BINARY_DIR) / "lib" / "mmrt" / "plugins";
// One row per plugin: the fixture folder under tests/fixtures whose goldens.json it must reproduce.
const char* const kPluginFixtures[] = {"llava"};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a command and returns its stdout; the exit status goes to `status`.
std::string run(const std::string& cmd, int& status) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  status = pclose(pipe);
  return out;
}

boost::json::value read_json(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return boost::json::parse(s.str());
}

std::vector<int64_t> ints(const boost::json::value& v) {
  return boost::json::value_to<std::vector<int64_t>>(v);
}

void check_case(const fs::path& dir, const boost::json::object& c) {
  const std::string name(c.at("name").as_string());
  CAPTURE(name);
  std::string cmd = shell_quote(kBinary.string()) + " generate --json --plugin-dirs " +
                    shell_quote(kPlugins.string()) + " --model " +
                    shell_quote((dir / std::string(c.at("model").as_string())).string()) + " --max-tokens " +
                    std::to_string(c.at("max_tokens").as_int64()) + " --top-logprobs 5";
  const bool chat = c.at("chat").as_bool();
  const std::string prompt(chat ? c.at("chat_messages_text").as_string() : c.at("prompt").as_string());
  cmd += " --prompt " + shell_quote(prompt);
  if (chat) cmd += " --chat";
  for (const auto& img : c.at("images").as_array()) {
    cmd += " --image " + shell_quote((dir / std::string(img.as_string())).string());
  }
  int status = 0;
  const std::string out = run(cmd + " 2>/dev/null", status);
  REQUIRE_MESSAGE(status == 0, "mmrt generate failed: " << cmd);
  const boost::json::object got = boost::json::parse(out).as_object();

  CHECK(ints(got.at("prompt_token_ids")) == ints(c.at("prompt_token_ids")));
  CHECK(ints(got.at("token_ids")) == ints(c.at("token_ids")));
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
  for (const char* fixture : kPluginFixtures) {
    const fs::path dir = kFixtures / fixture;
    const boost::json::value goldens = read_json(dir / "goldens.json");
    for (const auto& c : goldens.as_array()) {
      SUBCASE(std::string(c.at("name").as_string()).c_str()) {
        check_case(dir, c.as_object());
      }
      ++n_cases;
    }
  }
  CHECK(n_cases >= 11);
}

TEST_CASE("mmrt preprocess reports the processor output Transformers computed") {
  const fs::path dir = kFixtures / "llava";
  const boost::json::value goldens = read_json(dir / "goldens.json");
  for (const auto& cv : goldens.as_array()) {
    const auto& c = cv.as_object();
    if (c.at("images").as_array().empty()) continue;
    CAPTURE(std::string(c.at("name").as_string()));
    const std::string cmd =
        shell_quote(kBinary.string()) + " preprocess --json --plugin-dirs " + shell_quote(kPlugins.string()) +
        " --model " + shell_quote((dir / std::string(c.at("model").as_string())).string()) + " --image " +
        shell_quote((dir / std::string(c.at("images").as_array()[0].as_string())).string());
    int status = 0;
    const std::string out = run(cmd + " 2>/dev/null", status);
    REQUIRE(status == 0);
    const auto got = boost::json::parse(out).as_object();
    const auto& want = c.at("pixel_values").as_object();
    const auto& gp = got.at("pixel_values").as_object();
    CHECK(ints(gp.at("shape")) == ints(want.at("shape")));
    const auto& wh = want.at("head").as_array();
    const auto& gh = gp.at("head").as_array();
    REQUIRE(gh.size() == wh.size());
    for (size_t i = 0; i < wh.size(); ++i)
      CHECK(std::abs(gh[i].to_number<double>() - wh[i].to_number<double>()) <= 0.02);
    const double n =
        double(ints(want.at("shape"))[0] * ints(want.at("shape"))[1] * ints(want.at("shape"))[2]);
    CHECK(std::abs(gp.at("sum").to_number<double>() - want.at("sum").to_number<double>()) / n <= 0.002);
  }
}
