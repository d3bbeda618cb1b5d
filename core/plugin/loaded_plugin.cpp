#include "core/plugin/loaded_plugin.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/dll/shared_library.hpp>

#include "core/plugin/host_api.hpp"
#include "core/plugin/library_check.hpp"
#include "core/plugin/sha256.hpp"
#include "core/plugin/status.hpp"

namespace mmrt::plugin {
namespace {

// The process-wide loader lock: dlopen/dlclose and every [loader-thread] plugin call (entry, init, shutdown,
// create, destroy) run while holding it, so no two of them ever run at once.
std::mutex& loader_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Bounds for the descriptor's counts, so a garbage struct fails with a message instead of reading wild
// memory.
constexpr uint32_t kMaxDescriptorEntries = 4096;

// Loaded modules by absolute library path. An entry whose weak_ptr has expired belongs to a LoadedPlugin
// whose destructor has not finished yet; a new load of that file waits for it (module_released) so that
// shutdown() of the old module never runs after init() of the new one.
std::map<std::string, std::weak_ptr<LoadedPlugin>>& loaded_modules() {
  static std::map<std::string, std::weak_ptr<LoadedPlugin>> modules;
  return modules;
}

std::condition_variable& module_released() {
  static std::condition_variable released;
  return released;
}

// Runs one host -> plugin call; a C++ exception escaping the plugin becomes PluginError(PLUGIN_INTERNAL).
template <class Call>
auto call_plugin(const std::string& plugin_id, const char* what, Call&& call) {
  PluginLogScope log_scope(plugin_id);
  try {
    return call();
  } catch (const std::exception& error) {
    throw PluginError(MMRT_STATUS_PLUGIN_INTERNAL, plugin_id,
                      std::string(what) + " threw a C++ exception across the ABI: " + error.what());
  } catch (...) {
    throw PluginError(MMRT_STATUS_PLUGIN_INTERNAL, plugin_id,
                      std::string(what) + " threw a non-standard C++ exception across the ABI");
  }
}

// The same for calls whose failure can only be logged (destroy, shutdown run from destructors).
template <class Call>
void call_plugin_noexcept(const std::string& plugin_id, const char* what, Call&& call) noexcept {
  PluginLogScope log_scope(plugin_id);
  try {
    call();
  } catch (const std::exception& error) {
    spdlog::error("plugin {}: {} threw a C++ exception across the ABI: {}", plugin_id, what, error.what());
  } catch (...) {
    spdlog::error("plugin {}: {} threw a non-standard C++ exception across the ABI", plugin_id, what);
  }
}

[[noreturn]] void fail(int32_t code, const PluginManifest& manifest, const std::string& message) {
  throw PluginError(code, manifest.id, manifest.library_path.string() + ": " + message);
}

std::vector<std::string> read_c_strings(const PluginManifest& manifest, const char* field,
                                        const char* const* strings, uint32_t count) {
  if (count > kMaxDescriptorEntries) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest,
         std::string("descriptor ") + field + " count " + std::to_string(count) + " is implausible");
  }
  if (count > 0 && strings == nullptr) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest, std::string("descriptor ") + field + " is NULL");
  }
  std::vector<std::string> result;
  for (uint32_t i = 0; i < count; ++i) {
    if (strings[i] == nullptr) {
      fail(MMRT_STATUS_INVALID_ARGUMENT, manifest,
           std::string("descriptor ") + field + "[" + std::to_string(i) + "] is NULL");
    }
    result.emplace_back(strings[i]);
  }
  return result;
}

// Boost.DLL wraps dlerror() as "...load() failed (dlerror system message: <text>): <errno text>"; the
// dlerror text (e.g. "<path>: undefined symbol: foo") is the useful part.
std::string dlerror_text(const std::string& what) {
  constexpr std::string_view kMarker = "(dlerror system message: ";
  const size_t start = what.find(kMarker);
  const size_t end = what.rfind(')');
  if (start == std::string::npos || end == std::string::npos || end < start) return what;
  return what.substr(start + kMarker.size(), end - start - kMarker.size());
}

std::string join(std::vector<std::string> strings) {
  std::string text;
  for (const std::string& s : strings) text += (text.empty() ? "" : ", ") + s;
  return "[" + text + "]";
}

// Checks the table mmrt_plugin_entry_v1 returned against the ABI rules and the manifest; returns the runtime
// descriptor's roles.
std::vector<std::string> validate_plugin_api(const PluginManifest& manifest, const MmrtPluginApi* api,
                                             const AbiWindow& window) {
  if (api == nullptr) fail(MMRT_STATUS_INVALID_ARGUMENT, manifest, "entry returned no MmrtPluginApi");
  constexpr uint32_t kMinimalApiSize = MMRT_SIZEOF(MmrtPluginApi, get_role);
  if (api->struct_size < kMinimalApiSize) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest,
         "MmrtPluginApi.struct_size " + std::to_string(api->struct_size) + " is smaller than the v1.0 size " +
             std::to_string(kMinimalApiSize));
  }
  const PluginAbi runtime_abi{api->abi.major, api->abi.minor, api->abi.required_minor};
  if (auto rejection = check_abi_version(runtime_abi, window)) {
    fail(MMRT_STATUS_UNSUPPORTED_VERSION, manifest, "runtime " + *rejection);
  }
  if (api->create == nullptr || api->destroy == nullptr || api->get_role == nullptr) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest, "MmrtPluginApi lacks create, destroy or get_role");
  }

  const MmrtPluginDescriptor* descriptor = api->descriptor;
  constexpr uint32_t kMinimalDescriptorSize = MMRT_SIZEOF(MmrtPluginDescriptor, n_roles);
  if (descriptor == nullptr || descriptor->struct_size < kMinimalDescriptorSize) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest, "descriptor is NULL or smaller than the v1.0 size");
  }
  if (descriptor->id == nullptr || descriptor->version == nullptr) {
    fail(MMRT_STATUS_INVALID_ARGUMENT, manifest, "descriptor id or version is NULL");
  }
  if (manifest.id != descriptor->id) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest,
         "descriptor id \"" + std::string(descriptor->id) + "\" differs from the manifest's");
  }
  if (manifest.version != descriptor->version) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest,
         "descriptor version \"" + std::string(descriptor->version) + "\" differs from the manifest's \"" +
             manifest.version + "\"");
  }
  std::vector<std::string> architectures =
      read_c_strings(manifest, "architectures", descriptor->architectures, descriptor->n_architectures);
  std::vector<std::string> declared = manifest.architectures;
  std::sort(architectures.begin(), architectures.end());
  std::sort(declared.begin(), declared.end());
  if (architectures != declared) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest,
         "descriptor architectures " + join(architectures) + " differ from the manifest's " + join(declared));
  }
  std::vector<std::string> roles = read_c_strings(manifest, "roles", descriptor->roles, descriptor->n_roles);
  std::vector<std::string> sorted_roles = roles;
  std::vector<std::string> declared_roles = manifest.roles;
  std::sort(sorted_roles.begin(), sorted_roles.end());
  std::sort(declared_roles.begin(), declared_roles.end());
  if (sorted_roles != declared_roles) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest,
         "descriptor roles " + join(sorted_roles) + " differ from the manifest's " + join(declared_roles));
  }
  return roles;
}

}  // namespace

Instance::Instance(std::shared_ptr<LoadedPlugin> plugin, MmrtInstance* handle)
    : plugin_(std::move(plugin)), handle_(handle) {}

Instance::Instance(Instance&& other) noexcept
    : plugin_(std::move(other.plugin_)), handle_(std::exchange(other.handle_, nullptr)) {}

Instance& Instance::operator=(Instance&& other) noexcept {
  if (this != &other) {
    destroy();
    plugin_ = std::move(other.plugin_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Instance::~Instance() {
  destroy();
}

void Instance::destroy() noexcept {
  if (!plugin_) return;
  {
    std::lock_guard lock(loader_mutex());
    const MmrtPluginApi& api = plugin_->api();
    call_plugin_noexcept(plugin_->id(), "destroy", [&] { api.destroy(handle_); });
  }
  // Released outside the lock: this may be the last owner, and ~LoadedPlugin takes the lock itself.
  plugin_.reset();
  handle_ = nullptr;
}

const void* Instance::role_table(const char* role_id) const {
  if (!plugin_) throw std::logic_error("Instance::role on an empty or moved-from instance");
  const MmrtPluginApi& api = plugin_->api();
  return call_plugin(plugin_->id(), "get_role", [&] { return api.get_role(handle_, role_id); });
}

LoadedPlugin::LoadedPlugin(Passkey, PluginManifest manifest,
                           std::unique_ptr<boost::dll::shared_library> library, const MmrtPluginApi* api,
                           std::vector<std::string> roles)
    : manifest_(std::move(manifest)), library_(std::move(library)), api_(api), roles_(std::move(roles)) {}

LoadedPlugin::~LoadedPlugin() {
  std::lock_guard lock(loader_mutex());
  if (api_->shutdown != nullptr) call_plugin_noexcept(id(), "shutdown", [&] { api_->shutdown(); });
  library_.reset();
  loaded_modules().erase(manifest_.library_path.string());
  module_released().notify_all();
}

Instance LoadedPlugin::create(const MmrtCreateArgs& args) {
  const auto& archs = manifest_.architectures;
  if (args.architecture == nullptr ||
      std::find(archs.begin(), archs.end(), args.architecture) == archs.end()) {
    throw std::invalid_argument("plugin " + id() + ": create for architecture \"" +
                                (args.architecture ? args.architecture : "(null)") +
                                "\", which it does not declare");
  }
  MmrtCreateArgs host_args = args;
  host_args.struct_size = MMRT_SIZEOF(MmrtCreateArgs, compute_dtype);
  MmrtInstance* handle = nullptr;
  std::lock_guard lock(loader_mutex());
  MmrtStatus* status = call_plugin(id(), "create", [&] { return api_->create(&host_args, &handle); });
  throw_if_error(status, id(), std::string("create for ") + args.architecture);
  return Instance(shared_from_this(), handle);
}

void prepare_unwinder_for_plugin_exceptions() {
  static const bool ready = [] {
    try {
      throw std::runtime_error("fills libgcc_s's unwinder tables");
    } catch (const std::runtime_error&) {
    }
    return true;
  }();
  (void)ready;
}

std::shared_ptr<LoadedPlugin> load_plugin(const PluginManifest& manifest, const AbiWindow& window) {
  prepare_unwinder_for_plugin_exceptions();
  const std::filesystem::path path = std::filesystem::absolute(manifest.library_path);
  std::unique_lock lock(loader_mutex());
  auto& modules = loaded_modules();
  module_released().wait(lock, [&] {
    auto it = modules.find(path.string());
    return it == modules.end() || !it->second.expired();
  });
  if (auto it = modules.find(path.string()); it != modules.end()) {
    std::shared_ptr<LoadedPlugin> loaded = it->second.lock();
    if (loaded->id() != manifest.id) {
      fail(MMRT_STATUS_FAILED_PRECONDITION, manifest, "already loaded as plugin " + loaded->id());
    }
    const MmrtAbiVersion& abi = loaded->api().abi;
    if (auto rejection = check_abi_version({abi.major, abi.minor, abi.required_minor}, window)) {
      fail(MMRT_STATUS_UNSUPPORTED_VERSION, manifest, "runtime " + *rejection);
    }
    return loaded;
  }

  if (auto problem = inspect_plugin_library(path)) fail(MMRT_STATUS_FAILED_PRECONDITION, manifest, *problem);
  try {
    if (sha256_hex_of_file(path) != manifest.sha256) {
      fail(MMRT_STATUS_DATA_LOSS, manifest, "sha256 differs from the manifest's");
    }
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& error) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest, error.what());
  }

  // A plugin's exception is caught and destroyed inside call_plugin, one frame down, so none is alive (its
  // destructor lives in the library) when `library` unloads on the way out of a failed load.
  std::unique_ptr<boost::dll::shared_library> library;
  MmrtPluginEntryFn entry = nullptr;
  try {
    library = std::make_unique<boost::dll::shared_library>(
        path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    entry = &library->get<MmrtStatus*(const MmrtHostApi*, const MmrtPluginApi**)>(MMRT_PLUGIN_ENTRY_SYMBOL);
  } catch (const std::exception& error) {
    fail(MMRT_STATUS_FAILED_PRECONDITION, manifest, "dlopen failed: " + dlerror_text(error.what()));
  }

  const MmrtPluginApi* api = nullptr;
  throw_if_error(call_plugin(manifest.id, MMRT_PLUGIN_ENTRY_SYMBOL, [&] { return entry(host_api(), &api); }),
                 manifest.id, MMRT_PLUGIN_ENTRY_SYMBOL);
  std::vector<std::string> roles = validate_plugin_api(manifest, api, window);
  if (api->init != nullptr) throw_if_error(call_plugin(manifest.id, "init", api->init), manifest.id, "init");

  PluginManifest loaded_manifest = manifest;
  loaded_manifest.library_path = path;
  auto plugin = std::make_shared<LoadedPlugin>(LoadedPlugin::Passkey{}, std::move(loaded_manifest),
                                               std::move(library), api, std::move(roles));
  modules[path.string()] = plugin;
  spdlog::debug("plugin {} {} loaded from {}", manifest.id, manifest.version, path.string());
  return plugin;
}

}  // namespace mmrt::plugin
