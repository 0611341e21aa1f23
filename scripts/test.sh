#!/bin/sh
# The README's test command: installs what is missing, builds, runs every suite via ctest.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-test-deps.sh
scripts/build.sh "$@"
cd "${WS_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
