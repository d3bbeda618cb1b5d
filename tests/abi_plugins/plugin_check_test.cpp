// mmrt plugin-check: the verdicts on every in-tree plugin (all pass) and on deliberately broken plugins
// (plugins/conformance_plugin.cpp, one defect each), including ones that crash and hang.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>

#include "tests/support/command.hpp"

namespace fs = std::filesystem;
using mmrt::test::kMmrt;
using mmrt::test::kPluginDir;
using mmrt::test::kSourceDir;
using mmrt::test::run_command;
using mmrt::test::shell_quote;

namespace {

mmrt::test::CommandResult plugin_check(const fs::path& library, const std::string& extra = "") {
  return run_command(shell_quote(kMmrt.string()) + " plugin-check " + shell_quote(library.string()) + " " +
                     extra);
}

fs::path check_plugin(const std::string& defect) {
  return fs::path(PLUGIN_CHECK_DIR) / ("libcheck_" + defect + ".so");
}

bool has_line(const std::string& out, const std::string& start) {
  return out.find("\n  " + start) != std::string::npos;
}

}  // namespace

TEST_CASE("plugin-check passes every in-tree plugin, created from its fixture checkpoint") {
  // The checkpoint each in-tree architecture is checked with; a new plugin adds its fixture here.
  const std::map<std::string, fs::path> fixtures = {
      {"LlavaForConditionalGeneration", kSourceDir / "tests/fixtures/llava/llava_default"},
      {"Blip2ForConditionalGeneration", kSourceDir / "tests/fixtures/blip2/blip2_opt"},
      {"VisionEncoderDecoderModel", kSourceDir / "tests/fixtures/nougat/nougat_a"},
      {"Qwen2VLForConditionalGeneration", kSourceDir / "tests/fixtures/qwen2_vl/qwen2_vl_hub"}};
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kPluginDir)) {
    if (!entry.path().string().ends_with(".mmrt.json")) continue;
    const boost::json::value manifest = mmrt::test::read_json(entry.path());
    const std::string arch(manifest.at("architectures").at(0).as_string());
    INFO("plugin ", entry.path());
    REQUIRE_MESSAGE(fixtures.count(arch), "no fixture checkpoint for ", arch, " in plugin_check_test.cpp");
    const fs::path library = kPluginDir / std::string(manifest.at("library").as_string());
    const auto result = plugin_check(library, "--model " + shell_quote(fixtures.at(arch).string()));
    INFO(result.out);
    CHECK(result.exit_code == 0);
    CHECK(result.out.find("FAIL") == std::string::npos);
    CHECK(has_line(result.out, "PASS  create/destroy cycles"));
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("plugin-check passes a conformant plugin written against the bare C ABI") {
  const auto result = plugin_check(check_plugin("none"));
  INFO(result.out);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("(org.mmrt.test.check_none 1.0.0)") != std::string::npos);
  for (const char* check :
       {"manifest", "library file", "entry and version negotiation", "loads as the host loads it",
        "create and destroy", "create with bad arguments", "get_role", "role mmrt.role.padder/1: table",
        "role mmrt.role.padder/1: bad arguments", "role mmrt.role.padder/1: calls",
        "role mmrt.role.padder/1: concurrent calls", "role mmrt.role.decoder/1: table",
        "role mmrt.role.decoder/1: calls", "create/destroy cycles"}) {
    CHECK_MESSAGE(has_line(result.out, std::string("PASS  ") + check + "\n"), check);
  }
  CHECK(result.out.find("OK: 16 passed, 0 failed") != std::string::npos);
}

TEST_CASE("plugin-check: a declared role without a table") {
  const auto result = plugin_check(check_plugin("missing_role"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out,
                 "FAIL  role mmrt.role.decoder/1: table: get_role returned NULL for "
                 "mmrt.role.decoder/1, which the descriptor declares"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.padder/1: calls"));
}

TEST_CASE("plugin-check: a slot that throws instead of returning a status") {
  const auto result = plugin_check(check_plugin("throwing_slot"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out,
                 "FAIL  role mmrt.role.padder/1: calls: padder.expand threw a C++ exception across "
                 "the ABI (expand exploded); return a status instead"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.padder/1: bad arguments"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.decoder/1: calls"));
}

TEST_CASE("plugin-check: a role table whose struct_size is too small") {
  const auto result = plugin_check(check_plugin("table_size"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out,
                 "FAIL  role mmrt.role.padder/1: table: MmrtPadderRole.struct_size is 16, smaller "
                 "than the 24 bytes of its slots"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.decoder/1: table"));
}

TEST_CASE("plugin-check: a crashing slot fails its checks and the checker carries on") {
  const auto result = plugin_check(check_plugin("crash"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out,
                 "FAIL  role mmrt.role.padder/1: calls: the plugin crashed the process: signal 11 "
                 "(Segmentation fault)"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.decoder/1: calls"));
  CHECK(has_line(result.out, "PASS  create/destroy cycles"));
  CHECK(result.out.find("FAILED: 14 passed, 2 failed") != std::string::npos);
}

TEST_CASE("plugin-check: a hanging slot times out") {
  const auto result = plugin_check(check_plugin("hang"), "--timeout 5");
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out, "FAIL  role mmrt.role.padder/1: calls: no verdict within 5 s"));
  CHECK(has_line(result.out, "PASS  role mmrt.role.decoder/1: calls"));
}

TEST_CASE("plugin-check: destroy that leaks what create allocated") {
  const auto result = plugin_check(check_plugin("leak"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out, "FAIL  create/destroy cycles: memory in use grew by"));
  CHECK(has_line(result.out, "PASS  create and destroy"));
}

TEST_CASE("plugin-check: a decoder whose forward writes NaN logits") {
  const auto result = plugin_check(check_plugin("nan_logits"));
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out,
                 "FAIL  role mmrt.role.decoder/1: calls: decoder.forward left a non-finite logit for "
                 "a 4-token prompt"));
  CHECK(result.out.find("FAILED: 15 passed, 1 failed") != std::string::npos);
}

TEST_CASE("plugin-check: a library without its manifest stops at the first gate") {
  const fs::path dir = fs::path(MMRT_BINARY_DIR) / "tests/abi_plugins/scratch/plugin_check_no_manifest";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(check_plugin("none"), dir / "libcheck_none.so");
  const auto result = plugin_check(dir / "libcheck_none.so");
  INFO(result.out);
  CHECK(result.exit_code == 1);
  CHECK(has_line(result.out, "FAIL  manifest: "));
  CHECK(has_line(result.out, "----  library file: not run, it needs \"manifest\""));
  CHECK(result.out.find("PASS") == std::string::npos);

  CHECK(plugin_check(dir / "libcheck_none.so", "--timeout 0").exit_code == 2);
  CHECK(run_command(shell_quote(kMmrt.string()) + " plugin-check").exit_code == 2);
}
