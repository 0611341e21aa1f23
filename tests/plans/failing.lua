-- A command fails: the run exits 1 and the summary names the action.
local ws = require "workstream"
return ws.plan{
  name = "failing",
  blocks = {
    ws.block{ name = "deploy", sequences = {
      ws.seq{ name = "web1", actions = {
        ws.action{ name = "check disk", plugin = "ws.exec", req = { argv = { "true" } } },
        ws.action{ name = "restart", plugin = "ws.exec",
                   req = { argv = { "sh", "-c", "echo 'unit web.service not found' >&2; exit 5" } } },
        ws.action{ name = "verify", plugin = "ws.exec", req = { argv = { "true" } } },
      } },
    } },
  },
}
