local ws = require "workstream"
ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } }
-- forgot to return the plan
