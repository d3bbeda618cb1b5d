# find_package(mmrt): what a plugin needs to build against mmrt, from an installed mmrt
# (<prefix>/lib/cmake/mmrt/, found with -DCMAKE_PREFIX_PATH=<prefix>) or from a source checkout (<checkout>/cmake/,
# found with -DCMAKE_PREFIX_PATH=<checkout>). The mmrt build includes this file too, so in-tree plugins are built
# by exactly the rules an outside plugin gets.
#
# Provides mmrt_add_plugin (MmrtPlugin.cmake), the INTERFACE target mmrt_plugin_sdk (the include root of
# mmrt_abi.h and mmrt/*.hpp), MMRT_ABI_MAJOR / MMRT_ABI_MINOR, and, for an installed mmrt, MMRT_EXECUTABLE.
include_guard(GLOBAL)

if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../plugin_api/mmrt_abi.h")
  get_filename_component(_mmrt_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  set(MMRT_PLUGIN_INCLUDE_DIRS "${_mmrt_root}/plugin_api" "${_mmrt_root}/sdk")
  set(MMRT_PLUGIN_MAP "${_mmrt_root}/sdk/mmrt_plugin.map")
  set(MMRT_WRITE_MANIFEST "${_mmrt_root}/sdk/cmake/write_manifest.cmake")
  set(MMRT_EXECUTABLE "")  # a checkout has no mmrt until it is built; use <build>/bin/mmrt
  set(MMRT_INTERNAL_DIRS "${_mmrt_root}/core" "${_mmrt_root}/kernels")  # what plugins must not include
else()
  get_filename_component(_mmrt_root "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  set(MMRT_PLUGIN_INCLUDE_DIRS "${_mmrt_root}/include")
  set(MMRT_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/mmrt_plugin.map")
  set(MMRT_WRITE_MANIFEST "${CMAKE_CURRENT_LIST_DIR}/write_manifest.cmake")
  set(MMRT_EXECUTABLE "${_mmrt_root}/bin/mmrt")
  set(MMRT_INTERNAL_DIRS "")
endif()

list(GET MMRT_PLUGIN_INCLUDE_DIRS 0 _mmrt_abi_dir)
file(STRINGS "${_mmrt_abi_dir}/mmrt_abi.h" _mmrt_abi_lines REGEX "^#define MMRT_ABI_(MAJOR|MINOR) ")
string(REGEX REPLACE ".*MMRT_ABI_MAJOR ([0-9]+).*" "\\1" MMRT_ABI_MAJOR "${_mmrt_abi_lines}")
string(REGEX REPLACE ".*MMRT_ABI_MINOR ([0-9]+).*" "\\1" MMRT_ABI_MINOR "${_mmrt_abi_lines}")

if(NOT TARGET mmrt_plugin_sdk)
  add_library(mmrt_plugin_sdk INTERFACE)
  target_include_directories(mmrt_plugin_sdk INTERFACE ${MMRT_PLUGIN_INCLUDE_DIRS})
endif()

include("${CMAKE_CURRENT_LIST_DIR}/MmrtPlugin.cmake")
