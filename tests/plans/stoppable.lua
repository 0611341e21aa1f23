-- For the stop tests: "slow" writes its pid to DIR/pid, touches DIR/started,
-- then sleeps SECONDS; the
-- second sequence would touch DIR/second; the deferred batch touches DIR/cleanup.
local ws = require "workstream"
local dir, seconds = assert(arg[1], "DIR"), assert(arg[2], "SECONDS")

local function sh(name, script)
  return ws.action{ name = name, plugin = "ws.exec", timeout = "5m",
                    req = { argv = { "sh", "-c", script, "sh", dir } } }
end

return ws.plan{
  name = "stoppable",
  blocks = { ws.block{ name = "b", sequences = {
    ws.seq{ name = "first", actions = { sh("slow", 'echo $$ > "$1/pid"; touch "$1/started"; exec sleep ' .. seconds) } },
    ws.seq{ name = "second", actions = { sh("mark", 'touch "$1/second"') } },
  } } },
  deferred_actions = {
    ws.batch{ name = "cleanup", when = "always", actions = { sh("cleanup", 'touch "$1/cleanup"') } },
  },
}
