// The plugin behind plugin_check_test: written against the C ABI directly (no SDK trampolines), conformant
// unless one BROKEN_* definition picks its defect:
//   BROKEN_MISSING_ROLE   declares the decoder role, but get_role returns NULL for it
//   BROKEN_THROWING_SLOT  padder.expand throws a C++ exception instead of returning a status
//   BROKEN_TABLE_SIZE     the padder table's struct_size covers only the struct prefix
//   BROKEN_CRASH          padder.expand dies of SIGSEGV
//   BROKEN_HANG           padder.expand never returns
//   BROKEN_LEAK           destroy frees nothing of what create allocated
//   BROKEN_NAN_LOGITS     decoder.forward succeeds but writes NaN logits
// It offers a padder (echoes the prompt) and a decoder (a fixed KV spec; forward writes uniform logits). Its
// identity comes from mmrt_add_plugin like any plugin's.
#include <cmath>
#include <csignal>
#include <cstring>
#include <new>
#include <stdexcept>

#include "mmrt_abi.h"
#include "mmrt_plugin_identity.hpp"

#if defined(BROKEN_HANG)
#include <unistd.h>
#endif

namespace {

const MmrtHostApi* g_host = nullptr;

MmrtStatus* error(int32_t code, const char* message) {
  return g_host->status_new(code, message, std::strlen(message));
}

// Large enough that a leak of it shows in the checker's create/destroy cycles.
constexpr size_t kInstanceBytes = 64 * 1024;

struct Instance {
  char* memory;
};

MmrtStatus* expand(MmrtInstance* instance, const MmrtPadArgs* args) {
  if (instance == nullptr || args == nullptr || args->struct_size < MMRT_SIZEOF(MmrtPadArgs, emit) ||
      args->emit == nullptr || (args->n_ids > 0 && args->ids == nullptr)) {
    return error(MMRT_STATUS_INVALID_ARGUMENT, "expand: bad arguments");
  }
#if defined(BROKEN_THROWING_SLOT)
  throw std::runtime_error("expand exploded");
#elif defined(BROKEN_CRASH)
  std::raise(SIGSEGV);
#elif defined(BROKEN_HANG)
  for (;;) pause();
#endif
  return args->emit(args->host_ctx, args->ids, args->n_ids, nullptr, 0);
}

MmrtStatus* kv_spec(MmrtInstance* instance, MmrtKvSpec* out) {
  if (instance == nullptr || out == nullptr || out->struct_size < MMRT_SIZEOF(MmrtKvSpec, max_position)) {
    return error(MMRT_STATUS_INVALID_ARGUMENT, "kv_spec: bad arguments");
  }
  out->n_layer = 2;
  out->n_head_kv = 1;
  out->head_dim = 8;
  out->dtype = {MMRT_DTYPE_FLOAT, 32, 1};
  out->n_cross_layer = 0;
  out->position_axes = 1;
  out->vocab_size = 16;
  out->hidden_size = 8;
  out->max_position = 64;
  return nullptr;
}

MmrtStatus* forward(MmrtInstance* instance, const MmrtDecodeArgs* args) {
  if (instance == nullptr || args == nullptr || args->struct_size < MMRT_SIZEOF(MmrtDecodeArgs, stream)) {
    return error(MMRT_STATUS_INVALID_ARGUMENT, "forward: bad arguments");
  }
  // Uniform logits: the checker only needs a forward that succeeds with finite values.
  if (args->logits == nullptr || args->logits->ndim != 2)
    return error(MMRT_STATUS_INVALID_ARGUMENT, "forward: no logits");
  float* logits = static_cast<float*>(args->logits->data);
#if defined(BROKEN_NAN_LOGITS)
  const float value = NAN;
#else
  const float value = 0.0f;
#endif
  for (int64_t i = 0; i < args->logits->shape[0] * args->logits->shape[1]; ++i) logits[i] = value;
  return nullptr;
}

#if defined(BROKEN_TABLE_SIZE)
constexpr uint32_t kPadderSize = MMRT_SIZEOF(MmrtPadderRole, next);
#else
constexpr uint32_t kPadderSize = MMRT_SIZEOF(MmrtPadderRole, expand);
#endif
const MmrtPadderRole kPadder = {kPadderSize, 0, nullptr, expand};
const MmrtDecoderRole kDecoder = {MMRT_SIZEOF(MmrtDecoderRole, forward), 0, nullptr, kv_spec, forward};

MmrtStatus* init() {
  return nullptr;
}

void shutdown() {}

MmrtStatus* create(const MmrtCreateArgs* args, MmrtInstance** out) {
  if (out == nullptr) return error(MMRT_STATUS_INVALID_ARGUMENT, "create: out is NULL");
  *out = nullptr;
  if (args == nullptr || args->struct_size < MMRT_SIZEOF(MmrtCreateArgs, compute_dtype)) {
    return error(MMRT_STATUS_INVALID_ARGUMENT, "create: bad arguments");
  }
  auto* instance = new (std::nothrow) Instance{new (std::nothrow) char[kInstanceBytes]};
  if (instance == nullptr || instance->memory == nullptr) {
    delete instance;
    return error(MMRT_STATUS_RESOURCE_EXHAUSTED, "create: out of memory");
  }
  std::memset(instance->memory, 1, kInstanceBytes);
  *out = reinterpret_cast<MmrtInstance*>(instance);
  return nullptr;
}

void destroy(MmrtInstance* handle) {
#if !defined(BROKEN_LEAK)
  auto* instance = reinterpret_cast<Instance*>(handle);
  if (instance != nullptr) delete[] instance->memory;
  delete instance;
#else
  (void)handle;
#endif
}

const void* get_role(MmrtInstance* instance, const char* role_id) {
  if (instance == nullptr || role_id == nullptr) return nullptr;
  if (std::strcmp(role_id, MMRT_ROLE_PADDER) == 0) return &kPadder;
#if !defined(BROKEN_MISSING_ROLE)
  if (std::strcmp(role_id, MMRT_ROLE_DECODER) == 0) return &kDecoder;
#endif
  return nullptr;
}

const MmrtPluginDescriptor kDescriptor = {MMRT_SIZEOF(MmrtPluginDescriptor, n_roles),
                                          0,
                                          nullptr,
                                          kMmrtPluginIdentity.id,
                                          kMmrtPluginIdentity.version,
                                          kMmrtPluginIdentity.architectures.data(),
                                          uint32_t(kMmrtPluginIdentity.architectures.size()),
                                          kMmrtPluginIdentity.roles.data(),
                                          uint32_t(kMmrtPluginIdentity.roles.size())};

const MmrtPluginApi kApi = {MMRT_SIZEOF(MmrtPluginApi, get_role),
                            0,
                            nullptr,
                            {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, 0},
                            &kDescriptor,
                            init,
                            shutdown,
                            create,
                            destroy,
                            get_role};

}  // namespace

extern "C" MMRT_EXPORT MmrtStatus* mmrt_plugin_entry_v1(const MmrtHostApi* host, const MmrtPluginApi** out) {
  g_host = host;
  if (host->abi.major != MMRT_ABI_MAJOR || host->abi.required_minor > MMRT_ABI_MINOR) {
    return error(MMRT_STATUS_UNSUPPORTED_VERSION, "this plugin is built for another ABI");
  }
  if (out == nullptr) return error(MMRT_STATUS_INVALID_ARGUMENT, "entry: out is NULL");
  *out = &kApi;
  return nullptr;
}
