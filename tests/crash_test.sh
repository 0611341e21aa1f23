#!/bin/sh
# Crash consistency: kill -9 a running wsrun at many instants, resume it each
# time, and check that the run completes, every step ran, no step whose
# completion was committed ran again, and at most one extra run per crash.
#   WSRUN=... sh crash_test.sh [KILLS [MODE]]     (run from tests/)
# MODE "time" (default): kill -9 at instants 20-180 ms into each resume.
# MODE "commit": each resume kills itself in the middle of a SQLite commit
# (at its k-th write to the WAL, k varying; needs KILL_AT_WRITE, the path of
# tests/fault/kill_at_write.c built as a shared object).
set -u
: "${WSRUN:?set WSRUN to the wsrun binary}"
kills=${1:-20}
mode=${2:-time}
[ "$mode" = time ] || [ "$mode" = commit ] || { echo "unknown mode $mode"; exit 2; }
[ "$mode" = time ] || [ -f "${KILL_AT_WRITE:-}" ] || { echo "set KILL_AT_WRITE"; exit 2; }
n=80
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/runs.db"
fail() { echo "FAIL: $*"; exit 1; }

"$WSRUN" --db "$db" plans/steps.lua "$tmp" $n 1 >"$tmp/out" 2>&1 &
pid=$!
# wait until the run is recorded (a slow start, e.g. a sanitizer build)
id=""
t=0
while [ -z "$id" ]; do
  t=$((t + 1)); [ $t -lt 500 ] || fail "the run was never recorded"
  sleep 0.01
  id=$("$WSRUN" --db "$db" list 2>/dev/null | awk 'NR==2 {print $1}')
done
crashes=0
i=0
while [ $crashes -lt $kills ]; do
  i=$((i + 1))
  [ $i -le $((kills * 3)) ] || fail "only $crashes crashes in $i tries"
  if [ "$mode" = commit ] && [ $i -gt 1 ]; then
    wait $pid 2>/dev/null
    rc=$?
    if [ $rc -eq 137 ]; then
      crashes=$((crashes + 1))
    else
      grep -q "completed in" "$tmp/out" && break # it finished before its kill
      fail "resume ended with $rc without being killed: $(cat "$tmp/out")"
    fi
  else
    # a different instant each time: 20 to 180 ms into the run
    sleep "0.$(printf '%03d' $(( (i * 37) % 160 + 20 )))"
    if kill -9 $pid 2>/dev/null; then
      wait $pid 2>/dev/null
      crashes=$((crashes + 1))
    else
      wait $pid 2>/dev/null
      grep -q "completed in" "$tmp/out" && break # it finished before this kill
    fi
  fi
  if [ "$mode" = commit ]; then
    # the k-th write to the WAL: early (a lease, the first state changes) to
    # late (well into the steps); each commit writes a few frames
    LD_PRELOAD="$KILL_AT_WRITE" WS_KILL_AT_WRITE=$(( (i * 7) % 45 + 1 )) \
      "$WSRUN" --db "$db" resume "$id" >"$tmp/out" 2>&1 &
  else
    "$WSRUN" --db "$db" resume "$id" >"$tmp/out" 2>&1 &
  fi
  pid=$!
done
wait $pid
"$WSRUN" --db "$db" resume "$id" >"$tmp/last" 2>&1 # finishes it, or says it is done
"$WSRUN" --db "$db" show "$id" >"$tmp/show" 2>&1 || fail "show failed"
grep -q "^plan steps: completed" "$tmp/show" || { cat "$tmp/show"; fail "the run did not complete"; }
for s in $(seq 1 $n); do
  grep -qx "$s" "$tmp/log" || fail "step $s never ran"
done
lines=$(wc -l < "$tmp/log")
extra=$((lines - n))
[ $extra -le $crashes ] || fail "$extra extra runs for $crashes crashes"
[ "$(grep -c done "$tmp/deferred")" -ge 1 ] || fail "the deferred action did not run"
echo "ok: $crashes crashes, $extra steps ran again"
