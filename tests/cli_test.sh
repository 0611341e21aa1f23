#!/bin/sh
# End-to-end tests of the real wsrun binary on plan files in tests/plans.
# usage: WSRUN=/path/to/wsrun sh cli_test.sh CASE   (run from tests/)
set -u
: "${WSRUN:?set WSRUN to the wsrun binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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

case_"${1:?usage: cli_test.sh CASE}"
echo "ok: $1"
