#!/usr/bin/env bash
# The vitest suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the addon
# itself (scripts/test-native.sh covers the kernels and core through the C++ driver; this
# covers the N-API binding layer too: argument checks, handles, finalizers, async work).
#
# The addon is built by node-gyp from the same binding.gyp with -Dsparsenn_sanitize=1, in
# native/test/build/addon-san/ (scripts/build-addon-variant.sh) so the release build in build/
# is untouched, and loaded through SPARSENN_ADDON. node itself is not instrumented, so libasan is preloaded; leak detection is
# off because node and V8 keep allocations alive at exit by design (the C++ driver's
# sanitizer run keeps LeakSanitizer on for our own code, and `npm run soak` watches memory).
# Any ASan or UBSan report aborts the test process, which fails the run; the log is also
# searched for reports as a second check.
#
# The headless-Chromium report test is skipped here: Chromium does not start with libasan
# preloaded, and it does not touch the addon.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

echo "== building the addon with ASan + UBSan (scripts/build-addon-variant.sh san)"
ADDON="$(env -u SPARSENN_CUDA bash scripts/build-addon-variant.sh san -Dsparsenn_sanitize=1 | tail -n 1)"
LOG="$(dirname "$ADDON")/vitest.log"

if ! nm -D "$ADDON" | grep -c __asan_report_load >/dev/null; then
  echo "error: $ADDON is not instrumented by AddressSanitizer" >&2
  exit 1
fi
LIBASAN="$(${CXX:-g++} -print-file-name=libasan.so)"
if [[ ! -f "$LIBASAN" ]]; then
  echo "error: libasan.so not found (${CXX:-g++} -print-file-name=libasan.so gave '$LIBASAN')" >&2
  exit 1
fi

echo "== vitest with $ADDON (LD_PRELOAD=$LIBASAN)"
status=0
SPARSENN_ADDON="$ADDON" LD_PRELOAD="$LIBASAN" SPARSENN_SKIP_BROWSER=1 \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  npx vitest run ${VITEST_ARGS:-} 2>&1 | tee "$LOG" || status=$?
if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$LOG"; then
  echo "test-addon-sanitized: sanitizer reports in $LOG" >&2
  exit 1
fi
if [[ $status != 0 ]]; then
  echo "test-addon-sanitized: vitest failed (exit $status); full output in $LOG" >&2
  exit "$status"
fi
echo "test-addon-sanitized: passed, no sanitizer report"
