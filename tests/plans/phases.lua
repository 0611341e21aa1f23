-- For the resume tests: each phase touches DIR/<phase>.started, waits
-- DELAY seconds, then touches DIR/<phase>.done, so a test can kill wsrun
-- inside any phase: pre checks, a block, between blocks (exit delay), deferred.
--   wsrun phases.lua DIR DELAY
local ws = require "workstream"
local dir, delay = assert(arg[1], "DIR"), arg[2] or "0.5"

local function step(phase, plugin)
  return ws.action{ name = phase, plugin = plugin or "ws.exec", timeout = "1m", req = { argv = {
    "sh", "-c", 'echo x >> "$1/$2.runs"; touch "$1/$2.started"; sleep "$3"; touch "$1/$2.done"',
    "sh", dir, phase, delay } } }
end

return ws.plan{
  name = "phases",
  pre_checks = { step("pre", "ws.check.exec") },
  blocks = {
    ws.block{ name = "one", exit_delay = tonumber(delay) * 2, sequences = {
      ws.seq{ name = "s", actions = { step("first") } } } },
    ws.block{ name = "two", sequences = { ws.seq{ name = "s", actions = { step("second") } } } },
  },
  deferred_actions = { ws.batch{ name = "cleanup", when = "always", actions = { step("cleanup") } } },
}
