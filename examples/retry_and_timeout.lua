-- retry_and_timeout.lua: retries with backoff, timeouts that really stop a
-- command, and a failure budget that tolerates one lost host.
--
--   wsrun examples/retry_and_timeout.lua
--
-- "flaky" fails twice, then works: with retries = 3 it completes on its third
-- attempt, 0.2 s and 0.4 s apart (the backoff doubles). "stuck" hangs: each
-- attempt is stopped after 1 s (its process group is killed), twice, and the
-- sequence fails; the block tolerates one failed sequence, so the plan
-- completes and the summary lists the tolerated failure.
local ws = require "workstream"

local state = os.tmpname() -- counts flaky's attempts
os.remove(state)

local flaky = ws.action{
  name = "flaky",
  plugin = "ws.exec",
  retries = 3,
  retry = { initial = "200ms", multiplier = 2, jitter = 0, max = "2s" },
  req = { argv = { "sh", "-c", [[
    n=$(cat "$1" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$1"
    if [ $n -lt 3 ]; then echo "attempt $n: service not ready" >&2; exit 1; fi
    rm -f "$1"; echo "ready after $n attempts"
  ]], "sh", state } },
}

local stuck = ws.action{
  name = "stuck",
  plugin = "ws.exec",
  timeout = "1s",
  retries = 1,
  retry = { initial = "100ms", jitter = 0 },
  req = { argv = { "sh", "-c", "echo waiting forever; sleep 3600" } },
}

return ws.plan{
  name = "retry and timeout",
  blocks = {
    ws.block{
      name = "hosts",
      concurrency = 2,
      tolerated_failures = 1,
      sequences = {
        ws.seq{ name = "web1", actions = { flaky } },
        ws.seq{ name = "web2", actions = { stuck } },
      },
    },
  },
}
