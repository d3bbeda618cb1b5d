// A plugin whose entry calls a function no library defines. Built without -Wl,--no-undefined, it links; with
// RTLD_NOW the host must fail at dlopen, before any of its code runs, rather than at the first call.
#include "mmrt_abi.h"

extern "C" int mmrt_test_function_nobody_defines(void);

extern "C" MMRT_EXPORT MmrtStatus* mmrt_plugin_entry_v1(const MmrtHostApi* host, const MmrtPluginApi** out) {
  *out = nullptr;
  if (mmrt_test_function_nobody_defines() != 0)
    return host->status_new(MMRT_STATUS_INTERNAL, "unreachable", 11);
  return nullptr;
}
