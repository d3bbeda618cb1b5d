// A plugin .so loaded into the process (LoadedPlugin) and the model instances it creates (Instance).
//
// Lifetime: every Instance holds a shared_ptr to its LoadedPlugin, so the library is never unloaded while an
// instance lives; the last owner's release destroys the instances' plugin first, then calls shutdown() and
// unloads. Everything that runs plugin code for loading (dlopen, entry, init, shutdown, create, destroy) is
// serialized on one process-wide loader mutex, which is what the ABI's [loader-thread] label promises.
// Role tables (Instance::role) are [thread-safe] lookups and take no lock.
//
// Every host -> plugin call is wrapped: a returned status becomes a PluginError carrying its code and
// message; a C++ exception that escapes the plugin (the SDK's trampolines should have converted it) is caught
// here as a backstop and becomes PluginError(MMRT_STATUS_PLUGIN_INTERNAL).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/abi_window.hpp"
#include "core/plugin/manifest.hpp"
#include "plugin_api/mmrt_abi.h"

namespace boost::dll {
class shared_library;
}

namespace mmrt::plugin {

class LoadedPlugin;

// One model instance (MmrtInstance) of a loaded plugin. Move-only; the destructor calls the plugin's
// destroy(). Not thread-safe itself; role tables it hands out follow their slots' threading labels.
class Instance {
 public:
  // An empty instance: owns nothing, destroys nothing; role() on it throws std::logic_error.
  Instance() = default;
  Instance(Instance&& other) noexcept;
  Instance& operator=(Instance&& other) noexcept;
  ~Instance();

  // The plugin's opaque handle, passed as the first argument of every role slot. May be null (a plugin may
  // use null for a single stateless instance).
  MmrtInstance* handle() const { return handle_; }
  bool empty() const { return plugin_ == nullptr; }
  // Must not be called on an empty instance.
  const LoadedPlugin& plugin() const { return *plugin_; }

  // The role table for `role_id` (MMRT_ROLE_*), e.g. role<MmrtPadderRole>(MMRT_ROLE_PADDER); nullptr when the
  // instance does not offer it. Valid until this Instance is destroyed. Throws PluginError if get_role
  // throws.
  template <class RoleTable>
  const RoleTable* role(const char* role_id) const {
    return static_cast<const RoleTable*>(role_table(role_id));
  }
  const void* role_table(const char* role_id) const;

 private:
  friend class LoadedPlugin;
  Instance(std::shared_ptr<LoadedPlugin> plugin, MmrtInstance* handle);
  void destroy() noexcept;

  std::shared_ptr<LoadedPlugin> plugin_;  // null when empty or moved from
  MmrtInstance* handle_ = nullptr;
};

class LoadedPlugin : public std::enable_shared_from_this<LoadedPlugin> {
  struct Passkey {};

 public:
  // Use load_plugin().
  LoadedPlugin(Passkey, PluginManifest manifest, std::unique_ptr<boost::dll::shared_library> library,
               const MmrtPluginApi* api, std::vector<std::string> roles);
  // Calls shutdown() (errors are logged, never thrown), then unloads the library.
  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const std::string& id() const { return manifest_.id; }
  const PluginManifest& manifest() const { return manifest_; }
  // The plugin's table, validated at load. Fields beyond the v1.0 layout are never read by this host.
  const MmrtPluginApi& api() const { return *api_; }
  // The roles the runtime descriptor offers.
  const std::vector<std::string>& roles() const { return roles_; }

  // Creates one model instance. args.architecture must be one of the manifest's architectures (else
  // std::invalid_argument); the host sets args.struct_size itself. Throws PluginError with the plugin's
  // status message when create fails or throws.
  Instance create(const MmrtCreateArgs& args);

 private:
  friend std::shared_ptr<LoadedPlugin> load_plugin(const PluginManifest&, const AbiWindow&);

  PluginManifest manifest_;
  std::unique_ptr<boost::dll::shared_library> library_;
  const MmrtPluginApi* api_;  // lives in the library's static data
  std::vector<std::string> roles_;
};

// Readies the host's unwinder (libgcc_s) for a C++ exception that escapes a plugin. Such an exception is
// unwound by the plugin's own static libgcc, which hands the host's frames to the host's personality routine,
// and that writes registers through libgcc_s's _Unwind_SetGR. libgcc_s (GCC 12) fills the register-size table
// _Unwind_SetGR reads only when it unwinds something itself, so before the host's first own exception the
// write aborts the process. Throwing one exception here fills it. Idempotent and thread-safe; load_plugin
// calls it, and so must any other code that calls into a plugin it dlopened itself.
void prepare_unwinder_for_plugin_exceptions();

// Loads the plugin `manifest` describes, or returns the already loaded one for the same file. In order:
// checks the file without running it (ELF for this machine, exports mmrt_plugin_entry_v1, sha256 equal to the
// manifest's); dlopen with RTLD_NOW | RTLD_LOCAL from the absolute path, so an unresolved symbol fails here;
// calls mmrt_plugin_entry_v1(host_api()); validates the returned table (non-null, struct_size at least
// v1.0's, ABI version inside `window`, required slots present, descriptor id, version, architectures and
// roles equal to the manifest's); calls init() once. Throws PluginError naming the plugin id and the path on
// any failure; when entry or init fails the library is unloaded again without calling shutdown().
std::shared_ptr<LoadedPlugin> load_plugin(const PluginManifest& manifest, const AbiWindow& window = {});

}  // namespace mmrt::plugin
