-- A plan with an HTTP pre check that cannot pass: nothing answers on port 1
-- of the loopback (and were something to, it would not say 599).
local ws = require "workstream"

return ws.plan{
  name = "http check",
  pre_checks = {
    ws.action{ name = "web up", plugin = "ws.check.http", timeout = "10s",
               req = { url = "http://127.0.0.1:1/health", status = 599 } },
  },
  blocks = {
    ws.block{ name = "rest", sequences = {
      ws.seq{ name = "s", actions = {
        ws.action{ name = "nap", plugin = "ws.sleep", req = { seconds = 0 } },
      } },
    } },
  },
}
