-- workstream.report: a run result as one self-contained HTML page.
--
--   local R = require "workstream.report"
--   local html = R.html(result [, opts])
--
-- `result` is what ws.run returns, or a stored run (core.store_get, `wsrun
-- show --json`): the same tables, plus origin, group and meta. The page loads
-- nothing: its CSS and script are inline and a Content-Security-Policy forbids
-- any fetch. Every string taken from the result is HTML-escaped.
--
-- The page, top to bottom: a header (name, id, group, status, reason, start,
-- duration, counts), the failed actions with their paths and last errors, a
-- timeline of the plan's parts and one per block (a row per sequence, a bar
-- from its start to its end), and the tree of checks, blocks, sequences,
-- actions and attempts.
--
-- Big plans stay usable: blocks start collapsed, and `opts` caps what is drawn
-- in full (see R.defaults); what is left out is always counted on the page.
-- This module is pure Lua: it needs neither the C core nor a running engine.

local fmt, concat, sort = string.format, table.concat, table.sort
local floor, huge, max, min = math.floor, math.huge, math.max, math.min
local ipairs, pairs, select, tostring, tonumber, type, next = ipairs, pairs, select, tostring, tonumber, type, next
local error, setmetatable, os_date, math_type, utf8 = error, setmetatable, os.date, math.type, utf8

local R = {}

--- Limits for big plans; R.html's `opts` overrides any of them.
R.defaults = {
  timeline_rows = 200,  -- sequence rows per block timeline; the rest are counted
  tree_sequences = 500, -- sequences per block drawn in full in the tree
  brief_rows = 5000,    -- beyond those, sequences listed one line each, up to this many
  failures = 200,       -- failed actions listed at the top
  text_limit = 20000,   -- characters of one request, response, error or log shown
  open_limit = 50,      -- plans with at most this many sequences open their failures
}

local STATUSES = { "completed", "failed", "stopped", "running", "not_started" }
local KNOWN_STATUS = {}
for _, s in ipairs(STATUSES) do KNOWN_STATUS[s] = true end
local PROBLEM = { failed = true, stopped = true, running = true }

-------------------------------------------------------------------- output

-- Appends its arguments to the list `out`; the page is concat(out) at the end.
local function put(out, ...)
  local n = #out
  for i = 1, select("#", ...) do out[n + i] = (select(i, ...)) end
end

------------------------------------------------------------------ escaping

local ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- Any value as HTML text, safe in element content and in quoted attributes.
-- Control characters (never valid in HTML) become U+FFFD.
local function esc(v)
  local s = tostring(v):gsub("[&<>\"']", ENTITIES)
  s = s:gsub("[%z\1-\8\11\12\14-\31\127]", "\u{FFFD}")
  return s
end

-- At most `limit` bytes of s, cut before a UTF-8 continuation byte, and how
-- many bytes were left out.
local function clip(s, limit)
  if #s <= limit then return s, 0 end
  local cut = limit
  while cut > 0 and (s:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return s:sub(1, cut), #s - cut
end

-- s shortened to n characters in the middle, so that names differing only
-- at the end stay apart: "host-0001.dc1.exam…ternal". (Bytes, if not UTF-8.)
local function shorten(s, n)
  local len = utf8.len(s)
  if not len then return #s <= n and s or s:sub(1, n) end
  if len <= n then return s end
  local head = floor((n - 1) / 2)
  local tail = n - 1 - head
  return s:sub(1, utf8.offset(s, head + 1) - 1) .. "…" .. s:sub(utf8.offset(s, len - tail + 1))
end

-- A <pre> of text, clipped to the text limit, with a note when clipped.
local function pre(ctx, out, class, text)
  local shown, left = clip(text, ctx.opts.text_limit)
  put(out, '<pre class="', class, '">', esc(shown), "</pre>")
  if left > 0 then put(out, '<p class="note">(', left, " more bytes not shown)</p>") end
end

------------------------------------------------------------ times, numbers

-- UTC, ISO 8601, milliseconds: 2025-01-31T12:00:00.250Z
local function iso(t)
  local secs = floor(t)
  return os_date("!%Y-%m-%dT%H:%M:%S", secs) .. fmt(".%03dZ", min(999, floor((t - secs) * 1000)))
end

-- A length of time for people: 0.4 ms, 75 ms, 2.50 s, 3m 05s, 2h 10m.
local function span_text(d)
  if d < 0 then d = 0 end
  if d < 0.01 then return fmt("%.1f ms", d * 1000) end
  if d < 1 then return fmt("%.0f ms", d * 1000) end
  if d < 60 then return fmt("%.2f s", d) end
  if d < 3600 then return fmt("%dm %02ds", floor(d / 60), floor(d % 60)) end
  return fmt("%dh %02dm", floor(d / 3600), floor(d % 3600 / 60))
end

-- A round length of time, short: 250ms, 30s, 1.5s, 5m, 1m 30s, 2h, 1h 30m
-- (tick labels, timeouts, delays).
local function setting_text(d)
  if d < 1 then return fmt("%gms", floor(d * 1e6 + 0.5) / 1e3) end
  if d < 60 then return fmt("%gs", floor(d * 1e3 + 0.5) / 1e3) end
  local h, m, sec = floor(d / 3600), floor(d % 3600 / 60), floor(d % 60)
  if h > 0 then return m > 0 and fmt("%dh %dm", h, m) or fmt("%dh", h) end
  return sec > 0 and fmt("%dm %ds", m, sec) or fmt("%dm", m)
end

-- A node's duration, or "" when it has no start (or no end yet).
local function duration(node)
  if not node.started or not node.ended then return "" end
  return span_text(node.ended - node.started)
end

-- "+2.50 s" from the plan's start, for a time t.
local function offset(ctx, t)
  if not ctx.t0 then return iso(t) end
  return "+" .. span_text(t - ctx.t0)
end

-- A time as offset text with the absolute time in a tooltip.
local function time_html(ctx, t)
  if not t then return "—" end
  return fmt('<time datetime="%s" title="%s">%s</time>', iso(t), iso(t), esc(offset(ctx, t)))
end

local function plural(n, word) return fmt("%d %s%s", n, word, n == 1 and "" or "s") end

--------------------------------------------------------------------- JSON

local JSON_ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return JSON_ESC[c] or fmt("\\u%04x", c:byte()) end) .. '"'
end

-- A table that is a non-empty list 1..n.
local function is_list(t)
  local n = #t
  return n > 0 and next(t, n) == nil
end

local json_value

local function json_scalar(v)
  local tv = type(v)
  if tv == "string" then return json_string(v) end
  if tv == "number" then
    if math_type(v) == "integer" then return fmt("%d", v) end
    if v ~= v or v == huge or v == -huge then return "null" end
    return fmt("%.14g", v)
  end
  if tv == "boolean" then return tostring(v) end
  if tv == "nil" then return "null" end
  return json_string(tostring(v))
end

-- A list or record; short lists of scalars stay on one line.
local function json_table(t, indent, depth)
  if depth > 32 then return '"(nested too deeply)"' end
  local inner, items = indent .. "  ", {}
  if is_list(t) then
    local flat = true
    for i, v in ipairs(t) do
      items[i] = json_value(v, inner, depth + 1)
      if type(v) == "table" then flat = false end
    end
    local line = "[" .. concat(items, ", ") .. "]"
    if flat and #line <= 72 then return line end
    return "[\n" .. inner .. concat(items, ",\n" .. inner) .. "\n" .. indent .. "]"
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  if #keys == 0 then return "{}" end
  sort(keys)
  for i, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    items[i] = json_string(k) .. ": " .. json_value(v, inner, depth + 1)
  end
  return "{\n" .. inner .. concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

json_value = function(v, indent, depth)
  if type(v) == "table" then return json_table(v, indent, depth) end
  return json_scalar(v)
end

--- v as indented JSON text (keys sorted), for showing, not for parsing back.
function R.json(v) return json_value(v, "", 0) end

-- A request or response: its multi-line text fields (a command's stdout,
-- stderr) shown as text under the JSON of the rest.
local function value_block(ctx, out, label, v)
  local texts, rest = {}, v
  if type(v) == "table" and not is_list(v) then
    rest = {}
    for k, x in pairs(v) do
      if type(x) == "string" and x:find("\n", 1, true) then texts[#texts + 1] = k else rest[k] = x end
    end
    sort(texts)
  end
  put(out, '<div class="lbl">', esc(label), "</div>")
  if #texts == 0 or next(rest) ~= nil then pre(ctx, out, "json", R.json(rest)) end
  for _, k in ipairs(texts) do
    put(out, '<div class="lbl">', esc(label), ".", esc(k), " (text)</div>")
    pre(ctx, out, "text", v[k])
  end
end

---------------------------------------------------------------- the model

local EARLY_CHECKS = { "bypass_checks", "pre_checks", "cont_checks" }
local LATE_CHECKS = { "post_checks", "deferred_checks" }
local EMPTY = setmetatable({}, { __newindex = function() error("EMPTY is read-only", 2) end })

local function list(v) return type(v) == "table" and v or EMPTY end

local function join(prefix, name)
  name = tostring(name)
  return prefix == "" and name or prefix .. "/" .. name
end

local function status_of(node)
  local s = node.status
  return KNOWN_STATUS[s] and s or "unknown"
end

-- Calls fn(node, path, owner, parent) for every object in ws.walk's order and
-- with its paths; owner is the block (for a sequence or its actions) or the
-- checks, parent the object it hangs from.
local function visit(result, fn)
  local function checks(owner, slot, prefix)
    local c = owner[slot]
    if type(c) ~= "table" then return end
    local path = join(prefix, slot)
    fn(c, path, owner, owner)
    for _, a in ipairs(list(c.actions)) do fn(a, join(path, a.name), c, c) end
  end
  fn(result, "", nil)
  for _, slot in ipairs(EARLY_CHECKS) do checks(result, slot, "") end
  for _, b in ipairs(list(result.blocks)) do
    local bpath = join("", b.name)
    fn(b, bpath, result, result)
    for _, slot in ipairs(EARLY_CHECKS) do checks(b, slot, bpath) end
    for _, s in ipairs(list(b.sequences)) do
      local spath = join(bpath, s.name)
      fn(s, spath, b, b)
      for _, a in ipairs(list(s.actions)) do fn(a, join(spath, a.name), b, s) end
    end
    for _, slot in ipairs(LATE_CHECKS) do checks(b, slot, bpath) end
  end
  checks(result, "post_checks", "")
  for _, batch in ipairs(list(result.deferred_actions)) do
    local path = join("deferred_actions", batch.name)
    fn(batch, path, result, result)
    for _, a in ipairs(list(batch.actions)) do fn(a, join(path, a.name), batch, batch) end
  end
  checks(result, "deferred_checks", "")
end

-- The latest time recorded anywhere under node (its attempts included).
local function latest(node)
  local t = max(node.started or 0, node.ended or 0)
  for _, at in ipairs(list(node.attempts)) do t = max(t, at.started or 0, at.ended or 0) end
  for _, field in ipairs { "blocks", "sequences", "actions", "deferred_actions" } do
    for _, c in ipairs(list(node[field])) do t = max(t, latest(c)) end
  end
  for _, slot in ipairs(EARLY_CHECKS) do
    if type(node[slot]) == "table" then t = max(t, latest(node[slot])) end
  end
  for _, slot in ipairs(LATE_CHECKS) do
    if type(node[slot]) == "table" then t = max(t, latest(node[slot])) end
  end
  return t
end

-- What the page needs besides the result: paths, anchors, failures, counts.
local function context(result, opts)
  local ctx = {
    result = result, opts = opts, t0 = result.started, path = {}, anchor = {}, parent = {}, drawn = {},
    failed = {}, actions = {}, sequences = {}, nseq = 0,
  }
  local used, n = {}, 0
  visit(result, function(node, path, owner, parent)
    ctx.path[node], ctx.parent[node] = path, parent
    local id = type(node.id) == "string" and node.id:match("^[%w%-]+$") and "n-" .. node.id
    if not id or used[id] then
      n = n + 1
      id = "n" .. n
    end
    used[id] = true
    ctx.anchor[node] = id
    if node.type == "sequence" then
      ctx.nseq = ctx.nseq + 1
      ctx.sequences[status_of(node)] = (ctx.sequences[status_of(node)] or 0) + 1
    elseif node.type == "action" then
      if owner and owner.type == "block" then
        ctx.actions[status_of(node)] = (ctx.actions[status_of(node)] or 0) + 1
      end
      -- A failing bypass check only means "do the work": not a failure.
      if node.status == "failed" and not (owner and owner.kind == "bypass") then
        ctx.failed[#ctx.failed + 1] = {
          node = node, path = path,
          tolerated = owner and owner.type == "block" and owner.status == "completed",
        }
      end
    end
  end)
  ctx.now = latest(result)
  ctx.small = ctx.nseq <= opts.open_limit
  return ctx
end

-- "8 completed, 1 failed, 1 not started" from counts by status.
local function counts_text(counts)
  local parts = {}
  for _, s in ipairs(STATUSES) do
    if counts[s] then parts[#parts + 1] = fmt("%d %s", counts[s], (s:gsub("_", " "))) end
  end
  if counts.unknown then parts[#parts + 1] = fmt("%d unknown", counts.unknown) end
  return #parts > 0 and concat(parts, ", ") or "none"
end

local function count_statuses(nodes)
  local c = {}
  for _, n in ipairs(nodes) do c[status_of(n)] = (c[status_of(n)] or 0) + 1 end
  return c
end

------------------------------------------------------------- small pieces

-- A status as coloured text: the word is always there, the colour helps.
local function badge(status)
  local s = KNOWN_STATUS[status] and status or "unknown"
  local words = esc(status == nil and "unknown" or status):gsub("_", " ")
  return fmt('<span class="st st-%s">%s</span>', s, words)
end

-- The anchor of node in the tree, else of its nearest ancestor there (an
-- action of a sequence listed in brief has none). The tree is drawn first.
local function target(ctx, node)
  while node and not ctx.drawn[node] do node = ctx.parent[node] end
  return node and ctx.anchor[node] or "tree"
end

local function link(ctx, node, text)
  return fmt('<a href="#%s">%s</a>', target(ctx, node), esc(text))
end

-- The summary line's duration: "2.50 s", "running", or nothing.
local function dur_html(ctx, node)
  local d = duration(node)
  if d ~= "" then return '<span class="dur">' .. d .. "</span>" end
  if node.started and node.status == "running" then
    return '<span class="dur">running since ' .. esc(offset(ctx, node.started)) .. "</span>"
  end
  return ""
end

-- The <details> of a node: open for problems in small plans.
local function details_open(ctx, out, node, class)
  local st = status_of(node)
  local open = ctx.small and PROBLEM[st]
  ctx.drawn[node] = true
  put(out, '<details class="node ', class, " ns-", st, '" id="', ctx.anchor[node], '"',
      open and " open" or "", "><summary>")
end

--------------------------------------------------------------------- header

local function header(ctx, out)
  local r = ctx.result
  put(out, '<header><h1><span class="kind">plan</span> ', esc(r.name or "(unnamed)"), " ",
      badge(r.status), "</h1>")
  if r.descr then put(out, '<p class="descr">', esc(r.descr), "</p>") end
  put(out, '<dl class="kv">')
  local function row(k, v) put(out, "<dt>", k, "</dt><dd>", v, "</dd>") end
  row("status", badge(r.status) .. (r.reason and (" reason: <b>" .. esc(r.reason) .. "</b>") or ""))
  row("id", "<code>" .. esc(r.id or "—") .. "</code>")
  if r.group then row("group", "<code>" .. esc(r.group) .. "</code>") end
  row("started", r.started and (esc(iso(r.started)) .. " (UTC)") or "not started")
  if r.ended then row("ended", esc(iso(r.ended)) .. " (UTC)") end
  if r.started and r.ended then
    row("duration", esc(duration(r)))
  elseif r.started then
    row("duration", "running; last record " .. esc(offset(ctx, ctx.now)) .. " after the start")
  end
  local o = type(r.origin) == "table" and r.origin or nil
  if o and o.file then
    local args = {}
    for i, a in ipairs(list(o.args)) do args[i] = esc(a) end
    row("plan file", "<code>" .. esc(o.file) .. (#args > 0 and (" " .. concat(args, " ")) or "")
        .. "</code>" .. (o.cwd and (" in <code>" .. esc(o.cwd) .. "</code>") or ""))
  end
  if o and o.retry_of then row("retry of", "<code>" .. esc(o.retry_of) .. "</code>") end
  row("sequences", esc(plural(ctx.nseq, "sequence")) .. ": " .. esc(counts_text(ctx.sequences)))
  row("actions in blocks", esc(counts_text(ctx.actions)))
  put(out, "</dl></header>")
end

------------------------------------------------------------ failed actions

local function first_line(s)
  s = tostring(s or "")
  return s:match("^[^\n]*") or s
end

local function failures(ctx, out)
  local f = ctx.failed
  put(out, '<section id="failures"><h2>Failed actions (', #f, ")</h2>")
  if #f == 0 then
    put(out, '<p class="ok-note">No action failed.</p></section>')
    return
  end
  put(out, '<ol class="failures">')
  for i = 1, min(#f, ctx.opts.failures) do
    local a = f[i].node
    local err = type(a.err) == "table" and a.err or {}
    put(out, "<li>", badge(a.status), " ", link(ctx, a, f[i].path))
    if f[i].tolerated then put(out, ' <span class="tag">tolerated</span>') end
    put(out, ' <span class="muted">· ', esc(a.plugin or "?"), ", ",
        esc(plural(#list(a.attempts), "attempt")))
    if err.code then put(out, ", code <code>", esc(err.code), "</code>") end
    if err.permanent then put(out, ", permanent") end
    put(out, "</span>")
    pre(ctx, out, "err", err.msg and tostring(err.msg) or "(no error recorded)")
    put(out, "</li>")
  end
  put(out, "</ol>")
  if #f > ctx.opts.failures then
    put(out, '<p class="note">', #f - ctx.opts.failures,
        " more failed actions are not listed here: the tree below has their sequences.</p>")
  end
  put(out, "</section>")
end

------------------------------------------------------------------ timeline

-- A tick step for a span: about six ticks at round values.
local STEPS = { 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
                300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400 }
local function tick_step(span)
  for _, s in ipairs(STEPS) do
    if span / s <= 7 then return s end
  end
  return span / 6
end

local function pct(x) return fmt("%.3f%%", max(0, min(100, x * 100))) end

-- The axis row: tick marks and labels from 0 to the span.
local function axis(out, span)
  put(out, '<div class="tl-row tl-axis" aria-hidden="true"><div class="tl-label"></div>',
      '<div class="tl-status"></div><div class="tl-track">')
  local step = tick_step(span)
  for k = 0, floor(span / step + 1e-9) do
    local x = k * step / span
    local align = x < 0.04 and "l" or x > 0.92 and "r" or "c"
    put(out, '<span class="tick ta-', align, '" style="left:', pct(x), '">',
        esc(k == 0 and "0" or "+" .. setting_text(k * step)), "</span>")
  end
  put(out, "</div></div>")
end

-- One row: a label, the status in words, and a bar from start to end.
local function bar_row(ctx, out, node, label, class, t0, span, t_end)
  local st = status_of(node)
  local s, e = node.started, node.ended or t_end
  local words = fmt("%s: %s, %s to %s%s", label, (st:gsub("_", " ")), offset(ctx, s),
                    node.ended and offset(ctx, e) or "now (still running)",
                    node.ended and (" (" .. span_text(e - s) .. ")") or "")
  put(out, '<div class="tl-row"><div class="tl-label" title="', esc(label), '">', esc(shorten(label, 40)),
      '</div><div class="tl-status tx-', st, '">', esc((st:gsub("_", " "))),
      '</div><div class="tl-track"><a class="bar ', class, "st-", st, node.ended and "" or " open-end",
      '" href="#', target(ctx, node), '" style="left:', pct((s - t0) / span), ";width:",
      pct((e - s) / span), '" title="', esc(words), '" aria-label="', esc(words), '"></a></div></div>')
end

-- The time span of a node on its own axis: start, length (never 0), end.
local function axis_of(ctx, node)
  local t0 = node.started
  local t1 = node.ended or max(latest(node), t0)
  return t0, max(t1 - t0, 1e-6), t1
end

-- The plan's parts on one axis: checks, blocks, deferred batches.
local function plan_timeline(ctx, out)
  local r = ctx.result
  if not r.started then return end
  local t0, span, t1 = axis_of(ctx, r)
  put(out, '<h3>Plan</h3><div class="tl">')
  axis(out, span)
  local function part(node, label)
    if type(node) == "table" and node.started then bar_row(ctx, out, node, label, "", t0, span, t1) end
  end
  part(r.bypass_checks, "bypass checks")
  part(r.pre_checks, "pre checks")
  part(r.cont_checks, "cont checks (last run)") -- a result keeps the times of the last run only
  for _, b in ipairs(list(r.blocks)) do part(b, "block " .. tostring(b.name)) end
  part(r.post_checks, "post checks")
  for _, b in ipairs(list(r.deferred_actions)) do part(b, "deferred " .. tostring(b.name)) end
  part(r.deferred_checks, "deferred checks")
  put(out, "</div>")
end

-- Which started sequences get a row when there are more than `cap`: the
-- failed, stopped and running ones first, then an even spread of the rest
-- (so the whole axis stays covered); returned in plan order.
local function pick_rows(started, cap)
  if #started <= cap then return started end
  local keep, problems, rest = {}, {}, {}
  for i, s in ipairs(started) do
    if PROBLEM[s.status] then problems[#problems + 1] = i else rest[#rest + 1] = i end
  end
  for i = 1, min(#problems, cap) do keep[problems[i]] = true end
  local room = cap - min(#problems, cap)
  for k = 1, room do keep[rest[floor((k - 1) * #rest / room) + 1]] = true end
  local rows = {}
  for i, s in ipairs(started) do
    if keep[i] then rows[#rows + 1] = s end
  end
  return rows
end

-- The most sequences in flight at once within each of n equal slices of
-- [t0, t0 + span], from a sweep over the sorted starts and ends (an end before
-- a start at the same instant), and the failures that ended in each slice.
local function in_flight(started, t0, span, t1, n)
  local starts, ends, fails = {}, {}, {}
  for i = 0, n - 1 do fails[i] = 0 end
  for i, s in ipairs(started) do
    starts[i], ends[i] = s.started, s.ended or t1
    if s.status == "failed" then
      local k = max(0, min(n - 1, floor((ends[i] - t0) / span * n)))
      fails[k] = fails[k] + 1
    end
  end
  sort(starts)
  sort(ends)
  local peaks, cur, i, j = {}, 0, 1, 1
  for k = 0, n - 1 do
    local stop = k == n - 1 and huge or t0 + (k + 1) * span / n
    local peak = cur
    while true do
      local s, e = starts[i], ends[j]
      if e and e < stop and (not s or e <= s) then
        cur, j = cur - 1, j + 1
      elseif s and s < stop then
        cur, i = cur + 1, i + 1
        peak = max(peak, cur)
      else
        break
      end
    end
    peaks[k] = peak
  end
  return peaks, fails
end

-- A strip of all started sequences, however many: how many were in flight in
-- each slice of the axis, and where failures ended.
local BUCKETS = 100
local function activity(ctx, out, started, t0, span, t1)
  local peaks, fails = in_flight(started, t0, span, t1, BUCKETS)
  local top = 1
  for k = 0, BUCKETS - 1 do top = max(top, peaks[k]) end
  put(out, '<div class="tl-row tl-activity"><div class="tl-label">in flight (all ', #started,
      ')</div><div class="tl-status">peak ', top, '</div><div class="tl-track">')
  local w = span / BUCKETS
  for k = 0, BUCKETS - 1 do
    local words = fmt("%s to %s: at most %d in flight%s", offset(ctx, t0 + k * w), offset(ctx, t0 + (k + 1) * w),
                      peaks[k], fails[k] > 0 and fmt(", %d failed", fails[k]) or "")
    put(out, '<span class="col', fails[k] > 0 and " has-fail" or "", '" style="left:', pct(k / BUCKETS),
        ";height:", pct(peaks[k] / top), '" title="', esc(words), '"></span>')
  end
  put(out, "</div></div>")
end

-- A block's sequences on the block's own axis.
local function block_timeline(ctx, out, b)
  put(out, '<h3><span class="kind">block</span> ', link(ctx, b, tostring(b.name)), " ", badge(b.status),
      " ", dur_html(ctx, b), "</h3>")
  local seqs = list(b.sequences)
  local started = {}
  for _, s in ipairs(seqs) do
    if s.started then started[#started + 1] = s end
  end
  if not b.started or #started == 0 then
    put(out, '<p class="note">No sequence of this block started.</p>')
    return
  end
  local t0, span, t1 = axis_of(ctx, b)
  local rows = pick_rows(started, ctx.opts.timeline_rows)
  put(out, '<div class="tl">')
  axis(out, span)
  if #rows < #started or #started > 20 then activity(ctx, out, started, t0, span, t1) end
  for _, s in ipairs(rows) do bar_row(ctx, out, s, tostring(s.name), "sq ", t0, span, t1) end
  put(out, "</div>")
  local notes = {}
  if #rows < #started then
    notes[#notes + 1] = fmt("%d of %d started sequences shown (failed, stopped and running ones first, "
                            .. "then an even spread); %d omitted", #rows, #started, #started - #rows)
  end
  if #started < #seqs then notes[#notes + 1] = fmt("%d not started (no bar)", #seqs - #started) end
  if #notes > 0 then put(out, '<p class="note">', esc(concat(notes, "; ")), ".</p>") end
end

local function timelines(ctx, out)
  put(out, '<section id="timeline"><h2>Timeline</h2>', '<p class="legend">',
      badge("completed"), " ", badge("failed"), " ", badge("stopped"), " ", badge("running"),
      ' <span class="muted">Each bar runs from its start to its end on its block\'s time axis; '
      .. "hover for times, click for details. Times are from the plan's start.</span></p>")
  if not ctx.result.started then
    put(out, '<p class="note">The plan did not start.</p></section>')
    return
  end
  plan_timeline(ctx, out)
  for _, b in ipairs(list(ctx.result.blocks)) do block_timeline(ctx, out, b) end
  put(out, "</section>")
end

---------------------------------------------------------------------- tree

-- One attempt: when, how long, its outcome, error, response and log.
local function attempt(ctx, out, at, i)
  local outcome, st
  if at.interrupted then
    outcome, st = "interrupted (its runner died)", "stopped"
  elseif at.timed_out then
    outcome, st = "timed out", "failed"
  elseif at.err then
    outcome, st = "error", "failed"
  elseif at.ended then
    outcome, st = "ok", "completed"
  else
    outcome, st = "running", "running"
  end
  put(out, '<li class="attempt"><div class="att-head">attempt ', i, " · ", time_html(ctx, at.started))
  if at.started and at.ended then put(out, ' · <span class="dur">', span_text(at.ended - at.started), "</span>") end
  put(out, ' · <span class="st st-', st, '">', esc(outcome), "</span>")
  local err = type(at.err) == "table" and at.err or nil
  if err and err.code then put(out, " code <code>", esc(err.code), "</code>") end
  if err and err.permanent then put(out, " (permanent)") end
  put(out, "</div>")
  if err then pre(ctx, out, "err", tostring(err.msg or "(no message)")) end
  if at.resp ~= nil then
    value_block(ctx, out, "response", at.resp)
  end
  local log = list(at.log)
  if #log > 0 then
    put(out, '<div class="lbl">log</div>')
    local lines = {}
    for k, l in ipairs(log) do lines[k] = tostring(l) end
    pre(ctx, out, "log", concat(lines, "\n"))
  end
  put(out, "</li>")
end

local function action(ctx, out, a)
  details_open(ctx, out, a, "action")
  local atts = list(a.attempts)
  put(out, '<span class="kind">action</span> <span class="name">', esc(a.name or "?"), "</span> ",
      badge(a.status), " ", dur_html(ctx, a), ' <span class="muted">· ', esc(a.plugin or "?"))
  if #atts > 1 then put(out, ", ", #atts, " attempts") end
  put(out, '</span></summary><div class="body">')
  if a.descr then put(out, '<p class="descr">', esc(a.descr), "</p>") end
  put(out, '<dl class="kv"><dt>path</dt><dd><code>', esc(ctx.path[a]), "</code></dd>",
      "<dt>started</dt><dd>", time_html(ctx, a.started), "</dd><dt>ended</dt><dd>", time_html(ctx, a.ended),
      "</dd>")
  if type(a.timeout) == "number" then put(out, "<dt>timeout</dt><dd>", setting_text(a.timeout), "</dd>") end
  put(out, "<dt>retries</dt><dd>", esc(a.retries or 0), "</dd></dl>")
  if type(a.err) == "table" then
    put(out, '<div class="lbl">last error', a.err.code and (" (" .. esc(a.err.code) .. ")") or "", "</div>")
    pre(ctx, out, "err", tostring(a.err.msg or "(no message)"))
  end
  value_block(ctx, out, "request", a.req or {})
  if #atts > 0 then
    put(out, '<div class="lbl">attempts</div><ol class="attempts">')
    for i, at in ipairs(atts) do attempt(ctx, out, at, i) end
    put(out, "</ol>")
  end
  put(out, "</div></details>")
end

local CHECKS_LABEL = { bypass = "bypass checks", pre = "pre checks", cont = "continuous checks",
                       post = "post checks", deferred = "deferred checks" }

local function checks(ctx, out, c)
  if type(c) ~= "table" then return end
  details_open(ctx, out, c, "checks")
  put(out, '<span class="kind">checks</span> <span class="name">',
      esc(CHECKS_LABEL[c.kind] or tostring(c.kind) .. " checks"), "</span> ", badge(c.status), " ",
      dur_html(ctx, c))
  if c.kind == "cont" and type(c.delay) == "number" then
    put(out, ' <span class="muted">· every ', setting_text(c.delay), "</span>")
  end
  put(out, '</summary><div class="body">')
  for _, a in ipairs(list(c.actions)) do action(ctx, out, a) end
  put(out, "</div></details>")
end

-- A sequence or a deferred batch: its actions in order.
local function sequence(ctx, out, s)
  local is_batch = s.type == "batch"
  details_open(ctx, out, s, is_batch and "batch" or "seq")
  put(out, '<span class="kind">', is_batch and "batch" or "sequence", '</span> <span class="name">',
      esc(s.name or "?"), "</span> ", badge(s.status), " ", dur_html(ctx, s), ' <span class="muted">· ',
      esc(plural(#list(s.actions), "action")))
  if is_batch then
    put(out, ", when ", esc(s.when or "?"), s.fail_plan and ", fails the plan" or "")
  end
  put(out, '</span></summary><div class="body">')
  if s.descr then put(out, '<p class="descr">', esc(s.descr), "</p>") end
  for _, a in ipairs(list(s.actions)) do action(ctx, out, a) end
  put(out, "</div></details>")
end

-- The first action of a sequence that did not complete, for one-line rows.
local function trouble(s)
  for _, a in ipairs(list(s.actions)) do
    if a.status == "failed" or a.status == "stopped" or a.status == "running" then return a end
  end
end

-- Sequences beyond the tree's cap, one table row each.
local function brief(ctx, out, seqs)
  local cap = ctx.opts.brief_rows
  put(out, '<table class="brief"><caption>', #seqs, " more sequences, in brief</caption><thead><tr>",
      "<th>sequence</th><th>status</th><th>started</th><th>duration</th><th>problem</th></tr></thead><tbody>")
  for i = 1, min(#seqs, cap) do
    local s = seqs[i]
    local t = trouble(s)
    ctx.drawn[s] = true
    put(out, '<tr id="', ctx.anchor[s], PROBLEM[s.status] and '" class="pr' or "", '"><td>', esc(s.name or "?"), "</td><td>", badge(s.status),
        "</td><td>", time_html(ctx, s.started), "</td><td>", duration(s), "</td><td>")
    if t then
      put(out, esc(t.name or "?"), ": ", esc(first_line(type(t.err) == "table" and t.err.msg or t.status)))
    end
    put(out, "</td></tr>")
  end
  put(out, "</tbody></table>")
  if #seqs > cap then
    put(out, '<p class="note">', #seqs - cap, " more sequences not listed (`wsrun show --json` has them).</p>")
  end
end

-- Which sequences the tree draws in full: problems first, then plan order.
local function split_sequences(seqs, cap)
  if #seqs <= cap then return seqs, {} end
  local full, n = {}, 0
  for _, s in ipairs(seqs) do
    if n < cap and PROBLEM[s.status] then full[s], n = true, n + 1 end
  end
  for _, s in ipairs(seqs) do
    if n < cap and not full[s] then full[s], n = true, n + 1 end
  end
  local shown, rest = {}, {}
  for _, s in ipairs(seqs) do
    if full[s] then shown[#shown + 1] = s else rest[#rest + 1] = s end
  end
  return shown, rest
end

local function block(ctx, out, b)
  local seqs = list(b.sequences)
  details_open(ctx, out, b, "block")
  put(out, '<span class="kind">block</span> <span class="name">', esc(b.name or "?"), "</span> ",
      badge(b.status), " ", dur_html(ctx, b), ' <span class="muted">· ', esc(plural(#seqs, "sequence")),
      ": ", esc(counts_text(count_statuses(seqs))), '</span></summary><div class="body">')
  if b.descr then put(out, '<p class="descr">', esc(b.descr), "</p>") end
  put(out, '<p class="muted">concurrency ', esc(b.concurrency or 1), ", tolerated failures ",
      esc(b.tolerated_failures or 0), ", stop ", esc(b.stop or "sequence"), "</p>")
  for _, slot in ipairs(EARLY_CHECKS) do checks(ctx, out, b[slot]) end
  local shown, rest = split_sequences(seqs, ctx.opts.tree_sequences)
  for _, s in ipairs(shown) do sequence(ctx, out, s) end
  if #rest > 0 then brief(ctx, out, rest) end
  for _, slot in ipairs(LATE_CHECKS) do checks(ctx, out, b[slot]) end
  put(out, "</div></details>")
end

local function tree(ctx, out)
  local r = ctx.result
  put(out, '<section><h2>Plan tree</h2><p class="js-only tools" hidden>',
      '<button type="button" data-act="open">Expand all</button> ',
      '<button type="button" data-act="close">Collapse all</button> ',
      '<button type="button" data-act="problems" aria-pressed="false">Only problems</button></p>',
      '<div id="tree">')
  for _, slot in ipairs(EARLY_CHECKS) do checks(ctx, out, r[slot]) end
  for _, b in ipairs(list(r.blocks)) do block(ctx, out, b) end
  checks(ctx, out, r.post_checks)
  for _, batch in ipairs(list(r.deferred_actions)) do sequence(ctx, out, batch) end
  checks(ctx, out, r.deferred_checks)
  put(out, "</div></section>")
end

---------------------------------------------------------------------- page

-- Colours pass WCAG AA (4.5:1) as white on the colour and as the colour on white.
local CSS = [[
:root{color-scheme:light;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa;
--completed:#1a7f37;--failed:#cf222e;--stopped:#9a6700;--running:#0969da;--not_started:#6e7781;--unknown:#6e7781}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);
background:#fff;margin:0;padding:1.25rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1rem 0 .35rem;font-weight:600;overflow-wrap:anywhere}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
a{color:#0550ae}
.kind{font-size:.75em;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
.muted,.note{color:var(--muted)}
.note{font-style:italic;margin:.35rem 0}
.descr{margin:.25rem 0 .5rem}
.st{display:inline-block;padding:0 .45em;border-radius:1em;font-size:.8rem;font-weight:600;line-height:1.5;
color:#fff;background:var(--unknown);white-space:nowrap;vertical-align:.05em}
h1 .st{font-size:.95rem}
.st-completed{background:var(--completed)}.st-failed{background:var(--failed)}
.st-stopped{background:var(--stopped)}.st-running{background:var(--running)}
.st-not_started{background:var(--not_started)}
.tag{font-size:.75rem;border:1px solid var(--stopped);color:var(--stopped);border-radius:.3em;padding:0 .3em}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
.kv dt{color:var(--muted)}.kv dd{margin:0;overflow-wrap:anywhere}
header{padding-bottom:.5rem}
pre{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:.5rem .65rem;margin:.25rem 0 .5rem;
white-space:pre-wrap;overflow-wrap:anywhere;max-height:24rem;overflow:auto}
pre.err{background:#fff1f0;border-color:#ffc1bd;color:#82071e}
.failures{padding-left:1.5rem}.failures li{margin:.35rem 0 .75rem}
.failures li>a{font-weight:600;overflow-wrap:anywhere}
.ok-note{color:var(--completed);font-weight:600}
.lbl{font-size:.8rem;color:var(--muted);margin-top:.4rem;font-weight:600}
details.node{margin:.15rem 0}
details.node>summary{cursor:pointer;padding:.15rem .3rem;border-radius:4px;overflow-wrap:anywhere}
details.node>summary:hover{background:var(--bg2)}
details.node>.body{margin-left:.6rem;padding-left:1rem;border-left:2px solid var(--line)}
details.ns-failed>.body{border-left-color:#ffc1bd}
.name{font-weight:600}
.dur{color:var(--muted);font-variant-numeric:tabular-nums;margin-left:.25rem}
.attempts{padding-left:1.5rem;margin:.25rem 0}.attempt{margin:.25rem 0 .5rem}
.att-head{font-size:.9rem}
.hl>summary,tr.hl{outline:2px solid var(--running);outline-offset:1px}
#tree.only-problems .node.ns-completed,#tree.only-problems .node.ns-not_started,
#tree.only-problems table.brief tr:not(.pr){display:none}
table.brief{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
table.brief caption{text-align:left;color:var(--muted);font-weight:600;padding:.25rem 0}
table.brief th,table.brief td{border-bottom:1px solid var(--line);padding:.15rem .6rem;text-align:left;vertical-align:top}
.tools button{font:inherit;padding:.2rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg2);cursor:pointer}
.tools button[aria-pressed=true]{background:#ddf4ff;border-color:var(--running)}
.legend .st{margin-right:.15rem}
.tl{border:1px solid var(--line);border-radius:6px;padding:.35rem .5rem .5rem;margin:.25rem 0 .5rem;overflow:hidden}
.tl-row{display:grid;grid-template-columns:minmax(6rem,20rem) 5.5rem 1fr;align-items:center;gap:.5rem;min-height:18px}
.tl-label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:.85rem}
.tl-status{font-size:.75rem;font-weight:600;white-space:nowrap}
.tx-completed{color:var(--completed)}.tx-failed{color:var(--failed)}.tx-stopped{color:var(--stopped)}
.tx-running{color:var(--running)}.tx-not_started,.tx-unknown{color:var(--not_started)}
.tl-track{position:relative;height:14px;background:var(--bg2);border-radius:2px}
.tl-row:nth-child(even) .tl-track{background:#eef1f4}
.tl-axis{min-height:20px;border-bottom:1px solid var(--line);margin-bottom:.2rem}
.tl-axis .tl-track{background:none;height:18px}
.tick{position:absolute;top:0;font-size:.7rem;color:var(--muted);white-space:nowrap;border-left:1px solid var(--line);padding-left:2px}
.tick.ta-r{transform:translateX(-100%);border-left:0;border-right:1px solid var(--line);padding:0 2px 0 0}
.bar{position:absolute;top:1px;bottom:1px;min-width:3px;border-radius:2px;background:var(--unknown)}
.bar.st-completed{background:var(--completed)}.bar.st-failed{background:var(--failed)}
.bar.st-stopped{background:var(--stopped)}.bar.st-running{background:var(--running)}
.bar.open-end{background-image:repeating-linear-gradient(45deg,rgba(255,255,255,.35) 0 4px,transparent 4px 8px)}
.bar:hover,.bar:focus{outline:2px solid var(--fg);outline-offset:1px}
.tl-activity .tl-track{height:28px;background:none;border-bottom:1px solid var(--line)}
.tl-activity .col{position:absolute;bottom:0;width:calc(1% + 1px);background:#8fb8e8}
.tl-activity .col.has-fail{background:var(--failed)}
@media (max-width:700px){.tl-row{grid-template-columns:1fr auto;gap:0 .5rem}.tl-track{grid-column:1/-1}
.tl-axis .tl-label,.tl-axis .tl-status{display:none}.tl-row+.tl-row{margin-top:.2rem}}
@media print{.js-only{display:none}pre{max-height:none}}
]]

-- Buttons, and links that open the collapsed parents of what they point to.
local JS = [[
(function(){
  function openTo(el){for(var e=el;e;e=e.parentElement){if(e.tagName==='DETAILS')e.open=true;}}
  function show(id){
    var el=id&&document.getElementById(id);if(!el)return;
    openTo(el);el.scrollIntoView({block:'start'});
    var old=document.querySelector('.hl');if(old)old.classList.remove('hl');el.classList.add('hl');
  }
  document.addEventListener('click',function(ev){
    var a=ev.target.closest&&ev.target.closest('a[href^="#"]');
    if(a){var id=decodeURIComponent(a.getAttribute('href').slice(1));var el=document.getElementById(id);if(el)openTo(el);}
  });
  window.addEventListener('hashchange',function(){show(decodeURIComponent(location.hash.slice(1)));});
  if(location.hash)show(decodeURIComponent(location.hash.slice(1)));
  var tree=document.getElementById('tree');
  Array.prototype.forEach.call(document.querySelectorAll('.js-only'),function(e){e.hidden=false;});
  Array.prototype.forEach.call(document.querySelectorAll('[data-act]'),function(b){
    b.addEventListener('click',function(){
      var act=b.getAttribute('data-act');
      if(act==='problems'){b.setAttribute('aria-pressed',String(tree.classList.toggle('only-problems')));return;}
      Array.prototype.forEach.call(tree.querySelectorAll('details'),function(d){d.open=(act==='open');});
    });
  });
})();
]]

-- Nothing may load: no URL of any kind, and the policy says so to the browser.
local CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

--- The HTML page of a run result (see the top of this file).
function R.html(result, opts)
  if type(result) ~= "table" or result.type ~= "plan" then
    error("report.html: expected a run result (from ws.run or a stored run), got "
          .. (type(result) == "table" and "a table of type " .. tostring(result.type) or type(result)), 2)
  end
  local o = {}
  for k, v in pairs(R.defaults) do o[k] = v end
  for k, v in pairs(opts or EMPTY) do
    if R.defaults[k] == nil then error("report.html: unknown option " .. tostring(k), 2) end
    if math_type(v) ~= "integer" or v < 0 then error("report.html: " .. k .. ": expected an integer >= 0", 2) end
    o[k] = v
  end
  local ctx = context(result, o)
  local body = {}
  tree(ctx, body) -- first: the others link into it
  local out = {}
  put(out, '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
      '<meta http-equiv="Content-Security-Policy" content="', CSP, '">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      "<title>", esc(result.name or "plan"), " — ", esc(result.status or "?"), " — workstream report</title>",
      "<style>", CSS, "</style></head><body>")
  header(ctx, out)
  failures(ctx, out)
  timelines(ctx, out)
  put(out, concat(body))
  put(out, '<footer class="muted note">workstream report, made ',
      esc(os_date("!%Y-%m-%dT%H:%M:%SZ")), ".</footer><script>", JS, "</script></body></html>\n")
  return concat(out)
end

return R
