// The plugin's side of the ABI as C++ classes: the entry point, version checks and every role slot are
// generated here as noexcept trampolines, so a plugin author writes classes only.
//
//   class MyModel : public mmrt::sdk::Instance, public mmrt::sdk::Padder { ... };
//   std::unique_ptr<mmrt::sdk::Instance> create_my_model(const MmrtCreateArgs& args) { ... }
//   constexpr const char* kArchitectures[] = {"MyModelForCausalLM"};
//   constexpr const char* kRoles[] = {MMRT_ROLE_PADDER};
//   MMRT_SDK_DEFINE_PLUGIN({.id = "org.example.my_model", .version = "0.1.0",
//                           .architectures = kArchitectures, .roles = kRoles, .create = &create_my_model})
//
// What the trampolines guarantee: exceptions become statuses (sdk::guard); args structs too small for the
// fields this plugin reads are INVALID_ARGUMENT; the entry refuses hosts of another major or an older minor
// than `required_host_minor` with UNSUPPORTED_VERSION. The roles' threading labels are the ABI's: Processor
// and Padder methods may run concurrently, Encoder and Decoder ones never concurrently on one instance.
#ifndef MMRT_SDK_PLUGIN_HPP_
#define MMRT_SDK_PLUGIN_HPP_

#include <mmrt_abi.h>

#include <cstring>
#include <memory>
#include <span>

#include "mmrt/host.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk {

// processor role [thread-safe]: one image in, its tensors out through out.alloc_tensor, and out.n_tokens.
class Processor {
 public:
  virtual ~Processor() = default;
  virtual void process(const MmrtImage& image, MmrtProcessorOutput& out) = 0;
  // Every setting that changes process()'s output; the string lives as long as the instance.
  virtual const char* fingerprint() = 0;
};

// encoder role [serialized-per-instance].
class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual int64_t embed_dim() = 0;
  virtual void encode(const MmrtEncodeArgs& args) = 0;
};

// padder role [thread-safe], pure: calls args.emit exactly once on success.
class Padder {
 public:
  virtual ~Padder() = default;
  virtual void expand(const MmrtPadArgs& args) = 0;
};

// decoder role [serialized-per-instance].
class Decoder {
 public:
  virtual ~Decoder() = default;
  // The SDK writes the fields into the host's struct within its struct_size.
  virtual MmrtKvSpec kv_spec() = 0;
  virtual void forward(const MmrtDecodeArgs& args) = 0;
  // Encoder-decoder models whose memory is computed from the encoder input (ABI 1.1): return true and
  // implement encode_memory. Otherwise the host takes the items' embeddings as the memory.
  virtual bool has_encode_memory() const { return false; }
  virtual void encode_memory(const MmrtMemoryArgs&) {
    throw Error(MMRT_STATUS_UNIMPLEMENTED, "this decoder has no encode_memory");
  }
};

// One model instance. Each role accessor returns the object serving that role (often `this`), or NULL
// when the instance does not offer it.
class Instance {
 public:
  virtual ~Instance() = default;
  virtual Processor* processor() { return nullptr; }
  virtual Encoder* encoder() { return nullptr; }
  virtual Padder* padder() { return nullptr; }
  virtual Decoder* decoder() { return nullptr; }
};

struct PluginDefinition {
  const char* id = nullptr;       // reverse DNS; must match the manifest written by mmrt_add_plugin
  const char* version = nullptr;  // semver; must match the manifest
  std::span<const char* const> architectures;
  std::span<const char* const> roles;
  std::unique_ptr<Instance> (*create)(const MmrtCreateArgs& args) = nullptr;
  uint32_t required_host_minor = 0;  // raise when using a host slot added after minor 0
  void (*init)() = nullptr;          // optional, [loader-thread], must tolerate repeated calls
  void (*shutdown)() = nullptr;      // optional, [loader-thread]
};

namespace detail {

inline const PluginDefinition* g_definition = nullptr;

inline Instance* instance(MmrtInstance* i) {
  return reinterpret_cast<Instance*>(i);
}

// Throws INVALID_ARGUMENT unless `args` reaches `needed` bytes (the last field this SDK reads).
template <class Args>
void require_size(const Args* args, size_t needed, const char* type) {
  require(args != nullptr, MMRT_STATUS_INVALID_ARGUMENT, str(type, " is NULL"));
  require(args->struct_size >= needed, MMRT_STATUS_INVALID_ARGUMENT,
          str(type, ".struct_size is ", args->struct_size, ", at least ", needed, " expected"));
}

template <class Role>
Role& role(MmrtInstance* i, Role* (Instance::*accessor)(), const char* name) {
  require(i != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "instance is NULL");
  Role* r = (instance(i)->*accessor)();
  require(r != nullptr, MMRT_STATUS_FAILED_PRECONDITION, str("instance does not offer the ", name, " role"));
  return *r;
}

inline MmrtStatus* processor_process(MmrtInstance* i, const MmrtProcessArgs* args) {
  return guard("processor", [&] {
    require_size(args, MMRT_SIZEOF(MmrtProcessArgs, out), "MmrtProcessArgs");
    require(args->image != nullptr && args->out != nullptr, MMRT_STATUS_INVALID_ARGUMENT,
            "MmrtProcessArgs.image/out is NULL");
    role(i, &Instance::processor, "processor").process(*args->image, *args->out);
  });
}
inline const char* processor_fingerprint(MmrtInstance* i) {
  const char* out = nullptr;
  MmrtStatus* s =
      guard("processor fingerprint", [&] { out = role(i, &Instance::processor, "processor").fingerprint(); });
  if (s != nullptr) {
    // The slot cannot return a status; an empty fingerprint would alias every setting, so report loudly.
    log(MMRT_LOG_ERROR, "processor fingerprint failed");
    if (const MmrtHostApi* h = host_or_null(); h && MMRT_SDK_HAS_SLOT(h, MmrtHostApi, status_free))
      h->status_free(s);
    return nullptr;
  }
  return out;
}
inline MmrtStatus* processor_get_fingerprint(MmrtInstance* i, const char** out) {
  return guard("processor fingerprint", [&] {
    require(out != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "fingerprint out is NULL");
    *out = role(i, &Instance::processor, "processor").fingerprint();
    require(*out != nullptr && **out != '\0', MMRT_STATUS_INTERNAL, "the processor has an empty fingerprint");
  });
}
inline MmrtStatus* encoder_get_embed_dim(MmrtInstance* i, int64_t* out) {
  return guard("encoder embed_dim", [&] {
    require(out != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "embed_dim out is NULL");
    *out = role(i, &Instance::encoder, "encoder").embed_dim();
  });
}
inline int64_t encoder_embed_dim(MmrtInstance* i) {
  int64_t dim = -1;
  MmrtStatus* s =
      guard("encoder embed_dim", [&] { dim = role(i, &Instance::encoder, "encoder").embed_dim(); });
  if (s != nullptr) {
    if (const MmrtHostApi* h = host_or_null(); h && MMRT_SDK_HAS_SLOT(h, MmrtHostApi, status_free))
      h->status_free(s);
    return -1;
  }
  return dim;
}
inline MmrtStatus* encoder_encode(MmrtInstance* i, const MmrtEncodeArgs* args) {
  return guard("encoder", [&] {
    require_size(args, MMRT_SIZEOF(MmrtEncodeArgs, stream), "MmrtEncodeArgs");
    role(i, &Instance::encoder, "encoder").encode(*args);
  });
}
inline MmrtStatus* padder_expand(MmrtInstance* i, const MmrtPadArgs* args) {
  return guard("padder", [&] {
    require_size(args, MMRT_SIZEOF(MmrtPadArgs, emit), "MmrtPadArgs");
    role(i, &Instance::padder, "padder").expand(*args);
  });
}
inline MmrtStatus* decoder_kv_spec(MmrtInstance* i, MmrtKvSpec* out) {
  return guard("decoder kv_spec", [&] {
    require(out != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "MmrtKvSpec out is NULL");
    MmrtKvSpec spec = role(i, &Instance::decoder, "decoder").kv_spec();
    // The host sizes the struct it passes; a zero size means it expects every field of minor 0.
    size_t ours = MMRT_SIZEOF(MmrtKvSpec, max_encoder_len);
    size_t n = out->struct_size == 0 ? ours : std::min<size_t>(out->struct_size, ours);
    spec.struct_size = static_cast<uint32_t>(n);
    spec.flags = 0;
    spec.next = nullptr;
    std::memcpy(out, &spec, n);
  });
}
inline MmrtStatus* decoder_forward(MmrtInstance* i, const MmrtDecodeArgs* args) {
  return guard("decoder", [&] {
    require_size(args, MMRT_SIZEOF(MmrtDecodeArgs, stream), "MmrtDecodeArgs");
    role(i, &Instance::decoder, "decoder").forward(*args);
  });
}

inline MmrtStatus* decoder_encode_memory(MmrtInstance* i, const MmrtMemoryArgs* args) {
  return guard("decoder encode_memory", [&] {
    require_size(args, MMRT_SIZEOF(MmrtMemoryArgs, stream), "MmrtMemoryArgs");
    role(i, &Instance::decoder, "decoder").encode_memory(*args);
  });
}

inline constexpr MmrtProcessorRole kProcessorRole = {MMRT_SIZEOF(MmrtProcessorRole, get_fingerprint),
                                                     0,
                                                     nullptr,
                                                     &processor_process,
                                                     &processor_fingerprint,
                                                     &processor_get_fingerprint};
inline constexpr MmrtEncoderRole kEncoderRole = {MMRT_SIZEOF(MmrtEncoderRole, get_embed_dim),
                                                 0,
                                                 nullptr,
                                                 &encoder_embed_dim,
                                                 &encoder_encode,
                                                 &encoder_get_embed_dim};
inline constexpr MmrtPadderRole kPadderRole = {MMRT_SIZEOF(MmrtPadderRole, expand), 0, nullptr,
                                               &padder_expand};
inline constexpr MmrtDecoderRole kDecoderRole = {
    MMRT_SIZEOF(MmrtDecoderRole, encode_memory), 0, nullptr, &decoder_kv_spec, &decoder_forward, nullptr};
inline constexpr MmrtDecoderRole kDecoderRoleWithMemory = {MMRT_SIZEOF(MmrtDecoderRole, encode_memory),
                                                           0,
                                                           nullptr,
                                                           &decoder_kv_spec,
                                                           &decoder_forward,
                                                           &decoder_encode_memory};

inline MmrtStatus* plugin_init() {
  return guard("init", [] {
    if (g_definition->init) g_definition->init();
  });
}
inline void plugin_shutdown() {
  MmrtStatus* s = guard("shutdown", [] {
    if (g_definition->shutdown) g_definition->shutdown();
  });
  if (s != nullptr) {
    log(MMRT_LOG_ERROR, "plugin shutdown failed");
    if (const MmrtHostApi* h = host_or_null(); h && MMRT_SDK_HAS_SLOT(h, MmrtHostApi, status_free))
      h->status_free(s);
  }
}
inline MmrtStatus* plugin_create(const MmrtCreateArgs* args, MmrtInstance** out) {
  return guard("create", [&] {
    require(out != nullptr, MMRT_STATUS_INVALID_ARGUMENT, "create: out is NULL");
    *out = nullptr;
    require_size(args, MMRT_SIZEOF(MmrtCreateArgs, compute_dtype), "MmrtCreateArgs");
    std::unique_ptr<Instance> made = g_definition->create(*args);
    require(made != nullptr, MMRT_STATUS_INTERNAL, "create returned no instance");
    *out = reinterpret_cast<MmrtInstance*>(made.release());
  });
}
inline void plugin_destroy(MmrtInstance* i) {
  delete instance(i);
}
inline const void* plugin_get_role(MmrtInstance* i, const char* role_id) {
  if (i == nullptr || role_id == nullptr) return nullptr;
  Instance* inst = instance(i);
  try {
    if (std::strcmp(role_id, MMRT_ROLE_PROCESSOR) == 0 && inst->processor()) return &kProcessorRole;
    if (std::strcmp(role_id, MMRT_ROLE_ENCODER) == 0 && inst->encoder()) return &kEncoderRole;
    if (std::strcmp(role_id, MMRT_ROLE_PADDER) == 0 && inst->padder()) return &kPadderRole;
    if (std::strcmp(role_id, MMRT_ROLE_DECODER) == 0 && inst->decoder())
      return inst->decoder()->has_encode_memory() ? &kDecoderRoleWithMemory : &kDecoderRole;
  } catch (...) {
    return nullptr;
  }
  return nullptr;
}

inline MmrtPluginApi make_api(const PluginDefinition& d) {
  static MmrtPluginDescriptor descriptor{};
  descriptor.struct_size = MMRT_SIZEOF(MmrtPluginDescriptor, n_roles);
  descriptor.id = d.id;
  descriptor.version = d.version;
  descriptor.architectures = d.architectures.data();
  descriptor.n_architectures = static_cast<uint32_t>(d.architectures.size());
  descriptor.roles = d.roles.data();
  descriptor.n_roles = static_cast<uint32_t>(d.roles.size());
  MmrtPluginApi api{};
  api.struct_size = MMRT_SIZEOF(MmrtPluginApi, get_role);
  api.abi = {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, d.required_host_minor};
  api.descriptor = &descriptor;
  api.init = &plugin_init;
  api.shutdown = &plugin_shutdown;
  api.create = &plugin_create;
  api.destroy = &plugin_destroy;
  api.get_role = &plugin_get_role;
  return api;
}

// The body of mmrt_plugin_entry_v1. Does no work beyond version checks, as the ABI requires.
inline MmrtStatus* plugin_entry(const MmrtHostApi* host, const PluginDefinition& definition,
                                const MmrtPluginApi** out) noexcept {
  if (out != nullptr) *out = nullptr;
  // Statuses are made through the host even on a major mismatch: status_new sits right after the
  // version in MmrtHostApi, which is the part of the table every major must keep in place.
  set_host(host);
  std::string mismatch = version_mismatch(host, definition.required_host_minor);
  if (!mismatch.empty()) {
    MmrtStatus* s = to_status(MMRT_STATUS_UNSUPPORTED_VERSION, str(definition.id, ": ", mismatch));
    set_host(nullptr);
    return s;
  }
  if (out == nullptr) return to_status(MMRT_STATUS_INVALID_ARGUMENT, "plugin entry: out is NULL");
  g_definition = &definition;
  static const MmrtPluginApi api = make_api(definition);
  *out = &api;
  return nullptr;
}

}  // namespace detail
}  // namespace mmrt::sdk

// Defines the exported entry point from a braced PluginDefinition initialiser.
#define MMRT_SDK_DEFINE_PLUGIN(...)                                                    \
  extern "C" MMRT_EXPORT MmrtStatus* mmrt_plugin_entry_v1(const MmrtHostApi* host,     \
                                                          const MmrtPluginApi** out) { \
    static const ::mmrt::sdk::PluginDefinition definition = __VA_ARGS__;               \
    return ::mmrt::sdk::detail::plugin_entry(host, definition, out);                   \
  }

#endif  // MMRT_SDK_PLUGIN_HPP_
