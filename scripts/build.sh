#!/bin/sh
# Configures and builds into ./build (or $WS_BUILD_DIR). Extra arguments go to cmake.
set -eu
cd "$(dirname "$0")/.."
dir="${WS_BUILD_DIR:-build}"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${WS_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
