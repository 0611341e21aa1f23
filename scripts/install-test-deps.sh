#!/bin/sh
# Installs what only the tests need, beyond scripts/install-deps.sh: Chromium,
# run headless by the HTML report's end-to-end test (tests/report_test.sh);
# valgrind, under which the memcheck tests run (tests/CMakeLists.txt); clang
# and its runtime (libFuzzer, sanitizers) for the fuzz targets (fuzz/run.sh).
set -eu
exec "$(dirname "$0")/install-deps.sh" chromium valgrind clang libclang-rt-dev
