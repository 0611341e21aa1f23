-- bench/plans/one.lua: the startup benchmark's plan, one action (ws.sleep 0).
--   build/bin/wsrun -q bench/plans/one.lua
local ws = require "workstream"
return ws.plan{ name = "bench one", blocks = { ws.block{ name = "b", sequences = {
  ws.seq{ name = "s", actions = {
    ws.action{ name = "nothing", plugin = "ws.sleep", req = { seconds = 0 } },
  } },
} } } }
