# mmrt_add_plugin(NAME SOURCES ... ID reverse.dns.id VERSION x.y.z ARCHITECTURES a b ROLES r...)
#
# Builds lib<NAME>.so the way an outside developer builds a plugin: it sees plugin_api/ and sdk/ only,
# hidden visibility, an export map that exports just mmrt_plugin_entry_v*, no GNU unique symbols,
# static libstdc++. Next to the .so it writes <NAME>.mmrt.json, the manifest the host scans without
# running plugin code (its sha256 is filled in after the link).
set(MMRT_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/../sdk)
set(MMRT_PLUGIN_API_DIR ${CMAKE_CURRENT_LIST_DIR}/../plugin_api)

if(NOT TARGET mmrt_plugin_sdk)
  add_library(mmrt_plugin_sdk INTERFACE)
  target_include_directories(mmrt_plugin_sdk INTERFACE ${MMRT_PLUGIN_API_DIR} ${MMRT_SDK_DIR})
endif()

function(mmrt_add_plugin name)
  cmake_parse_arguments(P "" "ID;VERSION;OUTPUT_DIR;REQUIRES_HOST_MINOR;ABI_MAJOR;BUILT_MINOR"
                        "SOURCES;ARCHITECTURES;ROLES;LIBS" ${ARGN})
  if(NOT P_OUTPUT_DIR)
    set(P_OUTPUT_DIR ${MMRT_PLUGIN_OUTPUT_DIR})
  endif()
  if(NOT DEFINED P_REQUIRES_HOST_MINOR)
    set(P_REQUIRES_HOST_MINOR 0)
  endif()
  if(NOT DEFINED P_ABI_MAJOR)
    set(P_ABI_MAJOR 1)
  endif()
  if(NOT DEFINED P_BUILT_MINOR)
    # The minor of the header the plugin compiles against.
    file(STRINGS ${PROJECT_SOURCE_DIR}/plugin_api/mmrt_abi.h minor_line REGEX "^#define MMRT_ABI_MINOR [0-9]+")
    string(REGEX REPLACE ".* ([0-9]+)$" "\\1" P_BUILT_MINOR "${minor_line}")
  endif()
  add_library(${name} MODULE ${P_SOURCES})
  target_link_libraries(${name} PRIVATE mmrt_plugin_sdk ${P_LIBS})
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(${name} PRIVATE -fno-gnu-unique)
  target_link_options(${name} PRIVATE
    -Wl,--version-script=${MMRT_SDK_DIR}/mmrt_plugin.map -Wl,--no-undefined
    -static-libstdc++ -static-libgcc)

  set(arch_json "")
  foreach(a ${P_ARCHITECTURES})
    list(APPEND arch_json "\"${a}\"")
  endforeach()
  list(JOIN arch_json ", " arch_json)
  set(role_json "")
  foreach(r ${P_ROLES})
    list(APPEND role_json "\"${r}\"")
  endforeach()
  list(JOIN role_json ", " role_json)
  set(manifest ${P_OUTPUT_DIR}/lib${name}.mmrt.json)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DSO=$<TARGET_FILE:${name}> -DOUT=${manifest} -DID=${P_ID}
            -DVERSION=${P_VERSION} "-DARCHS=${arch_json}" "-DROLES=${role_json}"
            -DABI_MAJOR=${P_ABI_MAJOR} -DBUILT_MINOR=${P_BUILT_MINOR}
            -DREQUIRES_HOST_MINOR=${P_REQUIRES_HOST_MINOR}
            -P ${MMRT_SDK_DIR}/cmake/write_manifest.cmake
    VERBATIM)
  set_property(GLOBAL APPEND PROPERTY MMRT_PLUGINS ${name})
  # Plugins in the default folder are installed as built (install(FILES) copies bytes unchanged, so the
  # manifest's sha256 stays true); test plugins with their own OUTPUT_DIR are not installed.
  if(P_OUTPUT_DIR STREQUAL MMRT_PLUGIN_OUTPUT_DIR)
    install(FILES $<TARGET_FILE:${name}> ${manifest} DESTINATION lib/mmrt/plugins)
  endif()
endfunction()

# Plugins must never see core/ or kernels/ (nor the repository root above them): checked once every target
# is defined.
function(mmrt_check_plugin_isolation)
  get_property(plugins GLOBAL PROPERTY MMRT_PLUGINS)
  foreach(p ${plugins})
    get_target_property(libs ${p} LINK_LIBRARIES)
    foreach(l ${libs})
      if(l MATCHES "^mmrt_(core|text|image|model|plugin_host|engine|kernels)")
        message(FATAL_ERROR "plugin ${p} links ${l}: plugins may use plugin_api/ and sdk/ only")
      endif()
    endforeach()
    get_target_property(incs ${p} INCLUDE_DIRECTORIES)
    foreach(i ${incs})
      # Relative to the source tree, so a checkout in a folder named kernels or core is not mistaken.
      string(REPLACE "${CMAKE_SOURCE_DIR}/" "" rel "${i}")
      if(i STREQUAL CMAKE_SOURCE_DIR OR rel MATCHES "^(core|kernels)($|/)")
        message(FATAL_ERROR "plugin ${p} includes ${i}: plugins may use plugin_api/ and sdk/ only")
      endif()
    endforeach()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL mmrt_check_plugin_isolation)
