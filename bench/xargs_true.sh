#!/bin/sh
# bench/xargs_true.sh: one host of the xargs -P side of the `true` fan-out: three
# `true` processes in order. The last is exec'd, so a host costs 3 forks
# (xargs -> sh, sh -> true twice), as Workstream's 3 ws.exec spawns; xargs
# pays one extra exec per host (this shell).
/usr/bin/true && /usr/bin/true && exec /usr/bin/true
