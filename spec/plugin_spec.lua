-- Lua plugins: ws.plugin, their coroutines on the engine's loop, the yielding
-- primitives, errors, timeouts and the type checks at the boundary.
local ws = require "workstream"
local t = ws.types

local n = 0
local function unique(name) n = n + 1; return ("spec.%s.%d"):format(name, n) end

local function run_one(plugin, action)
  action = action or {}
  action.name = action.name or "a"
  action.plugin = plugin
  local plan = ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
    ws.seq{ name = "s", actions = { ws.action(action) } } } } } }
  local r = ws.run(plan, { clock = "virtual" })
  return r.blocks[1].sequences[1].actions[1], r
end

describe("ws.plugin", function()
  it("runs execute in a coroutine with ctx and the checked request, defaults filled", function()
    local seen
    local name = unique("hello")
    ws.plugin{
      name = name,
      request = { who = t.string, times = t.default(t.integer, 2) },
      response = { greeting = t.string },
      execute = function(ctx, req)
        seen = { ctx = ctx, req = req }
        ctx.log("greeting", req.who)
        return { greeting = ("hello %s x%d"):format(req.who, req.times) }
      end,
    }
    local a, r = run_one(name, { req = { who = "ops" } })
    assert.are.equal("completed", a.status)
    assert.are.equal("hello ops x2", a.resp.greeting)
    assert.are.equal(r.id, seen.ctx.plan_id)
    assert.are.equal(a.id, seen.ctx.action_id)
    assert.are.equal(1, seen.ctx.attempt)
    assert.are.equal(a.attempts[1].started + 30, seen.ctx.deadline)
    assert.are.same({ "greeting ops" }, a.attempts[1].log)
  end)

  it("closes the coroutine of a timed-out attempt: <close> runs each time", function()
    local closed = 0
    local name = unique("hang")
    ws.plugin{ name = name, execute = function()
      local guard <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
      ws.sleep("1h")
    end }
    local a = run_one(name, { timeout = "2s", retries = 1, retry = { initial = 1, jitter = 0 } })
    assert.are.equal(2, #a.attempts)
    assert.is_true(a.attempts[1].timed_out)
    assert.is_true(a.attempts[2].timed_out)
    assert.are.equal(2, closed)
  end)

  it("retries plain errors, stops at ws.permanent, keeps the plugin's message and code", function()
    local calls = 0
    local name = unique("perm")
    ws.plugin{ name = name, execute = function(ctx)
      calls = calls + 1
      if ctx.attempt == 1 then error("try again") end
      error(ws.permanent("bad version", "E_VERSION"))
    end }
    local a = run_one(name, { retries = 5, retry = ws.retry.fast })
    assert.are.equal(2, calls)
    assert.are.equal("failed", a.status)
    assert.matches("plugin_spec.lua:%d+: try again", a.attempts[1].err.msg)
    assert.is_false(a.attempts[1].err.permanent)
    assert.are.same({ msg = "bad version", code = "E_VERSION", permanent = true }, a.err)
  end)

  it("turns non-string errors into readable messages", function()
    local name = unique("odd")
    ws.plugin{ name = name, execute = function(ctx)
      if ctx.attempt == 1 then error({ msg = "table error", code = "T" }) end
      if ctx.attempt == 2 then error(nil) end
      error(42)
    end }
    local a = run_one(name, { retries = 2, retry = ws.retry.fast })
    assert.are.equal("table error", a.attempts[1].err.msg)
    assert.are.equal("T", a.attempts[1].err.code)
    assert.matches("no message", a.attempts[2].err.msg)
    assert.matches("42", a.attempts[3].err.msg)
  end)

  it("reads error objects without running their metamethods", function()
    local name = unique("evil")
    ws.plugin{ name = name, execute = function()
      error(setmetatable({ msg = "raw message" }, { __tostring = function() error("boom in __tostring") end,
                                                     __index = function() error("boom in __index") end }))
    end }
    local a = run_one(name)
    assert.are.equal("raw message", a.err.msg)
    local name2 = unique("evil2")
    ws.plugin{ name = name2, execute = function()
      error(setmetatable({}, { __tostring = function() error("boom") end }))
    end }
    assert.matches("without a msg field", run_one(name2).err.msg)
  end)

  it("logs an error raised by a <close> handler when the attempt is cut short", function()
    local name = unique("badclose")
    ws.plugin{ name = name, execute = function()
      local guard <close> = setmetatable({}, { __close = function() error("cleanup failed") end })
      ws.sleep("1h")
    end }
    local a = run_one(name, { timeout = "1s" })
    assert.is_true(a.attempts[1].timed_out)
    assert.matches("error in a <close> handler: .*cleanup failed", table.concat(a.attempts[1].log or {}, "\n"))
  end)

  it("does not stop time when a plugin polls with zero waits on the virtual clock", function()
    local name = unique("poll")
    ws.plugin{ name = name, execute = function() while true do ws.sleep(0) end end }
    local a = run_one(name, { timeout = "2s" })
    assert.is_true(a.attempts[1].timed_out)
  end)

  it("refuses table keys that cannot cross to the engine", function()
    local name = unique("keys")
    ws.plugin{ name = name, request = { m = t.map(t.string) }, execute = function() end }
    local ok, err = pcall(ws.action, { name = "x", plugin = name, req = { m = { ["\xff"] = "v" } } })
    assert.is_false(ok)
    assert.matches("not valid UTF%-8", err)
    ok, err = pcall(ws.action, { name = "x", plugin = name, req = { m = { ["a\0b"] = "v" } } })
    assert.matches("NUL", err)
  end)

  it("fails an attempt permanently on a response of the wrong type", function()
    local name = unique("bad_resp")
    ws.plugin{ name = name, response = { version = t.string },
               execute = function() return { version = 3 } end }
    local a = run_one(name, { retries = 3 })
    assert.are.equal(1, #a.attempts)
    assert.is_true(a.err.permanent)
    assert.matches("resp.version: expected string, got integer", a.err.msg)
  end)

  it("stops a plugin that never yields when its timeout passes", function()
    local name = unique("spin")
    ws.plugin{ name = name, execute = function()
      while true do pcall(function() while true do end end) end
    end }
    local a = run_one(name, { timeout = 0.2 })
    assert.are.equal("failed", a.status)
    assert.is_true(a.attempts[1].timed_out)
    assert.matches("without yielding", a.err.msg)
  end)

  it("refuses to yield where it cannot, with a clear error", function()
    local name = unique("meta")
    ws.plugin{ name = name, execute = function()
      -- a comparator called by C (table.sort) cannot yield
      table.sort({ 3, 1, 2 }, function(x, y) ws.sleep(1) return x < y end)
    end }
    local a = run_one(name)
    assert.matches("ws.sleep can only be called by a plugin's execute, where it can yield", a.err.msg)
    local name2 = unique("selfyield")
    ws.plugin{ name = name2, execute = function() coroutine.yield() end }
    local b = run_one(name2)
    assert.matches("yielded outside ws.sleep", b.err.msg)
  end)

  it("calls other plugins with ws.call and runs commands with ws.exec", function()
    local name = unique("caller")
    ws.plugin{ name = name, response = { slept = t.number, code = t.integer, out = t.string },
      execute = function()
        local s = ws.call("ws.sleep", { seconds = 5 })
        local r = ws.exec{ argv = { "sh", "-c", "echo out; exit 7" } }
        local ok, err = pcall(ws.call, "ws.exec", { argv = { "false" } })
        assert(not ok and err.code == "exit_code", "ws.call raises the plugin's error")
        return { slept = s.slept, code = r.code, out = r.stdout }
      end }
    local a = run_one(name)
    assert.are.equal("completed", a.status, a.err and a.err.msg)
    assert.are.same({ slept = 5, code = 7, out = "out\n" }, a.resp)
  end)

  it("calls Lua plugins from Lua plugins, checking the request at the call", function()
    local inner, outer = unique("inner"), unique("outer")
    ws.plugin{ name = inner, request = { x = t.integer }, response = { y = t.integer },
               execute = function(_, req) ws.sleep(1); return { y = req.x * 2 } end }
    ws.plugin{ name = outer, response = { z = t.integer }, execute = function()
      local a = ws.call(inner, { x = 3 })
      local ok, err = pcall(ws.call, inner, { x = "three" })
      assert(not ok and tostring(err):find("req.x: expected integer"), tostring(err))
      return { z = a.y + 1 }
    end }
    local a, r = run_one(outer)
    assert.are.equal("completed", a.status, a.err and a.err.msg)
    assert.are.equal(7, a.resp.z)
    assert.are.equal(1, r.ended - r.started) -- the inner sleep, on the virtual clock
  end)

  it("checks requests at construction, at the caller's line", function()
    local name = unique("typed")
    ws.plugin{ name = name, request = { port = t.integer, tags = t.optional(t.list(t.string)) },
               execute = function() end }
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(ws.action, { name = "x", plugin = name, req = { port = 22, tags = { "a", 2 } } })
    assert.is_false(ok)
    assert.matches("plugin_spec.lua:" .. line .. ': action "x": req.tags%[2%]: expected string, got integer', err)
    ok, err = pcall(ws.action, { name = "x", plugin = name, req = { port = "22" } })
    assert.matches("req.port: expected integer, got string", err)
    ok, err = pcall(ws.action, { name = "x", plugin = name, req = { port = 1, colour = "red" } })
    assert.matches('unknown field "colour"', err)
  end)

  it("runs validate and init", function()
    local name = unique("validated")
    ws.plugin{ name = name, request = { version = t.string },
               validate = function(req) if not req.version:match("^%d") then error("version must start with a digit") end end,
               execute = function() end }
    local ok, err = pcall(ws.action, { name = "x", plugin = name, req = { version = "latest" } })
    assert.is_false(ok)
    assert.matches("version must start with a digit", err)
    ok, err = pcall(ws.plugin, { name = unique("unfit"), init = function() error("needs /opt/tool") end,
                                  execute = function() end })
    assert.is_false(ok)
    assert.matches('refused to load: .*needs /opt/tool', err)
  end)

  it("rejects duplicate names and malformed specs", function()
    local name = unique("dup")
    ws.plugin{ name = name, execute = function() end }
    local ok, err = pcall(ws.plugin, { name = name, execute = function() end })
    assert.matches("already registered", err)
    ok, err = pcall(ws.plugin, { name = unique("noexec") })
    assert.matches("execute: expected a function", err)
    ok, err = pcall(ws.plugin, { name = unique("badtype"), request = { x = 5 }, execute = function() end })
    assert.matches("request", err)
  end)

  it("lets check plugins run in checks, and gates the plan on them", function()
    local healthy = true
    local name = unique("health")
    ws.plugin{ name = name, check = true, execute = function() if not healthy then error("unhealthy") end end }
    local plan = ws.plan{
      name = "p",
      pre_checks = { ws.action{ name = "healthy?", plugin = name } },
      blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
        ws.action{ name = "work", plugin = "ws.sleep", req = { seconds = 1 } } } } } } },
    }
    healthy = false
    local r = ws.run(plan, { clock = "virtual" })
    assert.are.equal("failed", r.status)
    assert.are.equal("pre_check", r.reason)
    assert.are.equal("not_started", r.blocks[1].status)
  end)
end)
