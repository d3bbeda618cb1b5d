#!/usr/bin/env bash
# Runs the ```sh blocks of a document in order, as its reader types them, in an empty folder, then checks what
# they printed. So the SDK documents cannot drift from what works:
#   doc_commands_test.sh tutorial <source dir> <build dir>
#       docs/sdk.md against an installed mmrt: the blocks install this build into a fresh prefix, copy the
#       installed template, build it with find_package(mmrt), check it, drop it into a plugin folder and
#       generate through it
#   doc_commands_test.sh template <source dir> <build dir>
#       sdk/template/README.md against this source checkout (CMAKE_PREFIX_PATH=<source dir>) and its mmrt
set -euo pipefail
mode=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mmrt-sdk-$mode.XXXXXX")
trap 'rm -rf "$work"' EXIT

case $mode in
  tutorial)
    doc=$src/docs/sdk.md
    export MMRT_BUILD=$build MMRT_PREFIX=$work/prefix
    mkdir "$work/home"
    cd "$work/home"
    ;;
  template)
    doc=$src/sdk/template/README.md
    export MMRT_PREFIX=$src MMRT=$build/bin/mmrt
    cp -r "$src/sdk/template" "$work/next_letter"
    rm -rf "$work/next_letter/build" "$work/next_letter/plugins"
    cd "$work/next_letter"
    ;;
  *)
    echo "usage: $0 tutorial|template <source dir> <build dir>" >&2
    exit 2
    ;;
esac

{
  echo 'set -euxo pipefail'
  awk '/^```sh$/ {on = 1; next} /^```$/ {on = 0} on' "$doc"
} >"$work/commands.sh"
if [ "$(grep -c . "$work/commands.sh")" -lt 4 ]; then
  echo "FAIL: $doc has no \`\`\`sh blocks to run" >&2
  exit 1
fi
echo "== running the sh blocks of $doc in $PWD"
bash "$work/commands.sh" 2>&1 | tee "$work/transcript.txt"

failures=0
expect() {
  if grep -qE -- "$1" "$work/transcript.txt"; then
    echo "ok: $2"
  else
    echo "FAIL: $2 (no line matching '$1')" >&2
    failures=$((failures + 1))
  fi
}
expect '^OK: [0-9]+ passed, 0 failed$' "plugin-check passes the template plugin"
expect '^  PASS  role mmrt\.role\.decoder/1: calls$' "plugin-check drove the decoder role"
expect '^defghijklmnopqrstuvwxyz$' "mmrt generate continues 'abc' with the rest of the alphabet"
if [ "$mode" = tutorial ]; then
  expect '^(loaded|available) +NextLetterForCausalLM +org\.example\.next_letter +0\.1\.0 +\[0\]' "mmrt plugins selects the dropped-in plugin from the first folder"
  test -f "$MMRT_PREFIX/lib/cmake/mmrt/mmrtConfig.cmake" || { echo "FAIL: no installed package" >&2; failures=$((failures + 1)); }
fi
if [ "$failures" -ne 0 ]; then
  exit 1
fi
echo "== $doc: every command worked"
