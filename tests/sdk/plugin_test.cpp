// The generated entry point and role trampolines, driven the way the host drives them.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "fake_host.hpp"
#include "mmrt/plugin.hpp"

using mmrt::test::FakeHost;

namespace {

// A padder whose behaviour the test picks; also a decoder for kv_spec.
class TestInstance : public mmrt::sdk::Instance, public mmrt::sdk::Padder, public mmrt::sdk::Decoder {
 public:
  static inline std::string mode;

  mmrt::sdk::Padder* padder() override { return this; }
  mmrt::sdk::Decoder* decoder() override { return this; }

  void expand(const MmrtPadArgs& args) override {
    if (mode == "std") throw std::runtime_error("boom");
    if (mode == "error") throw mmrt::sdk::Error(MMRT_STATUS_OUT_OF_RANGE, "too many images");
    if (mode == "int") throw 42;
    int32_t ids[] = {7};
    mmrt::sdk::check(args.emit(args.host_ctx, ids, 1, nullptr, 0), "emit");
  }
  MmrtKvSpec kv_spec() override {
    MmrtKvSpec s{};
    s.n_layer = 3;
    s.n_head_kv = 2;
    s.head_dim = 16;
    s.max_position = 512;
    return s;
  }
  void forward(const MmrtDecodeArgs&) override {}
};

std::unique_ptr<mmrt::sdk::Instance> create_test(const MmrtCreateArgs&) {
  return std::make_unique<TestInstance>();
}

constexpr const char* kArchs[] = {"TestForCausalLM"};
constexpr const char* kRoles[] = {MMRT_ROLE_PADDER, MMRT_ROLE_DECODER};

std::string take(MmrtStatus* s, int32_t* code = nullptr) {
  REQUIRE(s != nullptr);
  std::string m = s->message;
  if (code) *code = s->code;
  FakeHost::status_free(s);
  return m;
}

MmrtStatus* emit_fail(void*, const int32_t*, int64_t, const MmrtPlaceholderRange*, int64_t) {
  return FakeHost::status_new(MMRT_STATUS_RESOURCE_EXHAUSTED, "host full", 9);
}
MmrtStatus* emit_ok(void* ctx, const int32_t* ids, int64_t n, const MmrtPlaceholderRange*, int64_t) {
  *static_cast<int32_t*>(ctx) = n == 1 ? ids[0] : -1;
  return nullptr;
}

}  // namespace

// What mmrt_add_plugin would generate into mmrt_plugin_identity.hpp; this test is not built as a plugin.
constexpr mmrt::sdk::PluginIdentity kMmrtPluginIdentity = {"org.test.sdk", "1.2.3", kArchs, kRoles, 0};

MMRT_SDK_DEFINE_PLUGIN({.create = &create_test})

TEST_CASE("plugin: the entry point checks versions") {
  const MmrtPluginApi* api = nullptr;
  MmrtHostApi other_major = FakeHost::table(MMRT_ABI_MAJOR + 1);
  int32_t code = 0;
  std::string m = take(mmrt_plugin_entry_v1(&other_major, &api), &code);
  CHECK(code == MMRT_STATUS_UNSUPPORTED_VERSION);
  CHECK(m == "org.test.sdk: host ABI major 2, plugin built for major 1");
  CHECK(api == nullptr);

  MmrtHostApi too_new = FakeHost::table(MMRT_ABI_MAJOR, MMRT_ABI_MINOR + 3, MMRT_ABI_MINOR + 1);
  m = take(mmrt_plugin_entry_v1(&too_new, &api), &code);
  CHECK(code == MMRT_STATUS_UNSUPPORTED_VERSION);
  CHECK(m.find("host needs plugins built for ABI minor >= " + std::to_string(MMRT_ABI_MINOR + 1)) !=
        std::string::npos);

  MmrtHostApi old_host = FakeHost::table(MMRT_ABI_MAJOR, 0);
  CHECK(mmrt::sdk::version_mismatch(&old_host, 2) ==
        "host ABI minor 0 is older than the minor 2 this plugin needs");
  MmrtHostApi newer_minor = FakeHost::table(MMRT_ABI_MAJOR, MMRT_ABI_MINOR + 5);
  CHECK(mmrt::sdk::version_mismatch(&newer_minor, 0) == "");
  CHECK(FakeHost::live_statuses == 0);
}

TEST_CASE("plugin: the table, descriptor and roles the host sees") {
  MmrtHostApi host = FakeHost::table(MMRT_ABI_MAJOR, MMRT_ABI_MINOR + 1);  // a newer host minor is fine
  const MmrtPluginApi* api = nullptr;
  REQUIRE(mmrt_plugin_entry_v1(&host, &api) == nullptr);
  REQUIRE(api != nullptr);
  CHECK(api->struct_size == MMRT_SIZEOF(MmrtPluginApi, get_role));
  CHECK(api->abi.major == MMRT_ABI_MAJOR);
  CHECK(api->abi.minor == MMRT_ABI_MINOR);
  CHECK(api->abi.required_minor == 0);
  CHECK(mmrt::sdk::effective_minor() == MMRT_ABI_MINOR);
  CHECK(std::string(api->descriptor->id) == "org.test.sdk");
  CHECK(std::string(api->descriptor->version) == "1.2.3");
  REQUIRE(api->descriptor->n_architectures == 1);
  CHECK(std::string(api->descriptor->architectures[0]) == "TestForCausalLM");
  CHECK(api->descriptor->n_roles == 2);
  CHECK(api->init() == nullptr);
  CHECK(api->init() == nullptr);  // repeated init is tolerated

  MmrtCreateArgs args{};
  MmrtInstance* inst = nullptr;
  int32_t code = 0;
  take(api->create(&args, &inst), &code);  // struct_size 0: too small
  CHECK(code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(inst == nullptr);
  args.struct_size = MMRT_SIZEOF(MmrtCreateArgs, compute_dtype);
  REQUIRE(api->create(&args, &inst) == nullptr);
  REQUIRE(inst != nullptr);

  CHECK(api->get_role(inst, MMRT_ROLE_ENCODER) == nullptr);
  CHECK(api->get_role(inst, "mmrt.role.unknown/9") == nullptr);
  const auto* padder = static_cast<const MmrtPadderRole*>(api->get_role(inst, MMRT_ROLE_PADDER));
  const auto* decoder = static_cast<const MmrtDecoderRole*>(api->get_role(inst, MMRT_ROLE_DECODER));
  REQUIRE(padder != nullptr);
  REQUIRE(decoder != nullptr);

  SUBCASE("exceptions become statuses") {
    int32_t emitted = 0;
    MmrtPadArgs pad{};
    pad.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit_positions);
    pad.host_ctx = &emitted;
    pad.emit = &emit_ok;
    TestInstance::mode = "ok";
    CHECK(padder->expand(inst, &pad) == nullptr);
    CHECK(emitted == 7);

    TestInstance::mode = "std";
    CHECK(take(padder->expand(inst, &pad), &code) == "padder: boom");
    CHECK(code == MMRT_STATUS_PLUGIN_INTERNAL);
    TestInstance::mode = "error";
    CHECK(take(padder->expand(inst, &pad), &code) == "padder: too many images");
    CHECK(code == MMRT_STATUS_OUT_OF_RANGE);
    TestInstance::mode = "int";
    CHECK(take(padder->expand(inst, &pad), &code) == "padder: unknown exception");
    CHECK(code == MMRT_STATUS_PLUGIN_INTERNAL);

    TestInstance::mode = "ok";
    pad.emit = &emit_fail;  // a host status comes back through check() with its code and is freed once
    CHECK(take(padder->expand(inst, &pad), &code) == "padder: emit: host full");
    CHECK(code == MMRT_STATUS_RESOURCE_EXHAUSTED);

    pad.struct_size = MMRT_SIZEOF(MmrtPadArgs, n_ids);
    take(padder->expand(inst, &pad), &code);
    CHECK(code == MMRT_STATUS_INVALID_ARGUMENT);
  }

  SUBCASE("kv_spec writes only inside the host's struct_size") {
    MmrtKvSpec full{};
    full.struct_size = sizeof(MmrtKvSpec);
    REQUIRE(decoder->kv_spec(inst, &full) == nullptr);
    CHECK(full.struct_size == MMRT_SIZEOF(MmrtKvSpec, max_encoder_len));
    CHECK(full.n_layer == 3);
    CHECK(full.max_position == 512);

    MmrtKvSpec small;
    std::memset(&small, 0x5A, sizeof small);
    small.struct_size = MMRT_SIZEOF(MmrtKvSpec, head_dim);
    REQUIRE(decoder->kv_spec(inst, &small) == nullptr);
    CHECK(small.struct_size == MMRT_SIZEOF(MmrtKvSpec, head_dim));
    CHECK(small.head_dim == 16);
    int64_t untouched;
    std::memset(&untouched, 0x5A, sizeof untouched);
    CHECK(small.max_position == untouched);
  }

  api->destroy(inst);
  api->shutdown();
  CHECK(FakeHost::live_statuses == 0);
  mmrt::sdk::set_host(nullptr);
}
