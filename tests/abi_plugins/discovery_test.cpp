// Discovery: which file serves which architecture, and why every other file does not. No plugin code runs
// here except where a test loads on purpose.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include "core/plugin/plugin_registry.hpp"
#include "core/plugin/status.hpp"
#include "scenario.hpp"

using namespace mmrt::plugin;
using abi_test::copy_plugin;
using abi_test::fresh_scratch_dir;
using abi_test::scenario_dir;
using abi_test::search_only;

namespace {

namespace fs = std::filesystem;

// The single row for `architecture`; fails the test when there is not exactly one.
DecisionRow only_row(const DecisionTable& table, const std::string& architecture) {
  const auto rows = table.rows_for(architecture);
  REQUIRE_MESSAGE(rows.size() == 1, format_decision_table(table));
  return rows.front();
}

DecisionRow row_for_path(const DecisionTable& table, const fs::path& path) {
  for (const DecisionRow& row : table.rows) {
    if (row.path == path) return row;
  }
  FAIL("no row for " << path << "\n" << format_decision_table(table));
  return {};
}

std::string read_text(const fs::path& file) {
  std::ifstream stream(file);
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// (path, architecture, decision) of every row: what must not depend on the order directories are given in.
std::set<std::tuple<std::string, std::string, std::string>> decisions(const DecisionTable& table) {
  std::set<std::tuple<std::string, std::string, std::string>> result;
  for (const DecisionRow& row : table.rows) {
    result.emplace(row.path.string(), row.architecture, std::string(decision_name(row.decision)));
  }
  return result;
}

}  // namespace

TEST_CASE("a good plugin is available for each architecture it declares") {
  const auto registry = PluginRegistry::scan(search_only({scenario_dir("good")}));
  const DecisionTable& table = registry.table();
  REQUIRE(table.directories == std::vector<fs::path>{scenario_dir("good")});
  REQUIRE(table.rows.size() == 2);
  for (const char* architecture : {"GoodForCausalLM", "GoodForConditionalGeneration"}) {
    const DecisionRow row = only_row(table, architecture);
    CHECK(row.decision == Decision::kAvailable);
    CHECK(row.plugin_id == "org.mmrt.test.good");
    CHECK(row.version == "1.2.3");
    CHECK(row.path == scenario_dir("good") / "libabi_test_good.so");
    CHECK(row.reason.empty());
  }
}

TEST_CASE("a missing plugin directory is reported, not fatal") {
  const fs::path missing = fs::path(ABI_SCRATCH) / "does-not-exist";
  fs::remove_all(missing);
  const auto registry = PluginRegistry::scan(search_only({missing, scenario_dir("good")}));
  const DecisionRow row = row_for_path(registry.table(), missing);
  CHECK(row.decision == Decision::kRejected);
  CHECK(row.reason == "plugin directory does not exist");
  CHECK(row.tier == 0);
  CHECK(only_row(registry.table(), "GoodForCausalLM").decision == Decision::kAvailable);
}

TEST_CASE("manifests outside the host's ABI window are rejected at scan time") {
  SUBCASE("major mismatch") {
    const auto registry = PluginRegistry::scan(search_only({scenario_dir("major")}));
    const DecisionRow row = only_row(registry.table(), "MajorForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason == "ABI major mismatch: plugin is 2.x, this host is " + std::to_string(MMRT_ABI_MAJOR) +
                            "." + std::to_string(MMRT_ABI_MINOR));
  }
  SUBCASE("needs a newer host minor") {
    const auto registry = PluginRegistry::scan(search_only({scenario_dir("too_new")}));
    const DecisionRow row = only_row(registry.table(), "TooNewForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason.find("ABI too new: needs host minor " + std::to_string(MMRT_ABI_MINOR + 1)) == 0);
  }
  SUBCASE("built against a minor older than the host accepts") {
    PluginSearch search = search_only({scenario_dir("good")});
    search.abi_window = {MMRT_ABI_MINOR + 1, MMRT_ABI_MINOR + 1};
    const auto registry = PluginRegistry::scan(search);
    const DecisionRow row = only_row(registry.table(), "GoodForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    // The fixture plugins are built as minor 0 plugins (abi_fixture's BUILT_MINOR default).
    CHECK(row.reason.find("ABI too old: built against 1.0") == 0);
  }
}

TEST_CASE("files that are not usable plugins are rejected without running them") {
  SUBCASE("a text file named libfoo.so with a matching manifest") {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("text_so")}));
    const DecisionRow row = only_row(registry.table(), "TextForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason == "not an ELF file");
    CHECK_THROWS_WITH_AS(registry.load_for_architecture("TextForCausalLM"),
                         doctest::Contains("libfoo.so (rejected: not an ELF file)"), PluginError);
  }
  SUBCASE("a shared object without the entry symbol") {
    const auto registry = PluginRegistry::scan(search_only({scenario_dir("no_entry")}));
    const DecisionRow row = only_row(registry.table(), "BrokenForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason == "does not export mmrt_plugin_entry_v1");
  }
  SUBCASE("a shared object without a manifest") {
    const fs::path dir = fresh_scratch_dir("no_manifest");
    fs::copy_file(scenario_dir("good") / "libabi_test_good.so", dir / "libabi_test_good.so");
    auto registry = PluginRegistry::scan(search_only({dir}));
    REQUIRE(registry.table().rows.size() == 1);
    const DecisionRow row = registry.table().rows.front();
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason == "no manifest");
    CHECK(row.architecture.empty());
    CHECK_THROWS_WITH_AS(registry.load_for_architecture("GoodForCausalLM"),
                         doctest::Contains("libabi_test_good.so (no manifest)"), PluginError);
  }
  SUBCASE("a manifest whose sha256 does not match the library") {
    const fs::path dir = fresh_scratch_dir("sha_mismatch");
    copy_plugin(scenario_dir("good"), "abi_test_good", dir);
    const fs::path manifest = dir / "libabi_test_good.mmrt.json";
    const std::string sha = read_manifest(manifest).sha256;
    write_text(manifest, replaced(read_text(manifest), sha, std::string(64, '0')));
    const auto registry = PluginRegistry::scan(search_only({dir}));
    const DecisionRow row = only_row(registry.table(), "GoodForCausalLM");
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason == "sha256 mismatch: manifest says " + std::string(64, '0') + ", file is " + sha);
  }
  SUBCASE("a manifest whose library is missing") {
    const fs::path dir = fresh_scratch_dir("library_missing");
    fs::copy_file(scenario_dir("good") / "libabi_test_good.mmrt.json", dir / "libabi_test_good.mmrt.json");
    const auto registry = PluginRegistry::scan(search_only({dir}));
    CHECK(only_row(registry.table(), "GoodForCausalLM").reason == "library file missing");
  }
  SUBCASE("an unparsable manifest, whose library is not reported twice") {
    const fs::path dir = fresh_scratch_dir("unparsable");
    copy_plugin(scenario_dir("good"), "abi_test_good", dir);
    write_text(dir / "libabi_test_good.mmrt.json", "{\"id\": ");
    const auto registry = PluginRegistry::scan(search_only({dir}));
    REQUIRE(registry.table().rows.size() == 1);
    const DecisionRow row = registry.table().rows.front();
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.path == dir / "libabi_test_good.mmrt.json");
    CHECK(row.reason.find("unparsable manifest: ") == 0);
  }
}

TEST_CASE("two ids claiming one architecture in one directory are a conflict, unless pinned") {
  const fs::path dir = fresh_scratch_dir("conflict");
  copy_plugin(scenario_dir("shared"), "abi_test_shared_a", dir);
  copy_plugin(scenario_dir("shared"), "abi_test_shared_b", dir);
  const fs::path a = dir / "libabi_test_shared_a.so";
  const fs::path b = dir / "libabi_test_shared_b.so";

  auto registry = PluginRegistry::scan(search_only({dir}));
  const auto rows = registry.table().rows_for("SharedForCausalLM");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].decision == Decision::kConflict);
  CHECK(rows[0].path == a);
  CHECK(rows[0].reason == "also claimed in the same directory by " + b.string());
  CHECK(rows[1].decision == Decision::kConflict);
  CHECK(rows[1].path == b);
  CHECK(rows[1].reason == "also claimed in the same directory by " + a.string());
  try {
    registry.load_for_architecture("SharedForCausalLM");
    FAIL("a conflicted architecture loaded");
  } catch (const PluginError& error) {
    CHECK(error.code() == MMRT_STATUS_FAILED_PRECONDITION);
    CHECK(error.message().find("SharedForCausalLM") != std::string::npos);
    CHECK(error.message().find(a.string() + " (conflict") != std::string::npos);
    CHECK(error.message().find(b.string() + " (conflict") != std::string::npos);
  }

  PluginSearch pinned = search_only({dir});
  pinned.pins["SharedForCausalLM"] = "org.mmrt.test.shared_b";
  const auto resolved = PluginRegistry::scan(pinned);
  CHECK(row_for_path(resolved.table(), b).decision == Decision::kAvailable);
  CHECK(row_for_path(resolved.table(), a).decision == Decision::kShadowed);
  CHECK(row_for_path(resolved.table(), a).reason == "architecture pinned to org.mmrt.test.shared_b");
}

TEST_CASE("the table does not depend on the order files were created in") {
  const auto scan_after_copying = [](const char* first, const char* second) {
    const fs::path dir = fresh_scratch_dir("creation_order");
    copy_plugin(scenario_dir("shared"), first, dir);
    copy_plugin(scenario_dir("good"), "abi_test_good", dir);
    copy_plugin(scenario_dir("shared"), second, dir);
    return format_decision_table(PluginRegistry::scan(search_only({dir})).table());
  };
  CHECK(scan_after_copying("abi_test_shared_a", "abi_test_shared_b") ==
        scan_after_copying("abi_test_shared_b", "abi_test_shared_a"));
}

TEST_CASE("across directories the earlier one wins and the later is shadowed") {
  const fs::path one = fresh_scratch_dir("tier_one");
  const fs::path two = fresh_scratch_dir("tier_two");
  copy_plugin(scenario_dir("shared"), "abi_test_shared_a", one);
  copy_plugin(scenario_dir("shared"), "abi_test_shared_b", two);

  SUBCASE("different ids") {
    const auto forward = PluginRegistry::scan(search_only({one, two}));
    CHECK(row_for_path(forward.table(), one / "libabi_test_shared_a.so").decision == Decision::kAvailable);
    const DecisionRow later = row_for_path(forward.table(), two / "libabi_test_shared_b.so");
    CHECK(later.decision == Decision::kShadowed);
    CHECK(later.reason == "shadowed by " + (one / "libabi_test_shared_a.so").string());

    const auto reversed = PluginRegistry::scan(search_only({two, one}));
    CHECK(row_for_path(reversed.table(), two / "libabi_test_shared_b.so").decision == Decision::kAvailable);
    CHECK(row_for_path(reversed.table(), one / "libabi_test_shared_a.so").decision == Decision::kShadowed);
  }
  SUBCASE("the same id installed twice") {
    copy_plugin(scenario_dir("shared"), "abi_test_shared_a", two);
    fs::remove(two / "libabi_test_shared_b.so");
    fs::remove(two / "libabi_test_shared_b.mmrt.json");
    const auto registry = PluginRegistry::scan(search_only({one, two}));
    CHECK(row_for_path(registry.table(), one / "libabi_test_shared_a.so").decision == Decision::kAvailable);
    CHECK(row_for_path(registry.table(), two / "libabi_test_shared_a.so").decision == Decision::kShadowed);
  }
  SUBCASE("a conflict in the earlier directory is not resolved by a later one") {
    copy_plugin(scenario_dir("shared"), "abi_test_shared_b", one);
    const auto registry = PluginRegistry::scan(search_only({one, two}));
    CHECK(row_for_path(registry.table(), one / "libabi_test_shared_b.so").decision == Decision::kConflict);
    const DecisionRow later = row_for_path(registry.table(), two / "libabi_test_shared_b.so");
    CHECK(later.decision == Decision::kShadowed);
    CHECK(later.reason.find("is in conflict in " + one.string()) != std::string::npos);
  }
  SUBCASE("directories with disjoint architectures give the same decisions in any order") {
    const auto forward = PluginRegistry::scan(search_only({one, scenario_dir("good")}));
    const auto reversed = PluginRegistry::scan(search_only({scenario_dir("good"), one}));
    CHECK(decisions(forward.table()) == decisions(reversed.table()));
    CHECK(row_for_path(forward.table(), one / "libabi_test_shared_a.so").decision == Decision::kAvailable);
  }
}

TEST_CASE("an incompatible plugin in an earlier directory falls through to a compatible one") {
  const fs::path high = fresh_scratch_dir("fallthrough_high");
  copy_plugin(scenario_dir("good"), "abi_test_good", high);
  const fs::path manifest = high / "libabi_test_good.mmrt.json";
  write_text(manifest,
             replaced(read_text(manifest), R"("requires_host_minor": 0)", R"("requires_host_minor": 99)"));
  write_text(manifest, replaced(read_text(manifest), R"("built_minor": 0)", R"("built_minor": 99)"));

  const auto registry = PluginRegistry::scan(search_only({high, scenario_dir("good")}));
  CHECK(row_for_path(registry.table(), high / "libabi_test_good.so").decision == Decision::kRejected);
  CHECK(row_for_path(registry.table(), scenario_dir("good") / "libabi_test_good.so").decision ==
        Decision::kAvailable);
}

TEST_CASE("MMRT_PLUGIN_PATH adds directories after --plugin-dir, and only when enabled") {
  const fs::path missing = fs::path(ABI_SCRATCH) / "env-missing";
  const std::string value = missing.string() + "::" + scenario_dir("good").string();
  REQUIRE(setenv("MMRT_PLUGIN_PATH", value.c_str(), 1) == 0);
  PluginSearch search = search_only({scenario_dir("shared"), scenario_dir("good")});
  search.use_env = true;
  search.prefix_dir = scenario_dir("major");
  // The duplicate of scenario_dir("good") from the environment is dropped.
  CHECK(search_directories(search) ==
        std::vector<fs::path>{scenario_dir("shared"), scenario_dir("good"), missing, scenario_dir("major")});
  search.use_env = false;
  CHECK(search_directories(search) ==
        std::vector<fs::path>{scenario_dir("shared"), scenario_dir("good"), scenario_dir("major")});
  unsetenv("MMRT_PLUGIN_PATH");
}

TEST_CASE("the install-prefix directory sits beside the executable's bin folder") {
  const auto prefix = default_prefix_plugin_dir();
  REQUIRE(prefix.has_value());
  CHECK(prefix->filename() == "plugins");
  CHECK(prefix->parent_path().filename() == "mmrt");
}

TEST_CASE("the decision table prints as text and as JSON") {
  const fs::path missing = fs::path(ABI_SCRATCH) / "print-missing";
  const auto registry =
      PluginRegistry::scan(search_only({scenario_dir("good"), missing, scenario_dir("major")}));
  const std::string text = format_decision_table(registry.table());
  CHECK(text.find("[1] " + missing.string()) != std::string::npos);
  CHECK(text.find("STATUS") != std::string::npos);
  CHECK(text.find("available  GoodForCausalLM") != std::string::npos);
  CHECK(text.find("ABI major mismatch") != std::string::npos);

  const boost::json::value json = boost::json::parse(format_decision_table_json(registry.table()));
  const auto& plugins = json.at("plugins").as_array();
  REQUIRE(plugins.size() == registry.table().rows.size());
  CHECK(json.at("directories").as_array().size() == 3);
  CHECK(plugins[0].at("status").as_string() == "available");
  CHECK(plugins[0].at("id").as_string() == "org.mmrt.test.good");
  CHECK(plugins[0].at("tier").as_int64() == 0);
  CHECK(plugins[2].at("status").as_string() == "rejected");
  CHECK(plugins[2].at("reason").as_string() == "plugin directory does not exist");
}
