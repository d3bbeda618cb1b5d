#!/usr/bin/env bash
# The CMake package outside plugins use, configured from this checkout:
#   find_package(mmrt <major>.<minor>) accepts this ABI major at this minor or an older one, and nothing else;
#   mmrt_add_plugin refuses an identity the manifest and the generated header could not carry verbatim.
#   package_test.sh <source dir>
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mmrt-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
major=$(sed -n 's/^#define MMRT_ABI_MAJOR \([0-9]*\).*/\1/p' "$src/plugin_api/mmrt_abi.h")
minor=$(sed -n 's/^#define MMRT_ABI_MINOR \([0-9]*\).*/\1/p' "$src/plugin_api/mmrt_abi.h")
failures=0

# configure <name> <languages> <cmake body>: 0 when the project configures.
configure() {
  mkdir -p "$work/$1"
  printf 'cmake_minimum_required(VERSION 3.25)\nproject(%s LANGUAGES %s)\n%s\n' "$1" "$2" "$3" \
    >"$work/$1/CMakeLists.txt"
  touch "$work/$1/plugin.cpp"
  cmake -S "$work/$1" -B "$work/$1/build" -DCMAKE_PREFIX_PATH="$src" >"$work/$1.log" 2>&1
}
expect() {  # expect <configures|fails> <name> <languages> <body> [message the log must contain]
  local want=$1 name=$2
  if configure "$name" "$3" "$4"; then got=configures; else got=fails; fi
  if [ "$got" != "$want" ]; then
    echo "FAIL: $name $got, expected it to $want" >&2
    cat "$work/$name.log" >&2
    failures=$((failures + 1))
  elif [ -n "${5:-}" ] && ! grep -qF -- "$5" "$work/$name.log"; then
    echo "FAIL: $name: the log lacks '$5'" >&2
    cat "$work/$name.log" >&2
    failures=$((failures + 1))
  else
    echo "ok: $name $got"
  fi
}

expect configures any_version NONE 'find_package(mmrt REQUIRED)'
expect configures this_version NONE "find_package(mmrt $major.$minor REQUIRED)
if(NOT mmrt_VERSION STREQUAL \"$major.$minor\" OR NOT MMRT_ABI_MINOR EQUAL $minor)
  message(FATAL_ERROR \"version \${mmrt_VERSION}\")
endif()"
expect configures older_minor NONE "find_package(mmrt $major.0 REQUIRED)"
expect fails newer_minor NONE "find_package(mmrt $major.$((minor + 1)) REQUIRED)" "version: $major.$minor"
expect fails other_major NONE "find_package(mmrt $((major + 1)).0 REQUIRED)" "version: $major.$minor"

plugin() {  # the body of a plugin project whose mmrt_add_plugin call ends with "$1"
  printf 'find_package(mmrt REQUIRED)\nmmrt_add_plugin(p SOURCES plugin.cpp %s)' "$1"
}
expect configures good_identity CXX "$(plugin 'ID org.example.p VERSION 0.1.0 ARCHITECTURES PForCausalLM ROLES mmrt.role.decoder/1')"
test -f "$work/good_identity/build/p_identity/mmrt_plugin_identity.hpp" || {
  echo "FAIL: no generated mmrt_plugin_identity.hpp" >&2
  failures=$((failures + 1))
}
expect fails bad_id CXX "$(plugin 'ID "org.example.p\"x" VERSION 0.1.0 ARCHITECTURES P ROLES mmrt.role.decoder/1')" \
  "is not a reverse-DNS id"
expect fails bad_version CXX "$(plugin 'ID org.example.p VERSION 1 ARCHITECTURES P ROLES mmrt.role.decoder/1')" \
  "is not a semantic version"
expect fails no_architectures CXX "$(plugin 'ID org.example.p VERSION 0.1.0 ROLES mmrt.role.decoder/1')" \
  "ARCHITECTURES"
expect fails bad_role CXX "$(plugin 'ID org.example.p VERSION 0.1.0 ARCHITECTURES P ROLES decoder')" \
  "is not a role id"
[ "$failures" -eq 0 ]
