-- workstream.cli: what `wsrun` does. The C host (bindings/wsrun.c) calls
-- main(argv) and exits with what it returns:
--   0 the plan completed, 1 it failed or was stopped,
--   2 bad usage, a plan file that does not load or does not return a valid plan,
--   3 an internal error (raised out of here; the host maps it).

local ws = require "workstream"

local io, os, string, table = io, os, string, table
local fmt = string.format
local ipairs, pcall, select, tostring, type = ipairs, pcall, select, tostring, type
local math = math

local M = {}

local VERSION = "0.1.0"

local USAGE = [[
usage: wsrun [options] PLAN.lua [ARGS...]
       wsrun [options] plugins

Runs the plan that PLAN.lua returns. ARGS reach the file as `...` and `arg`.
`wsrun plugins` lists the registered plugins with their request and
response types.

options:
  --plugin PATH  load an external C plugin (a .so); repeatable. The plugins
                 in the directories of $WS_PLUGIN_PATH are always loaded.
  -h, --help     show this help
  --version      show the version

exit codes: 0 completed, 1 failed or stopped, 2 bad usage or invalid plan,
            3 internal error
]]

local function eprintf(...)
  io.stderr:write(fmt(...), "\n")
end

local function timestamp(t)
  local secs = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. fmt(".%03dZ", math.floor((t - secs) * 1000))
end

local function duration(node)
  if not node.started or not node.ended then return "" end
  local d = node.ended - node.started
  if d < 1 then return fmt("%.0fms", d * 1000) end
  if d < 120 then return fmt("%.2fs", d) end
  return fmt("%dm%02ds", d // 60, math.floor(d % 60))
end

-- First line of a message, kept to a readable width for one-line reports.
local function one_line(msg, width)
  msg = tostring(msg or ""):match("^[^\n]*")
  if #msg > width then msg = msg:sub(1, width - 3) .. "..." end
  return msg
end

-- A line per finished action, a line when the plan starts and when a stop is asked.
local function printer(out)
  return function(ev)
    if ev.type == "stop" then
      if ev.force then
        eprintf("wsrun: %s again: cancelling running actions", ev.signal)
      else
        eprintf("wsrun: %s: stopping; nothing new starts, deferred actions still run "
                .. "(send it again to cancel running actions)", ev.signal)
      end
      return
    end
    if ev.type ~= "state" then return end
    if ev.object == "plan" and ev.status == "running" then
      out:write(fmt("%s  plan %q started (id %s)\n", timestamp(ev.time), ev.name, ev.id))
    elseif ev.object == "action" and ev.status ~= "running" then
      local line = fmt("%s  %-9s %s  %s", timestamp(ev.time), ev.status, ev.path, duration(ev))
      if ev.attempts and ev.attempts > 1 then line = line .. fmt(" (%d attempts)", ev.attempts) end
      if ev.err then
        line = line .. ": " .. one_line(ev.err.msg, 200)
      elseif ev.resp and type(ev.resp.stdout) == "string" and ev.resp.stdout:find("%S") then
        line = line .. ": " .. one_line(ev.resp.stdout:match("^%s*(.-)%s*$"), 120)
      end
      out:write(line, "\n")
    end
    out:flush()
  end
end

-- Counts the actions of the blocks (not checks, not deferred work) by status.
local function block_action_counts(result)
  local counts = {}
  for _, b in ipairs(result.blocks) do
    for _, s in ipairs(b.sequences) do
      for _, a in ipairs(s.actions) do counts[a.status] = (counts[a.status] or 0) + 1 end
    end
  end
  local parts = {}
  for _, st in ipairs { "completed", "failed", "stopped", "not_started", "running" } do
    if counts[st] then parts[#parts + 1] = fmt("%d %s", counts[st], (st:gsub("_", " "))) end
  end
  return table.concat(parts, ", ")
end

local function summary(out, result)
  local head = fmt("plan %q %s", result.name, result.status)
  if result.reason then head = head .. fmt(" (reason: %s)", result.reason) end
  out:write(fmt("%s in %s: actions: %s\n", head, duration(result), block_action_counts(result)))

  local ran = {}
  for _, batch in ipairs(result.deferred_actions or {}) do
    if batch.status ~= "not_started" then ran[#ran + 1] = batch.name .. " " .. batch.status end
  end
  if #ran > 0 then out:write("deferred actions: ", table.concat(ran, ", "), "\n") end

  local failed, tolerated = {}, {}
  for node, path in ws.walk(result) do
    if node.type == "action" and node.status == "failed" then
      failed[#failed + 1] = { path = path, node = node }
    elseif node.type == "block" and node.status == "completed" then
      for _, s in ipairs(node.sequences) do
        if s.status == "failed" then tolerated[#tolerated + 1] = path .. "/" .. s.name end
      end
    end
  end
  if #tolerated > 0 then
    out:write(fmt("tolerated sequence failures (%d):\n", #tolerated))
    for _, p in ipairs(tolerated) do out:write("  ", p, "\n") end
  end
  if #failed > 0 then
    out:write(fmt("failed actions (%d):\n", #failed))
    for _, f in ipairs(failed) do
      local err = f.node.err and f.node.err.msg or "(no error recorded)"
      local tries = #f.node.attempts > 1 and fmt(" (%d attempts)", #f.node.attempts) or ""
      out:write(fmt("  %s%s: %s\n", f.path, tries, one_line(err, 400)))
    end
  end
end

-- Loads and evaluates the plan file. Returns the plan, or nil and a message.
local function load_plan(path, args)
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  local argt = { [0] = path }
  for i, a in ipairs(args) do argt[i] = a end
  _G.arg = argt
  local ok, plan = pcall(chunk, table.unpack(args))
  if not ok then return nil, tostring(plan) end
  if ws.kind(plan) ~= "plan" then
    return nil, fmt("%s returned %s, not a plan; end the file with `return ws.plan{...}`",
                    path, plan == nil and "nothing" or ("a " .. (ws.kind(plan) or type(plan))))
  end
  return plan
end

-- `wsrun plugins`: every registered plugin, its kind and its types.
local function list_plugins(out)
  local core = require "workstream.core"
  for _, p in ipairs(core.plugins()) do
    out:write(fmt("%s%s\n", p.name, p.is_check and "  (check)" or ""))
    if p.descr then out:write("  ", p.descr, "\n") end
    out:write("  request:  ", p.request, "\n")
    out:write("  response: ", p.response, "\n")
  end
  return 0
end

function M.main(argv)
  local i = 1
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    local opt = argv[i]
    if opt == "-h" or opt == "--help" then
      io.stdout:write(USAGE)
      return 0
    elseif opt == "--version" then
      io.stdout:write("wsrun ", VERSION, "\n")
      return 0
    elseif opt == "--plugin" or opt:match("^%-%-plugin=") then
      local path = opt:match("^%-%-plugin=(.*)$")
      if not path then
        i = i + 1
        path = argv[i]
      end
      if not path or path == "" then
        eprintf("wsrun: --plugin needs a path to a .so file")
        return 2
      end
      local ok, err = pcall(ws.plugins.load, path)
      if not ok then
        eprintf("wsrun: --plugin: %s", (tostring(err):gsub("^[^:]*:%d+: ", "")))
        return 2
      end
    elseif opt == "--" then
      i = i + 1
      break
    else
      eprintf("wsrun: unknown option %s\n%s", opt, USAGE)
      return 2
    end
    i = i + 1
  end
  local path = argv[i]
  if not path then
    io.stderr:write(USAGE)
    return 2
  end
  if path == "plugins" and argv[i + 1] == nil then return list_plugins(io.stdout) end
  local args = { select(i + 1, table.unpack(argv, 1, #argv)) }

  local plan, err = load_plan(path, args)
  if not plan then
    eprintf("wsrun: %s", err)
    return 2
  end

  local out = io.stdout
  local ok, result = pcall(ws.run, plan, { on_event = printer(out), signals = true })
  if not ok then
    local msg = tostring(result)
    if msg:find("invalid plan: ", 1, true) then
      eprintf("wsrun: %s: %s", path, msg)
      return 2
    end
    error(msg, 0) -- internal: the host reports it and exits 3
  end
  summary(out, result)
  out:flush()
  return result.status == "completed" and 0 or 1
end

return M
