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
usage: wsrun [options] PLAN.lua [ARGS...]   run the plan that PLAN.lua returns
       wsrun [options] list                 the recorded runs, newest first
       wsrun [options] show ID              a run's tree, statuses and failures
       wsrun [options] resume ID            continue an interrupted or stopped run
       wsrun [options] retry ID             a new run of the same plan and group,
                                            skipping the sequences that completed
       wsrun [options] report ID -o FILE    one self-contained HTML report of a run
       wsrun [options] plugins              the registered plugins and their types
       wsrun --check PLAN.lua [ARGS...]     validate and print the plan; run nothing

ARGS reach the plan file as `...` and `arg`. Runs are recorded in a SQLite
database (--db); ID may be an unambiguous prefix of a run's id.

options:
  --db PATH      the database (default: $XDG_STATE_HOME/workstream/runs.db,
                 else ~/.local/state/workstream/runs.db)
  --json         JSON: a run prints one event per line (summary on stderr);
                 list and show print JSON
  -q, --quiet    a run prints only its summary
  -v, --verbose  a run also prints every attempt (with a command's output
                 tail) and every log line
  --plugin PATH  load an external C plugin (a .so); repeatable. The plugins
                 in the directories of $WS_PLUGIN_PATH are always loaded.
  -h, --help     show this help
  --version      show the version

exit codes: 0 completed, 1 failed or stopped, 2 bad usage or invalid plan,
            3 internal or storage error
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

-- The end of a command's output, for -v: the last non-empty line of stderr,
-- else of stdout.
local function output_tail(resp)
  if type(resp) ~= "table" then return nil end
  for _, stream in ipairs { "stderr", "stdout" } do
    local text = resp[stream]
    if type(text) == "string" and text:find("%S") then
      return stream .. ": " .. one_line(text:match("([^\n]*%S[^\n]*)%s*$") or text, 200)
    end
  end
end

-- Plain lines (not a terminal): one per finished action, a line when the plan
-- starts and when a stop is asked; with verbose, one per attempt and per log line.
local function printer(out, verbose)
  return function(ev)
    if verbose and ev.type == "attempt" and ev.attempt then
      local a = ev.attempt
      local line = fmt("%s  attempt %d of %s %s", timestamp(ev.time), ev.attempts or 0, ev.path,
                       a.err and ("failed: " .. one_line(a.err.msg, 200)) or "succeeded")
      local tail = output_tail(a.resp)
      if tail then line = line .. " | " .. tail end
      out:write(line, "\n")
      out:flush()
      return
    end
    if verbose and ev.type == "log" then
      out:write(fmt("%s  log %s: %s\n", timestamp(ev.time), ev.path, one_line(ev.msg, 300)))
      return
    end
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

-- "<this file>:<line>: ": where an error raised by `return ws.plan(...)` points,
-- because that tail call drops the plan file's frame.
local OWN_SITE = "^" .. debug.getinfo(1, "S").short_src:gsub("%p", "%%%0") .. ":%d+: "

-- The message of an error raised by evaluating the plan file at path. Error
-- objects other than strings carry no message (and a __tostring could raise).
local function load_error(path, err)
  if type(err) == "string" then
    return (err:gsub(OWN_SITE, function() return path .. ": " end, 1))
  end
  if type(err) == "number" then return path .. ": " .. tostring(err) end
  if err == nil then return path .. " raised an error without a message (nil)" end
  return fmt("%s raised an error that is a %s, not a message", path, type(err))
end

-- Loads and evaluates the plan file. Returns the plan, or nil and a message.
local function load_plan(path, args)
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  local argt = { [0] = path }
  for i, a in ipairs(args) do argt[i] = a end
  _G.arg = argt
  local ok, plan = pcall(chunk, table.unpack(args))
  if not ok then return nil, load_error(path, plan) end
  if ws.kind(plan) ~= "plan" then
    return nil, fmt("%s returned %s, not a plan; end the file with `return ws.plan{...}`",
                    path, plan == nil and "nothing" or ("a " .. (ws.kind(plan) or type(plan))))
  end
  return plan
end

local core = require "workstream.core"

-- Runs a plan with progress lines and a summary; the exit code.
-- --json: one JSON object per line for every event; the summary goes to stderr.
local function json_printer(out)
  return function(ev)
    out:write(core.json(ev), "\n")
    out:flush()
  end
end

-- How a run is shown: set by main from the options.
local display = { json = false, quiet = false, verbose = false }

local function run_plan(plan, path, opts)
  local out = io.stdout
  local view
  if display.json then
    opts.on_event = json_printer(out)
  elseif display.quiet then
    opts.on_event = nil
  elseif core.isatty(1) and os.getenv("TERM") ~= "dumb" then
    -- on a terminal: a live view that redraws in place
    view = require("workstream.progress").new{
      out = out, width = core.term_width() or tonumber(os.getenv("COLUMNS")) or 80,
      verbose = display.verbose, plan = plan,
      color = os.getenv("NO_COLOR") == nil or os.getenv("NO_COLOR") == "",
    }
    opts.on_event = function(ev) view:event(ev) end -- it prints stop notices above its frame
    opts.on_tick = function(now)
      view:resize(core.term_width() or view.width)
      view:tick(now)
    end
  else
    opts.on_event = printer(out, display.verbose)
  end
  opts.signals = true
  local ok, result = pcall(ws.run, plan, opts)
  if view then view:finish() end
  if not ok then
    local msg = tostring(result)
    if msg:find("storage: ", 1, true) then
      eprintf("wsrun: %s", (msg:gsub("^.-storage: ", "")))
      return 3
    end
    if msg:find("refused: ", 1, true) then
      eprintf("wsrun: %s", (msg:gsub("^.-refused: ", "")))
      return 2
    end
    if msg:find("invalid plan: ", 1, true) then
      eprintf("wsrun: %s: %s", path, (msg:gsub("^.-invalid plan: ", "invalid plan: ")))
      return 2
    end
    error(msg, 0) -- internal: the host reports it and exits 3
  end
  local sout = display.json and io.stderr or out
  summary(sout, result)
  if opts.store then sout:write(fmt("run %s recorded in %s\n", result.id, opts.store)) end
  sout:flush()
  return result.status == "completed" and 0 or 1
end

-- The stored run `id`, or nil after printing why (storage errors exit 3).
local function stored(db, id)
  local ok, rec, err = pcall(core.store_get, db, id)
  if not ok then
    eprintf("wsrun: %s", (tostring(rec):gsub("^.-storage: ", "")))
    return nil, 3
  end
  if not rec then
    eprintf("wsrun: %s", err)
    return nil, 2
  end
  return rec
end

-- What workstream.cli_inspect shares with a run.
M.helpers = { eprintf = eprintf, duration = duration, one_line = one_line, summary = summary,
              load_plan = load_plan, stored = stored }

-- The commands that run nothing (--check, plugins, list, show, report), loaded
-- only when one of them is asked for.
local function inspect() return require "workstream.cli_inspect" end

-- Evaluates a stored run's plan file again, where and as it first ran.
local function rebuild(rec)
  local o = rec.origin or {}
  if type(o.file) ~= "string" then
    return nil, fmt("run %s was not started by wsrun from a plan file: it cannot be rebuilt", rec.id)
  end
  if o.cwd then
    local ok, err = pcall(core.chdir, o.cwd)
    if not ok then return nil, tostring(err) end
  end
  return load_plan(o.file, o.args or {})
end

local function resume(db, id, again)
  local rec, code = stored(db, id)
  if not rec then return code end
  local plan, err = rebuild(rec)
  if not plan then
    eprintf("wsrun: %s", err)
    return 2
  end
  local o = rec.origin
  if again then
    return run_plan(plan, o.file, { store = db, retry_of = rec.id,
                                    origin = { file = o.file, args = o.args, cwd = o.cwd, retry_of = rec.id } })
  end
  return run_plan(plan, o.file, { store = db, resume = rec.id, origin = o })
end

local function new_run(db, path, args)
  local plan, err = load_plan(path, args)
  if not plan then
    eprintf("wsrun: %s", err)
    return 2
  end
  local file = core.realpath(path) or path
  return run_plan(plan, path, { store = db, origin = { file = file, args = args, cwd = core.cwd() } })
end

-- The value of option `name` at argv[i], given as "--name=VALUE" or as the next
-- argument; nil when it is missing or empty. Also returns the index it ends at.
local function option_value(argv, i, name)
  local value = argv[i]:match("^" .. name:gsub("%-", "%%-") .. "=(.*)$")
  if not value then
    i = i + 1
    value = argv[i]
  end
  if value == "" then value = nil end
  return value, i
end

function M.main(argv)
  local i = 1
  local db, json, check, out_file
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    local opt = argv[i]
    if opt == "-h" or opt == "--help" then
      io.stdout:write(USAGE)
      return 0
    elseif opt == "--version" then
      io.stdout:write("wsrun ", VERSION, "\n")
      return 0
    elseif opt == "--plugin" or opt:match("^%-%-plugin=") then
      local path
      path, i = option_value(argv, i, "--plugin")
      if not path then
        eprintf("wsrun: --plugin needs a path to a .so file")
        return 2
      end
      local ok, err = pcall(ws.plugins.load, path)
      if not ok then
        eprintf("wsrun: --plugin: %s", (tostring(err):gsub("^[^:]*:%d+: ", "")))
        return 2
      end
    elseif opt == "--db" or opt:match("^%-%-db=") then
      db, i = option_value(argv, i, "--db")
      if not db then
        eprintf("wsrun: --db needs a path")
        return 2
      end
    elseif opt == "--json" then
      json = true
    elseif opt == "--check" then
      check = true
    elseif opt == "-q" or opt == "--quiet" then
      display.quiet = true
    elseif opt == "-v" or opt == "--verbose" then
      display.verbose = true
    elseif opt == "-o" or opt == "--output" then
      i = i + 1
      out_file = argv[i]
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
  db = db or core.store_path()
  display.json = json or false
  local rest = argv[i + 1]
  if path == "report" and rest then
    local rest2 = argv[i + 2]
    if rest2 == "-o" or rest2 == "--output" then out_file = argv[i + 3] end
    if not out_file then
      eprintf("wsrun: report needs -o FILE.html")
      return 2
    end
    return inspect().report_run(db, rest, out_file)
  end
  if path == "plugins" and rest == nil then return inspect().list_plugins(io.stdout) end
  if path == "list" and rest == nil then return inspect().list_runs(db, json) end
  if (path == "show" or path == "resume" or path == "retry") and rest and argv[i + 2] == nil then
    if path == "show" then return inspect().show_run(db, rest, json) end
    return resume(db, rest, path == "retry")
  end
  if path == "list" or path == "show" or path == "resume" or path == "retry" or path == "plugins" then
    eprintf("wsrun: %s: wrong arguments\n%s", path, USAGE)
    return 2
  end
  local args = { select(i + 1, table.unpack(argv, 1, #argv)) }
  if check then return inspect().check_plan(path, args) end
  return new_run(db, path, args)
end

return M
