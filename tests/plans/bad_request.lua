local ws = require "workstream"
local function step(name, argv)
  return ws.action{ name = name, plugin = "ws.exec", req = { argv = argv } }
end
return ws.plan{
  name = "bad request",
  blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
    ws.action{ name = "list files", plugin = "ws.exec", req = { argv = "ls -l" } },
    step("fine", { "true" }),
  } } } } },
}
