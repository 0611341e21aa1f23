#!/bin/sh
# fuzz/run.sh [SECONDS] [TARGET...]: the fuzz targets, as CI runs them.
#
# Configures ./build-fuzz (or $WS_FUZZ_BUILD_DIR) with clang and -DWS_FUZZ=ON,
# builds the targets (libFuzzer, ASan, UBSan), replays every corpus once
# (ctest -L fuzz), then fuzzes each target for SECONDS (default 30; 0 = replay
# only) in one process, starting from a copy of its corpus in a temporary
# directory (fuzz/corpus is never written) with its dictionary, if any.
# Fails when any target crashes, leaks, times out or breaks an invariant; the
# input that did it is left in build-fuzz/fuzz/artifacts/TARGET/, and each
# run's log in build-fuzz/fuzz/logs/TARGET.log. TARGETs default to all.
set -eu
cd "$(dirname "$0")/.."
secs="${1:-30}"
[ $# -gt 0 ] && shift
targets="${*:-types lua_json store journal duration cli plan}"
dir="${WS_FUZZ_BUILD_DIR:-build-fuzz}"

cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DWS_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --target fuzz -j 2
(cd "$dir" && ctest -L fuzz --output-on-failure)
[ "$secs" -gt 0 ] || exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=""
for t in $targets; do
  mkdir -p "$work/$t" "$dir/fuzz/artifacts/$t" "$dir/fuzz/logs"
  cp fuzz/corpus/"$t"/* "$work/$t/"
  dict=""
  [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
  log="$dir/fuzz/logs/$t.log"
  # one process, one job: the machines this runs on are small
  if "$dir/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$dir/fuzz/artifacts/$t/" $dict \
       "$work/$t" >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED (see $log)"
    failed="$failed $t"
  fi
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  echo "fuzz_$t: $result ${done_line:+- $done_line}"
done
if [ -n "$failed" ]; then
  echo "fuzz targets that failed:$failed" >&2
  exit 1
fi
