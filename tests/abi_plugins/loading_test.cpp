// Loading: negotiation, validation of what the plugin returns, the exception backstop, and lifetimes.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/plugin/library_check.hpp"
#include "core/plugin/plugin_registry.hpp"
#include "core/plugin/status.hpp"
#include "scenario.hpp"

using namespace mmrt::plugin;
using abi_test::manifest_of;
using abi_test::scenario_dir;
using abi_test::search_only;

namespace {

namespace fs = std::filesystem;

MmrtCreateArgs create_args(const char* architecture) {
  MmrtCreateArgs args{};
  args.architecture = architecture;
  args.config_json = "{}";
  args.config_json_len = 2;
  args.preprocessor_config_json = "{}";
  args.preprocessor_config_json_len = 2;
  args.device = {MMRT_DEVICE_CPU, 0};
  args.compute_dtype = {MMRT_DTYPE_FLOAT, 32, 1};
  return args;
}

// Runs the padder role's expand on `ids` and returns what the plugin emitted.
std::vector<int32_t> expand_through(const Instance& instance, const std::vector<int32_t>& ids) {
  const auto* padder = instance.role<MmrtPadderRole>(MMRT_ROLE_PADDER);
  REQUIRE(padder != nullptr);
  REQUIRE(MMRT_HAS_FIELD(padder, MmrtPadderRole, expand));
  std::vector<int32_t> emitted;
  MmrtPadArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit_positions);
  args.ids = ids.data();
  args.n_ids = static_cast<int64_t>(ids.size());
  args.host_ctx = &emitted;
  args.emit = [](void* ctx, const int32_t* out, int64_t n, const MmrtPlaceholderRange*,
                 int64_t) -> MmrtStatus* {
    static_cast<std::vector<int32_t>*>(ctx)->assign(out, out + n);
    return nullptr;
  };
  throw_if_error(padder->expand(instance.handle(), &args), instance.plugin().id(), "expand");
  return emitted;
}

// Whether the running process has `library` mapped.
bool is_mapped(const fs::path& library) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find(library.string()) != std::string::npos;
}

// The PluginError load_plugin throws for lib<stem> in `scenario`; fails the test when it loads.
PluginError load_error(const PluginManifest& manifest, const AbiWindow& window = {}) {
  try {
    load_plugin(manifest, window);
  } catch (const PluginError& error) {
    return error;
  }
  FAIL("loaded " << manifest.library_path);
  return PluginError(0, "", "");
}

std::vector<std::string> events_of(const std::string& plugin_id) {
  std::vector<std::string> events;
  for (const std::string& event : abi_test::probe_events()) {
    if (event.rfind(plugin_id + ":", 0) == 0) events.push_back(event.substr(plugin_id.size() + 1));
  }
  return events;
}

}  // namespace

TEST_CASE("a good plugin loads lazily, creates an instance and serves its role") {
  abi_test::clear_probe_events();
  const fs::path library = scenario_dir("good") / "libabi_test_good.so";
  {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("good")}));
    CHECK(events_of("org.mmrt.test.good").empty());
    CHECK_FALSE(is_mapped(library));

    std::shared_ptr<LoadedPlugin> plugin = registry.load_for_architecture("GoodForCausalLM");
    CHECK(plugin->id() == "org.mmrt.test.good");
    CHECK(plugin->roles() == std::vector<std::string>{MMRT_ROLE_PADDER});
    CHECK(registry.table().rows_for("GoodForCausalLM").front().decision == Decision::kLoaded);
    CHECK(registry.table().rows_for("GoodForConditionalGeneration").front().decision == Decision::kAvailable);
    CHECK(registry.load_for_architecture("GoodForCausalLM") == plugin);
    CHECK(registry.load_for_architecture("GoodForConditionalGeneration") == plugin);
    CHECK(is_mapped(library));

    Instance instance = plugin->create(create_args("GoodForCausalLM"));
    CHECK(expand_through(instance, {1, 32000, 7}) == std::vector<int32_t>{1, 32000, 7});
    CHECK(instance.role<MmrtDecoderRole>(MMRT_ROLE_DECODER) == nullptr);
    CHECK_THROWS_AS(plugin->create(create_args("SomethingElseForCausalLM")), std::invalid_argument);

    Instance moved = std::move(instance);
    CHECK(instance.empty());
    CHECK_THROWS_AS(instance.role_table(MMRT_ROLE_PADDER), std::logic_error);
    CHECK(expand_through(moved, {5}) == std::vector<int32_t>{5});
    Instance assigned;
    CHECK(assigned.empty());
    assigned = std::move(moved);
    CHECK(expand_through(assigned, {6}) == std::vector<int32_t>{6});
  }
  CHECK(events_of("org.mmrt.test.good") == std::vector<std::string>{"init", "create", "destroy", "shutdown"});
  CHECK_FALSE(is_mapped(library));
}

TEST_CASE("concurrent first loads share one module and call init once") {
  abi_test::clear_probe_events();
  {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("good")}));
    std::vector<std::shared_ptr<LoadedPlugin>> loaded(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < loaded.size(); ++i) {
      const char* architecture = i % 2 == 0 ? "GoodForCausalLM" : "GoodForConditionalGeneration";
      threads.emplace_back(
          [&, i, architecture] { loaded[i] = registry.load_for_architecture(architecture); });
    }
    for (std::thread& thread : threads) thread.join();
    for (const auto& plugin : loaded) CHECK(plugin == loaded.front());
  }
  CHECK(events_of("org.mmrt.test.good") == std::vector<std::string>{"init", "shutdown"});
}

TEST_CASE("a plugin stays loaded while an instance lives") {
  abi_test::clear_probe_events();
  const fs::path library = scenario_dir("good") / "libabi_test_good.so";
  std::optional<Instance> instance;
  {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("good")}));
    instance.emplace(
        registry.load_for_architecture("GoodForCausalLM")->create(create_args("GoodForCausalLM")));
  }
  CHECK(is_mapped(library));
  CHECK(expand_through(*instance, {9, 9}) == std::vector<int32_t>{9, 9});
  CHECK(events_of("org.mmrt.test.good") == std::vector<std::string>{"init", "create"});
  instance.reset();
  CHECK(events_of("org.mmrt.test.good") == std::vector<std::string>{"init", "create", "destroy", "shutdown"});
  CHECK_FALSE(is_mapped(library));
}

TEST_CASE("the runtime ABI version is checked even when the manifest lies") {
  SUBCASE("major mismatch") {
    PluginManifest manifest = manifest_of("major", "abi_test_major");
    manifest.abi.major = MMRT_ABI_MAJOR;
    const PluginError error = load_error(manifest);
    CHECK(error.code() == MMRT_STATUS_UNSUPPORTED_VERSION);
    CHECK(error.message().find("runtime ABI major mismatch: plugin is 2.x") != std::string::npos);
  }
  SUBCASE("needs a newer host minor") {
    PluginManifest manifest = manifest_of("too_new", "abi_test_too_new");
    manifest.abi = {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, 0};
    const PluginError error = load_error(manifest);
    CHECK(error.code() == MMRT_STATUS_UNSUPPORTED_VERSION);
    CHECK(error.message().find("runtime ABI too new") != std::string::npos);
  }
  SUBCASE("older than the host accepts") {
    const PluginError error =
        load_error(manifest_of("good", "abi_test_good"), {MMRT_ABI_MINOR + 1, MMRT_ABI_MINOR + 1});
    CHECK(error.code() == MMRT_STATUS_UNSUPPORTED_VERSION);
    CHECK(error.message().find("runtime ABI too old") != std::string::npos);
  }
}

TEST_CASE("MmrtPluginApi.struct_size: smaller than v1.0 is rejected, larger is accepted") {
  SUBCASE("smaller") {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("small_api")}));
    CHECK(registry.table().rows_for("SmallForCausalLM").front().decision == Decision::kAvailable);
    try {
      registry.load_for_architecture("SmallForCausalLM");
      FAIL("a table smaller than v1.0 loaded");
    } catch (const PluginError& error) {
      CHECK(error.code() == MMRT_STATUS_INVALID_ARGUMENT);
      CHECK(error.message().find("architecture SmallForCausalLM") == 0);
      CHECK(error.message().find("struct_size " + std::to_string(MMRT_SIZEOF(MmrtPluginApi, destroy)) +
                                 " is smaller than the v1.0 size " +
                                 std::to_string(MMRT_SIZEOF(MmrtPluginApi, get_role))) != std::string::npos);
    }
    const DecisionRow row = registry.table().rows_for("SmallForCausalLM").front();
    CHECK(row.decision == Decision::kRejected);
    CHECK(row.reason.find("load failed: ") == 0);
    CHECK_THROWS_WITH_AS(registry.load_for_architecture("SmallForCausalLM"), doctest::Contains("load failed"),
                         PluginError);
  }
  SUBCASE("larger, from a newer minor") {
    auto registry = PluginRegistry::scan(search_only({scenario_dir("large_api")}));
    auto plugin = registry.load_for_architecture("LargeForCausalLM");
    CHECK(plugin->api().struct_size > sizeof(MmrtPluginApi));
    CHECK(plugin->api().abi.minor == MMRT_ABI_MINOR + 1);
    Instance instance = plugin->create(create_args("LargeForCausalLM"));
    CHECK(expand_through(instance, {3, 4}) == std::vector<int32_t>{3, 4});
  }
}

TEST_CASE("a C++ exception thrown across the ABI becomes PLUGIN_INTERNAL and the host survives") {
  for (const char* stage : {"entry", "init"}) {
    CAPTURE(stage);
    const std::string scenario = std::string("throw_") + stage;
    const PluginError error = load_error(manifest_of(scenario, "abi_test_" + scenario));
    CHECK(error.code() == MMRT_STATUS_PLUGIN_INTERNAL);
    CHECK(error.plugin_id() == "org.mmrt.test." + scenario);
    CHECK(error.message().find(std::string("fixture ") + stage + " exploded") != std::string::npos);
  }
  abi_test::clear_probe_events();
  {
    auto plugin = load_plugin(manifest_of("throw_create", "abi_test_throw_create"));
    try {
      plugin->create(create_args("ThrowForCausalLM"));
      FAIL("create did not throw");
    } catch (const PluginError& error) {
      CHECK(error.code() == MMRT_STATUS_PLUGIN_INTERNAL);
      CHECK(error.message() == "create threw a C++ exception across the ABI: fixture create exploded");
    }
  }
  CHECK(events_of("org.mmrt.test.throw_create") == std::vector<std::string>{"init", "create", "shutdown"});
}

TEST_CASE("a status returned by entry, init or create surfaces with its message") {
  for (const char* stage : {"entry", "init"}) {
    CAPTURE(stage);
    const std::string scenario = std::string("status_") + stage;
    const PluginError error = load_error(manifest_of(scenario, "abi_test_" + scenario));
    CHECK(error.code() == MMRT_STATUS_FAILED_PRECONDITION);
    CHECK(error.message() == std::string(stage == std::string("entry") ? "mmrt_plugin_entry_v1" : "init") +
                                 ": fixture refuses on purpose in " + stage);
  }
  auto plugin = load_plugin(manifest_of("status_create", "abi_test_status_create"));
  CHECK_THROWS_WITH_AS(
      plugin->create(create_args("StatusForCausalLM")),
      "org.mmrt.test.status_create: create for StatusForCausalLM: fixture refuses on purpose in "
      "create [FAILED_PRECONDITION]",
      PluginError);
}

TEST_CASE("an unresolved symbol fails at load time, before any plugin code runs") {
  auto registry = PluginRegistry::scan(search_only({scenario_dir("unresolved")}));
  CHECK(registry.table().rows_for("BrokenForCausalLM").front().decision == Decision::kAvailable);
  const std::string expected =
      "dlopen failed: " + (scenario_dir("unresolved") / "libabi_test_unresolved.so").string() +
      ": undefined symbol: mmrt_test_function_nobody_defines [FAILED_PRECONDITION]";
  CHECK_THROWS_WITH_AS(registry.load_for_architecture("BrokenForCausalLM"),
                       doctest::Contains(expected.c_str()), PluginError);
  CHECK(registry.table().rows_for("BrokenForCausalLM").front().decision == Decision::kRejected);
}

TEST_CASE("a library without the entry symbol is refused by load_plugin too") {
  const PluginError error = load_error(manifest_of("no_entry", "abi_test_no_entry"));
  CHECK(error.message().find("does not export mmrt_plugin_entry_v1") != std::string::npos);
}

TEST_CASE("runtime architectures that differ from the manifest's are rejected") {
  const PluginError error = load_error(manifest_of("arch_mismatch", "abi_test_arch_mismatch"));
  CHECK(error.code() == MMRT_STATUS_FAILED_PRECONDITION);
  CHECK(error.message().find("descriptor architectures [RuntimeForCausalLM] differ from the manifest's "
                             "[ManifestForCausalLM]") != std::string::npos);
}

TEST_CASE("runtime roles that differ from the manifest's are rejected") {
  const PluginError error = load_error(manifest_of("role_mismatch", "abi_test_role_mismatch"));
  CHECK(error.code() == MMRT_STATUS_FAILED_PRECONDITION);
  CHECK(error.message().find("descriptor roles [mmrt.role.padder/1] differ from the manifest's "
                             "[mmrt.role.decoder/1, mmrt.role.padder/1]") != std::string::npos);
}

TEST_CASE("a plugin built by mmrt_add_plugin exports only its entry symbol") {
  CHECK(exported_symbols(scenario_dir("good") / "libabi_test_good.so") ==
        std::vector<std::string>{MMRT_PLUGIN_ENTRY_SYMBOL});
  CHECK_THROWS_AS(exported_symbols(scenario_dir("text_so") / "libfoo.so"), std::runtime_error);
}
