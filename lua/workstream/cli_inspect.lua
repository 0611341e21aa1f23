-- workstream.cli_inspect: the wsrun commands that run nothing: --check, plugins,
-- list, show and report. workstream.cli loads it only for them: most starts of
-- wsrun run a plan and need none of this. Each returns the exit code.

local core = require "workstream.core"
local helpers = require("workstream.cli").helpers -- shared with a run

local io, os, string = io, os, string
local fmt = string.format
local ipairs, pcall, tostring = ipairs, pcall, tostring
local math = math

local eprintf, duration, one_line = helpers.eprintf, helpers.duration, helpers.one_line
local summary, load_plan, stored = helpers.summary, helpers.load_plan, helpers.stored

local M = {}

-- --check: the plan tree with each action's plugin, timeout, retries and
-- typed request (secrets redacted); nothing runs.
function M.check_plan(path, args)
  local plan, err = load_plan(path, args)
  if not plan then
    eprintf("wsrun: %s", err)
    return 2
  end
  local ok, tree = pcall(core.check, plan)
  if not ok then
    eprintf("wsrun: %s: %s", path, (tostring(tree):gsub("^.-invalid plan: ", "invalid plan: ")))
    return 2
  end
  local out = io.stdout
  local function show(node, indent)
    local label = node.type == "checks" and (node.kind .. "_checks") or node.name
    local extra = ""
    if node.type == "block" then
      extra = fmt("  (concurrency %d, tolerated_failures %s, stop %s)", node.concurrency,
                  tostring(node.tolerated_failures), node.stop)
    elseif node.type == "checks" and node.kind == "cont" then
      extra = fmt("  (every %gs)", node.delay)
    elseif node.type == "batch" then
      extra = fmt("  (when %s%s)", node.when, node.fail_plan and ", fail_plan" or "")
    end
    out:write(indent, node.type, " ", label, extra, "\n")
    if node.type == "action" then
      out:write(fmt("%s  plugin %s, timeout %gs, retries %d\n", indent, node.plugin, node.timeout,
                    node.retries))
      out:write(indent, "  req ", core.json(node.req), "\n")
    end
    for _, slot in ipairs { "bypass_checks", "pre_checks", "cont_checks" } do
      if node[slot] then show(node[slot], indent .. "  ") end
    end
    for _, list in ipairs { "blocks", "sequences", "actions" } do
      for _, c in ipairs(node[list] or {}) do show(c, indent .. "  ") end
    end
    if node.post_checks then show(node.post_checks, indent .. "  ") end
    for _, c in ipairs(node.deferred_actions or {}) do show(c, indent .. "  ") end
    if node.deferred_checks then show(node.deferred_checks, indent .. "  ") end
  end
  show(tree, "")
  out:write(fmt("%s: the plan is valid (nothing was run)\n", path))
  return 0
end

-- `wsrun report ID -o FILE`: one self-contained HTML file.
function M.report_run(db, id, file)
  local rec, code = stored(db, id)
  if not rec then return code end
  local html = require("workstream.report").html(rec)
  local f, err = io.open(file, "w")
  if not f then
    eprintf("wsrun: cannot write the report: %s", err)
    return 2
  end
  f:write(html)
  f:close()
  io.stdout:write(fmt("report of run %s written to %s\n", rec.id, file))
  return 0
end

-- `wsrun plugins`: every registered plugin, its kind and its types.
function M.list_plugins(out)
  for _, p in ipairs(core.plugins()) do
    out:write(fmt("%s%s\n", p.name, p.is_check and "  (check)" or ""))
    if p.descr then out:write("  ", p.descr, "\n") end
    out:write("  request:  ", p.request, "\n")
    out:write("  response: ", p.response, "\n")
  end
  return 0
end

local function iso(t)
  return t and os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) or "-"
end

function M.list_runs(db, json)
  local ok, runs = pcall(core.store_list, db)
  if not ok then
    eprintf("wsrun: %s", (tostring(runs):gsub("^.-storage: ", "")))
    return 3
  end
  if json then
    io.stdout:write(core.json(runs), "\n")
    return 0
  end
  if #runs == 0 then
    io.stdout:write("no runs recorded in ", db, "\n")
    return 0
  end
  io.stdout:write(fmt("%-36s  %-11s  %-15s  %-20s  %9s  %s\n", "ID", "STATUS", "REASON", "STARTED",
                      "DURATION", "NAME"))
  for _, r in ipairs(runs) do
    io.stdout:write(fmt("%-36s  %-11s  %-15s  %-20s  %9s  %s\n", r.id, r.status, r.reason or "-",
                        iso(r.started), duration(r) ~= "" and duration(r) or "-", r.name))
  end
  return 0
end

local function show_tree(out, node, indent)
  local name = node.type == "plan" and node.name or (node.kind and (node.kind .. "_checks")) or node.name
  local line = fmt("%s%s %s: %s", indent, node.type, name, node.status)
  if node.reason then line = line .. " (reason: " .. node.reason .. ")" end
  local d = duration(node)
  if d ~= "" then line = line .. "  " .. d end
  if node.type == "action" then
    if #node.attempts > 1 then line = line .. fmt("  %d attempts", #node.attempts) end
    if node.err then line = line .. "\n" .. indent .. "  error: " .. one_line(node.err.msg, 300) end
  end
  out:write(line, "\n")
  local function each(list) for _, c in ipairs(list or {}) do show_tree(out, c, indent .. "  ") end end
  for _, slot in ipairs { "bypass_checks", "pre_checks", "cont_checks" } do
    if node[slot] then show_tree(out, node[slot], indent .. "  ") end
  end
  each(node.blocks)
  each(node.sequences)
  each(node.actions)
  for _, slot in ipairs { "post_checks" } do
    if node[slot] then show_tree(out, node[slot], indent .. "  ") end
  end
  each(node.deferred_actions)
  if node.deferred_checks then show_tree(out, node.deferred_checks, indent .. "  ") end
end

function M.show_run(db, id, json)
  local rec, code = stored(db, id)
  if not rec then return code end
  if json then
    io.stdout:write(core.json(rec, true), "\n")
    return 0
  end
  local out = io.stdout
  out:write(fmt("run %s (group %s), started %s\n", rec.id, rec.group or "-", iso(rec.started)))
  if rec.origin and rec.origin.file then
    out:write("plan file: ", rec.origin.file, "\n")
  end
  show_tree(out, rec, "")
  summary(out, rec)
  return 0
end

return M
