local ws = require "workstream"
local seq = ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } }
return ws.plan{
  name = "wrong field",
  blocks = {
    ws.block{ name = "wave", concurrency = "3", sequences = { seq } },
  },
}
