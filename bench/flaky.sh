#!/bin/sh
# bench/flaky.sh STATEFILE: fails twice, then succeeds (the count is kept in
# STATEFILE). Only shell builtins: one process per attempt.
n=0
[ -f "$1" ] && read -r n < "$1"
n=$((n + 1))
echo "$n" > "$1"
[ "$n" -ge 3 ]
