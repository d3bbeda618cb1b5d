// The golden table again, through `mmrt generate --device cuda` (needs a GPU: ctest label `gpu`). In the
// f32 test mode (MMRT_CUDA_DTYPE=f32) the GPU must reproduce Transformers exactly as the CPU does: the same
// prompt and generated ids, the same text, every top-1 log-probability within 1e-3. In bf16, the serving
// default, rounding may flip a near-tie later in a generation, so the first generated token must agree and
// every top-1 log-probability must be within 0.05 for as long as the tokens agree.
#include <doctest/doctest.h>

#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures";
const fs::path kBinary = fs::path(MMRT_BINARY_DIR) / "bin" / "mmrt";
const fs::path kPlugins = fs::path(MMRT_BINARY_DIR) / "lib" / "mmrt" / "plugins";
const char* const kPluginFixtures[] = {"llava"};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

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

enum class Mode { exact_f32, bf16 };

void check_case(const fs::path& dir, const boost::json::object& c, Mode mode) {
  const std::string name(c.at("name").as_string());
  CAPTURE(name);
  const std::string dtype = mode == Mode::exact_f32 ? "f32" : "bf16";
  std::string cmd = "MMRT_CUDA_DTYPE=" + dtype + " " + shell_quote(kBinary.string()) +
                    " generate --json --device cuda --plugin-dirs " + shell_quote(kPlugins.string()) +
                    " --model " + shell_quote((dir / std::string(c.at("model").as_string())).string()) +
                    " --max-tokens " + std::to_string(c.at("max_tokens").as_int64()) + " --top-logprobs 5";
  const bool chat = c.at("chat").as_bool();
  const std::string prompt(chat ? c.at("chat_messages_text").as_string() : c.at("prompt").as_string());
  cmd += " --prompt " + shell_quote(prompt);
  if (chat) cmd += " --chat";
  for (const auto& img : c.at("images").as_array()) {
    cmd += " --image " + shell_quote((dir / std::string(img.as_string())).string());
  }
  // stdout is the JSON; stderr (logs, the error of a failed run) goes to a file shown on failure.
  const fs::path log =
      fs::temp_directory_path() / ("mmrt_golden_cuda_" + std::to_string(::getpid()) + ".log");
  int status = 0;
  const std::string out = run(cmd + " 2>" + shell_quote(log.string()), status);
  if (status != 0) {
    std::ifstream in(log);
    std::stringstream err;
    err << in.rdbuf();
    FAIL("mmrt generate failed: " << cmd << "\n" << err.str());
  }
  fs::remove(log);
  const boost::json::object got = boost::json::parse(out).as_object();
  CHECK(ints(got.at("prompt_token_ids")) == ints(c.at("prompt_token_ids")));

  const std::vector<int64_t> want_ids = ints(c.at("token_ids")), got_ids = ints(got.at("token_ids"));
  const auto& want_lp = c.at("top_logprobs").as_array();
  const auto& got_lp = got.at("top_logprobs").as_array();
  double worst = 0;
  size_t agreed = 0;
  while (agreed < want_ids.size() && agreed < got_ids.size() && want_ids[agreed] == got_ids[agreed]) ++agreed;
  for (size_t step = 0; step < agreed && step < want_lp.size() && step < got_lp.size(); ++step) {
    const double want = want_lp[step].as_array().at(0).as_array().at(1).to_number<double>();
    const double have = got_lp[step].as_array().at(0).as_array().at(1).to_number<double>();
    worst = std::max(worst, std::abs(have - want));
  }
  if (mode == Mode::exact_f32) {
    CHECK(got_ids == want_ids);
    CHECK(got.at("text").as_string() == c.at("text").as_string());
    CHECK(got.at("finish_reason").as_string() == c.at("finish_reason").as_string());
    CHECK_MESSAGE(worst <= 1e-3, "largest top-1 logprob difference " << worst);
  } else {
    REQUIRE(!got_ids.empty());
    CHECK(got_ids[0] == want_ids.at(0));
    if (agreed < want_ids.size()) MESSAGE("bf16 diverges from the golden at generated token " << agreed);
    CHECK_MESSAGE(worst <= 0.05,
                  "largest top-1 logprob difference " << worst << " over " << agreed << " tokens");
  }
}

void run_table(Mode mode) {
  int n_cases = 0;
  for (const char* fixture : kPluginFixtures) {
    const fs::path dir = kFixtures / fixture;
    const boost::json::value goldens = read_json(dir / "goldens.json");
    for (const auto& c : goldens.as_array()) {
      SUBCASE(std::string(c.at("name").as_string()).c_str()) {
        check_case(dir, c.as_object(), mode);
      }
      ++n_cases;
    }
  }
  CHECK(n_cases >= 11);
}

}  // namespace

TEST_CASE("on CUDA in f32, plugins reproduce the Transformers goldens exactly") {
  run_table(Mode::exact_f32);
}

TEST_CASE("on CUDA in bf16, plugins stay within 0.05 of the golden log-probabilities") {
  run_table(Mode::bf16);
}
