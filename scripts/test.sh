#!/bin/sh
# The README's test command: installs what is missing, builds, runs every suite
# via ctest (valgrind memcheck included), then again built with AddressSanitizer
# and UndefinedBehaviorSanitizer (./build-asan). WS_NO_ASAN=1 skips the second.
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
