#!/bin/sh
# End to end: the HTML report of a real recorded run, opened in a real browser
# (headless Chromium), must show the plan, the failed action and its error,
# run its script, and render to a non-trivial screenshot.
#
# usage (from tests/): WSRUN=... LUA_DIR=... CORE_DIR=... sh report_test.sh
#   WSRUN     the wsrun binary
#   LUA_DIR   the repository's lua/ directory (workstream.report)
#   CORE_DIR  the build's lib/lua/5.4 directory (workstream/core.so)
#   CHROMIUM  the browser (default /usr/bin/chromium: scripts/install-test-deps.sh)
#   REPORT_KEEP  if set, a directory to copy the reports and screenshots into
set -u
: "${WSRUN:?set WSRUN to the wsrun binary}"
: "${LUA_DIR:?set LUA_DIR to the lua/ directory of the repository}"
: "${CORE_DIR:?set CORE_DIR to lib/lua/5.4 in the build directory}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state" # runs are recorded here, not in the user's state
db="$XDG_STATE_HOME/workstream/runs.db"

fail() {
  echo "FAIL: $*"
  for f in out err; do [ -s "$tmp/$f" ] && { echo "--- $f"; tail -n 30 "$tmp/$f"; }; done
  exit 1
}

if [ ! -x "$CHROMIUM" ]; then
  fail "$CHROMIUM is missing: this test needs Debian's chromium package (scripts/install-test-deps.sh installs it)"
fi

# A real run that fails: plans/failing.lua's "restart" exits 5.
"$WSRUN" plans/failing.lua >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 1 ] || fail "wsrun plans/failing.lua exited $code, expected 1"
id=$("$WSRUN" list 2>"$tmp/err" | awk 'NR==2 {print $1}')
[ -n "$id" ] || fail "wsrun list shows no run"

# The report, made by the Lua module from the stored run.
DB="$db" ID="$id" OUT="$tmp/report.html" lua5.4 -e '
  package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. os.getenv("LUA_DIR") .. "/?/init.lua;" .. package.path
  package.cpath = os.getenv("CORE_DIR") .. "/?.so;" .. package.cpath
  local rec = assert(require("workstream.core").store_get(os.getenv("DB"), os.getenv("ID")))
  local f = assert(io.open(os.getenv("OUT"), "w"))
  assert(f:write(require("workstream.report").html(rec)))
  assert(f:close())
' >"$tmp/out" 2>"$tmp/err" || fail "the Lua helper could not write the report"
reports="$tmp/report.html"

# And by `wsrun report`, once wsrun has it (its help names it): then it must work.
if "$WSRUN" --help 2>/dev/null | grep -q "report"; then
  "$WSRUN" report "$id" -o "$tmp/r2.html" >"$tmp/out" 2>"$tmp/err"
  code=$?
  [ "$code" -eq 0 ] || fail "wsrun report $id -o r2.html exited $code"
  [ -s "$tmp/r2.html" ] || fail "wsrun report wrote no file"
  reports="$reports $tmp/r2.html"
else
  echo "note: this wsrun has no report command yet; checking the Lua helper's report only"
fi

# Headless Chromium, kept off the network and out of the user's profile.
browse() {
  HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache" \
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --host-resolver-rules="MAP * ~NOTFOUND" --user-data-dir="$tmp/profile" "$@"
}

n=0
for report in $reports; do
  n=$((n + 1))
  browse --dump-dom "file://$report" >"$tmp/dom.html" 2>"$tmp/err" || fail "chromium --dump-dom failed on $report"
  # the last one: the page's own script ran (it shows the tree's buttons), no policy blocked it
  for text in "failing" "restart" "unit web.service not found" "$id" "Failed actions (1)" \
              "deploy/web1/restart" '<p class="js-only tools">'; do
    grep -qF -- "$text" "$tmp/dom.html" || fail "the rendered page ($report) lacks: $text"
  done

  browse --screenshot="$tmp/shot$n.png" --window-size=1200,900 "file://$report" >"$tmp/out" 2>"$tmp/err" ||
    fail "chromium --screenshot failed on $report"
  [ -f "$tmp/shot$n.png" ] || fail "no screenshot of $report"
  size=$(wc -c <"$tmp/shot$n.png")
  [ "$size" -gt 5120 ] || fail "the screenshot of $report is only $size bytes"
  if [ -n "${REPORT_KEEP:-}" ]; then
    mkdir -p "$REPORT_KEEP" && cp "$report" "$tmp/shot$n.png" "$tmp/dom.html" "$REPORT_KEEP/"
  fi
done
echo "ok: $n report(s) rendered in $("$CHROMIUM" --version 2>/dev/null | tail -n 1)"
exit 0
