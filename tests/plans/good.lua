-- A good plan: two blocks of real commands. arg[1] is a scratch directory.
local ws = require "workstream"
local dir = assert(arg[1], "usage: wsrun good.lua DIR")

local function touch(name)
  return ws.action{ name = "touch " .. name, plugin = "ws.exec",
                    req = { argv = { "touch", dir .. "/" .. name } } }
end

return ws.plan{
  name = "good",
  blocks = {
    ws.block{ name = "prepare", sequences = {
      ws.seq{ name = "mark", actions = { touch("first") } },
    } },
    ws.block{ name = "work", concurrency = 2, sequences = {
      ws.seq{ name = "a", actions = { touch("a1"), touch("a2") } },
      ws.seq{ name = "b", actions = { touch("b1") } },
    } },
  },
}
