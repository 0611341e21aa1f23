-- workstream.progress: the live progress view of a run on a terminal (wsrun).
--
--   local P = require "workstream.progress"
--   local view = P.new{ out = io.stdout, width = 100, color = true, verbose = false,
--                       plan = plan }      -- plan: optional, see below
--   ws.run(plan, { on_event = function(ev) view:event(ev) end,
--                  on_tick = function(now) view:tick(now) end })
--   view:finish()
--
-- The view is a frame of a few lines redrawn in place: the cursor moves up
-- over the previous frame (CSI n A), each line is rewritten and cleared to its
-- end (CSI K), and what is left below is cleared (CSI J); the screen is never
-- cleared as a whole. A frame shows the plan (name, status, elapsed), a line
-- per block (status, sequences by status, failures against the budget), the
-- continuous checks' last result, the deferred batches, and the actions
-- running now (the longest running first, at most MAX_RUNNING, then "+N
-- more"). Failed actions, failed blocks and stop requests are printed ABOVE
-- the frame as they happen, so they scroll up and stay on screen; with
-- `verbose`, so is every attempt's end (with the tail of a command's output)
-- and every log line. Per sequence, only counts are kept on screen, so a run
-- of thousands of sequences draws frames of bounded size.
--
-- Redraws happen when something changed or on tick, and at most once per
-- MIN_INTERVAL seconds of the run's clock (the events' and ticks' times: on
-- the virtual clock, virtual seconds). finish() draws the last frame, shows
-- the cursor again and ends with an empty line.
--
-- Options:
--   out      an object with :write(...) (and :flush(), if it has one); default io.stdout
--   width    the terminal's columns: no line is longer than width - 1 columns
--            (so a line never wraps, which would break the cursor arithmetic);
--            below 40 columns the frame gets terser
--   color    false: no colour codes at all (NO_COLOR, TERM=dumb); cursor
--            movement is still used. Default true.
--   verbose  true: also print every attempt's end and log lines above the frame
--   plan     the plan (ws.plan{...}) being run, optional: the events do not say
--            how many sequences a block has, nor its failure budget, nor which
--            blocks are still to come; with the plan, the frame shows every block
--            from the start, "N not started" and "N failed (budget B)". (A
--            resumed or retried run sends no events for the sequences done
--            before: a completed block counts them "skipped"; while it runs
--            they are among the "not started".)
--
-- Also: view:resize(width) (e.g. from on_tick with core.term_width()),
-- view:lines() (the current frame as plain text), and P.sanitize,
-- P.display_width, P.truncate, P.duration.
--
-- Every piece of text that comes from an event (names, paths, errors, output,
-- log lines) is untrusted: escape sequences and control characters are removed
-- before it is printed, and it is cut to the width without splitting a UTF-8
-- sequence.
--
-- The view never raises out of event/tick/finish: an error in it (a bug) must
-- not stop a rollout, and ws.run stops a run whose on_event raises. It turns
-- itself off instead, says so once, and keeps the message in view.error.

local M = {}

local concat, sort, insert = table.concat, table.sort, table.insert
local fmt, byte, sub, rep = string.format, string.byte, string.sub, string.rep
local floor, max, min = math.floor, math.max, math.min
local type, tostring, tonumber, ipairs, pairs, pcall, setmetatable =
      type, tostring, tonumber, ipairs, pairs, pcall, setmetatable

M.MIN_INTERVAL = 0.1    -- seconds of the run's clock between two frames (~10 per second)
M.MAX_RUNNING = 8       -- running actions listed (3 below 40 columns)
M.MAX_BLOCKS = 6        -- block lines (a window around the current block, then a summary)
M.MAX_CHECK_LINES = 3   -- continuous checks lines
M.MAX_HISTORY = 100     -- lines printed above one frame; the rest are counted
M.NARROW = 40           -- below this width, the terse layout

------------------------------------------------------------------ text

-- Decodes the UTF-8 sequence at i: codepoint and length, or nil if invalid
-- (overlong forms, surrogates and values above U+10FFFF included).
local function decode(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, 1 end
  local n, cp, least
  if c >= 0xC2 and c <= 0xDF then
    n, cp, least = 2, c & 0x1F, 0x80
  elseif c >= 0xE0 and c <= 0xEF then
    n, cp, least = 3, c & 0x0F, 0x800
  elseif c >= 0xF0 and c <= 0xF4 then
    n, cp, least = 4, c & 0x07, 0x10000
  else
    return nil
  end
  for k = 1, n - 1 do
    local d = byte(s, i + k)
    if not d or d & 0xC0 ~= 0x80 then return nil end
    cp = (cp << 6) | (d & 0x3F)
  end
  if cp < least or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
  return cp, n
end

-- Columns a codepoint takes on a terminal: 0 for combining marks and
-- zero-width characters, 2 for the wide East Asian ranges and most emoji.
local function cpwidth(cp)
  if cp < 0x300 then return 1 end
  if cp <= 0x36F or (cp >= 0x200B and cp <= 0x200F) or (cp >= 0xFE00 and cp <= 0xFE0F) then
    return 0
  end
  if (cp >= 0x1100 and cp <= 0x115F) or (cp >= 0x2E80 and cp <= 0xA4CF and cp ~= 0x303F)
      or (cp >= 0xAC00 and cp <= 0xD7A3) or (cp >= 0xF900 and cp <= 0xFAFF)
      or (cp >= 0xFE30 and cp <= 0xFE4F) or (cp >= 0xFF00 and cp <= 0xFF60)
      or (cp >= 0xFFE0 and cp <= 0xFFE6) or (cp >= 0x1F300 and cp <= 0x1F64F)
      or (cp >= 0x1F900 and cp <= 0x1F9FF) or (cp >= 0x20000 and cp <= 0x3FFFD) then
    return 2
  end
  return 1
end

-- Codepoints never printed: C1 controls, line/paragraph separators, and the
-- bidirectional overrides and isolates (which reorder what follows them).
local function invisible(cp)
  return (cp >= 0x80 and cp <= 0x9F) or cp == 0x2028 or cp == 0x2029
      or (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069)
end

--- P.sanitize(s, keep_newlines) -> text safe to print: escape sequences (CSI,
-- OSC, DCS...) and control characters removed, tabs (and, unless
-- keep_newlines, line breaks) made spaces, invalid UTF-8 bytes made "?".
function M.sanitize(s, keep_newlines)
  s = tostring(s == nil and "" or s)
  if not s:find("[^\32-\126]") then return s end -- printable ASCII: the usual case
  s = s:gsub("\r\n", "\n")
  -- OSC, DCS, SOS, PM, APC strings: up to BEL or ST (ESC \), or to the end.
  s = s:gsub("\27[%]P%^_X][^\7\27]*\7?", ""):gsub("\27\\", "")
  -- CSI sequences, then any other two-byte escape (ESC c resets the terminal).
  s = s:gsub("\27%[[\48-\63]*[\32-\47]*[\64-\126]?", ""):gsub("\27[\32-\126]", "")
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = byte(s, i)
    if c >= 32 and c < 127 then
      local j = s:find("[^\32-\126]", i) or n + 1
      out[#out + 1] = sub(s, i, j - 1)
      i = j
    elseif c < 128 then
      if c == 9 or c == 11 or c == 12 then
        out[#out + 1] = " "
      elseif c == 10 or c == 13 then
        out[#out + 1] = keep_newlines and "\n" or " "
      end -- every other control character (ESC, BEL, NUL, DEL...) is dropped
      i = i + 1
    else
      local cp, len = decode(s, i)
      if not cp then
        out[#out + 1] = "?"
        i = i + 1
      else
        if not invisible(cp) then out[#out + 1] = sub(s, i, i + len - 1) end
        i = i + len
      end
    end
  end
  return concat(out)
end

--- P.display_width(s) -> the columns s takes (s sanitized: valid UTF-8).
function M.display_width(s)
  if not s:find("[\128-\255]") then return #s end
  local w, i, n = 0, 1, #s
  while i <= n do
    local cp, len = decode(s, i)
    if cp then
      w, i = w + cpwidth(cp), i + len
    else
      w, i = w + 1, i + 1
    end
  end
  return w
end
local display_width = M.display_width

-- The longest prefix of s that fits in cols columns (never half a sequence),
-- and its width.
local function fit(s, cols)
  if cols <= 0 then return "", 0 end
  if not s:find("[\128-\255]") then
    if #s <= cols then return s, #s end
    return sub(s, 1, cols), cols
  end
  local w, i, n = 0, 1, #s
  while i <= n do
    local cp, len = decode(s, i)
    local cw = cp and cpwidth(cp) or 1
    len = len or 1
    if w + cw > cols then break end
    w, i = w + cw, i + len
  end
  return sub(s, 1, i - 1), w
end

--- P.truncate(s, cols) -> s cut to at most cols columns, "..." marking a cut
-- (when cols leaves room for it).
function M.truncate(s, cols)
  if display_width(s) <= cols then return s end
  if cols >= 6 then return (fit(s, cols - 3)) .. "..." end
  return (fit(s, cols))
end

-- One line of an untrusted, possibly multi-line message: its lines joined
-- with " | ", runs of blanks made one.
local function one_line(msg)
  local parts = {}
  for line in (M.sanitize(msg, true) .. "\n"):gmatch("([^\n]*)\n") do
    line = line:gsub("%s+", " "):match("^ ?(.-) ?$")
    if line ~= "" then parts[#parts + 1] = line end
  end
  return concat(parts, " | ")
end

-- The last `count` non-blank lines of an untrusted text (a command's output),
-- looking only at its end: output may be megabytes.
local function tail_lines(text, count)
  if type(text) ~= "string" or not text:find("%S") then return nil end
  local cut = #text > 4096
  if cut then text = sub(text, -4096) end
  local lines = {}
  for line in (M.sanitize(text, true) .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("%S") then lines[#lines + 1] = line:gsub("%s+$", "") end
  end
  if cut and #lines > 0 then table.remove(lines, 1) end -- probably cut in the middle
  local from = max(1, #lines - count + 1)
  return { table.unpack(lines, from) }
end

------------------------------------------------------------------ lines

-- A line is a list of segments { text, style }; render() cuts it to the width
-- (on the visible text, so colour codes never count) and adds the colours.
local SGR = { bold = "1", dim = "2", red = "31", boldred = "1;31", green = "32",
              yellow = "33", cyan = "36", boldcyan = "1;36" }
local STATUS_STYLE = { running = "cyan", completed = "green", failed = "boldred",
                       stopped = "yellow", not_started = "dim" }

local function render(segs, cols, color)
  local total = 0
  for _, sg in ipairs(segs) do total = total + display_width(sg[1]) end
  local limit, ellipsis = cols, ""
  if total > cols then
    if cols >= 6 then limit, ellipsis = cols - 3, "..." end
  end
  local out, used = {}, 0
  for _, sg in ipairs(segs) do
    local text, style = sg[1], sg[2]
    local w = display_width(text)
    if used + w > limit then text, w = fit(text, limit - used) end
    if text ~= "" then
      if color and style and SGR[style] then
        out[#out + 1] = "\27[" .. SGR[style] .. "m" .. text .. "\27[0m"
      else
        out[#out + 1] = text
      end
    end
    used = used + w
    if used >= limit and total > cols then break end
  end
  return concat(out) .. ellipsis
end

--- P.duration(seconds) -> "0.4s", "12s", "3m05s", "2h07m"
function M.duration(d)
  if type(d) ~= "number" or d ~= d then return "?" end
  if d < 0 then d = 0 end
  if d < 10 then return fmt("%.1fs", floor(d * 10) / 10) end
  if d < 60 then return fmt("%ds", floor(d)) end
  if d < 3600 then return fmt("%dm%02ds", floor(d / 60), floor(d % 60)) end
  return fmt("%dh%02dm", floor(d / 3600), floor(d % 3600 / 60))
end
local duration = M.duration

-- "[01:02]": the time since the plan started, for lines above the frame.
local function stamp(d)
  if type(d) ~= "number" or d ~= d or d < 0 then d = 0 end
  d = floor(d)
  if d >= 3600 then return fmt("[%d:%02d:%02d]", d // 3600, d % 3600 // 60, d % 60) end
  return fmt("[%02d:%02d]", d // 60, d % 60)
end

------------------------------------------------------------------ the view

local View = {}
View.__index = View

local function new_block(name, total, tolerated)
  return { name = name, total = total, tolerated = tolerated, status = "not_started",
           running = 0, completed = 0, failed = 0, stopped = 0 }
end

-- Blocks of a plan table (ws.plan{...}), if it is one.
local function plan_blocks(plan)
  local blocks = {}
  if type(plan) ~= "table" or type(plan.blocks) ~= "table" then return blocks end
  for _, b in ipairs(plan.blocks) do
    if type(b) == "table" then
      local total = type(b.sequences) == "table" and #b.sequences or nil
      blocks[#blocks + 1] = new_block(M.sanitize(b.name), total, b.tolerated_failures)
    end
  end
  return blocks
end

--- P.new{ out=, width=, color=, verbose=, plan= } -> view
function M.new(opts)
  opts = type(opts) == "table" and opts or {}
  local width = floor(tonumber(opts.width) or 80)
  local self = setmetatable({
    out = opts.out or io.stdout,
    width = width,
    color = opts.color ~= false,
    verbose = opts.verbose == true,
    now = nil,             -- the latest time seen (events, ticks)
    last_draw = nil,       -- the run's time of the last frame
    drawn = 0,             -- lines of the frame on screen (the cursor is just below it)
    dirty = false,
    finished = false,
    error = nil,           -- set when the view turned itself off
    history = {},          -- lines waiting to be printed above the next frame
    dropped = 0,           -- history lines over M.MAX_HISTORY, not printed
    plan = { status = "not_started" },
    blocks = nil,          -- set below, from the plan if given
    next_block = 1,        -- where the next block that starts should be among blocks
    block_by_id = {},
    current = nil,         -- the block running now (blocks run one at a time)
    seqs = {},             -- sequence id -> { block =, status = }
    running = {},          -- action id -> { path =, started = }
    nrunning = 0,
    checks = {},           -- checks id -> { path =, kind =, owner =, runs =, ... }
    checks_running = {},   -- checks id -> record, while its run is in flight
    cont = {},             -- continuous checks records, in order of appearance
    batches = {},          -- deferred batches { name =, status = }, in order
    batch_by_id = {},
    frames = 0,            -- frames drawn (for tests)
  }, View)
  local ok, blocks = pcall(plan_blocks, opts.plan)
  self.blocks = ok and blocks or {}
  return self
end

-- Accepts a new terminal width (from the next frame on).
function View:resize(width)
  width = tonumber(width)
  if width and width >= 1 and floor(width) ~= self.width then
    self.width = floor(width)
    self.dirty = true
  end
end

function View:_cols() return max(self.width - 1, 0) end
function View:_narrow() return self.width < M.NARROW end

function View:_since_start(t)
  local started = self.plan.started
  if not started or not t then return 0 end
  return t - started
end

-- Queues a line (a list of segments) to print above the next frame.
function View:_say(segs)
  if #self.history >= M.MAX_HISTORY then
    self.dropped = self.dropped + 1
  else
    local line = { { self:_narrow() and "" or stamp(self:_since_start(self.now)) .. " ", "dim" } }
    for _, sg in ipairs(segs) do line[#line + 1] = sg end
    self.history[#self.history + 1] = line
  end
  self.dirty = true
end

local function err_text(err)
  if type(err) == "table" then
    local msg = one_line(err.msg)
    if msg == "" and err.code then msg = one_line(err.code) end
    return msg ~= "" and msg or "(no message)"
  end
  if err == nil then return "(no error recorded)" end
  return one_line(err)
end

-- The checks record an action belongs to, if it is in checks that are running.
function View:_checks_of(path)
  for _, rec in pairs(self.checks_running) do
    if sub(path, 1, #rec.path + 1) == rec.path .. "/" then return rec end
  end
  return nil
end

function View:_on_plan(ev)
  local p = self.plan
  if type(ev.name) == "string" then p.name = M.sanitize(ev.name) end
  p.status = ev.status or p.status
  p.started = tonumber(ev.started) or p.started or tonumber(ev.time)
  p.ended = tonumber(ev.ended)
  p.reason = ev.reason and M.sanitize(ev.reason) or nil
  if ev.status ~= "running" then self.current = nil end
end

function View:_on_block(ev)
  local b = self.block_by_id[ev.id]
  if not b then
    local name = M.sanitize(ev.name)
    for i = self.next_block, #self.blocks do
      local c = self.blocks[i]
      if not c.id and c.name == name then
        b, self.next_block = c, i + 1
        break
      end
    end
    if not b then -- not in the plan given (or none given): where the next one would be
      b = new_block(name)
      insert(self.blocks, self.next_block, b)
      self.next_block = self.next_block + 1
    end
    b.id = ev.id
    if ev.id then self.block_by_id[ev.id] = b end
  end
  b.status = ev.status or b.status
  b.started = tonumber(ev.started) or b.started
  b.ended = tonumber(ev.ended)
  if b.status == "running" then
    self.current = b
  elseif self.current == b then
    self.current = nil
  end
  if b.status == "failed" then
    local why = b.failed > 0 and fmt(" (%d sequence%s failed)", b.failed, b.failed == 1 and "" or "s")
                or ""
    self:_say { { "block ", "red" }, { b.name, "boldred" }, { " failed" .. why, "red" } }
  elseif b.status == "stopped" then
    self:_say { { "block " .. b.name .. " stopped", "yellow" } }
  end
end

function View:_on_sequence(ev)
  local s = ev.id and self.seqs[ev.id]
  if not s then
    local b = self.current
    if not b then return end
    s = { block = b }
    if ev.id then self.seqs[ev.id] = s end
  end
  local b, old, new = s.block, s.status, ev.status
  if old == new then return end
  if old and b[old] then b[old] = b[old] - 1 end
  if new and b[new] then b[new] = b[new] + 1 end
  s.status = new
end

function View:_on_batch(ev)
  local rec = ev.id and self.batch_by_id[ev.id]
  if not rec then
    rec = { name = M.sanitize(ev.name) }
    self.batches[#self.batches + 1] = rec
    if ev.id then self.batch_by_id[ev.id] = rec end
  end
  rec.status = ev.status
  if ev.status == "failed" then self:_say { { "deferred batch " .. rec.name .. " failed", "red" } } end
end

function View:_on_checks(ev)
  local path = M.sanitize(ev.path)
  local rec = ev.id and self.checks[ev.id]
  if not rec then
    local kind = path:match("(%a+)_checks$") or "?"
    local owner = path == kind .. "_checks" and "" or sub(path, 1, -(#kind + 9))
    rec = { path = path, kind = kind, owner = owner, runs = 0 }
    if ev.id then self.checks[ev.id] = rec end
    if kind == "cont" then self.cont[#self.cont + 1] = rec end
  end
  if ev.status == "running" then
    rec.runs, rec.running, rec.run_err = rec.runs + 1, true, nil
    self.checks_running[ev.id or rec] = rec
  else
    rec.running = false
    rec.last, rec.last_time, rec.last_err = ev.status, tonumber(ev.ended) or self.now, rec.run_err
    self.checks_running[ev.id or rec] = nil
    if ev.status == "failed" and rec.kind ~= "bypass" then
      local where = rec.owner == "" and "" or " of block " .. rec.owner
      local what = rec.kind == "cont" and ": nothing new starts" or ""
      self:_say { { rec.kind .. " checks" .. where .. " failed" .. what, "red" } }
    end
  end
end

function View:_on_action(ev)
  local id = ev.id or ev.path
  local status = ev.status
  if status == "running" then
    if not self.running[id] then
      self.running[id] = { path = M.sanitize(ev.path),
                           started = tonumber(ev.started) or tonumber(ev.time) or self.now or 0 }
      self.nrunning = self.nrunning + 1
    end
    return
  end
  if self.running[id] then
    self.running[id] = nil
    self.nrunning = self.nrunning - 1
  end
  if status ~= "failed" then return end
  local path = M.sanitize(ev.path)
  local msg = err_text(ev.err)
  local rec = self:_checks_of(path)
  if rec then rec.run_err = path .. ": " .. msg end
  if rec and rec.kind == "bypass" then -- only means: do the work
    self:_say { { "bypass check did not pass: " .. path .. ": " .. msg, "dim" } }
    return
  end
  local tries = tonumber(ev.attempts) or 0
  self:_say { { "FAILED ", "boldred" }, { path },
              { tries > 1 and not self:_narrow() and fmt(" (%d attempts)", tries) or "" },
              { ": " .. msg, "red" } }
end

-- verbose: an attempt's end, with the tail of a command's output.
function View:_on_attempt(ev)
  local at = type(ev.attempt) == "table" and ev.attempt or {}
  local path = M.sanitize(ev.path)
  local took = tonumber(at.ended) and tonumber(at.started) and (at.ended - at.started)
  local n = tonumber(ev.attempts)
  local head = { { "attempt " .. (n and tostring(floor(n)) or "?") .. " " }, { path } }
  if at.err then
    local what = at.timed_out and "timed out" or "failed"
    head[#head + 1] = { ": " .. what .. (took and " after " .. duration(took) or ""), "red" }
    head[#head + 1] = { ": " .. err_text(at.err) }
  else
    head[#head + 1] = { ": ok" .. (took and " in " .. duration(took) or ""), "green" }
  end
  self:_say(head)
  local resp = at.resp
  if type(resp) == "table" then
    for _, stream in ipairs { "stderr", "stdout" } do
      local lines = tail_lines(resp[stream], 3)
      for _, l in ipairs(lines or {}) do self:_say { { "    " .. stream .. "| ", "dim" }, { l } } end
    end
  end
end

function View:_handle(ev)
  local t = tonumber(ev.time)
  if t and (not self.now or t > self.now) then self.now = t end
  local kind = ev.type
  if kind == "stop" then
    local sig = M.sanitize(ev.signal or "stop")
    if ev.force then
      self:_say { { sig .. " again: cancelling the running actions", "yellow" } }
    else
      self:_say { { sig .. ": stopping; nothing new starts, deferred actions still run "
                    .. "(again to cancel running actions)", "yellow" } }
    end
    return
  end
  if kind == "attempt" then
    if self.verbose then self:_on_attempt(ev) end
    return
  end
  if kind == "log" then
    if self.verbose then
      self:_say { { "log ", "dim" }, { M.sanitize(ev.path) .. ": " }, { one_line(ev.msg) } }
    end
    return
  end
  if kind ~= "state" then return end
  local object = ev.object
  if object == "plan" then
    self:_on_plan(ev)
  elseif object == "block" then
    self:_on_block(ev)
  elseif object == "sequence" then
    self:_on_sequence(ev)
  elseif object == "batch" then
    self:_on_batch(ev)
  elseif object == "checks" then
    self:_on_checks(ev)
  elseif object == "action" then
    self:_on_action(ev)
  end
  self.dirty = true
end

------------------------------------------------------------------ the frame

function View:_header()
  local p = self.plan
  local segs = { { p.name or "plan", "bold" }, { "  " },
                 { (p.status or "?"):gsub("_", " "), STATUS_STYLE[p.status] } }
  local started = p.started
  if started then
    if p.ended then
      segs[#segs + 1] = { (p.status == "running" and "  " or " in ") .. duration(p.ended - started) }
    else
      segs[#segs + 1] = { "  " .. duration((self.now or started) - started) }
    end
  end
  if p.reason and p.status ~= "running" then
    segs[#segs + 1] = { " (reason: " .. p.reason .. ")", STATUS_STYLE[p.status] }
  end
  if p.status == "running" then -- the plan's own checks in flight, but for the continuous ones
    local phases = {}
    for _, rec in pairs(self.checks_running) do
      if rec.owner == "" and rec.kind ~= "cont" then phases[#phases + 1] = rec.kind end
    end
    sort(phases)
    if #phases > 0 then segs[#segs + 1] = { "  " .. concat(phases, ", ") .. " checks", "cyan" } end
  end
  return segs
end

local LABELS = { running = "running", completed = "completed", failed = "failed",
                 stopped = "stopped", not_started = "not started", skipped = "skipped" }
local SHORT = { running = "run", completed = "ok", failed = "fail", stopped = "stop",
                not_started = "todo", skipped = "skip" }

-- " (budget 2)", " (budget 25 = 5%)", " (no budget limit)"; terse: " (max 2)".
local function budget_text(b, terse)
  local t = b.tolerated
  if t == nil then return "" end
  if t == -1 then return terse and "" or " (no budget limit)" end
  local n = math.tointeger(t)
  if type(t) == "string" then
    local pct = tonumber(t:match("^(%d+)%%$"))
    if not pct then return "" end
    if not b.total then return terse and fmt(" (max %d%%)", pct) or fmt(" (budget %d%%)", pct) end
    n = pct * b.total // 100
    if not terse then return fmt(" (budget %d = %d%%)", n, pct) end
  end
  if not n then return "" end
  return fmt(terse and " (max %d)" or " (budget %d)", n)
end

-- A block's line; `terse` (or a narrow view) gives the short labels, no
-- padding and the budget as "max N".
function View:_block_line(b, namew, terse)
  terse = terse or self:_narrow()
  local st = b.status or "not_started"
  local label = terse and (SHORT[st] or st) or (LABELS[st] or st)
  local segs = { { "  " }, { b.name, "bold" },
                 { terse and "  " or rep(" ", max(namew - display_width(b.name), 0) + 2) },
                 { label, STATUS_STYLE[st] },
                 { terse and "" or rep(" ", max(11 - display_width(label), 0)) } }
  local labels = terse and SHORT or LABELS
  local parts = {}
  local function part(n, key, style, extra)
    parts[#parts + 1] = { fmt("%d %s", n, labels[key]) .. (extra or ""), style }
  end
  local seen = b.running + b.completed + b.failed + b.stopped
  if b.running > 0 then part(b.running, "running", "cyan") end
  if b.completed > 0 then part(b.completed, "completed", "green") end
  if b.failed > 0 then part(b.failed, "failed", "boldred", budget_text(b, terse)) end
  if b.stopped > 0 then part(b.stopped, "stopped", "yellow") end
  if b.total and seen > 0 then
    -- In a completed block, the sequences that sent no event did not need to
    -- run: done in the run this one retries or resumes (or bypassed).
    local waiting = b.total - seen
    if waiting > 0 then part(waiting, st == "completed" and "skipped" or "not_started", "dim") end
  end
  if #parts == 0 and b.total then -- not started yet (or never)
    parts[1] = { fmt("%d seq%s", b.total, terse and "" or (b.total == 1 and "uence" or "uences")), "dim" }
  end
  segs[#segs + 1] = { "  " }
  for i, pt in ipairs(parts) do
    if i > 1 then segs[#segs + 1] = { ", " } end
    segs[#segs + 1] = pt
  end
  if not terse then -- too long for the width: the terse form, if that fits better
    local w = 0
    for _, sg in ipairs(segs) do w = w + display_width(sg[1]) end
    if w > self:_cols() then return self:_block_line(b, namew, true) end
  end
  return segs
end

function View:_blocks(lines)
  local blocks = self.blocks
  local n = #blocks
  if n == 0 then return end
  local first, last = 1, n
  if n > M.MAX_BLOCKS then -- a window around the current (or latest started) block
    local cur = 1
    for i, b in ipairs(blocks) do
      if b == self.current then cur = i break end
      if b.id then cur = i end
    end
    local k = M.MAX_BLOCKS - 1
    first = max(1, min(cur - 1, n - k + 1))
    last = first + k - 1
  end
  local namew = 0
  for i = first, last do namew = max(namew, display_width(blocks[i].name)) end
  namew = min(namew, 24)
  for i = first, last do lines[#lines + 1] = self:_block_line(blocks[i], namew) end
  if first > 1 or last < n then
    local counts, order = {}, {}
    for i, b in ipairs(blocks) do
      if i < first or i > last then
        local st = b.status or "not_started"
        if not counts[st] then order[#order + 1] = st end
        counts[st] = (counts[st] or 0) + 1
      end
    end
    local parts = {}
    for _, st in ipairs(order) do parts[#parts + 1] = fmt("%d %s", counts[st], LABELS[st] or st) end
    lines[#lines + 1] = { { fmt("  +%d more blocks: %s", n - (last - first + 1), concat(parts, ", ")),
                            "dim" } }
  end
end

function View:_cont_checks(lines)
  local shown = 0
  for _, rec in ipairs(self.cont) do
    if shown >= M.MAX_CHECK_LINES then break end
    local owner_running = rec.owner == "" or (self.current and self.current.name == rec.owner)
    if owner_running or rec.last == "failed" then
      shown = shown + 1
      local label = self:_narrow() and "  cont" or "  cont checks"
      local segs = { { label .. (rec.owner == "" and "" or " (" .. rec.owner .. ")") .. ": " } }
      if rec.last then
        local ago = rec.last_time and self.now and self.now - rec.last_time
        local res = rec.last == "completed" and "passed" or rec.last
        segs[#segs + 1] = { res, rec.last == "completed" and "green" or STATUS_STYLE[rec.last] }
        if ago then segs[#segs + 1] = { " " .. duration(ago) .. " ago" } end
        segs[#segs + 1] = { fmt(", %d run%s", rec.runs, rec.runs == 1 and "" or "s") }
        if rec.running and self.plan.status == "running" then segs[#segs + 1] = { ", running", "cyan" } end
        if rec.last == "failed" and rec.last_err then segs[#segs + 1] = { ": " .. rec.last_err, "red" } end
      elseif rec.running then
        segs[#segs + 1] = { "first run in flight", "cyan" }
      end
      lines[#lines + 1] = segs
    end
  end
end

function View:_deferred(lines)
  if #self.batches == 0 then return end
  local segs = { { "  deferred: " } }
  for i, b in ipairs(self.batches) do
    if i > 1 then segs[#segs + 1] = { ", " } end
    segs[#segs + 1] = { b.name .. " " }
    segs[#segs + 1] = { LABELS[b.status] or tostring(b.status), STATUS_STYLE[b.status] }
  end
  lines[#lines + 1] = segs
end

function View:_running(lines)
  if self.nrunning <= 0 then return end
  local cap = self:_narrow() and 3 or M.MAX_RUNNING
  -- the `cap` longest running (started first), without sorting them all
  local top = {}
  local function before(a, b)
    if a.started ~= b.started then return a.started < b.started end
    return a.path < b.path
  end
  for _, a in pairs(self.running) do
    if #top < cap or before(a, top[#top]) then
      local i = #top + 1
      while i > 1 and before(a, top[i - 1]) do i = i - 1 end
      insert(top, i, a)
      if #top > cap then top[#top] = nil end
    end
  end
  lines[#lines + 1] = { { fmt("  running (%d):", self.nrunning) } }
  local now = self.now or 0
  local col = self:_narrow() and "%6s" or "  %7s"
  local gap = self:_narrow() and " " or "  "
  for _, a in ipairs(top) do
    lines[#lines + 1] = { { fmt(col, duration(now - a.started)) .. gap, "cyan" }, { a.path } }
  end
  if self.nrunning > #top then
    lines[#lines + 1] = { { fmt(col, "+" .. (self.nrunning - #top)) .. " more", "dim" } }
  end
end

--- view:lines() -> the current frame, as plain text lines (no colours)
function View:lines()
  local out = {}
  for _, segs in ipairs(self:_frame()) do out[#out + 1] = render(segs, self:_cols(), false) end
  return out
end

function View:_frame()
  local lines = { self:_header() }
  self:_blocks(lines)
  self:_cont_checks(lines)
  self:_deferred(lines)
  self:_running(lines)
  return lines
end

-- Writes the history lines and the frame in one write: up over the old frame,
-- each line rewritten and cleared to its end, then what is left below cleared.
function View:_draw(suffix)
  local cols, color = self:_cols(), self.color
  local buf = { "\27[?25l" }
  if self.drawn > 0 then buf[#buf + 1] = "\r\27[" .. self.drawn .. "A" end
  for _, segs in ipairs(self.history) do buf[#buf + 1] = render(segs, cols, color) .. "\27[K\n" end
  if self.dropped > 0 then
    buf[#buf + 1] = render({ { fmt("... %d more line%s not shown (the summary lists every failure)",
                                   self.dropped, self.dropped == 1 and "" or "s"), "dim" } },
                           cols, color) .. "\27[K\n"
  end
  local frame = self:_frame()
  for _, segs in ipairs(frame) do buf[#buf + 1] = render(segs, cols, color) .. "\27[K\n" end
  buf[#buf + 1] = "\27[J"
  buf[#buf + 1] = suffix
  self.out:write(concat(buf))
  if self.out.flush then self.out:flush() end
  self.drawn = #frame
  self.history, self.dropped = {}, 0
  self.dirty = false
  self.last_draw = self.now
  self.frames = self.frames + 1
end

function View:_maybe_draw(on_tick)
  if not self.dirty and not on_tick then return end
  -- (epoch times in doubles are exact to ~1e-6 s: allow for it)
  if self.last_draw and self.now and self.now - self.last_draw < M.MIN_INTERVAL - 1e-3 then return end
  self:_draw()
end

-- The view failed (a bug): say so once, below what is on screen, and stop.
function View:_off(err)
  self.error = tostring(err)
  pcall(function()
    self.out:write("\27[?25h\nworkstream.progress: the progress display failed and is off: ",
                   M.sanitize(self.error), "\n")
    if self.out.flush then self.out:flush() end
  end)
end

--- view:event(ev): every event of the run (ws.run's on_event).
function View:event(ev)
  if self.finished or self.error or type(ev) ~= "table" then return end
  local ok, err = pcall(function()
    self:_handle(ev)
    if self.plan.name or self.drawn > 0 then self:_maybe_draw(false) end
  end)
  if not ok then self:_off(err) end
end

--- view:tick(now): on a timer (ws.run's on_tick), with the run clock's time.
function View:tick(now)
  if self.finished or self.error then return end
  local ok, err = pcall(function()
    now = tonumber(now)
    if now and (not self.now or now > self.now) then self.now = now end
    if self.drawn > 0 or self.plan.name then self:_maybe_draw(true) end
  end)
  if not ok then self:_off(err) end
end

--- view:finish(): the run is over: the last frame stays on screen, the cursor
-- is shown again below it, and an empty line follows.
function View:finish()
  if self.finished then return end
  self.finished = true
  if self.error then return end
  local ok, err = pcall(function()
    if self.drawn > 0 or self.plan.name ~= nil or #self.history > 0 then
      self:_draw("\27[?25h\n")
    else
      self.out:write("\27[?25h")
      if self.out.flush then self.out:flush() end
    end
  end)
  if not ok then self:_off(err) end
end

return M
