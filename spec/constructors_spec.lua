-- Specs for the constructors of `require "workstream"` (DESIGN.md, section 3):
-- valid input is accepted and normalised; each invalid field is refused with an
-- error that starts with this file's name and the line of the constructor call.

local ws = require "workstream"
local core = require "workstream.core"
local duration = require "workstream.duration"
local H = require "spec.helpers"

local getinfo = debug.getinfo
local assert_error_at = H.assert_error_at

-- Stands for "field absent" in the tables of cases below.
local NIL = setmetatable({}, { __tostring = function() return "NIL" end })

local function with(base, over)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(over or {}) do
    if v == NIL then t[k] = nil else t[k] = v end
  end
  return t
end

-- Valid fields for each constructor; each builds new child objects every time
-- (objects may not be shared within a plan).
local function exec_req(...)
  local argv = { ... }
  if #argv == 0 then argv = { "true" } end
  return { argv = argv }
end

local function action_fields(over)
  return with({ name = "restart web1", plugin = "ws.exec", req = exec_req("systemctl", "restart", "web") },
              over)
end

local function action(over) return ws.action(action_fields(over)) end

local function seq_fields(over)
  return with({ name = "web1", actions = { action() } }, over)
end

local function seq(over) return ws.sequence(seq_fields(over)) end

local function block_fields(over)
  return with({ name = "canary", sequences = { seq() } }, over)
end

local function block(over) return ws.block(block_fields(over)) end

local function plan_fields(over)
  return with({ name = "rollout", blocks = { block() } }, over)
end

-- A check plugin. The built-in registry has none yet (and ws.plugin{...} does
-- not exist yet), so this file adds "spec.check" by wrapping the two registry
-- look-ups the constructors make; it takes ws.exec's request type. Everything
-- else is the real workstream.core.
local CHECK = "spec.check"
local real_check_request, real_plugin_info = core.check_request, core.plugin_info

setup(function()
  core.check_request = function(name, req)
    return real_check_request(name == CHECK and "ws.exec" or name, req)
  end
  core.plugin_info = function(name)
    if name == CHECK then return { name = CHECK, descr = "a check for these specs", is_check = true } end
    return real_plugin_info(name)
  end
end)

teardown(function()
  core.check_request, core.plugin_info = real_check_request, real_plugin_info
end)

local function check_action(over)
  return ws.action(with({ name = "web up", plugin = CHECK, req = exec_req("curl", "-f", "http://web1/") }, over))
end

-- Calls ctor(t) (on this line, which the error must name) and returns the error.
local function error_of(ctor, t)
  local line, ok, err = getinfo(1, "l").currentline, pcall(ctor, t)
  assert.is_false(ok, "expected an error, got a value")
  return err, line
end

-- Runs a table of { field, value, expected text } cases against a constructor.
local function rejects(ctor, fields_of, cases)
  for _, case in ipairs(cases) do
    local field, value, text = case[1], case[2], case[3]
    it(("rejects %s = %s"):format(field, type(value) == "string" and ("%q"):format(value)
                                         or tostring(value)), function()
      local err, line = error_of(ctor, fields_of({ [field] = value }))
      assert_error_at(err, line, text)
    end)
  end
end

describe("durations", function()
  local good = {
    { 0, 0 }, { 1, 1 }, { 2.5, 2.5 }, { "0s", 0 }, { "250ms", 0.25 }, { "30s", 30 },
    { "5m", 300 }, { "1h", 3600 }, { "1m30s", 90 }, { "1h2m3s", 3723 }, { "1.5s", 1.5 },
    { "0.5ms", 0.0005 }, { "2h30m", 9000 }, { "1s500ms", 1.5 }, { "100ms", 0.1 },
  }
  for _, case in ipairs(good) do
    it(("parses %s"):format(tostring(case[1])), function()
      local secs = assert(duration.parse(case[1]))
      assert.are.equal("float", math.type(secs))
      assert.is_true(math.abs(secs - case[2]) < 1e-9, ("%s -> %s"):format(case[1], secs))
    end)
  end

  local bad = {
    { "", 'invalid duration ""' }, { "5", 'invalid duration "5"' }, { "5 s", 'invalid duration "5 s"' },
    { "-5s", 'invalid duration "-5s"' }, { "5sec", 'invalid duration "5sec"' },
    { "1.s", 'invalid duration "1.s"' }, { ".5s", 'invalid duration ".5s"' },
    { "30s1m", 'invalid duration "30s1m"' }, { "1m1m", 'invalid duration "1m1m"' },
    { "1.5m30s", 'invalid duration "1.5m30s"' }, { "5d", 'invalid duration "5d"' },
    { " 5s", 'invalid duration " 5s"' }, { "5s ", 'invalid duration "5s "' },
    { true, "expected a duration" }, { {}, "expected a duration" },
    { -1, "must be >= 0, got -1" }, { -0.5, "must be >= 0, got -0.5" },
    { 0 / 0, "got nan" }, { math.huge, "must be finite, got inf" },
  }
  for _, case in ipairs(bad) do
    it(("refuses %s"):format(type(case[1]) == "string" and ("%q"):format(case[1]) or tostring(case[1])),
       function()
         local secs, msg = duration.parse(case[1])
         assert.is_nil(secs)
         assert.is_truthy(msg:find(case[2], 1, true), msg)
       end)
  end

  it("refuses zero when the caller asks for > 0", function()
    assert.are.equal("must be > 0, got 0", select(2, duration.parse(0, true)))
    assert.are.equal('must be > 0, got "0ms"', select(2, duration.parse("0ms", true)))
    assert.are.equal(0.001, duration.parse("1ms", true))
  end)

  it("formats seconds as plans write them", function()
    assert.are.equal("250ms", duration.format(0.25))
    assert.are.equal("30s", duration.format(30))
    assert.are.equal("5m", duration.format(300))
    assert.are.equal("1h", duration.format(3600))
    assert.are.equal("1m30s", duration.format(90))
    assert.are.equal("1.5s", duration.format(1.5))
    assert.are.equal("0s", duration.format(0))
    for _, s in ipairs({ 0.25, 30, 90, 1.5, 3723, 9000 }) do
      assert.are.equal(s, duration.parse(duration.format(s)))
    end
  end)
end)

describe("retry presets", function()
  it("are plain tables in seconds", function()
    assert.are.same({ initial = 0.1, multiplier = 2, jitter = 0.5, max = 60 }, ws.retry.fast)
    assert.are.same({ initial = 1, multiplier = 2, jitter = 0.5, max = 60 }, ws.retry.seconds)
    assert.are.same({ initial = 30, multiplier = 1.1, jitter = 0.2, max = 300 }, ws.retry.thirty_seconds)
    assert.is_nil(getmetatable(ws.retry.fast))
  end)

  it("are accepted as an action's policy, copied", function()
    local a = action({ retry = ws.retry.thirty_seconds, retries = 3 })
    assert.are.same({ initial = 30, multiplier = 1.1, jitter = 0.2, max = 300 }, a.retry)
    assert.are_not.equal(ws.retry.thirty_seconds, a.retry)
  end)
end)

describe("ws.action", function()
  it("normalises durations and applies defaults", function()
    local a = action()
    assert.are.equal("action", ws.kind(a))
    assert.are.equal("restart web1", a.name)
    assert.are.equal("ws.exec", a.plugin)
    assert.are.equal(30, a.timeout)
    assert.are.equal(0, a.retries)
    assert.are.equal("integer", math.type(a.retries))
    assert.is_nil(a.retry)
    assert.is_nil(a.descr)
    assert.is_nil(a.key)

    local b = action({ timeout = "250ms", retries = 2, descr = "restarts it", key = "r1",
                       retry = { initial = "1s", max = "5m" } })
    assert.are.equal(0.25, b.timeout)
    assert.are.equal(2, b.retries)
    assert.are.equal("restarts it", b.descr)
    assert.are.equal("r1", b.key)
    assert.are.same({ initial = 1, multiplier = 2, jitter = 0.5, max = 300 }, b.retry)

    assert.are.equal(300, action({ timeout = "5m" }).timeout)
    assert.are.equal(1.5, action({ timeout = 1.5 }).timeout)
    assert.are.equal(3, action({ retries = 3.0 }).retries)
    assert.are.equal("integer", math.type(action({ retries = 3.0 }).retries))
  end)

  it("stores the request normalised by the plugin's type, in a new table", function()
    local req = exec_req("ls", "-l")
    local a = ws.action{ name = "list", plugin = "ws.exec", req = req }
    assert.are_not.equal(req, a.req)
    assert.are.same({ "ls", "-l" }, a.req.argv)
    assert.are.same({ 0 }, a.req.ok_codes)          -- the default the plugin declares
    assert.is_nil(req.ok_codes)                        -- the caller's table is untouched
  end)

  it("does not change the caller's table", function()
    local t = action_fields({ timeout = "5m" })
    ws.action(t)
    assert.are.equal("5m", t.timeout)
  end)

  it("reports the plugin's verdict on the request, prefixed with the action", function()
    local cases = {
      { { argv = "ls" }, "req.argv: " },
      { { argv = { "ls", 1 } }, "req.argv[2]: " },
      { { argv = { "ls" }, ok_codes = { "0" } }, "req.ok_codes[1]: " },
      { { argv = { "ls" }, bogus = 1 }, 'unknown field "bogus"' },
      { {}, "req.argv: " },
    }
    for _, case in ipairs(cases) do
      local _, msg = core.check_request("ws.exec", case[1])
      assert.is_string(msg)
      assert.is_truthy(msg:find(case[2], 1, true), msg)
      local err, line = error_of(ws.action, action_fields({ req = case[1] }))
      assert_error_at(err, line, 'action "restart web1": ' .. msg)
      assert.is_truthy(err:match(": " .. msg:gsub("%p", "%%%0") .. "$"), err)
    end
    -- No req at all is an empty request, which ws.exec refuses (argv is required).
    local err, line = error_of(ws.action, action_fields({ req = NIL }))
    assert_error_at(err, line, 'action "restart web1": req.argv: ')
  end)

  it("refuses an unknown plugin, naming it", function()
    local err, line = error_of(ws.action, action_fields({ plugin = "acme.x" }))
    assert_error_at(err, line, 'action "restart web1": unknown plugin "acme.x"')
  end)

  describe("refuses each invalid field:", function()
    rejects(ws.action, action_fields, {
      { "name", NIL, "action: name: expected a non-empty string, got nil" },
      { "name", "", "action: name: must not be empty" },
      { "name", 42, "action: name: expected a non-empty string, got number" },
      { "descr", 42, 'action "restart web1": descr: expected string, got number' },
      { "key", "", 'action "restart web1": key: must not be empty' },
      { "key", true, 'action "restart web1": key: expected a non-empty string, got boolean' },
      { "plugin", NIL, 'action "restart web1": plugin: expected a non-empty string, got nil' },
      { "plugin", "", 'action "restart web1": plugin: must not be empty' },
      { "req", "ls -l", 'action "restart web1": req: expected table, got string' },
      { "timeout", 0, 'action "restart web1": timeout: must be > 0, got 0' },
      { "timeout", -1, 'action "restart web1": timeout: must be > 0, got -1' },
      { "timeout", "0s", 'action "restart web1": timeout: must be > 0, got "0s"' },
      { "timeout", "30 s", 'action "restart web1": timeout: invalid duration "30 s"' },
      { "timeout", "soon", 'action "restart web1": timeout: invalid duration "soon"' },
      { "timeout", true, 'action "restart web1": timeout: expected a duration' },
      { "timeout", math.huge, 'action "restart web1": timeout: must be finite, got inf' },
      { "retries", -1, 'action "restart web1": retries: must be >= 0, got -1' },
      { "retries", 1.5, 'action "restart web1": retries: expected integer, got 1.5' },
      { "retries", "2", 'action "restart web1": retries: expected integer, got string' },
      { "retry", "fast", 'action "restart web1": retry: expected a retry policy' },
      { "retry", { initial = 0 }, 'action "restart web1": retry.initial: must be > 0, got 0' },
      { "retry", { initial = "fast" }, 'action "restart web1": retry.initial: invalid duration "fast"' },
      { "retry", { multiplier = 0.5 }, 'action "restart web1": retry.multiplier: must be >= 1, got 0.5' },
      { "retry", { multiplier = "2" }, 'action "restart web1": retry.multiplier: expected number, got string' },
      { "retry", { jitter = 1.5 }, 'action "restart web1": retry.jitter: must be <= 1, got 1.5' },
      { "retry", { jitter = -0.1 }, 'action "restart web1": retry.jitter: must be >= 0, got -0.1' },
      { "retry", { max = "0s" }, 'action "restart web1": retry.max: must be > 0, got "0s"' },
      { "retry", { initial = "2m", max = "1m" }, 'action "restart web1": retry: initial (120) must be <= max (60)' },
      { "retry", { initial = "2m" }, 'action "restart web1": retry: initial (120) must be <= max (60)' },
      { "retry", { maximum = "1m" }, 'action "restart web1": retry: unknown field "maximum"' },
      { "timout", "5s", 'action "restart web1": unknown field "timout" (did you mean "timeout"?)' },
      { "plugins", "ws.exec", 'action "restart web1": unknown field "plugins" (did you mean "plugin"?)' },
    })
  end)
end)

describe("ws.sequence", function()
  it("accepts actions and is also ws.seq", function()
    local a1, a2 = action({ name = "stop" }), action({ name = "start" })
    local s = ws.seq{ name = "web1", key = "web1", descr = "first", actions = { a1, a2 } }
    assert.are.equal(ws.sequence, ws.seq)
    assert.are.equal("sequence", ws.kind(s))
    assert.are.equal("web1", s.name)
    assert.are.equal("web1", s.key)
    assert.are.equal("first", s.descr)
    assert.are.equal(a1, s.actions[1])
    assert.are.equal(a2, s.actions[2])
    assert.are.equal(2, #s.actions)
  end)

  it("copies its list of actions", function()
    local list = { action() }
    local s = ws.sequence{ name = "s", actions = list }
    list[2] = action({ name = "later" })
    assert.are.equal(1, #s.actions)
    assert.are_not.equal(list, s.actions)
  end)

  describe("refuses each invalid field:", function()
    rejects(ws.sequence, seq_fields, {
      { "name", NIL, "sequence: name: expected a non-empty string, got nil" },
      { "name", "", "sequence: name: must not be empty" },
      { "descr", {}, 'sequence "web1": descr: expected string, got table' },
      { "key", "", 'sequence "web1": key: must not be empty' },
      { "actions", NIL, 'sequence "web1": actions: missing (expected a non-empty list of actions)' },
      { "actions", {}, 'sequence "web1": actions: must not be empty' },
      { "actions", "restart", 'sequence "web1": actions: expected a list of actions, got string' },
      { "action", { }, 'sequence "web1": unknown field "action" (did you mean "actions"?)' },
    })
  end)

  it("refuses a single action where a list is expected", function()
    local err, line = error_of(ws.sequence, { name = "web1", actions = action() })
    assert_error_at(err, line, 'sequence "web1": actions: expected a list of actions, got an action')
  end)

  it("refuses a list with holes or other keys", function()
    local a = action()
    local err, line = error_of(ws.sequence, { name = "web1", actions = { a, nil, action() } })
    assert_error_at(err, line, 'sequence "web1": actions[2]: missing (the list has a hole)')
    err, line = error_of(ws.sequence, { name = "web1", actions = { action(), first = true } })
    assert_error_at(err, line, 'sequence "web1": actions: expected a list of actions, but it has the key ["first"]')
  end)

  it("refuses wrong children, naming the index", function()
    local err, line = error_of(ws.sequence, { name = "web1", actions = { action(), seq() } })
    assert_error_at(err, line, 'sequence "web1": actions[2]: expected an action (ws.action{...}), got a sequence')
    err, line = error_of(ws.sequence, { name = "web1", actions = { { name = "x", plugin = "ws.exec" } } })
    assert_error_at(err, line, 'sequence "web1": actions[1]: expected an action (ws.action{...}), got a table (not made by a constructor)')
    err, line = error_of(ws.sequence, { name = "web1", actions = { "restart" } })
    assert_error_at(err, line, 'sequence "web1": actions[1]: expected an action (ws.action{...}), got string')
  end)

  it("refuses a check plugin, naming the action", function()
    local err, line = error_of(ws.sequence, { name = "web1", actions = { action(), check_action() } })
    assert_error_at(err, line, 'sequence "web1": actions[2]: action "web up" uses check plugin "spec.check"; '
                               .. "check plugins belong in checks (bypass_checks, pre_checks, cont_checks, "
                               .. "post_checks or deferred_checks), not in a sequence")
  end)
end)

describe("ws.checks", function()
  it("applies the default delay and normalises durations", function()
    local c = ws.checks{ actions = { check_action() } }
    assert.are.equal("checks", ws.kind(c))
    assert.are.equal(30, c.delay)
    assert.are.equal(1, #c.actions)
    assert.are.equal(0.25, ws.checks{ delay = "250ms", actions = { check_action() } }.delay)
    assert.are.equal(300, ws.checks{ delay = "5m", actions = { check_action() } }.delay)
  end)

  it("refuses each invalid field", function()
    local cases = {
      { { delay = 0 }, "checks: delay: must be > 0, got 0" },
      { { delay = "0s" }, 'checks: delay: must be > 0, got "0s"' },
      { { delay = -5 }, "checks: delay: must be > 0, got -5" },
      { { delay = "often" }, 'checks: delay: invalid duration "often"' },
      { { actions = {} }, "checks: actions: must not be empty" },
      { { actions = NIL }, "checks: actions: missing" },
      { { actions = { seq() } }, "checks: actions[1]: expected an action (ws.action{...}), got a sequence" },
      { { dealy = "5s" }, 'checks: unknown field "dealy" (did you mean "delay"?)' },
      { { name = "probes" }, 'checks: unknown field "name"' },
    }
    for _, case in ipairs(cases) do
      local err, line = error_of(ws.checks, with({ actions = { check_action() } }, case[1]))
      assert_error_at(err, line, case[2])
    end
  end)

  it("refuses a plugin that is not a check", function()
    local err, line = error_of(ws.checks, { actions = { action() } })
    assert_error_at(err, line, 'checks: actions[1]: action "restart web1" uses plugin "ws.exec", which is not a check plugin')
  end)
end)

describe("ws.batch", function()
  it("accepts each `when` and defaults fail_plan to false", function()
    for _, when in ipairs({ "on_failure", "on_success", "always" }) do
      local b = ws.batch{ name = "rollback", when = when, actions = { action() } }
      assert.are.equal("batch", ws.kind(b))
      assert.are.equal(when, b.when)
      assert.is_false(b.fail_plan)
    end
    local b = ws.batch{ name = "notify", key = "n", when = "always", fail_plan = true, actions = { action() } }
    assert.is_true(b.fail_plan)
    assert.are.equal("n", b.key)
  end)

  describe("refuses each invalid field:", function()
    rejects(ws.batch, function(over)
      return with({ name = "rollback", when = "on_failure", actions = { action() } }, over)
    end, {
      { "name", NIL, "batch: name: expected a non-empty string, got nil" },
      { "when", NIL, 'batch "rollback": when: missing (expected "on_failure", "on_success" or "always")' },
      { "when", "sometimes", 'batch "rollback": when: expected "on_failure", "on_success" or "always", got "sometimes"' },
      { "when", true, 'batch "rollback": when: expected "on_failure", "on_success" or "always", got boolean' },
      { "fail_plan", "yes", 'batch "rollback": fail_plan: expected boolean, got string' },
      { "fail_plan", 1, 'batch "rollback": fail_plan: expected boolean, got number' },
      { "actions", {}, 'batch "rollback": actions: must not be empty' },
      { "actions", { "x" }, 'batch "rollback": actions[1]: expected an action (ws.action{...}), got string' },
      { "fail", true, 'batch "rollback": unknown field "fail"' },
    })
  end)

  it("refuses a check plugin", function()
    local err, line = error_of(ws.batch, { name = "rollback", when = "always", actions = { check_action() } })
    assert_error_at(err, line, 'batch "rollback": actions[1]: action "web up" uses check plugin "spec.check"')
  end)
end)

describe("ws.block", function()
  it("applies defaults", function()
    local b = block()
    assert.are.equal("block", ws.kind(b))
    assert.are.equal(1, b.concurrency)
    assert.are.equal("integer", math.type(b.concurrency))
    assert.are.equal(0, b.tolerated_failures)
    assert.are.equal(0, b.entrance_delay)
    assert.are.equal(0, b.exit_delay)
    assert.are.equal("sequence", b.stop)
    assert.are.equal(1, #b.sequences)
    for _, slot in ipairs({ "bypass_checks", "pre_checks", "cont_checks", "post_checks", "deferred_checks" }) do
      assert.is_nil(b[slot])
    end
  end)

  it("normalises its fields", function()
    local b = block({ concurrency = 4, tolerated_failures = "10%", entrance_delay = "5m",
                      exit_delay = "250ms", stop = "action", key = "canary", descr = "first hosts" })
    assert.are.equal(4, b.concurrency)
    assert.are.equal("10%", b.tolerated_failures)
    assert.are.equal(300, b.entrance_delay)
    assert.are.equal(0.25, b.exit_delay)
    assert.are.equal("action", b.stop)
    assert.are.equal(-1, block({ tolerated_failures = -1 }).tolerated_failures)
    assert.are.equal(3, block({ tolerated_failures = 3 }).tolerated_failures)
    assert.are.equal("0%", block({ tolerated_failures = "0%" }).tolerated_failures)
    assert.are.equal("100%", block({ tolerated_failures = "100%" }).tolerated_failures)
    assert.are.equal("5%", block({ tolerated_failures = "05%" }).tolerated_failures)
    assert.are.equal(2, block({ concurrency = 2.0 }).concurrency)
    assert.are.equal("integer", math.type(block({ concurrency = 2.0 }).concurrency))
  end)

  it("turns a plain list of check actions into checks with the default delay", function()
    local a1, a2 = check_action({ name = "a" }), check_action({ name = "b" })
    local b = block({ pre_checks = { a1, a2 }, cont_checks = ws.checks{ delay = "1m", actions = { check_action() } } })
    assert.are.equal("checks", ws.kind(b.pre_checks))
    assert.are.equal(30, b.pre_checks.delay)
    assert.are.equal(a1, b.pre_checks.actions[1])
    assert.are.equal(a2, b.pre_checks.actions[2])
    assert.are.equal(60, b.cont_checks.delay)
  end)

  describe("refuses each invalid field:", function()
    rejects(ws.block, block_fields, {
      { "name", NIL, "block: name: expected a non-empty string, got nil" },
      { "name", "", "block: name: must not be empty" },
      { "key", "", 'block "canary": key: must not be empty' },
      { "concurrency", 0, 'block "canary": concurrency: must be >= 1, got 0' },
      { "concurrency", -3, 'block "canary": concurrency: must be >= 1, got -3' },
      { "concurrency", 1.5, 'block "canary": concurrency: expected integer, got 1.5' },
      { "concurrency", "2", 'block "canary": concurrency: expected integer, got string' },
      { "tolerated_failures", -2, 'block "canary": tolerated_failures: must be >= -1 (-1 means unlimited), got -2' },
      { "tolerated_failures", 0.5, 'block "canary": tolerated_failures: expected integer, got 0.5' },
      { "tolerated_failures", "ten", 'block "canary": tolerated_failures: expected an integer >= -1 (-1 = unlimited) or a percentage such as "10%", got "ten"' },
      { "tolerated_failures", "10", 'block "canary": tolerated_failures: expected an integer >= -1' },
      { "tolerated_failures", "10.5%", 'block "canary": tolerated_failures: expected an integer >= -1' },
      { "tolerated_failures", "-5%", 'block "canary": tolerated_failures: expected an integer >= -1' },
      { "tolerated_failures", "101%", 'block "canary": tolerated_failures: a percentage must be from "0%" to "100%", got "101%"' },
      { "tolerated_failures", true, 'block "canary": tolerated_failures: expected an integer >= -1 (-1 = unlimited) or a percentage such as "10%", got boolean' },
      { "entrance_delay", -1, 'block "canary": entrance_delay: must be >= 0, got -1' },
      { "entrance_delay", "later", 'block "canary": entrance_delay: invalid duration "later"' },
      { "exit_delay", -0.5, 'block "canary": exit_delay: must be >= 0, got -0.5' },
      { "exit_delay", "1x", 'block "canary": exit_delay: invalid duration "1x"' },
      { "stop", "all", 'block "canary": stop: expected "sequence" or "action", got "all"' },
      { "stop", 1, 'block "canary": stop: expected "sequence" or "action", got number' },
      { "sequences", NIL, 'block "canary": sequences: missing (expected a non-empty list of sequences)' },
      { "sequences", {}, 'block "canary": sequences: must not be empty' },
      { "pre_checks", "ping", 'block "canary": pre_checks: expected checks (ws.checks{...}) or a list of actions, got string' },
      { "post_checks", {}, 'block "canary": post_checks: must not be empty' },
      { "cont_checks", { delay = "5s" }, 'block "canary": cont_checks: got a plain table with checks fields; write ws.checks{' },
      { "concurency", 2, 'block "canary": unknown field "concurency" (did you mean "concurrency"?)' },
      { "tolerated_failure", 1, 'block "canary": unknown field "tolerated_failure" (did you mean "tolerated_failures"?)' },
      { "sequence", {}, 'block "canary": unknown field "sequence" (did you mean "sequences"?)' },
    })
  end)

  it("refuses wrong children, naming the index", function()
    local err, line = error_of(ws.block, block_fields({ sequences = { seq(), block() } }))
    assert_error_at(err, line, 'block "canary": sequences[2]: expected a sequence (ws.sequence{...}), got a block')
    err, line = error_of(ws.block, block_fields({ sequences = { seq(), { name = "web2", actions = {} } } }))
    assert_error_at(err, line, 'block "canary": sequences[2]: expected a sequence (ws.sequence{...}), got a table (not made by a constructor)')
    err, line = error_of(ws.block, block_fields({ sequences = { action() } }))
    assert_error_at(err, line, 'block "canary": sequences[1]: expected a sequence (ws.sequence{...}), got an action')
    err, line = error_of(ws.block, block_fields({ sequences = seq() }))
    assert_error_at(err, line, 'block "canary": sequences: expected a list of sequences, got a sequence')
    err, line = error_of(ws.block, block_fields({ pre_checks = block() }))
    assert_error_at(err, line, 'block "canary": pre_checks: expected checks (ws.checks{...}) or a list of actions, got a block')
    err, line = error_of(ws.block, block_fields({ pre_checks = { seq() } }))
    assert_error_at(err, line, 'block "canary": pre_checks[1]: expected an action (ws.action{...}), got a sequence')
  end)

  it("refuses a non-check plugin in a plain list of checks, naming where it is", function()
    local err, line = error_of(ws.block, block_fields({ post_checks = { action({ name = "curl" }) } }))
    assert_error_at(err, line, 'block "canary": post_checks[1]: action "curl" uses plugin "ws.exec", which is not a check plugin')
  end)
end)

describe("ws.plan", function()
  it("accepts a full plan", function()
    local p = ws.plan{
      name = "rollout", descr = "web fleet", group = "web",
      meta = { ticket = "OPS-1", hosts = { "web1", "web2" }, canary = { size = 1, on = true } },
      bypass_checks = { check_action({ name = "already done" }) },
      pre_checks = ws.checks{ actions = { check_action({ name = "healthy" }) } },
      cont_checks = ws.checks{ delay = "10s", actions = { check_action({ name = "alarms" }) } },
      post_checks = { check_action({ name = "healthy after" }) },
      deferred_checks = { check_action({ name = "healthy at the end" }) },
      blocks = { block({ name = "canary" }), block({ name = "rest", concurrency = 10 }) },
      deferred_actions = {
        ws.batch{ name = "rollback", when = "on_failure", actions = { action({ name = "undo" }) } },
        ws.batch{ name = "notify", when = "always", actions = { action({ name = "mail" }) } },
      },
    }
    assert.are.equal("plan", ws.kind(p))
    assert.are.equal("rollout", p.name)
    assert.are.equal("web fleet", p.descr)
    assert.are.equal("web", p.group)
    assert.are.same({ ticket = "OPS-1", hosts = { "web1", "web2" }, canary = { size = 1, on = true } }, p.meta)
    assert.are.equal(2, #p.blocks)
    assert.are.equal("rest", p.blocks[2].name)
    for _, slot in ipairs({ "bypass_checks", "pre_checks", "cont_checks", "post_checks", "deferred_checks" }) do
      assert.are.equal("checks", ws.kind(p[slot]))
    end
    assert.are.equal(10, p.cont_checks.delay)
    assert.are.equal(30, p.post_checks.delay)
    assert.are.equal(2, #p.deferred_actions)
    assert.are.equal("notify", p.deferred_actions[2].name)
  end)

  it("leaves optional parts nil", function()
    local p = ws.plan(plan_fields())
    assert.is_nil(p.descr)
    assert.is_nil(p.group)
    assert.is_nil(p.meta)
    assert.is_nil(p.deferred_actions)
    assert.is_nil(p.pre_checks)
  end)

  describe("refuses each invalid field:", function()
    rejects(ws.plan, plan_fields, {
      { "name", NIL, "plan: name: expected a non-empty string, got nil" },
      { "name", "", "plan: name: must not be empty" },
      { "descr", 1, 'plan "rollout": descr: expected string, got number' },
      { "group", "", 'plan "rollout": group: must not be empty' },
      { "meta", "x", 'plan "rollout": meta: expected table, got string' },
      { "meta", { f = print }, 'plan "rollout": meta.f: expected a string, number, boolean or table, got function' },
      { "meta", { n = 0 / 0 }, 'plan "rollout": meta.n: must be finite, got nan' },
      { "meta", { 1, 2, x = 3 }, 'plan "rollout": meta: mixes a list part with string keys' },
      { "meta", { [true] = 1 }, 'plan "rollout": meta: keys must be strings, or 1..n for a list; got the key [true]' },
      { "blocks", NIL, 'plan "rollout": blocks: missing (expected a non-empty list of blocks)' },
      { "blocks", {}, 'plan "rollout": blocks: must not be empty' },
      { "deferred_actions", {}, 'plan "rollout": deferred_actions: must not be empty' },
      { "pre_checks", {}, 'plan "rollout": pre_checks: must not be empty' },
      { "bypass_checks", 1, 'plan "rollout": bypass_checks: expected checks (ws.checks{...}) or a list of actions, got number' },
      { "block", {}, 'plan "rollout": unknown field "block" (did you mean "blocks"?)' },
      { "deferred", {}, 'plan "rollout": unknown field "deferred"' },
      { "key", "k", 'plan "rollout": unknown field "key"' },
    })
  end)

  it("refuses a meta table that contains itself", function()
    local meta = { a = {} }
    meta.a.back = meta
    local err, line = error_of(ws.plan, plan_fields({ meta = meta }))
    assert_error_at(err, line, 'plan "rollout": meta.a.back: contains itself (a cycle)')
  end)

  it("copies meta", function()
    local meta = { owner = "ops" }
    local p = ws.plan(plan_fields({ meta = meta }))
    meta.owner = "someone else"
    assert.are.equal("ops", p.meta.owner)
  end)

  it("refuses wrong children, naming the index", function()
    local err, line = error_of(ws.plan, plan_fields({ blocks = { block(), seq() } }))
    assert_error_at(err, line, 'plan "rollout": blocks[2]: expected a block (ws.block{...}), got a sequence')
    err, line = error_of(ws.plan, plan_fields({ deferred_actions = { action() } }))
    assert_error_at(err, line, 'plan "rollout": deferred_actions[1]: expected a batch (ws.batch{...}), got an action')
    err, line = error_of(ws.plan, plan_fields({ blocks = { ws.plan(plan_fields()) } }))
    assert_error_at(err, line, 'plan "rollout": blocks[1]: expected a block (ws.block{...}), got a plan')
  end)

  describe("keys", function()
    it("may be given once each", function()
      local p = ws.plan{ name = "p", blocks = {
        block({ key = "b1", sequences = { seq({ key = "s1", actions = { action({ key = "a1" }) } }) } }),
        block({ key = "b2", name = "rest", sequences = { seq({ key = "s2" }) } }),
      } }
      assert.are.equal("b1", p.blocks[1].key)
    end)

    it("are unique in the plan, naming both objects", function()
      local b = block({ name = "canary", key = "web1",
                        sequences = { seq({ name = "s", actions = { action({ name = "a", key = "web1" }) } }) } })
      local err, line = error_of(ws.plan, { name = "p", blocks = { b } })
      assert_error_at(err, line, 'plan "p": duplicate key "web1": block "canary" at "canary"')
      assert.is_truthy(err:find('action "a" at "canary/s/a"', 1, true), err)
    end)

    it("are unique across blocks and deferred actions", function()
      local err, line = error_of(ws.plan, {
        name = "p",
        blocks = { block({ sequences = { seq({ name = "web1", key = "k" }) } }) },
        deferred_actions = { ws.batch{ name = "undo", key = "k", when = "on_failure", actions = { action() } } },
      })
      assert_error_at(err, line, 'plan "p": duplicate key "k": sequence "web1" at "canary/web1"')
      assert.is_truthy(err:find('batch "undo" at "deferred_actions/undo"', 1, true), err)
    end)

    it("name where both objects were written", function()
      local l1 = getinfo(1, "l").currentline; local s1 = ws.seq{ name = "one", key = "k", actions = { action() } }
      local l2 = getinfo(1, "l").currentline; local s2 = ws.seq{ name = "two", key = "k", actions = { action() } }
      local err, line = error_of(ws.plan, plan_fields({ blocks = { block({ sequences = { s1, s2 } }) } }))
      assert_error_at(err, line, ('duplicate key "k": sequence "one" at "canary/one" (%s:%d) and sequence "two" at "canary/two" (%s:%d)')
                                 :format(err:match("^(.-constructors_spec%.lua)"), l1, err:match("^(.-constructors_spec%.lua)"), l2))
    end)
  end)

  describe("shared objects", function()
    it("refuses an action in two sequences", function()
      local a = action({ name = "restart" })
      local b = block({ sequences = { seq({ name = "web1", actions = { a } }), seq({ name = "web2", actions = { a } }) } })
      local err, line = error_of(ws.plan, { name = "p", blocks = { b } })
      assert_error_at(err, line, 'plan "p": action "restart" appears twice: at "canary/web1/restart" and at "canary/web2/restart"')
    end)

    it("refuses a sequence in two blocks", function()
      local s = seq({ name = "web1" })
      local err, line = error_of(ws.plan, { name = "p", blocks = {
        block({ name = "one", sequences = { s } }), block({ name = "two", sequences = { s } }) } })
      assert_error_at(err, line, 'plan "p": sequence "web1" appears twice: at "one/web1" and at "two/web1"')
    end)

    it("refuses the same block twice", function()
      local b = block()
      local err, line = error_of(ws.plan, { name = "p", blocks = { b, b } })
      assert_error_at(err, line, 'plan "p": block "canary" appears twice')
    end)

    it("refuses one checks object in two places", function()
      local c = ws.checks{ actions = { check_action() } }
      local err, line = error_of(ws.plan, plan_fields({ pre_checks = c, post_checks = c }))
      assert_error_at(err, line, 'plan "rollout": checks appears twice: at "pre_checks" and at "post_checks"')
    end)

    it("refuses an action used both in a sequence and in a batch", function()
      local a = action({ name = "undo" })
      local err, line = error_of(ws.plan, plan_fields({
        blocks = { block({ sequences = { seq({ actions = { a } }) } }) },
        deferred_actions = { ws.batch{ name = "rollback", when = "on_failure", actions = { a } } },
      }))
      assert_error_at(err, line, 'plan "rollout": action "undo" appears twice: at "canary/web1/undo" and at "deferred_actions/rollback/undo"')
    end)
  end)
end)

describe("every constructor", function()
  local ctors = { "plan", "block", "sequence", "action", "checks", "batch" }

  it("refuses something other than a table of fields", function()
    for _, name in ipairs(ctors) do
      local err, line = error_of(ws[name], "x")
      assert_error_at(err, line, ("ws.%s: expected a table of fields (ws.%s{...}), got string"):format(name, name))
      err, line = error_of(ws[name], nil)
      assert_error_at(err, line, ("ws.%s: expected a table of fields (ws.%s{...}), got nil"):format(name, name))
    end
    local err, line = error_of(ws.action, action())
    assert_error_at(err, line, "ws.action: expected a table of fields (ws.action{...}), got an action")
  end)

  it("explains ws:action{...}", function()
    local err, line = error_of(ws.action, ws)
    assert_error_at(err, line, "ws.action: called as ws:action{...}; write ws.action{...}")
  end)

  it("refuses positional values", function()
    local err, line = error_of(ws.sequence, { name = "web1", action() })
    assert_error_at(err, line, 'sequence "web1": unexpected positional value [1] (an action); fields are named')
    err, line = error_of(ws.block, { name = "b", [true] = 1, sequences = { seq() } })
    assert_error_at(err, line, 'block "b": unknown field [true]')
  end)

  it("gives each object a kind that plain tables do not have", function()
    assert.is_nil(ws.kind({}))
    assert.is_nil(ws.kind({ name = "x", actions = {} }))
    assert.is_nil(ws.kind("action"))
    assert.is_nil(ws.kind(nil))
    assert.are.equal("action", ws.kind(action()))
    assert.are.equal("sequence", ws.kind(seq()))
    assert.are.equal("block", ws.kind(block()))
    assert.are.equal("plan", ws.kind(ws.plan(plan_fields())))
    assert.are.equal("batch", ws.kind(ws.batch{ name = "b", when = "always", actions = { action() } }))
  end)
end)

describe("error locations", function()
  it("name the line of the call written in the caller's file", function()
    local line
    local ok, err = pcall(function()
      line = getinfo(1, "l").currentline + 4
      local p = ws.plan{
        name = "rollout",
        blocks = {
          ws.block{ name = "canary", sequences = { seq() }, concurrency = 0 },
        },
      }
      return p
    end)
    assert.is_false(ok)
    assert_error_at(err, line, 'block "canary": concurrency: must be >= 1, got 0')
  end)

  it("name the call's line when the error is in a nested table's field", function()
    local line
    local ok, err = pcall(function()
      line = getinfo(1, "l").currentline + 1
      ws.action{
        name = "restart web1",
        plugin = "ws.exec",
        req = { argv = { "true" } },
        timeout = 0,
      }
    end)
    assert.is_false(ok)
    assert_error_at(err, line, 'action "restart web1": timeout: must be > 0, got 0')
  end)

  it("skip the library's own frames (a plain list of checks is checked inside ws.block)", function()
    local line
    local ok, err = pcall(function()
      line = getinfo(1, "l").currentline; ws.block{ name = "b", sequences = { seq() }, pre_checks = { action() } }
    end)
    assert.is_false(ok)
    assert_error_at(err, line, 'block "b": pre_checks[1]: action "restart web1" uses plugin "ws.exec"')
  end)

  it("point into the plan file for `return ws.plan{...}` (a tail call drops the caller's frame)", function()
    -- Lua drops the frame of a chunk that ends with `return ws.plan{...}`; the
    -- error then names the line of the plan's first child object.
    local chunk = assert(load(table.concat({
      "local ws = ...",                                            -- 1
      "return ws.plan{",                                           -- 2
      "  name = 'rollout',",                                       -- 3
      "  blocks = {",                                              -- 4
      "    ws.block{ name = 'canary', sequences = {",              -- 5
      "      ws.sequence{ name = 'web1', actions = {",             -- 6
      "        ws.action{ name = 'a', plugin = 'ws.exec', req = { argv = { 'true' } } } } } } },",
      "  },",                                                      -- 8
      "  depth = 1,",                                              -- 9
      "}",                                                         -- 10
    }, "\n"), "@plan.lua"))
    local ok, err = pcall(chunk, ws)
    assert.is_false(ok)
    assert.are.equal('plan.lua:5: plan "rollout": unknown field "depth"', err)
  end)

  it("point into the plan file when library code (like wsrun's CLI) runs it", function()
    -- A chunk whose source lies in the library's directory stands in for cli.lua;
    -- run in a coroutine, nothing outside the library is on the stack, as under wsrun.
    local libdir = assert(package.searchpath("workstream", package.path)):match("^(.*[/\\])")
    local cli = assert(load("local plan_file = ...\nlocal plan = plan_file()\nreturn plan",
                            "@" .. libdir .. "spec_fake_cli.lua"))
    local plan_file = assert(load(table.concat({
      "local ws = require 'workstream'",
      "return ws.plan{",
      "  name = 'rollout', bogus = true,",
      "  blocks = { ws.block{ name = 'canary', sequences = { ws.seq{ name = 's', actions = {",
      "    ws.action{ name = 'a', plugin = 'ws.exec', req = { argv = { 'true' } } } } } } } },",
      "}",
    }, "\n"), "@plan.lua"))
    local ok, err = pcall(coroutine.wrap(cli), plan_file)
    assert.is_false(ok)
    assert.are.equal('plan.lua:4: plan "rollout": unknown field "bogus"', err)
  end)

  it("name the plan file and line for errors in nested constructors", function()
    local chunk = assert(load(table.concat({
      "local ws = ...",
      "return ws.plan{",
      "  name = 'rollout',",
      "  blocks = {",
      "    ws.block{ name = 'canary', concurrency = 0, sequences = {",
      "      ws.sequence{ name = 'web1', actions = {",
      "        ws.action{ name = 'a', plugin = 'ws.exec', req = { argv = { 'true' } } } } } } },",
      "  },",
      "}",
    }, "\n"), "@plan.lua"))
    local ok, err = pcall(chunk, ws)
    assert.is_false(ok)
    assert.are.equal('plan.lua:5: block "canary": concurrency: must be >= 1, got 0', err)
  end)
end)

describe("ws.run", function()
  it("refuses something that is not a plan, at the caller's line", function()
    local err, line = error_of(ws.run, {})
    assert_error_at(err, line, "ws.run: expected a plan (ws.plan{...}), got a table")
    err, line = error_of(ws.run, block())
    assert_error_at(err, line, "ws.run: expected a plan (ws.plan{...}), got a block")
    err, line = error_of(ws.run, nil)
    assert_error_at(err, line, "ws.run: expected a plan (ws.plan{...}), got nil")
  end)

  it("refuses unknown and unsupported options", function()
    local cases = {
      { { clok = "real" }, 'ws.run: opts: unknown field "clok" (did you mean "clock"?)' },
      { { clock = "fast" }, 'ws.run: clock: expected "real" or "virtual", got "fast"' },
      { { signals = "yes" }, "ws.run: signals: expected boolean, got string" },
      { { store = 42 }, "ws.run: store: expected the path of a database, got number" },
      { { registry = {} }, "ws.run: registry: expected a registry (ws.registry()), got a table" },
      { { on_event = "print" }, "ws.run: on_event: expected function, got string" },
    }
    for _, case in ipairs(cases) do
      local p = ws.plan(plan_fields())
      local line, ok, err = getinfo(1, "l").currentline, pcall(ws.run, p, case[1])
      assert.is_false(ok)
      assert_error_at(err, line, case[2])
    end
    local line, ok, err = getinfo(1, "l").currentline, pcall(ws.run, ws.plan(plan_fields()), "real")
    assert.is_false(ok)
    assert_error_at(err, line, "ws.run: opts: expected table, got string")
  end)

  it("runs under the virtual clock", function()
    local p = ws.plan{ name = "virtual", blocks = { ws.block{ name = "b", entrance_delay = "1h", sequences = {
      ws.seq{ name = "s", actions = { ws.action{ name = "t", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } }
    local t0 = os.time()
    local r = ws.run(p, { clock = "virtual" })
    assert.are.equal("completed", r.status)
    assert.is_true(os.time() - t0 < 60)               -- the hour was not waited for
    assert.is_true(r.ended - r.started >= 3600)        -- but it passed on the run's clock
  end)

  it("runs a plan once; a clone runs again", function()
    local p = ws.plan{ name = "once", blocks = { ws.block{ name = "b", sequences = {
      ws.seq{ name = "s", actions = { ws.action{ name = "t", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } }
    local events = 0
    local r = ws.run(p, { clock = "real", on_event = function() events = events + 1 end })
    assert.are.equal("plan", r.type)
    assert.are.equal("completed", r.status)
    assert.is_true(events > 0)
    local line, ok, err = getinfo(1, "l").currentline, pcall(ws.run, p)
    assert.is_false(ok)
    assert_error_at(err, line, 'plan "once" has already run; use ws.clone(plan) for a new run')

    local c = ws.clone(p)
    assert.are.equal("plan", ws.kind(c))
    assert.are_not.equal(p.blocks[1], c.blocks[1])
    assert.are.same(p.blocks[1].sequences[1].actions[1].req, c.blocks[1].sequences[1].actions[1].req)
    local r2 = ws.run(c)
    assert.are.equal("completed", r2.status)
    assert.are_not.equal(r.id, r2.id)
  end)
end)

describe("ws.clone", function()
  it("copies every object and keeps kinds", function()
    local p = ws.plan(plan_fields({ meta = { a = { 1 } } }))
    local c = ws.clone(p)
    assert.are_not.equal(p, c)
    assert.are.same(p.meta, c.meta)
    assert.are_not.equal(p.meta, c.meta)
    local kinds = {}
    for node, path in ws.walk(c) do kinds[#kinds + 1] = ws.kind(node) .. " " .. path end
    assert.are.same({ "plan ", "block canary", "sequence canary/web1", "action canary/web1/restart web1" }, kinds)
  end)

  it("refuses a run result for now and anything else", function()
    local line, ok, err = getinfo(1, "l").currentline, pcall(ws.clone, { type = "plan" })
    assert.is_false(ok)
    assert_error_at(err, line, "ws.clone: expected a plan (ws.plan{...}), got a run result (not supported yet)")
    line, ok, err = getinfo(1, "l").currentline, pcall(ws.clone, 5)
    assert.is_false(ok)
    assert_error_at(err, line, "ws.clone: expected a plan (ws.plan{...}), got number")
  end)
end)
