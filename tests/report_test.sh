#!/bin/sh
# End to end: the HTML report of a real recorded run, opened in a real browser
# (headless Chromium), must show the plan, the failed action and its error,
# run its script, and render to a non-trivial screenshot.
#
# usage (from tests/): WSRUN=... sh report_test.sh
#   WSRUN     the wsrun binary
#   CHROMIUM  the browser (default /usr/bin/chromium: scripts/install-test-deps.sh)
#   REPORT_KEEP  if set, a directory to copy the reports and screenshots into
set -u
: "${WSRUN:?set WSRUN to the wsrun binary}"
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

# The report, as an operator makes it.
"$WSRUN" report "$id" -o "$tmp/report.html" >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 0 ] || fail "wsrun report $id -o report.html exited $code"
[ -s "$tmp/report.html" ] || fail "wsrun report wrote no file"
reports="$tmp/report.html"

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
