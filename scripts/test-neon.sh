#!/usr/bin/env bash
# Cross-compiles the native kernel test driver for arm64 (core + scalar + NEON kernels; the
# x86 files are not built for that target) with aarch64-linux-gnu-g++ and runs it under
# qemu-user, so the NEON kernels are checked on an x86-64 machine. The build and the runs are
# those of scripts/test-native.sh (one list of sources and flags); this script only checks the
# tools and sets the compiler and the runner. Output goes to native/test/build/arm64/.
#
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user
# Environment: as scripts/test-native.sh (SANITIZE=1 gives UBSan only here: AddressSanitizer
# does not run under qemu-user).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CROSS_CXX="${CROSS_CXX:-aarch64-linux-gnu-g++}"
QEMU="${QEMU:-qemu-aarch64}"
SYSROOT="${SYSROOT:-/usr/aarch64-linux-gnu}"

missing=()
command -v "$CROSS_CXX" >/dev/null 2>&1 || missing+=("$CROSS_CXX (package g++-aarch64-linux-gnu)")
command -v "$QEMU" >/dev/null 2>&1 || missing+=("$QEMU (package qemu-user)")
[[ -d "$SYSROOT/lib" ]] || missing+=("the arm64 runtime libraries in $SYSROOT (package g++-aarch64-linux-gnu)")
if ((${#missing[@]})); then
  echo "error: scripts/test-neon.sh cannot run; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "Install them with:  sudo apt-get install g++-aarch64-linux-gnu qemu-user" >&2
  exit 1
fi

echo "== NEON: cross-compiling with $CROSS_CXX, running under $QEMU -L $SYSROOT"
export CXX="$CROSS_CXX"
export RUNNER="$QEMU -L $SYSROOT"
if [[ "${SANITIZE:-0}" == 1 ]]; then
  echo "   (SANITIZE=1: UndefinedBehaviorSanitizer only; AddressSanitizer does not run under qemu-user)"
  export SANITIZE=ubsan
fi
exec "$ROOT/scripts/test-native.sh"
