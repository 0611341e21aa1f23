#!/bin/sh
# End-to-end tests of the real wsrun binary on plan files in tests/plans.
# usage: WSRUN=/path/to/wsrun sh cli_test.sh CASE   (run from tests/)
set -u
: "${WSRUN:?set WSRUN to the wsrun binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state" # runs are recorded here, not in the user's state

fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
run() { "$WSRUN" "$@" >"$tmp/out" 2>"$tmp/err"; code=$?; }
expect_code() { [ "$code" -eq "$1" ] || fail "exit code $code, expected $1"; }
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks: $1"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks: $1"; }
expect_err_re() { grep -qE -- "$1" "$tmp/err" || fail "stderr does not match: $1"; }

case_good_plan() {
  run plans/good.lua "$tmp"
  expect_code 0
  for f in first a1 a2 b1; do [ -f "$tmp/$f" ] || fail "the command for $f did not run"; done
  expect_out 'plan "good" started'
  expect_out "completed work/a/touch a2"
  expect_out 'plan "good" completed'
  expect_out "actions: 4 completed"
}

case_failing_command() {
  run plans/failing.lua
  expect_code 1
  expect_out "failed    deploy/web1/restart"
  expect_out 'plan "failing" failed (reason: block)'
  expect_out "1 completed, 1 failed, 1 not started"
  expect_out "failed actions (1):"
  expect_out "  deploy/web1/restart: "
  expect_out "unit web.service not found"
}

case_syntax_error() {
  run plans/syntax_error.lua
  expect_code 2
  expect_err_re "^wsrun: plans/syntax_error.lua:4: '}' expected \(to close '\{' at line 2\) near 'blocks'"
}

case_wrong_field_type() {
  run plans/wrong_field.lua
  expect_code 2
  expect_err "plans/wrong_field.lua:7: "
  expect_err 'block "wave"'
  expect_err "concurrency"
}

case_bad_request_type() {
  run plans/bad_request.lua
  expect_code 2
  expect_err "plans/bad_request.lua:8: "
  expect_err 'action "list files"'
  expect_err "req.argv: expected list(string), got string"
}

case_missing_file() {
  run plans/does_not_exist.lua
  expect_code 2
  expect_err "cannot open plans/does_not_exist.lua"
}

case_not_a_plan() {
  run plans/not_a_plan.lua
  expect_code 2
  expect_err "plans/not_a_plan.lua returned nothing, not a plan"
}

case_args_reach_plan() {
  run plans/args.lua "$tmp/args.txt" hello
  expect_code 0
  [ "$(cat "$tmp/args.txt")" = "plans/args.lua|hello|2" ] || fail "args file: $(cat "$tmp/args.txt")"
}

case_usage() {
  run
  expect_code 2
  expect_err "usage: wsrun"
  run --help
  expect_code 0
  expect_out "usage: wsrun"
  run --frobnicate plans/good.lua
  expect_code 2
  expect_err "unknown option --frobnicate"
}

case_plugins_listed() {
  run plugins
  expect_code 0
  expect_out "ws.exec"
  expect_out "  request:  record{argv = list(string), env = optional(map(string))"
  expect_out "ws.sleep"
}

# wsrun does not link libcurl: ws.check.http's definition is built in (listing,
# --check, validation) and its libcurl module loads with the first attempt.
case_http_check_module() {
  if command -v ldd >/dev/null; then
    ldd "$WSRUN" >"$tmp/out" 2>"$tmp/err" || fail "ldd $WSRUN failed"
    ! grep -q libcurl "$tmp/out" || fail "wsrun links libcurl"
  fi
  WS_CHECK_HTTP_MODULE="$tmp/none.so"
  export WS_CHECK_HTTP_MODULE
  run plugins
  expect_code 0
  expect_out "ws.check.http  (check)"
  expect_out "  request:  record{url = string, status = default(integer, 200)"
  run --check plans/http_check.lua
  expect_code 0
  expect_out 'req {"insecure":false,"status":599,"url":"http://127.0.0.1:1/health"}'
  run plans/http_check.lua
  expect_code 1
  expect_out "pre_checks/web up: ws.check.http: cannot load its libcurl module: $tmp/none.so: "
  unset WS_CHECK_HTTP_MODULE
  run plans/http_check.lua # now the module installed beside wsrun
  expect_code 1
  expect_out 'plan "http check" failed (reason: pre_check)'
  expect_out "pre_checks/web up: GET http://127.0.0.1:1/health: "
}

case_plugin_by_flag() {
  : "${EXAMPLE_PLUGIN:?set EXAMPLE_PLUGIN to the example plugin}"
  printf 'hello\n' > "$tmp/file"
  run --plugin "$EXAMPLE_PLUGIN" plans/checksum.lua "$tmp/file"
  expect_code 0
  expect_out "completed b/s/sum"
  expect_out "actions: 2 completed"
  run --plugin "$EXAMPLE_PLUGIN" plans/checksum.lua relative/path
  expect_code 2
  expect_err "checksum.lua:8: "
  expect_err "absolute"
}

case_bad_plugin() {
  run --plugin plans/good.lua plans/good.lua "$tmp"
  expect_code 2
  expect_err "wsrun: --plugin: plans/good.lua: "
  run --plugin "$tmp/missing.so" plugins
  expect_code 2
  expect_err "missing.so"
}

case_plugin_path() {
  mkdir "$tmp/plugins"
  cp "$EXAMPLE_PLUGIN" "$tmp/plugins/"
  WS_PLUGIN_PATH="$tmp/nowhere:$tmp/plugins" "$WSRUN" plugins >"$tmp/out" 2>"$tmp/err"; code=$?
  expect_code 0
  expect_out "example.checksum"
  expect_out 'request:  record{path = string, algorithm = default(enum{"fnv1a64", "adler32"}, "fnv1a64")}'
}

# Starts the stoppable plan in the background and waits for its first action.
start_stoppable() {
  "$WSRUN" plans/stoppable.lua "$tmp" "$1" >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  i=0
  while [ ! -f "$tmp/started" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || fail "the first action never started"
    sleep 0.05
  done
}

case_graceful_stop_by_signal() {
  start_stoppable 1
  kill -INT $pid
  wait $pid; code=$?
  expect_code 1
  [ ! -f "$tmp/second" ] || fail "a new sequence started after the stop"
  [ -f "$tmp/cleanup" ] || fail "the deferred action did not run"
  expect_out "completed b/first/slow"
  expect_out 'plan "stoppable" stopped (reason: stopped)'
  expect_err "SIGINT: stopping"
}

case_forced_stop_by_signal() {
  start_stoppable 60
  kill -TERM $pid
  sleep 0.2
  kill -TERM $pid
  wait $pid; code=$?
  expect_code 1
  expect_out "stopped   b/first/slow"
  expect_out 'plan "stoppable" stopped'
  expect_err "SIGTERM again: cancelling running actions"
  ! kill -0 "$(cat "$tmp/pid")" 2>/dev/null || fail "the cancelled command is still running"
}

last_id() { "$WSRUN" list | awk 'NR==2 {print $1}'; }

# 10^4 ws.exec actions leave no file descriptor open and no child behind.
case_no_fd_or_child_leaks() {
  run plans/leaks.lua "$tmp" 10000 50
  expect_code 0
  expect_out "actions: 10052 completed"
  before=$(cat "$tmp/before.fds") after=$(cat "$tmp/after.fds")
  [ "$after" -le "$before" ] || fail "open descriptors: $before before 10^4 commands, $after after"
  [ "$(cat "$tmp/after.children")" -eq 1 ] || fail "children left: $(cat "$tmp/after.children") (1 is the probe)"
}

# SIGINT or SIGTERM at any instant of a run leaves it stopped and resumable;
# a graceful stop interrupts nothing, so resuming runs every step exactly once.
case_signals_at_any_moment() {
  for i in 1 2 3 4 5 6 7 8; do
    rm -f "$tmp/log" "$tmp/deferred"
    db="$tmp/sig$i.db"
    "$WSRUN" --db "$db" plans/steps.lua "$tmp" 30 3 >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    id=""
    while [ -z "$id" ]; do
      sleep 0.01
      id=$("$WSRUN" --db "$db" list 2>/dev/null | awk 'NR==2 {print $1}')
    done
    sleep "0.$(printf '%03d' $(( (i * 53) % 250 )))"
    sig=INT; [ $((i % 2)) -eq 0 ] && sig=TERM
    kill -$sig $pid
    wait $pid; code=$?
    if [ $code -eq 0 ]; then continue; fi # it had finished
    expect_code 1
    "$WSRUN" --db "$db" show "$id" >"$tmp/show" 2>&1
    grep -q "^plan steps: stopped" "$tmp/show" || fail "after SIG$sig: $(head -3 "$tmp/show")"
    run --db "$db" resume "$id"
    expect_code 0
    for s in $(seq 1 30); do
      [ "$(grep -cx "$s" "$tmp/log")" -eq 1 ] || fail "after SIG$sig and resume, step $s ran $(grep -cx "$s" "$tmp/log") times"
    done
  done
}

case_list_and_show() {
  run plans/good.lua "$tmp"
  expect_code 0
  expect_out "recorded in $tmp/state/workstream/runs.db"
  run plans/failing.lua
  id=$(last_id)
  run list
  expect_code 0
  expect_out "ID"
  [ "$(grep -c '^[0-9a-f]\{8\}-' "$tmp/out")" -eq 2 ] || fail "list does not show two runs"
  head -2 "$tmp/out" | tail -1 | grep -q "failed" || fail "the newest run is not first"
  run show "$(echo "$id" | cut -c1-13)"
  expect_code 0
  expect_out "plan failing: failed (reason: block)"
  expect_out "action restart: failed"
  expect_out "error: command \"sh\" exited with code 5"
  run --json show "$id"
  expect_code 0
  expect_out '"status": "failed"'
  expect_out "\"id\": \"$id\""
  run --json list
  expect_code 0
  expect_out "[{"
  run show 00000000-0000
  expect_code 2
  expect_err "no run"
}

case_resume_a_stopped_run() {
  start_stoppable 1
  kill -TERM $pid
  sleep 0.1
  kill -TERM $pid
  wait $pid
  id=$(last_id)
  rm -f "$tmp/cleanup"
  run resume "$id"
  expect_code 0
  expect_out "completed b/second/mark"
  [ -f "$tmp/second" ] || fail "the resumed run did not go on"
  [ -f "$tmp/cleanup" ] || fail "the deferred action did not run on resume"
  run show "$id"
  expect_out "plan stoppable: completed"
  run resume "$id"
  expect_code 2
  expect_err "nothing to resume"
}

case_retry_skips_what_completed() {
  printf '2\n' > "$tmp/fail"
  run plans/steps.lua "$tmp" 3 1
  expect_code 0 # tolerated: -1
  id=$(last_id)
  [ "$(cat "$tmp/log" | tr '\n' ' ')" = "1 3 " ] || fail "first run log: $(cat "$tmp/log")"
  rm "$tmp/fail"
  run retry "$id"
  expect_code 0
  [ "$(cat "$tmp/log" | tr '\n' ' ')" = "1 3 2 " ] || fail "retry ran: $(cat "$tmp/log")"
  new=$(last_id)
  [ "$new" != "$id" ] || fail "retry did not make a new run"
  "$WSRUN" --json show "$id" | grep '"group"' > "$tmp/g1"
  "$WSRUN" --json show "$new" | grep '"group"' > "$tmp/g2"
  cmp -s "$tmp/g1" "$tmp/g2" || fail "the retry is not in the same group"
}

case_secrets_never_stored() {
  secret="sEcReT-$(date +%s%N)"
  TEST_SECRET="$secret" run plans/secret.lua
  expect_code 0
  for f in "$tmp/state/workstream/"runs.db*; do
    ! grep -q "$secret" "$f" || fail "the secret is in $f"
  done
  ! grep -q "$secret" "$tmp/out" "$tmp/err" || fail "the secret was printed"
  run show "$(last_id)"
  ! grep -q "$secret" "$tmp/out" || fail "show printed the secret"
}

case_storage_errors() {
  mkdir "$tmp/dir.db"
  run --db "$tmp/dir.db" plans/good.lua "$tmp"
  expect_code 3
  expect_err "$tmp/dir.db"
  printf 'not a database at all, just some text that is long enough\n%.0s' $(seq 1 50) > "$tmp/text.db"
  run --db "$tmp/text.db" plans/good.lua "$tmp"
  expect_code 3
  expect_err "not a database"
  run --db "$tmp/text.db" list
  expect_code 3
  [ ! -f "$tmp/first" ] || fail "the plan ran without a store"
}

case_concurrent_runs_share_a_database() {
  mkdir -p "$tmp/a" "$tmp/b"
  "$WSRUN" plans/steps.lua "$tmp/a" 30 3 >"$tmp/outa" 2>&1 &
  a=$!
  "$WSRUN" plans/steps.lua "$tmp/b" 30 3 >"$tmp/outb" 2>&1 &
  b=$!
  wait $a; ca=$?
  wait $b; cb=$?
  [ $ca -eq 0 ] && [ $cb -eq 0 ] || { cat "$tmp/outa" "$tmp/outb"; fail "exit codes $ca $cb"; }
  [ "$("$WSRUN" list | grep -c completed)" -eq 2 ] || fail "not both recorded"
}

case_running_run_cannot_be_resumed() {
  start_stoppable 5
  id=$(last_id)
  run resume "$id"
  expect_code 2
  expect_err "is being run by wsrun@"
  kill -TERM $pid; sleep 0.1; kill -TERM $pid
  wait $pid
}

# Runs phases.lua, kills it with -9 once FILE exists (plus an optional
# pause), resumes it, and expects it to complete.
crash_in_phase() {
  "$WSRUN" plans/phases.lua "$tmp" 0.4 >"$tmp/out" 2>&1 &
  pid=$!
  i=0
  while [ ! -f "$tmp/$1" ]; do
    i=$((i + 1)); [ $i -lt 400 ] || fail "$1 never appeared"
    sleep 0.02
  done
  [ -z "${2:-}" ] || sleep "$2"
  kill -9 $pid
  wait $pid
  run resume "$(last_id)"
  expect_code 0
  expect_out 'plan "phases" completed'
  for p in pre first second cleanup; do [ -f "$tmp/$p.done" ] || fail "$p never finished"; done
}

case_resume_after_crash_in_checks() {
  crash_in_phase pre.started
  [ "$(wc -l < "$tmp/pre.runs")" -eq 2 ] || fail "the checks in flight did not run again"
  [ "$(wc -l < "$tmp/first.runs")" -eq 1 ] || fail "the first block ran twice"
}

case_resume_after_crash_between_blocks() {
  crash_in_phase first.done 0.2 # in block one's exit delay
  [ "$(wc -l < "$tmp/first.runs")" -eq 1 ] || fail "a completed action ran again"
  [ "$(wc -l < "$tmp/second.runs")" -eq 1 ] || fail "the second block ran twice"
}

case_resume_after_crash_in_deferred() {
  crash_in_phase cleanup.started
  [ "$(wc -l < "$tmp/second.runs")" -eq 1 ] || fail "a completed action ran again"
  [ "$(wc -l < "$tmp/cleanup.runs")" -eq 2 ] || fail "the deferred action in flight did not run again"
}

case_resume_refuses_a_changed_plan() {
  cp plans/phases.lua "$tmp/plan.lua"
  "$WSRUN" "$tmp/plan.lua" "$tmp" 0.3 >"$tmp/out" 2>&1 &
  pid=$!
  while [ ! -f "$tmp/pre.started" ]; do sleep 0.02; done
  kill -9 $pid
  wait $pid
  sed -i 's/name = "two"/name = "three"/' "$tmp/plan.lua"
  run resume "$(last_id)"
  expect_code 2
  expect_err "two"
}

case_storage_full_mid_run() {
  mkdir "$tmp/small" "$tmp/big"
  if ! mount -t tmpfs -o size=300k tmpfs "$tmp/small" 2>/dev/null; then
    echo "skipped: cannot mount a small tmpfs here (needs root)"
    exit 77
  fi
  trap 'umount "$tmp/small" 2>/dev/null; rm -rf "$tmp"' EXIT
  run --db "$tmp/small/runs.db" plans/steps.lua "$tmp" 40 1 20000
  expect_code 3
  expect_err "full"
  expect_err "can be resumed"
  id=$("$WSRUN" --db "$tmp/small/runs.db" list 2>/dev/null | awk 'NR==2 {print $1}')
  [ -n "$id" ] || fail "the run is not in the database"
  cp "$tmp/small/"runs.db* "$tmp/big/"
  umount "$tmp/small"
  run --db "$tmp/big/runs.db" resume "$id"
  expect_code 0
  [ "$(sort -u "$tmp/log" | wc -l)" -eq 40 ] || fail "not every step ran"
}

case_storage_read_only() {
  mkdir "$tmp/ro"
  if ! mount -t tmpfs -o size=2m tmpfs "$tmp/ro" 2>/dev/null; then
    echo "skipped: cannot mount a tmpfs here (needs root)"
    exit 77
  fi
  trap 'umount "$tmp/ro" 2>/dev/null; rm -rf "$tmp"' EXIT
  run --db "$tmp/ro/runs.db" plans/good.lua "$tmp"
  expect_code 0
  mount -o remount,ro "$tmp/ro"
  rm -f "$tmp/first"
  run --db "$tmp/ro/runs.db" plans/good.lua "$tmp"
  expect_code 3
  expect_err "read-only"
  [ ! -f "$tmp/first" ] || fail "the plan ran although it could not be recorded"
  run --db "$tmp/ro/runs.db" list # the store opens for writing, even to read
  expect_code 3
  expect_err "read-only"
}

case_check_runs_nothing() {
  run --check plans/good.lua "$tmp"
  expect_code 0
  expect_out "block work  (concurrency 2, tolerated_failures 0, stop sequence)"
  expect_out "plugin ws.exec, timeout 30s, retries 0"
  expect_out "req {\"argv\":[\"touch\",\"$tmp/a1\"],\"ok_codes\":[0]}"
  expect_out "the plan is valid (nothing was run)"
  [ ! -f "$tmp/first" ] || fail "--check ran the plan"
  secret="sEcReT-$(date +%s%N)"
  TEST_SECRET="$secret" run --check plans/secret.lua
  expect_code 0
  expect_out '"token":"<redacted>"'
  ! grep -q "$secret" "$tmp/out" || fail "--check printed the secret"
  run --check plans/bad_request.lua
  expect_code 2
  expect_err "plans/bad_request.lua:8: "
}

case_json_events() {
  run --json plans/failing.lua
  expect_code 1
  [ -s "$tmp/out" ] || fail "no events"
  ! grep -qv '^{.*}$' "$tmp/out" || fail "a line of stdout is not a JSON object"
  expect_out '"type":"state"'
  expect_out '"path":"deploy/web1/restart"'
  expect_out '"type":"attempt"'
  expect_out '"status":"failed"'
  expect_err 'plan "failing" failed (reason: block)'
}

case_quiet_and_verbose() {
  run -q plans/failing.lua
  expect_code 1
  [ "$(grep -c 'deploy/web1' "$tmp/out")" -eq 1 ] || fail "--quiet printed progress lines"
  expect_out "failed actions (1):"
  run -v plans/failing.lua
  expect_code 1
  expect_out "attempt 1 of deploy/web1/restart failed: command"
}

case_live_view_on_a_terminal() {
  command -v script >/dev/null || { echo "skipped: no script(1) for a pseudo-terminal"; exit 77; }
  esc=$(printf '\033')
  COLUMNS=70 script -qfec "'$WSRUN' plans/failing.lua" /dev/null >"$tmp/out" 2>&1
  grep -q "${esc}\[[0-9]*A" "$tmp/out" || fail "no redraw in place (cursor up) on a terminal"
  expect_out "FAILED"
  expect_out "deploy/web1/restart"
  expect_out 'plan "failing" failed (reason: block)'
  NO_COLOR=1 COLUMNS=70 script -qfec "'$WSRUN' plans/good.lua '$tmp'" /dev/null >"$tmp/out" 2>&1
  ! grep -q "${esc}\[[0-9;]*m" "$tmp/out" || fail "colour codes although NO_COLOR is set"
  expect_out 'plan "good" completed'
  run plans/good.lua "$tmp" # not a terminal: plain lines, no escapes
  ! grep -q "$esc" "$tmp/out" || fail "escape codes in plain output"
}

case_"${1:?usage: cli_test.sh CASE}"
echo "ok: $1"
