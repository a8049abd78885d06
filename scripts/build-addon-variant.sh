#!/usr/bin/env bash
# Builds a variant of the addon from the same binding.gyp in native/test/build/addon-<name>/
# (so the release build in build/ is untouched) and prints the path of its .node file last.
# Used by scripts/test-addon-sanitized.sh (-Dsparsenn_sanitize=1) and scripts/test-cuda.sh
# (SPARSENN_CUDA=1 in the environment). Load the result through SPARSENN_ADDON.
#
#   scripts/build-addon-variant.sh <name> [gyp defines, e.g. -Dsparsenn_sanitize=1]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NAME="$1"
shift
DIR="native/test/build/addon-$NAME"
mkdir -p "$DIR"
ln -sfn ../../../../native "$DIR/native"
ln -sfn ../../../../node_modules "$DIR/node_modules"
STAMP="$(printf '%s\n' "$*" "${SPARSENN_CUDA:-0}" "$(sha1sum <binding.gyp)")"
if [[ "$(cat "$DIR/configured" 2>/dev/null)" != "$STAMP" || ! -f "$DIR/build/Makefile" ]]; then
  cp binding.gyp "$DIR/binding.gyp"
  (cd "$DIR" && npx node-gyp configure -- "$@") >&2
  echo "$STAMP" >"$DIR/configured"
fi
(cd "$DIR" && npx node-gyp build -j "$(nproc)") >&2
echo "$ROOT/$DIR/build/Release/sparsenn.node"
