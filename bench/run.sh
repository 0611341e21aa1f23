#!/usr/bin/env bash
# bench/run.sh [--long] [--ansible] [--runs N] [NAME...]
#
# The benchmark suite (issue 7). Build first (scripts/build.sh); this script
# builds only its own no-op plugin (bench/CMakeLists.txt, into build/bench).
# With no NAME it runs every benchmark and prints one table: benchmark,
# figure, target, met?. NAMEs: native lua memory startup fanout ansible.
#
#   --long     also the 10^6-action memory run (else extrapolated, and said so),
#              more repetitions
#   --ansible  the Ansible comparison (only if ansible-playbook is installed)
#   --runs N   repetitions of the fast benchmarks (default 5; slow ones fewer)
#
# Figures are medians of several runs; ratios compare medians taken in the
# same invocation, the workloads interleaved run by run. This is measurement,
# not a test: nothing here passes or fails on timings, and it is not in ctest.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${WS_BUILD_DIR:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
WSRUN=$BUILD/bin/wsrun

LONG=0 ANSIBLE=0 RUNS=5 NAMES=()
while (($#)); do
  case $1 in
    --long) LONG=1 ;;
    --ansible) ANSIBLE=1 ;;
    --runs) RUNS=$2; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    native | lua | memory | startup | fanout | ansible) NAMES+=("$1") ;;
    *) echo "bench/run.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if ((${#NAMES[@]} == 0)); then
  NAMES=(native lua memory startup fanout)
  ((ANSIBLE)) && NAMES+=(ansible)
fi

if [[ ! -x $WSRUN || ! -f $BUILD/lib/lua/5.4/workstream/core.so ]]; then
  echo "bench/run.sh: no build in $BUILD; run scripts/build.sh first" >&2
  exit 2
fi

# The Debian default PATH, so that {"true"} and {"sleep"} resolve the same way
# (and as quickly) for Workstream as for the shell scripts of the xargs side.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$BUILD/lib/lua/5.4/?.so;;"
unset WS_PLUGIN_PATH

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ws-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export XDG_STATE_HOME=$TMP/state # wsrun's default store, a fresh one

# ------------------------------------------------------------------ helpers

log() { printf '%s\n' "$*" >&2; }

# median of the numbers given as arguments
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
    END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
          else printf "%.9g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# field KEY LINE: the value of KEY=... in a driver's output line
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

calc() { awk "BEGIN { printf \"%s\", $* }"; }
fmt_int() { printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
yes_no() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo NO; fi; }

# now_us: microseconds (bash's EPOCHREALTIME: no process for the clock)
now_us() { local t=$EPOCHREALTIME; echo $((10#${t/./})); }

# wall_ms CMD...: runs CMD (output discarded); WALL = its wall time in ms.
# A failing CMD aborts the benchmark: a failed run's time means nothing.
# (These two set a variable rather than print, so that `exit` really exits.)
wall_ms() {
  local s e
  s=$EPOCHREALTIME
  if ! "$@" >"$TMP/out" 2>&1; then
    log "bench/run.sh: failed: $*"; tail -5 "$TMP/out" >&2; exit 1
  fi
  e=$EPOCHREALTIME
  WALL=$(calc "($((10#${e/./})) - $((10#${s/./}))) / 1000")
}

# driver ARGS...: LINE = bench/driver.lua's output line (the plan must complete)
driver() {
  if ! LINE=$(lua5.4 "$ROOT/bench/driver.lua" "$@" 2>"$TMP/driver.err"); then
    log "bench/run.sh: driver failed: $*"; cat "$TMP/driver.err" >&2; exit 1
  fi
  if [[ $(field status "$LINE") != completed ]]; then
    log "bench/run.sh: the plan did not complete: $*: $LINE"; exit 1
  fi
}

ROWS=()
# row BENCHMARK FIGURE TARGET MET
row() {
  ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
  printf '  %-64s %-44s %-18s %s\n' "$1" "$2" "$3" "$4" >&2
}

# ------------------------------------------------------------- the machine

machine() {
  local cpu
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "machine: $(nproc) cores (nproc), CPU: ${cpu:-unknown}, kernel $(uname -sr)"
  echo "         $(lua5.4 -v 2>&1 | awk "{ print \$1, \$2 }"), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

build_noop() {
  NOOP=$BUILD/bench/noop.so
  cmake -S "$ROOT/bench" -B "$BUILD/bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD/bench" >/dev/null
}

# ------------------------------------------------- 1. and 2. no-op actions

SEQS=10000 PER_SEQ=10 CONC=100 # 10^4 sequences x 10 actions, concurrency 100
NOOP_ACTIONS=$((SEQS * PER_SEQ))

# noop_runs LABEL N TARGET_PER_S DRIVER-ARGS... (a store path is fresh per run)
noop_runs() {
  local label=$1 n=$2 target=$3; shift 3
  local engine=() total=() build=() pre=() post=() line i args
  for ((i = 1; i <= n; i++)); do
    args=("$@")
    if [[ ${args[-1]} == STORE ]]; then
      rm -f "$TMP/store.db"*; args[-1]=$TMP/store.db
    fi
    driver "${args[@]}"; line=$LINE
    engine+=("$(field engine "$line")"); total+=("$(field run_wall "$line")")
    build+=("$(field build_wall "$line")"); pre+=("$(field pre "$line")"); post+=("$(field post "$line")")
    log "    run $i: $line"
  done
  local e t b p q rate
  e=$(median "${engine[@]}") t=$(median "${total[@]}") b=$(median "${build[@]}")
  p=$(median "${pre[@]}") q=$(median "${post[@]}")
  rate=$(calc "$NOOP_ACTIONS / $e")
  row "$label: engine, median of $n" "$(fmt_int "$rate") actions/s" \
    ">= $(fmt_int "$target")/s" "$(yes_no "$rate >= $target")"
  row "  all of ws.run (to C, run, result to Lua)" \
    "$(fmt_int "$(calc "$NOOP_ACTIONS / $t")") actions/s ($(printf '%.3f' "$t") s)" "-" "info"
  row "  ws.run = to C + engine + result to Lua" \
    "$(printf '%.3f + %.3f + %.3f s' "$p" "$e" "$q")" "-" "info"
  row "  plan construction (ws.action/seq/block/plan)" \
    "$(printf '%.3f s, %s actions/s' "$b" "$(fmt_int "$(calc "$NOOP_ACTIONS / $b")")")" "-" "info"
}

bench_native() {
  log "== native: no-op native actions, ${SEQS} x ${PER_SEQ}, concurrency ${CONC}"
  noop_runs "1 native no-op, in memory" "$RUNS" 1000000 native "$NOOP" $SEQS $PER_SEQ $CONC
  noop_runs "1 native no-op, SQLite store" $((LONG ? RUNS : 3)) 200000 \
    native "$NOOP" $SEQS $PER_SEQ $CONC STORE
}

bench_lua() {
  log "== lua: no-op Lua-plugin actions, ${SEQS} x ${PER_SEQ}, concurrency ${CONC}"
  noop_runs "2 Lua-plugin no-op, in memory" "$RUNS" 300000 lua $SEQS $PER_SEQ $CONC
}

# ---------------------------------------------------------------- 3. memory

bench_memory() {
  log "== memory: peak RSS (VmHWM), native no-ops, virtual clock, in memory"
  local n=$((LONG ? 3 : 2)) i line empty=() e5=() b5=() e6=() b6=()
  for ((i = 1; i <= n; i++)); do
    driver mem "$NOOP" 1 1 1; line=$LINE; empty+=("$(field hwm_kb "$line")")
    log "    empty run $i: $line"
    driver mem "$NOOP" 10000 10 100; line=$LINE; e5+=("$(field hwm_kb "$line")"); b5+=("$(field hwm_build_kb "$line")")
    log "    10^5 run $i: $line"
  done
  local E K5 B5 per5
  E=$(median "${empty[@]}") K5=$(median "${e5[@]}") B5=$(median "${b5[@]}")
  per5=$(calc "($K5 - $E) * 1024 / 100000")
  row "3 memory: empty run (1 action), median of $n" "$(printf '%.1f' "$(calc "$E / 1024")") MB peak RSS" "-" "info"
  row "3 memory: 10^5 actions, peak RSS" "$(printf '%.1f MB (%.0f B/action)' "$(calc "$K5 / 1024")" "$per5")" "-" "info"
  row "  of which after plan construction" "$(printf '%.1f MB (%.0f B/action)' "$(calc "$B5 / 1024")" "$(calc "($B5 - $E) * 1024 / 100000")")" "-" "info"
  if ((LONG)); then
    for ((i = 1; i <= 1; i++)); do
      driver mem "$NOOP" 100000 10 100; line=$LINE; e6+=("$(field hwm_kb "$line")"); b6+=("$(field hwm_build_kb "$line")")
      log "    10^6 run $i: $line"
    done
    local K6 B6
    K6=$(median "${e6[@]}") B6=$(median "${b6[@]}")
    row "3 memory: 10^6 actions, peak RSS (measured, 1 run)" \
      "$(printf '%.0f MB (%.0f B/action)' "$(calc "$K6 / 1024")" "$(calc "($K6 - $E) * 1024 / 1000000")")" \
      "<= 512 MB" "$(yes_no "$K6 / 1024 <= 512")"
    row "  of which after plan construction" "$(printf '%.0f MB' "$(calc "$B6 / 1024")")" "-" "info"
  else
    local X6
    X6=$(calc "$E / 1024 + $per5 * 1000000 / 1048576")
    row "3 memory: 10^6 actions, EXTRAPOLATED from 10^5" \
      "$(printf '~%.0f MB (not run; --long runs it)' "$X6")" "<= 512 MB" "$(yes_no "$X6 <= 512") (extrap.)"
  fi
}

# --------------------------------------------------------------- 4. startup

bench_startup() {
  local n=20 i one=() ver=() floor=()
  log "== startup: wsrun on a one-action plan (ws.sleep 0), default SQLite store, median of $n"
  wall_ms "$WSRUN" -q "$ROOT/bench/plans/one.lua" # creates the store: not counted
  for ((i = 1; i <= n; i++)); do
    wall_ms "$WSRUN" -q "$ROOT/bench/plans/one.lua"; one+=("$WALL")
    wall_ms "$WSRUN" --version; ver+=("$WALL")
    wall_ms /usr/bin/true; floor+=("$WALL")
  done
  local o v f
  o=$(median "${one[@]}") v=$(median "${ver[@]}") f=$(median "${floor[@]}")
  row "4 startup: wsrun -q one-action plan, median of $n" "$(printf '%.1f ms' "$o")" "<= 15 ms" "$(yes_no "$o <= 15")"
  row "  wsrun --version (host + modules, no plan)" "$(printf '%.1f ms' "$v")" "-" "info"
  row "  /usr/bin/true, same timing (the floor)" "$(printf '%.1f ms' "$f")" "-" "info"
}

# ---------------------------------------------------------------- 5. fan-out

# fanout_case LABEL N XARGS-CMD IDEAL PLAN-ARGS...
#   One round: XARGS-CMD (bash -c, $1 = a fresh state directory), then the Lua
#   driver on bench/plans/fanout.lua PLAN-ARGS (ws.run, in memory), then wsrun
#   on the same (default SQLite store); N rounds; medians compared. IDEAL: the
#   ideal wall time in ms (the target is then ideal + 5 %), or - for a ratio
#   to xargs (the target is then 1.2x). STATEDIR in PLAN-ARGS is replaced.
fanout_case() {
  local label=$1 n=$2 xcmd=$3 ideal=$4; shift 4
  local xs=() ls=() ws=() i line statedir
  for ((i = 1; i <= n; i++)); do
    statedir=$TMP/flaky.$i; rm -rf "$statedir"; mkdir -p "$statedir"
    wall_ms bash -c "$xcmd" _ "$statedir"; xs+=("$WALL")
    rm -rf "$statedir"; mkdir -p "$statedir"
    driver fanout "${@//STATEDIR/$statedir}"
    ls+=("$(calc "$(field run_wall "$LINE") * 1000")")
    rm -rf "$statedir"; mkdir -p "$statedir"
    wall_ms "$WSRUN" -q "$ROOT/bench/plans/fanout.lua" "${@//STATEDIR/$statedir}"; ws+=("$WALL")
    log "    round $i: xargs ${xs[-1]} ms, ws.run ${ls[-1]} ms, wsrun ${ws[-1]} ms"
  done
  local x l w
  x=$(median "${xs[@]}") l=$(median "${ls[@]}") w=$(median "${ws[@]}")
  row "$label: xargs, median of $n" "$(printf '%.0f ms' "$x")" "-" "info"
  if [[ $ideal == - ]]; then
    row "  Workstream ws.run (in memory) / xargs" "$(printf '%.0f ms = %.2fx' "$l" "$(calc "$l / $x")")" "<= 1.2x" "$(yes_no "$l / $x <= 1.2")"
    row "  wsrun (SQLite store, incl. startup) / xargs" "$(printf '%.0f ms = %.2fx' "$w" "$(calc "$w / $x")")" "<= 1.2x" "$(yes_no "$w / $x <= 1.2")"
  else
    local lim
    lim=$(calc "$ideal * 1.05")
    row "  xargs -P against the ideal ($ideal ms)" "$(printf '%.1f%% over' "$(calc "($x / $ideal - 1) * 100")")" "-" "info"
    row "  Workstream ws.run (in memory)" "$(printf '%.0f ms = ideal +%.1f%%, %.2fx xargs' "$l" "$(calc "($l / $ideal - 1) * 100")" "$(calc "$l / $x")")" \
      "<= $(printf '%.0f' "$lim") ms (+5%)" "$(yes_no "$l <= $lim")"
    row "  wsrun (SQLite store, incl. startup)" "$(printf '%.0f ms = ideal +%.1f%%, %.2fx xargs' "$w" "$(calc "($w / $ideal - 1) * 100")" "$(calc "$w / $x")")" \
      "<= $(printf '%.0f' "$lim") ms (+5%)" "$(yes_no "$w <= $lim")"
  fi
}

bench_fanout() {
  log "== fanout: process spawns, Workstream (ws.run in memory; wsrun with SQLite) against xargs -P"
  mkfifo "$TMP/fifo"
  local B=$ROOT/bench
  # HOSTS x 3 `true` in order: xargs runs bench/xargs_true.sh per host (3 forks
  # per host, the last `true` exec'd), Workstream 3 ws.exec {"true"} per sequence.
  fanout_case "5 fan-out 100 hosts x 3 true, c 10" "$RUNS" \
    "seq 100 | xargs -P 10 -n 1 '$B/xargs_true.sh'" - true 100 10
  fanout_case "5 fan-out 500 hosts x 3 true, c 10" $((LONG ? RUNS : 3)) \
    "seq 500 | xargs -P 10 -n 1 '$B/xargs_true.sh'" - true 500 10
  # 200 x sleep 0.2 at concurrency 50: xargs execs sleep directly (200 spawns each side).
  fanout_case "5 fan-out 200 x sleep 0.2, c 50" $((LONG ? RUNS : 3)) \
    "yes 0.2 | head -n 200 | xargs -P 50 -n 1 sleep" 800 sleep 200 50 0.2
  # 20 hosts, a command that fails twice then succeeds, 0.1 s constant backoff,
  # concurrency 10: Workstream retries = 2; xargs runs bench/xargs_retry.sh per host.
  fanout_case "5 retry: 20 hosts fail,fail,ok, 0.1 s, c 10" "$RUNS" \
    "seq 20 | xargs -P 10 -I{} '$B/xargs_retry.sh' '$TMP/fifo' \"\$1/host{}\"" - retry 20 10 STATEDIR
}

# --------------------------------------------------------------- 6. Ansible

bench_ansible() {
  log "== ansible"
  if ! command -v ansible-playbook >/dev/null 2>&1; then
    row "6 ansible: fan-out as a playbook" "skipped (not installed)" "-" "-"
    return
  fi
  # The 100-host `true` fan-out: local connections, 10 forks, the free strategy
  # (each host's three tasks in order, hosts independent), no facts.
  local dir=$TMP/ansible i x a
  mkdir -p "$dir"
  { echo "[hosts]"; for i in $(seq 100); do echo "host$i ansible_connection=local ansible_python_interpreter=$(command -v python3)"; done; } >"$dir/inventory"
  cat >"$dir/play.yml" <<'YAML'
- hosts: hosts
  gather_facts: false
  strategy: free
  tasks:
    - command: /usr/bin/true
    - command: /usr/bin/true
    - command: /usr/bin/true
YAML
  wall_ms bash -c "seq 100 | xargs -P 10 -n 1 '$ROOT/bench/xargs_true.sh'"; x=$WALL
  ANSIBLE_HOST_KEY_CHECKING=False wall_ms ansible-playbook -f 10 -i "$dir/inventory" "$dir/play.yml"; a=$WALL
  row "6 ansible: 100 hosts x 3 true, 10 forks (1 run)" "$(printf '%.0f ms = %.1fx xargs (%.0f ms)' "$a" "$(calc "$a / $x")" "$x")" "-" "info"
}

# ------------------------------------------------------------------ main

START=$(now_us)
machine
echo "benchmarks: ${NAMES[*]}$( ((LONG)) && echo " (--long)")"
build_noop
for name in "${NAMES[@]}"; do
  "bench_$name"
done

echo
printf '%-64s | %-44s | %-18s | %s\n' "benchmark" "figure" "target" "met?"
printf '%s\n' "$(printf -- '-%.0s' {1..140})"
for r in "${ROWS[@]}"; do
  IFS=$'\t' read -r b f t m <<<"$r"
  printf '%-64s | %-44s | %-18s | %s\n' "$b" "$f" "$t" "$m"
done
echo
echo "total: $(calc "($(now_us) - $START) / 1e6" | xargs printf '%.0f') s; medians; ratios from medians of the same invocation"
