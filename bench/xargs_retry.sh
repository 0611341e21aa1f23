#!/bin/bash
# bench/xargs_retry.sh FIFO STATEFILE: one host of the xargs -P side of the retry
# workload: up to 3 attempts of `sh flaky.sh STATEFILE`, 0.1 s apart, the last
# exec'd. The wait is bash's `read -t 0.1` on a FIFO nobody writes (no sleep
# process), so a host costs 3 forks as Workstream's 3 attempts; xargs pays one
# extra exec per host (this shell).
here=${0%/*}
exec 9<>"$1"
for _ in 1 2; do # attempts 1 and 2; the third is exec'd below
  sh "$here/flaky.sh" "$2" && exit 0
  read -r -t 0.1 -u 9 _
done
exec sh "$here/flaky.sh" "$2"
