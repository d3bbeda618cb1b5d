// The smallest complete mmrt plugin: "EchoForCausalLM" offers one role, a padder that hands the prompt back
// unchanged (a model without media has no placeholders to expand). Copy this folder to start a plugin; see
// plugins/llava for one with all four roles, a weight table and a config.
//
// What the SDK does for you (mmrt/plugin.hpp): exports mmrt_plugin_entry_v1, refuses hosts of another ABI
// major, turns exceptions into host statuses, and builds the C tables from the classes below.
#include <memory>

#include "mmrt/plugin.hpp"
#include "mmrt/status.hpp"

namespace {

// padder role [thread-safe]: holds no state, so concurrent calls are safe.
class EchoPadder : public mmrt::sdk::Padder {
 public:
  void expand(const MmrtPadArgs& args) override {
    mmrt::sdk::require(args.n_items == 0, MMRT_STATUS_INVALID_ARGUMENT, "the echo model takes no images");
    mmrt::sdk::check(args.emit(args.host_ctx, args.ids, args.n_ids, nullptr, 0), "emitting the prompt");
  }
};

// One model instance; it offers the roles whose accessors return non-NULL.
class EchoInstance : public mmrt::sdk::Instance {
 public:
  mmrt::sdk::Padder* padder() override { return &padder_; }

 private:
  EchoPadder padder_;
};

// Called once per model load with the checkpoint (config.json text, weights); throw sdk::Error to refuse.
std::unique_ptr<mmrt::sdk::Instance> create(const MmrtCreateArgs&) {
  return std::make_unique<EchoInstance>();
}

constexpr const char* kArchitectures[] = {"EchoForCausalLM"};
constexpr const char* kRoles[] = {MMRT_ROLE_PADDER};

}  // namespace

// Must match the ID, VERSION, ARCHITECTURES and ROLES given to mmrt_add_plugin in CMakeLists.txt.
MMRT_SDK_DEFINE_PLUGIN({.id = "org.example.echo",
                        .version = "0.1.0",
                        .architectures = kArchitectures,
                        .roles = kRoles,
                        .create = &create})
