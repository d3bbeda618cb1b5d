// A library that looks like a plugin (manifest, right file name) but exports no mmrt_plugin_entry_v1: the
// host must reject it from the symbol table without loading it.
#include "mmrt_abi.h"

extern "C" MMRT_EXPORT int mmrt_not_the_entry(void) {
  return 42;
}
