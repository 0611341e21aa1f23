#!/bin/sh
# The README's test command: installs what is missing, builds, runs every suite
# via ctest (valgrind memcheck included), then again built with AddressSanitizer
# and UndefinedBehaviorSanitizer (./build-asan), then the fuzz targets for a
# bounded time each (fuzz/run.sh, ./build-fuzz). WS_NO_ASAN=1 skips the second
# part, WS_FUZZ_SECONDS sets the third's time per target (default 10; 0: only
# replay the corpora).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-test-deps.sh
scripts/build.sh "$@"
(cd "${WS_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)")
if [ -z "${WS_NO_ASAN:-}" ]; then
  WS_BUILD_DIR=build-asan WS_BUILD_TYPE=Debug scripts/build.sh -DWS_SANITIZE=ON "$@"
  (cd build-asan && ctest --output-on-failure -j "$(nproc)")
fi
fuzz/run.sh "${WS_FUZZ_SECONDS:-10}"
