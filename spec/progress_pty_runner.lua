-- Runs a small plan with the progress view on io.stdout: progress_spec runs
-- it in a pseudo-terminal, from the repository root:
--   COLUMNS=60 script -qfec "lua5.4 spec/progress_pty_runner.lua" /dev/null
-- COLUMNS fixes the width (else the terminal's); NO_COLOR turns colours off;
-- WS_LUA_CPATH is where the C module is (default: the build tree).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("WS_LUA_CPATH") or "build/lib/lua/5.4/?.so") .. ";" .. package.cpath

local ws = require "workstream"
local core = require "workstream.core"
local P = require "workstream.progress"

ws.plugin{ name = "pty.fail", request = {}, execute = function()
  ws.sleep(0.1)
  error(ws.permanent("disk full on host3"))
end }

local function sleep(name, s) return ws.action{ name = name, plugin = "ws.sleep", req = { seconds = s } } end

local seqs = {}
for i = 1, 6 do
  seqs[i] = ws.seq{ name = "host" .. i, actions = {
    sleep("drain", 0.15),
    i == 3 and ws.action{ name = "install", plugin = "pty.fail", req = {} } or sleep("install", 0.15),
  } }
end
local plan = ws.plan{ name = "pty demo", blocks = {
  ws.block{ name = "web", concurrency = 3, tolerated_failures = 1, sequences = seqs } } }

local view = P.new{ out = io.stdout, color = os.getenv("NO_COLOR") == nil, verbose = false, plan = plan,
                    width = tonumber(os.getenv("COLUMNS")) or core.term_width() or 80 }
local result = ws.run(plan, { on_event = function(ev) view:event(ev) end,
                              on_tick = function(now) view:tick(now) end })
view:finish()
io.stdout:write(("tty=%s status=%s\n"):format(tostring(core.isatty(1)), result.status))
os.exit(result.status == "completed" and 0 or 1)
