-- The CLI fuzz target's sandbox (fuzz_cli.c calls the function this returns
-- with each input's argv). wsrun's argument parsing is workstream.cli's main;
-- everything main would do to the world is replaced here first, so that any
-- argv can be given to it: nothing is read, written, loaded or run for real.
--   loadfile        a plan file: a small plan, nothing, an error, or a syntax
--                   error, by the file's name
--   ws.run          the plan checked (core.check), after a few events shown
--   ws.plugins.load always refuses
--   core.store_*    a stored run for IDs starting with 0190, a storage error
--                   for "boom", no run otherwise; one run listed
--   core.chdir/realpath/cwd/isatty, io.open/stdout/stderr  inert
-- main must return an exit code 0..3 and raise nothing: any error is a finding.
local ws = require "workstream"
local core = require "workstream.core"

local sink = {}
function sink.write(self) return self end
function sink.flush(self) return self end
function sink.close() return true end
io.stdout, io.stderr = sink, sink
io.open = function() return sink end

local function plan()
  return ws.plan {
    name = "p",
    blocks = { ws.block { name = "b", sequences = { ws.sequence { name = "s", actions = {
      ws.action { name = "a", plugin = "ws.sleep", req = { seconds = 0 } } } } } } },
  }
end

_G.loadfile = function(path)
  if path:find("syntax", 1, true) then return nil, path .. ":1: unexpected symbol" end
  return function()
    if path:find("nothing", 1, true) then return nil end
    if path:find("raise", 1, true) then error("raised by the plan file") end
    return plan()
  end
end

local EVENTS = {
  { type = "state", object = "plan", status = "running", time = 1.5, name = "p", id = "0190" },
  { type = "attempt", time = 2, attempts = 1, path = "b/s/a",
    attempt = { resp = { stdout = "out\n", stderr = " " } } },
  { type = "log", time = 2.25, path = "b/s/a", msg = "a line\nand more" },
  { type = "state", object = "action", status = "completed", time = 3, path = "b/s/a",
    started = 1, ended = 200, attempts = 2, resp = { stdout = "  done  " } },
  { type = "stop", signal = "SIGINT", force = false },
  { type = "state", object = "action", status = "failed", time = 4, path = "b/s/a",
    err = { msg = "no" } },
}

local result -- the checked plan, in the shape of a result
local function stored()
  if not result then
    result = core.check(plan())
    result.id = "01900000-0000-7000-8000-000000000000"
    result.origin = { file = "plan.lua", args = { "x" }, cwd = "/" }
  end
  return result
end

ws.run = function(p, opts)
  for _, ev in ipairs(EVENTS) do
    if opts.on_event then opts.on_event(ev) end
  end
  local r = core.check(p)
  r.status = "failed"
  r.reason = "block"
  return r
end
ws.plugins.load = function(path) error("cannot load " .. path) end
core.store_path = function() return "/nonexistent/runs.db" end
core.store_get = function(_, id)
  if id == "boom" then error("storage: /nonexistent/runs.db: disk I/O error") end
  if id:sub(1, 4) == "0190" then return stored() end
  return nil, "no run " .. id
end
core.store_list = function()
  return { { id = "01900000-0000-7000-8000-000000000000", status = "failed", name = "p",
             started = 1, ended = 100, reason = "block" } }
end
core.chdir = function() end
core.realpath = function(path) return path end
core.cwd = function() return "/" end
core.isatty = function() return false end

return function(argv)
  -- a fresh module each time: main keeps display options in the module
  package.loaded["workstream.cli"] = nil
  local cli = require "workstream.cli"
  local code = cli.main(argv)
  assert(math.type(code) == "integer" and code >= 0 and code <= 3,
         "main returned " .. tostring(code))
end
