-- workstream.progress: the live view wsrun shows on a terminal. The view is
-- driven by real runs (virtual clock) and by synthetic events, writes into a
-- fake terminal, and the bytes are interpreted by a tiny terminal emulator
-- (below) to see what a user would see.
local ws = require "workstream"
local P = require "workstream.progress"
local H = require "spec.helpers"

-------------------------------------------------------------- fakes

-- An `out` that keeps every write (one write per frame, by design).
local function fake_out()
  local o = { writes = {}, flushes = 0 }
  function o:write(...)
    local parts = { ... }
    for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
    self.writes[#self.writes + 1] = table.concat(parts)
    return self
  end
  function o:flush() self.flushes = self.flushes + 1 end
  function o:bytes() return table.concat(self.writes) end
  return o
end

-- What a terminal shows after `bytes`: the rows (scrollback included, no
-- wrapping), and whether the cursor is visible. Understands exactly what the
-- view may send (CR, LF, CSI n A, CSI K, CSI J, CSI ?25 l/h, SGR); anything
-- else fails the test.
local function screen(bytes)
  local rows, row, col, visible, sgr = { {} }, 1, 0, true, 0
  local i, n = 1, #bytes
  local function cur() rows[row] = rows[row] or {}; return rows[row] end
  while i <= n do
    local c = bytes:sub(i, i)
    if c == "\27" then
      local seq = bytes:match("^\27%[[%d;?]*[%a]", i)
      assert(seq, "unexpected escape at byte " .. i .. ": " .. ("%q"):format(bytes:sub(i, i + 10)))
      local final, params = seq:sub(-1), seq:sub(3, -2)
      if final == "A" then
        row = math.max(1, row - (tonumber(params) or 1))
      elseif final == "K" then
        local r = cur()
        for k = #r, col + 1, -1 do r[k] = nil end
      elseif final == "J" then
        local r = cur()
        for k = #r, col + 1, -1 do r[k] = nil end
        for k = #rows, row + 1, -1 do rows[k] = nil end
      elseif final == "m" then
        sgr = sgr + 1
      elseif params == "?25" and (final == "l" or final == "h") then
        visible = final == "h"
      else
        error("unexpected sequence " .. ("%q"):format(seq))
      end
      i = i + #seq
    elseif c == "\r" then
      col, i = 0, i + 1
    elseif c == "\n" then
      row, col, i = row + 1, 0, i + 1
      cur()
    else
      local ch = bytes:match("^" .. utf8.charpattern, i) or c
      assert(not ch:find("^[%z\1-\31\127]"), "control character " .. ch:byte() .. " at byte " .. i)
      local r = cur()
      for k = #r + 1, col do r[k] = " " end
      col = col + 1
      r[col] = ch
      i = i + #ch
    end
  end
  local lines = {}
  for k = 1, #rows do lines[k] = table.concat(rows[k] or {}) end
  return { lines = lines, row = row, col = col, visible = visible, sgr = sgr }
end

local function find_row(lines, pattern, plain, from)
  for k = from or 1, #lines do
    if lines[k]:find(pattern, 1, plain) then return k end
  end
  return nil
end

local function find_last_row(lines, pattern, plain)
  for k = #lines, 1, -1 do
    if lines[k]:find(pattern, 1, plain) then return k end
  end
  return nil
end

-- Every line of every write, escapes removed: no line wider than width - 1.
local function assert_widths(out, width)
  for _, w in ipairs(out.writes) do
    local plain = w:gsub("\27%[[%d;?]*%a", ""):gsub("\r", "")
    for line in (plain .. "\n"):gmatch("([^\n]*)\n") do
      assert.is_true(P.display_width(line) <= width - 1,
                     ("line of %d columns at width %d: %q"):format(P.display_width(line), width, line))
    end
  end
end

local SGR_PATTERN = "\27%[[%d;]*m"

-------------------------------------------------------------- plans

local function sleep(name, seconds)
  return ws.action{ name = name, plugin = "ws.sleep", req = { seconds = seconds } }
end

local failing_plugin
local function fail(name, msg)
  if not failing_plugin then
    failing_plugin = ws.plugin{ name = "progress_spec.fail", request = { msg = ws.types.string },
                                execute = function(_, req)
                                  ws.sleep(0.5)
                                  error(ws.permanent(req.msg))
                                end }
  end
  return ws.action{ name = name, plugin = "progress_spec.fail", req = { msg = msg } }
end

-- Runs `plan` on the virtual clock with a view on a fake terminal.
local function run_with_view(plan, opts)
  local out = fake_out()
  opts = opts or {}
  local view = P.new{ out = out, width = opts.width or 100, color = opts.color ~= false,
                      verbose = opts.verbose == true, plan = opts.with_plan ~= false and plan or nil }
  local result = ws.run(plan, { clock = "virtual", on_event = function(ev) view:event(ev) end,
                                on_tick = function(now) view:tick(now) end,
                                registry = opts.registry })
  local before_finish = out:bytes()
  view:finish()
  assert.is_nil(view.error)
  return out, view, result, before_finish
end

-- web1..webN, each two sleeps; those listed in `failing` fail their second action.
local function hosts(n, failing, msg)
  local seqs = {}
  for i = 1, n do
    local second = failing and failing[i] and fail("install", msg or ("no space left on web" .. i))
                   or sleep("install", 1)
    seqs[i] = ws.seq{ name = "web" .. i, actions = { sleep("drain", 1 + (i % 3) * 0.5), second } }
  end
  return seqs
end

local function demo_plan(msg)
  return ws.plan{
    name = "deploy myapp",
    cont_checks = ws.checks{ delay = "1s", actions = { ws.action{ name = "health",
      plugin = "ws.check.exec", req = { argv = { "true" } } } } },
    blocks = {
      ws.block{ name = "canary", sequences = hosts(1) },
      ws.block{ name = "rest", concurrency = 4, tolerated_failures = 2,
                sequences = hosts(10, { [3] = true, [7] = true }, msg) },
      ws.block{ name = "last", sequences = hosts(2) },
    },
  }
end

-------------------------------------------------------------- specs

describe("workstream.progress", function()
  describe("a real run", function()
    local out, view, result, before
    setup(function()
      out, view, result, before = run_with_view(demo_plan(), { color = false })
    end)

    it("ends with a frame of the counts of each block", function()
      assert.are.equal("completed", result.status)
      local s = screen(out:bytes())
      local head = find_last_row(s.lines, "^deploy myapp  completed in ")
      assert.is_truthy(head, table.concat(s.lines, "\n"))
      local frame = { table.unpack(s.lines, head) }
      local text = table.concat(frame, "\n")
      assert.is_truthy(text:find("canary  completed    1 completed", 1, true), text)
      assert.is_truthy(text:find("rest    completed    8 completed, 2 failed (budget 2)", 1, true), text)
      assert.is_truthy(text:find("last    completed    2 completed", 1, true), text)
      assert.is_truthy(text:find("cont checks: passed", 1, true), text)
      assert.is_falsy(text:find("running (", 1, true), "nothing runs any more:\n" .. text)
    end)

    it("prints each failed action with its error above the frame, as it happens", function()
      local s = screen(out:bytes())
      local head = find_last_row(s.lines, "^deploy myapp  ")
      for _, host in ipairs { "web3", "web7" } do
        local at = find_row(s.lines, "FAILED rest/" .. host .. "/install: no space left on " .. host, true)
        assert.is_truthy(at, table.concat(s.lines, "\n"))
        assert.is_true(at < head)
      end
      -- already on screen before the run ended, above the frame of that moment
      local early = screen(before)
      local at = find_row(early.lines, "FAILED rest/web3/install", true)
      assert.is_truthy(at)
      assert.is_true(at < find_last_row(early.lines, "^deploy myapp  running"))
      -- and printed once
      local _, count = out:bytes():gsub("FAILED rest/web3/install", "")
      assert.are.equal(1, count)
    end)

    it("shows the running actions and the counts while the run goes", function()
      local s = screen(before) -- the last frame before finish()
      assert.is_truthy(find_row(s.lines, "^  last    running      1 running, 1 completed$"), table.concat(s.lines, "\n"))
      assert.is_truthy(find_row(s.lines, "^  running %(1%):$"))
      assert.is_truthy(find_row(s.lines, "^     %d.%ds  last/web2/install$"))
      assert.is_truthy(out:bytes():find("  running (4):", 1, true))
      assert.is_truthy(out:bytes():find("%d+ not started"))
    end)

    it("redraws in place and leaves the cursor visible below the last frame", function()
      local bytes = out:bytes()
      assert.is_truthy(bytes:find("\27%[%d+A"))
      assert.is_falsy(bytes:find("\27[2J", 1, true))
      assert.is_truthy(bytes:find("\27[?25l", 1, true))
      assert.is_true(bytes:sub(-7) == "\27[?25h\n")
      local s = screen(bytes)
      assert.is_true(s.visible)
      assert.are.equal(0, s.col)
      assert.are.equal(#s.lines, s.row)
      assert.are.equal("", s.lines[#s.lines])     -- the cursor's line
      assert.are.equal("", s.lines[#s.lines - 1]) -- the empty line finish() adds
      assert.is_truthy(s.lines[#s.lines - 2]:find("^  cont checks: passed"))
      assert.is_true(view.frames >= 3)
    end)

    it("writes no colour codes when color = false", function()
      assert.is_falsy(out:bytes():find(SGR_PATTERN))
    end)

    it("writes colour codes when color = true", function()
      local o = run_with_view(demo_plan())
      assert.is_truthy(o:bytes():find("\27[1;31mFAILED", 1, true))
      assert.is_truthy(o:bytes():find(SGR_PATTERN))
      local s = screen(o:bytes())
      assert.is_true(s.sgr > 0)
      assert.is_truthy(find_row(s.lines, "rest    completed    8 completed, 2 failed (budget 2)", true))
    end)
  end)

  it("without the plan, counts what the events tell", function()
    local out = run_with_view(demo_plan(), { color = false, with_plan = false })
    local s = screen(out:bytes())
    local text = table.concat({ table.unpack(s.lines, find_last_row(s.lines, "^deploy myapp  ")) }, "\n")
    assert.is_truthy(text:find("rest    completed    8 completed, 2 failed", 1, true), text)
    assert.is_falsy(text:find("not started", 1, true), text)
  end)

  it("counts the sequences a retry skips as skipped, not as not started", function()
    local calls = 0
    ws.plugin{ name = "progress_spec.second_fails", request = {}, execute = function()
      calls = calls + 1
      if calls == 2 then error("boom") end
      return {}
    end }
    local function plan()
      local seqs = {}
      for i = 1, 4 do
        seqs[i] = ws.seq{ name = "s" .. i, actions = {
          ws.action{ name = "a", plugin = "progress_spec.second_fails", req = {} } } }
      end
      return ws.plan{ name = "again", blocks = { ws.block{ name = "b", sequences = seqs } } }
    end
    local dir = H.tmp_path()
    assert(os.execute("mkdir -p " .. H.shell_quote(dir)))
    finally(function() H.remove_tree(dir) end)
    local db = dir .. "/runs.db"
    local first = ws.run(plan(), { store = db, clock = "virtual" })
    assert.are.equal("failed", first.status)
    local p = plan()
    local out = fake_out()
    local view = P.new{ out = out, width = 80, color = false, plan = p }
    local second = ws.run(p, { store = db, retry_of = first.id, clock = "virtual",
                               on_event = function(ev) view:event(ev) end })
    view:finish()
    assert.are.equal("completed", second.status)
    local s = screen(out:bytes())
    assert.is_truthy(find_row(s.lines, "  b  completed    3 completed, 1 skipped", true), table.concat(s.lines, "\n"))
  end)

  it("never writes a line wider than width - 1, at any width", function()
    local long = ws.plan{
      name = "a plan with a long name, ünïcödé, 日本語の名前 " .. ("x"):rep(120),
      blocks = { ws.block{ name = "bloc-" .. ("é"):rep(50), concurrency = 3, tolerated_failures = -1,
                           sequences = {
                             ws.seq{ name = ("日本"):rep(40), actions = { sleep("a", 1), fail("b", ("é"):rep(300)) } },
                             ws.seq{ name = ("n"):rep(200), actions = { sleep("a", 2) } },
                             ws.seq{ name = "short", actions = { sleep("a", 1) } },
                           } } },
    }
    for _, width in ipairs { 100, 80, 41, 40, 39, 25, 12, 5, 2 } do
      local out = run_with_view(ws.clone(long), { width = width, verbose = true })
      assert_widths(out, width)
      for _, line in ipairs(screen(out:bytes()).lines) do
        assert.is_true(P.display_width(line) <= width - 1, ("%d: %q"):format(width, line))
        assert.are.equal(line, utf8.char(utf8.codepoint(line, 1, -1))) -- valid UTF-8: nothing cut in half
      end
    end
  end)

  it("keeps frames bounded with 5000 sequences (virtual clock)", function()
    local blocks = {}
    for b = 1, 10 do
      local seqs = {}
      for i = 1, 500 do
        local name = ("host-%d-%d"):format(b, i)
        local actions = { sleep("drain", 1 + (i % 5) / 10), sleep("upgrade", 2) }
        if i % 97 == 0 then actions[2] = fail("upgrade", "package conflict on " .. name) end
        seqs[i] = ws.seq{ name = name, actions = actions }
      end
      blocks[b] = ws.block{ name = "wave " .. b, concurrency = 100, tolerated_failures = "5%",
                            sequences = seqs }
    end
    local plan = ws.plan{ name = "big rollout", blocks = blocks }
    local out, view, result = run_with_view(plan, { width = 100 })
    assert.are.equal("completed", result.status)
    local largest, total = 0, 0
    for _, w in ipairs(out.writes) do
      largest = math.max(largest, #w)
      total = total + #w
      local _, lines = w:gsub("\n", "")
      assert.is_true(lines <= 22 + 5, "a frame of " .. lines .. " lines") -- + a few failures above it
    end
    assert.is_true(largest <= 4096, "largest frame: " .. largest .. " bytes")
    -- at most ~10 frames per second of the run's (virtual) clock
    local secs = result.ended - result.started
    assert.is_true(view.frames <= secs / P.MIN_INTERVAL + 2, view.frames .. " frames in " .. secs .. " s")
    assert.is_true(total / view.frames < 2500, "average frame: " .. total / view.frames)
    local s = screen(out:bytes())
    local text = table.concat(s.lines, "\n")
    assert.is_truthy(text:find("wave 10  completed    495 completed, 5 failed (budget 25 = 5%)", 1, true), text)
    assert.is_truthy(text:find("+5 more blocks: 5 completed", 1, true), text)
    assert.is_truthy(text:find("FAILED wave 3/host-3-97/upgrade: package conflict on host-3-97", 1, true))
    -- while running: the running actions are capped, the rest counted
    assert.is_truthy(out:bytes():find("running (100):", 1, true))
    assert.is_truthy(out:bytes():find("    +92 more\27[0m\27[K\n", 1, true))
  end)

  it("strips control characters and escape sequences from what events carry", function()
    -- (no NUL: messages cross the C engine as C strings; sanitize's own spec has one)
    local nasty = "disk\27[31m full\27]0;pwned\7 on\1 host\r\nnext\8 line\27c\127 \194\155[2J end\226\128\174"
    local plan = ws.plan{ name = "p\27[2Jlan", blocks = { ws.block{ name = "b\27[1A", sequences = {
      ws.seq{ name = "s\7", actions = { fail("a\27[K", nasty) } } } } } }
    local out = run_with_view(plan, { color = false, verbose = true })
    local bytes = out:bytes()
    -- only the view's own sequences remain
    local rest = bytes:gsub("\27%[%?25[lh]", ""):gsub("\r\27%[%d+A", ""):gsub("\27%[[KJ]", "")
    assert.is_falsy(rest:find("[%z\1-\9\11-\31\127]"), ("%q"):format(rest))
    assert.is_falsy(rest:find("\194[\128-\159]"))    -- C1 controls (CSI as U+009B)
    assert.is_falsy(rest:find("\226\128\174", 1, true)) -- bidi override
    local s = screen(bytes)
    assert.is_truthy(find_row(s.lines, "FAILED b/s/a: disk full on host | next line [2J end", true),
                     table.concat(s.lines, "\n"))
    assert.is_truthy(find_row(s.lines, "^plan  failed"))
  end)

  describe("verbose", function()
    it("prints every attempt's end, with the tail of a command's output", function()
      local plan = ws.plan{ name = "v", blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s", actions = {
          ws.action{ name = "say", plugin = "ws.exec",
                     req = { argv = { "sh", "-c", "echo one; echo two; echo three; echo four; echo oops >&2" } } },
          ws.action{ name = "bad", plugin = "ws.exec", retries = 1, retry = { initial = "1s" },
                     req = { argv = { "sh", "-c", "echo fatal: no such thing >&2; exit 3" } } },
        } } } } } }
      local out = run_with_view(plan, { color = false, verbose = true, width = 200 })
      local s = screen(out:bytes())
      local text = table.concat(s.lines, "\n")
      assert.is_truthy(text:find("attempt 1 b/s/say: ok in ", 1, true), text)
      assert.is_truthy(text:find("    stderr| oops", 1, true), text)
      assert.is_truthy(text:find("    stdout| two\n[^\n]*    stdout| three\n[^\n]*    stdout| four"), text)
      assert.is_falsy(text:find("stdout| one", 1, true), text) -- only the tail
      assert.is_truthy(text:find("attempt 1 b/s/bad: failed after [^\n]*fatal: no such thing"), text)
      assert.is_truthy(text:find("attempt 2 b/s/bad: failed after [^\n]*fatal: no such thing"), text)
      assert.is_truthy(text:find("FAILED b/s/bad %(2 attempts%): [^\n]*fatal: no such thing"), text)
    end)

    it("is off by default", function()
      local out = run_with_view(demo_plan(), { color = false })
      assert.is_falsy(out:bytes():find("attempt 1 ", 1, true))
    end)
  end)

  describe("synthetic events", function()
    local T0 = 1700000000
    local function ev(t, object, path, status, extra)
      local e = { type = "state", object = object, path = path, status = status, time = T0 + t,
                  id = object .. ":" .. path, name = path:match("[^/]*$") }
      if object == "plan" then e.name, e.started = "synthetic", T0 end
      if status ~= "running" then e.ended = T0 + t end
      if status == "running" then e.started = T0 + t end
      for k, v in pairs(extra or {}) do e[k] = v end
      return e
    end

    it("draws at most one frame per 0.1 s of the run's clock, and on ticks", function()
      local out = fake_out()
      local view = P.new{ out = out, width = 80, color = false }
      view:event(ev(0, "plan", "", "running"))
      assert.are.equal(1, #out.writes)
      view:event(ev(0, "block", "b", "running"))
      for i = 1, 50 do view:event(ev(0.01 * (i % 5), "sequence", "b/s" .. i, "running")) end
      assert.are.equal(1, #out.writes) -- all within 0.1 s of the first frame
      view:event(ev(0.1, "action", "b/s1/a", "running"))
      assert.are.equal(2, #out.writes)
      view:tick(T0 + 0.15)
      assert.are.equal(2, #out.writes) -- too soon
      view:tick(T0 + 0.35)
      assert.are.equal(3, #out.writes) -- the elapsed times move on
      assert.is_truthy(out.writes[3]:find("0.2s  b/s1/a", 1, true), out.writes[3])
      assert.is_truthy(out.writes[3]:find("b  running      50 running", 1, true), out.writes[3])
      view:finish()
      assert.are.equal(4, #out.writes)
      assert.are.equal("\27[?25h\n", out.writes[4]:sub(-7))
      view:event(ev(1, "plan", "", "completed"))
      view:tick(T0 + 2)
      view:finish()
      assert.are.equal(4, #out.writes) -- nothing after finish
    end)

    it("lists at most 8 running actions, the longest running first", function()
      local view = P.new{ out = fake_out(), width = 80, color = false }
      view:event(ev(0, "plan", "", "running"))
      view:event(ev(0, "block", "b", "running"))
      for i = 1, 30 do view:event(ev(i, "action", ("b/s%02d/a"):format(i), "running")) end
      view:tick(T0 + 40)
      local lines = view:lines()
      local text = table.concat(lines, "\n")
      assert.is_truthy(text:find("running (30):\n      39s  b/s01/a\n      38s  b/s02/a", 1, true), text)
      assert.is_truthy(text:find("b/s08/a\n      +22 more", 1, true), text)
      assert.is_falsy(text:find("b/s09/a", 1, true))
      assert.is_true(#lines <= 12)
    end)

    it("shows the continuous checks' last result and error", function()
      local view = P.new{ out = fake_out(), width = 100, color = false }
      view:event(ev(0, "plan", "", "running"))
      view:event(ev(0, "checks", "cont_checks", "running"))
      view:event(ev(0, "action", "cont_checks/http", "running"))
      view:event(ev(0.5, "action", "cont_checks/http", "completed"))
      view:event(ev(0.5, "checks", "cont_checks", "completed"))
      view:tick(T0 + 3)
      assert.is_truthy(table.concat(view:lines(), "\n"):find("cont checks: passed 2.5s ago, 1 run", 1, true))
      view:event(ev(5, "checks", "cont_checks", "running"))
      view:event(ev(5, "action", "cont_checks/http", "running"))
      view:event(ev(6, "action", "cont_checks/http", "failed",
                    { err = { msg = "GET /health: 503\nService Unavailable" }, attempts = 1 }))
      view:event(ev(6, "checks", "cont_checks", "failed"))
      local text = table.concat(view:lines(), "\n")
      assert.is_truthy(text:find("cont checks: failed 0.0s ago, 2 runs: cont_checks/http: GET /health: 503 | Service Unavailable",
                                 1, true), text)
    end)

    it("prints a stop request above the frame", function()
      local out = fake_out()
      local view = P.new{ out = out, width = 120, color = false }
      view:event(ev(0, "plan", "", "running"))
      view:event({ type = "stop", signal = "SIGINT", force = false })
      view:event({ type = "stop", signal = "SIGINT", force = true })
      view:finish()
      local text = table.concat(screen(out:bytes()).lines, "\n")
      assert.is_truthy(text:find("SIGINT: stopping; nothing new starts", 1, true), text)
      assert.is_truthy(text:find("SIGINT again: cancelling the running actions", 1, true), text)
    end)

    it("survives odd events and never raises", function()
      local out = fake_out()
      local view = P.new{ out = out, width = 60 }
      for _, e in ipairs {
        {}, { type = "state" }, { type = "state", object = "action", status = "failed" },
        { type = "state", object = "sequence", status = "running", id = "x" },
        { type = "attempt" }, { type = "log", msg = 42 }, { type = "stop" },
        { type = "state", object = "checks", status = "running" },
        { type = "state", object = "plan", status = "running", time = "soon" },
      } do
        view:event(e)
      end
      view:tick(nil)
      view:tick("x")
      view:finish()
      assert.is_nil(view.error)
    end)

    it("writes nothing when the run never started", function()
      local out = fake_out()
      local view = P.new{ out = out, width = 60 }
      view:tick(T0)
      view:finish()
      assert.are.equal("\27[?25h", out:bytes())
    end)
  end)

  describe("text", function()
    it("sanitize removes escapes and controls, keeps UTF-8, marks invalid bytes", function()
      assert.are.equal("plain", P.sanitize("plain"))
      assert.are.equal("red text", P.sanitize("\27[31mred\27[0m text"))
      assert.are.equal("a b", P.sanitize("a\tb"))
      assert.are.equal("ab", P.sanitize("a\0\1\8\127b"))
      assert.are.equal("a b", P.sanitize("a\r\nb"))
      assert.are.equal("a\nb", P.sanitize("a\r\nb", true))
      assert.are.equal("ab", P.sanitize("a\27]8;;http://x\27\\b"))
      assert.are.equal("titlebar", P.sanitize("title\27]0;x\7bar"))
      assert.are.equal("日本é", P.sanitize("日本é"))
      assert.are.equal("a?b", P.sanitize("a\255b"))
      assert.are.equal("a??b", P.sanitize("a\192\128b")) -- overlong
      assert.are.equal("ab", P.sanitize("a\194\155b")) -- U+009B, a C1 CSI
      assert.are.equal("12", P.sanitize(12))
    end)

    it("truncate counts columns, not bytes, and never cuts a character", function()
      assert.are.equal(4, P.display_width("日本"))
      assert.are.equal(3, P.display_width("éàü"))
      assert.are.equal("éàü", P.truncate("éàü", 3))
      assert.are.equal("éàüéàü...", P.truncate(("éàü"):rep(5), 9))
      assert.are.equal("日本日...", P.truncate(("日本"):rep(5), 9)) -- 6 + 3 columns
      assert.are.equal("日本...", P.truncate(("日本"):rep(5), 8))  -- a wide one would not fit
      assert.are.equal("日本", P.truncate(("日本"):rep(5), 5))     -- no room for "..."
      assert.are.equal("", P.truncate("abc", 0))
    end)

    it("duration is short", function()
      assert.are.equal("0.4s", P.duration(0.42))
      assert.are.equal("12s", P.duration(12.7))
      assert.are.equal("3m05s", P.duration(185))
      assert.are.equal("2h07m", P.duration(2 * 3600 + 7 * 60 + 30))
    end)
  end)

  -- End to end in a real pseudo-terminal: util-linux's `script` runs
  -- spec/progress_pty_runner.lua with its stdout on a pty.
  local has_script = os.execute("command -v script >/dev/null 2>&1")
  local function lua_interpreter()
    for _, name in ipairs { "lua5.4", "lua" } do
      if os.execute("command -v " .. name .. " >/dev/null 2>&1") then return name end
    end
    return "lua"
  end

  local function in_pty(env)
    local cmd = lua_interpreter() .. " spec/progress_pty_runner.lua"
    local vars = { "WS_LUA_CPATH=" .. H.shell_quote(package.cpath) }
    for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. H.shell_quote(v) end
    local f = assert(io.popen(table.concat(vars, " ") .. " script -qfec " .. H.shell_quote(cmd)
                              .. " /dev/null </dev/null 2>&1"))
    local bytes = f:read("a")
    local ok, how, code = f:close()
    return bytes, ok, how, code
  end

  if has_script then
    describe("in a pseudo-terminal (script)", function()
      it("redraws in place and ends with the counts", function()
        local bytes, ok, how, code = in_pty { COLUMNS = "60" }
        assert.is_true(ok, ("runner exited %s %s:\n%s"):format(how, code, bytes))
        assert.is_truthy(bytes:find("tty=true", 1, true), bytes) -- it really ran on a terminal
        assert.is_truthy(bytes:find("\27%[%d+A"), "no cursor-up sequence")
        assert.is_truthy(bytes:find("\27[?25l", 1, true))
        assert.is_truthy(bytes:find("\27[?25h", 1, true))
        assert.is_truthy(bytes:find(SGR_PATTERN))
        local s = screen(bytes)
        local text = table.concat(s.lines, "\n")
        local head = find_last_row(s.lines, "^pty demo  completed in ")
        assert.is_truthy(head, text)
        assert.is_truthy(find_row(s.lines, "web  completed    5 completed, 1 failed (budget 1)", true, head), text)
        local failed = find_row(s.lines, "FAILED web/host3/install: disk full on host3", true)
        assert.is_truthy(failed, text)
        assert.is_true(failed < head)
        for _, line in ipairs(s.lines) do
          assert.is_true(P.display_width(line) <= 59, ("%q"):format(line))
        end
      end)

      it("writes no colour under NO_COLOR", function()
        local bytes, ok = in_pty { COLUMNS = "45", NO_COLOR = "1" }
        assert.is_true(ok, bytes)
        assert.is_falsy(bytes:find(SGR_PATTERN))
        assert.is_truthy(bytes:find("\27%[%d+A"))
        local s = screen(bytes)
        assert.is_truthy(find_row(s.lines, "web  ok  5 ok, 1 fail (max 1)", true), table.concat(s.lines, "\n")) -- terse: 45 columns
        for _, line in ipairs(s.lines) do assert.is_true(P.display_width(line) <= 44, ("%q"):format(line)) end
      end)
    end)
  else
    pending("in a pseudo-terminal: util-linux's `script` is not installed (apt-get install util-linux)")
  end
end)
