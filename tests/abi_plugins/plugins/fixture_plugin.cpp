// One configurable fixture plugin behind most ABI tests. Compile definitions pick what it claims and how it
// misbehaves, so each scenario is one build of this file (see ../CMakeLists.txt):
//   PLUGIN_ID, PLUGIN_VERSION, PLUGIN_ARCH [, PLUGIN_ARCH2]  what the runtime descriptor says
//   ABI_MAJOR_VALUE, BUILT_MINOR_VALUE, REQUIRED_MINOR_VALUE   MmrtPluginApi.abi
//   API_SIZE_SMALL       struct_size one field short of the v1.0 table
//   API_SIZE_LARGE       the table is embedded in a larger one (a newer minor with extra slots)
//   FAIL_STAGE_<stage>   FAIL_THROW (throw std::runtime_error) or FAIL_STATUS (return a status) in entry,
//   init
//                        or create
// Its instance offers the padder role and echoes the prompt unchanged, which lets a test make a real role
// call through the table it gets back.
#include <cstring>
#include <new>
#include <stdexcept>

#include "mmrt_abi.h"
#include "test_probe.hpp"

#define FAIL_THROW 1
#define FAIL_STATUS 2

#ifndef ABI_MAJOR_VALUE
#define ABI_MAJOR_VALUE MMRT_ABI_MAJOR
#endif
#ifndef BUILT_MINOR_VALUE
#define BUILT_MINOR_VALUE MMRT_ABI_MINOR
#endif
#ifndef REQUIRED_MINOR_VALUE
#define REQUIRED_MINOR_VALUE 0
#endif

namespace {

const MmrtHostApi* g_host = nullptr;

// The message every FAIL_STATUS stage reports, so the test can look for it in the host's error.
constexpr char kStatusMessage[] = "fixture refuses on purpose";

void record(const char* event) {
  const auto* probe = static_cast<const TestProbe*>(g_host->get_extension(TEST_PROBE_EXTENSION));
  if (probe != nullptr) probe->record(PLUGIN_ID, event);
}

MmrtStatus* refuse(const char* stage) {
  char message[128];
  std::strcpy(message, kStatusMessage);
  std::strcat(message, " in ");
  std::strcat(message, stage);
  return g_host->status_new(MMRT_STATUS_FAILED_PRECONDITION, message, std::strlen(message));
}

struct EchoInstance {
  void* scratch;  // host-allocated, to exercise MmrtHostApi.alloc/free
};

MmrtStatus* expand(MmrtInstance*, const MmrtPadArgs* args) {
  return args->emit(args->host_ctx, args->ids, args->n_ids, nullptr, 0);
}

const MmrtPadderRole kPadder = {MMRT_SIZEOF(MmrtPadderRole, expand), 0, nullptr, expand};

const char* const kArchitectures[] = {
    PLUGIN_ARCH,
#ifdef PLUGIN_ARCH2
    PLUGIN_ARCH2,
#endif
};
const char* const kRoles[] = {MMRT_ROLE_PADDER};
const MmrtPluginDescriptor kDescriptor = {MMRT_SIZEOF(MmrtPluginDescriptor, n_roles),
                                          0,
                                          nullptr,
                                          PLUGIN_ID,
                                          PLUGIN_VERSION,
                                          kArchitectures,
                                          sizeof(kArchitectures) / sizeof(kArchitectures[0]),
                                          kRoles,
                                          1};

MmrtStatus* init() {
  record("init");
#if defined(FAIL_STAGE_INIT) && FAIL_STAGE_INIT == FAIL_THROW
  throw std::runtime_error("fixture init exploded");
#elif defined(FAIL_STAGE_INIT) && FAIL_STAGE_INIT == FAIL_STATUS
  return refuse("init");
#endif
  return nullptr;
}

void shutdown() {
  record("shutdown");
}

MmrtStatus* create(const MmrtCreateArgs* args, MmrtInstance** out) {
  record("create");
#if defined(FAIL_STAGE_CREATE) && FAIL_STAGE_CREATE == FAIL_THROW
  throw std::runtime_error("fixture create exploded");
#elif defined(FAIL_STAGE_CREATE) && FAIL_STAGE_CREATE == FAIL_STATUS
  return refuse("create");
#endif
  if (args->struct_size < MMRT_SIZEOF(MmrtCreateArgs, compute_dtype)) {
    return g_host->status_new(MMRT_STATUS_INVALID_ARGUMENT, "short create args", 17);
  }
  auto* instance = new (std::nothrow) EchoInstance{};
  if (instance == nullptr) return g_host->status_new(MMRT_STATUS_RESOURCE_EXHAUSTED, "no memory", 9);
  MmrtDevice cpu = {MMRT_DEVICE_CPU, 0};
  if (MmrtStatus* status = g_host->alloc(cpu, 256, 64, &instance->scratch)) {
    delete instance;
    return status;
  }
  *out = reinterpret_cast<MmrtInstance*>(instance);
  return nullptr;
}

void destroy(MmrtInstance* handle) {
  record("destroy");
  auto* instance = reinterpret_cast<EchoInstance*>(handle);
  g_host->free(MmrtDevice{MMRT_DEVICE_CPU, 0}, instance->scratch);
  delete instance;
}

const void* get_role(MmrtInstance*, const char* role_id) {
  return std::strcmp(role_id, MMRT_ROLE_PADDER) == 0 ? &kPadder : nullptr;
}

// A table from a newer minor: the v1.0 table followed by slots this host does not know.
struct LargerPluginApi {
  MmrtPluginApi v1;
  void (*future_slot)(void);
  uint64_t future_value;
};

#ifdef API_SIZE_LARGE
constexpr uint32_t kApiSize = sizeof(LargerPluginApi);
#elif defined(API_SIZE_SMALL)
constexpr uint32_t kApiSize = MMRT_SIZEOF(MmrtPluginApi, destroy);
#else
constexpr uint32_t kApiSize = MMRT_SIZEOF(MmrtPluginApi, get_role);
#endif

const LargerPluginApi kApi = {{kApiSize,
                               0,
                               nullptr,
                               {ABI_MAJOR_VALUE, BUILT_MINOR_VALUE, REQUIRED_MINOR_VALUE},
                               &kDescriptor,
                               init,
                               shutdown,
                               create,
                               destroy,
                               get_role},
                              nullptr,
                              0xfeedfacecafebeefull};

}  // namespace

extern "C" MMRT_EXPORT MmrtStatus* mmrt_plugin_entry_v1(const MmrtHostApi* host, const MmrtPluginApi** out) {
  g_host = host;
#if defined(FAIL_STAGE_ENTRY) && FAIL_STAGE_ENTRY == FAIL_THROW
  throw std::runtime_error("fixture entry exploded");
#elif defined(FAIL_STAGE_ENTRY) && FAIL_STAGE_ENTRY == FAIL_STATUS
  return refuse("entry");
#endif
  *out = &kApi.v1;
  return nullptr;
}
