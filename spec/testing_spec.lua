-- workstream.testing: fakes that keep the real plugins' types, scripted answers,
-- recorded calls, the virtual clock, and path look-ups into results.
local ws = require "workstream"
local T = require "workstream.testing"
local plugins = require "workstream.plugins"
local H = require "spec.helpers"
local t = ws.types

local next_line, assert_error_at, fails = H.next_line, H.assert_error_at, H.fails

-- The real plugins being faked. Their execute must never run under fakes.
local function never() error("the real plugin ran") end
ws.plugin{ name = "spec.testing.deploy", request = { host = t.string, version = t.default(t.string, "2.0") },
           response = { previous = t.string }, execute = never }
ws.plugin{ name = "spec.testing.health", check = true, request = { host = t.string }, execute = never }
ws.plugin{ name = "spec.testing.notify", request = { msg = t.string }, execute = never }

local DEPLOY, HEALTH, NOTIFY = "spec.testing.deploy", "spec.testing.health", "spec.testing.notify"

local function deploy(host, extra)
  local a = { name = "deploy", plugin = DEPLOY, req = { host = host } }
  for k, v in pairs(extra or {}) do a[k] = v end
  return ws.action(a)
end

-- A plan deploying to the hosts one at a time (each host a sequence of block "b").
local function plan_for(hosts, extra, block)
  local seqs = {}
  for i, host in ipairs(hosts) do seqs[i] = ws.seq{ name = host, actions = { deploy(host, extra) } } end
  local b = { name = "b", sequences = seqs }
  for k, v in pairs(block or {}) do b[k] = v end
  return ws.plan{ name = "p", blocks = { ws.block(b) } }
end

describe("workstream.testing", function()
  describe("fakes", function()
    it("answer with the scripted responses in call order, then the default", function()
      local fakes = T.fakes()
      local fake = fakes:fake(DEPLOY, {
        responses = { { previous = "1.1" }, { previous = "1.2" } },
        default = { previous = "1.0" },
      })
      local r = fakes:run(plan_for { "web1", "web2", "web3", "web4" })
      assert.are.equal("completed", r.status)
      assert.are.same({ "1.1", "1.2", "1.0", "1.0" }, {
        T.find(r, "b/web1/deploy").resp.previous, T.find(r, "b/web2/deploy").resp.previous,
        T.find(r, "b/web3/deploy").resp.previous, T.find(r, "b/web4/deploy").resp.previous,
      })
      assert.are.equal(4, #fake.calls)
    end)

    it("record every call: request (defaults filled in), attempt, action id, path and time", function()
      local fakes = T.fakes()
      local fake = fakes:fake(DEPLOY, { responses = { T.fail("flaky"), { previous = "1.0" }, { previous = "1.0" }, T.fail("flaky") },
                                        default = { previous = "1.0" } })
      local r = fakes:run(plan_for({ "web1", "web2" }, { retries = 1, retry = { initial = 10, jitter = 0 } }))
      assert.are.equal("completed", r.status)
      assert.are.equal(3, #fake.calls)
      local first, retry, second = fake.calls[1], fake.calls[2], fake.calls[3]
      local a1, a2 = T.find(r, "b/web1/deploy"), T.find(r, "b/web2/deploy")
      assert.are.same({ host = "web1", version = "2.0" }, first.req)
      assert.are.same({ 1, a1.id, "b/web1/deploy", a1.attempts[1].started },
                      { first.attempt, first.action_id, first.path, first.time })
      assert.are.same({ 2, a1.id, "b/web1/deploy", a1.attempts[2].started },
                      { retry.attempt, retry.action_id, retry.path, retry.time })
      assert.are.equal(10, retry.time - first.time) -- the backoff, on the virtual clock
      assert.are.same({ 1, a2.id, "web2" }, { second.attempt, second.action_id, second.req.host })

      -- The same fakes run again: the new calls are timed too.
      local again = fakes:run(plan_for({ "web9" }, { retries = 1, retry = { initial = 10, jitter = 0 } }))
      assert.are.equal(5, #fake.calls)
      local a9 = T.find(again, "b/web9/deploy")
      assert.are.same({ a9.attempts[1].started, a9.attempts[2].started }, { fake.calls[4].time, fake.calls[5].time })
    end)

    it("time each run of a continuous check", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { default = T.sleep(25, { previous = "1.0" }) })
      local health = fakes:fake(HEALTH)
      local r = fakes:run(ws.plan{
        name = "p",
        cont_checks = ws.checks{ delay = "10s", actions = { ws.action{ name = "up", plugin = HEALTH, req = { host = "web1" } } } },
        blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "web1", actions = { deploy("web1") } } } } },
      })
      local times = {}
      for i, call in ipairs(health.calls) do
        assert.are.equal("cont_checks/up", call.path)
        times[i] = call.time - r.started
      end
      assert.are.same({ 0, 10, 20 }, times)
    end)

    it("fail with T.fail (retried) and T.fail_permanent (not retried), message and code kept", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { responses = { T.fail("busy", "E_BUSY"), T.fail_permanent("bad version", "E_VERSION") } })
      local r = fakes:run(plan_for({ "web1" }, { retries = 5, retry = ws.retry.fast }))
      local a = T.find(r, "b/web1/deploy")
      assert.are.equal("failed", a.status)
      assert.are.equal(2, #a.attempts)
      assert.are.same({ msg = "busy", code = "E_BUSY", permanent = false }, a.attempts[1].err)
      assert.are.same({ msg = "bad version", code = "E_VERSION", permanent = true }, a.err)
      assert.are.equal("block", r.reason)
    end)

    it("take a function(req, ctx) as the default: it returns an answer or raises", function()
      local fakes = T.fakes()
      local seen = {}
      fakes:fake(DEPLOY, { default = function(req, ctx)
        seen[#seen + 1] = ctx.attempt
        if req.host == "web2" then return T.fail_permanent("web2 is down") end
        if req.host == "web3" then error("web3 exploded", 0) end
        return { previous = "1.0 on " .. req.host }
      end })
      local r = fakes:run(plan_for({ "web1", "web2", "web3" }, nil, { tolerated_failures = -1 }))
      assert.are.equal("1.0 on web1", T.find(r, "b/web1/deploy").resp.previous)
      assert.are.equal("web2 is down", T.find(r, "b/web2/deploy").err.msg)
      assert.are.equal("web3 exploded", T.find(r, "b/web3/deploy").err.msg)
      assert.are.same({ 1, 1, 1 }, seen)
    end)

    it("answer {} to every call when nothing is scripted", function()
      local fakes = T.fakes()
      local fake = fakes:fake(NOTIFY)
      local r = fakes:run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s", actions = {
          ws.action{ name = "one", plugin = NOTIFY, req = { msg = "a" } },
          ws.action{ name = "two", plugin = NOTIFY, req = { msg = "b" } },
        } } } } } })
      assert.are.equal("completed", r.status)
      assert.are.same({}, T.find(r, "b/s/two").resp)
      assert.are.same({ "a", "b" }, { fake.calls[1].req.msg, fake.calls[2].req.msg })
    end)

    it("fail a call past the script when there is no default", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { responses = { { previous = "1.0" } } })
      local r = fakes:run(plan_for({ "web1", "web2" }, { retries = 3 }))
      assert.are.equal("completed", T.find(r, "b/web1/deploy").status)
      local a = T.find(r, "b/web2/deploy")
      assert.are.equal(1, #a.attempts)
      assert.is_true(a.err.permanent)
      assert.are.equal("fake_exhausted", a.err.code)
      assert.matches('fake "spec.testing.deploy": call 2: the 1 scripted responses are used up', a.err.msg)
    end)

    it("wait with T.sleep on the virtual clock: long enough, the attempt times out", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, {
        responses = { T.sleep("1h"), T.sleep(5, { previous = "1.5" }), T.sleep(1) },
        default = { previous = "1.0" },
      })
      local started = os.clock()
      local r = fakes:run(plan_for({ "web1", "web2", "web3" }, { timeout = "10s" }, { tolerated_failures = 1 }))
      assert.is_true(os.clock() - started < 1)
      local a1, a2, a3 = T.find(r, "b/web1/deploy"), T.find(r, "b/web2/deploy"), T.find(r, "b/web3/deploy")
      assert.is_true(a1.attempts[1].timed_out)
      assert.are.equal(10, a1.ended - a1.started)
      assert.are.equal("1.5", a2.resp.previous)
      assert.are.equal(5, a2.ended - a2.started)
      assert.are.equal("1.0", a3.resp.previous) -- after the sleep: the default
      assert.are.equal(1, a3.ended - a3.started)
      assert.are.equal(16, r.ended - r.started)
    end)

    it("run on the virtual clock unless told otherwise, passing ws.run's options on", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { default = T.sleep("2h", { previous = "1.0" }) })
      local events = 0
      local r = fakes:run(plan_for({ "web1" }, { timeout = "3h" }), { on_event = function() events = events + 1 end })
      assert.are.equal("completed", r.status)
      assert.are.equal(7200, r.ended - r.started)
      assert.is_true(events > 0)
      local real = fakes:run(plan_for({ "web1" }, { timeout = "1s" }), { clock = "real" })
      assert.is_true(T.find(real, "b/web1/deploy").ended - real.started < 2)
      assert.is_true(T.find(real, "b/web1/deploy").attempts[1].timed_out) -- 2 h is real now
    end)

    it("let built-in plugins run for real", function()
      local fakes = T.fakes()
      assert.are.equal(fakes, fakes:real("ws.sleep"))
      local r = fakes:run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s", actions = { ws.action{ name = "wait", plugin = "ws.sleep", req = { seconds = 60 }, timeout = "2m" } } },
      } } } })
      assert.are.equal("completed", r.status)
      assert.are.equal(60, r.ended - r.started)
    end)
  end)

  describe("fakes keep the real plugin's types", function()
    it("so a plan with a bad request is still refused, at its line", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { default = { previous = "1.0" } })
      local line = next_line()
      local err = fails(pcall(ws.action, { name = "deploy", plugin = DEPLOY, req = { host = 1 } }))
      assert_error_at(err, line, 'action "deploy": req.host: expected string, got integer')
      line = next_line()
      err = fails(pcall(ws.seq, { name = "s", actions = { ws.action{ name = "h", plugin = HEALTH, req = { host = "x" } } } }))
      assert_error_at(err, line, 'uses check plugin "spec.testing.health"')
    end)

    it("so a scripted response of the wrong type fails the attempt, permanently", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { responses = { { previous = 1.1 }, { previous = "1.0", extra = true } } })
      local r = fakes:run(plan_for({ "web1", "web2" }, { retries = 2 }, { tolerated_failures = -1 }))
      local a1, a2 = T.find(r, "b/web1/deploy"), T.find(r, "b/web2/deploy")
      assert.are.equal(1, #a1.attempts)
      assert.is_true(a1.err.permanent)
      assert.matches("resp.previous: expected string, got number", a1.err.msg)
      assert.matches('unknown field "extra"', a2.err.msg)
    end)

    it("and its check flag: a fake check runs in checks", function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { default = { previous = "1.0" } })
      local health = fakes:fake(HEALTH, { responses = { T.fail("web1 down") } })
      local r = fakes:run(ws.plan{
        name = "p",
        pre_checks = { ws.action{ name = "up", plugin = HEALTH, req = { host = "web1" } } },
        blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "web1", actions = { deploy("web1") } } } } },
      })
      assert.are.equal("pre_check", r.reason)
      assert.are.equal("pre_checks/up", health.calls[1].path)
    end)
  end)

  it("fake a built-in plugin, keeping its types", function()
    local fakes = T.fakes()
    local exec = fakes:fake("ws.exec", { default = { code = 0, signal = 0, stdout = "faked\n", stderr = "",
      stdout_truncated = false, stderr_truncated = false, duration = 0 } })
    local plan = ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s",
      actions = { ws.action{ name = "rm", plugin = "ws.exec", req = { argv = { "rm", "-rf", "/" } } } } } } } } }
    local r = fakes:run(plan)
    assert.are.equal("completed", r.status)
    assert.are.equal("faked\n", T.find(r, "b/s/rm").resp.stdout)
    assert.are.same({ "rm", "-rf", "/" }, exec.calls[1].req.argv)
    local bad = T.fakes()
    bad:fake("ws.exec", { default = { code = "zero" } })
    local plan2 = ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s",
      actions = { ws.action{ name = "x", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } }
    local r2 = bad:run(plan2)
    assert.matches("resp.code: expected integer, got string", T.find(r2, "b/s/x").err.msg)
  end)

  describe("refuse", function()
    it("to fake a plugin that is not registered, naming it", function()
      local fakes = T.fakes()
      local line = next_line()
      local err = fails(pcall(fakes.fake, fakes, "acme.nowhere", {}))
      assert_error_at(err, line, 'fakes:fake("acme.nowhere"): no plugin "acme.nowhere" is registered')
    end)

    it("to fake the same plugin twice", function()
      local fakes = T.fakes()
      local line, err
      fakes:fake(NOTIFY)
      line = next_line()
      err = fails(pcall(fakes.fake, fakes, NOTIFY))
      assert_error_at(err, line, '"spec.testing.notify" is already faked')
      line = next_line()
      err = fails(pcall(fakes.real, fakes, NOTIFY))
      assert_error_at(err, line, '"spec.testing.notify" is already faked')
    end)

    it("bad options and script entries", function()
      local fakes = T.fakes()
      local cases = {
        { { respones = {} }, 'unknown option "respones" (expected responses or default)' },
        { { responses = "x" }, "responses: expected a list of script entries, got string" },
        { { responses = { { previous = "1" }, "ok" } }, "responses[2]: expected a response table, T.fail(...)" },
        { { responses = { [2] = {} } }, "responses[1]: missing (the list has a hole)" },
        { { default = 42 }, "default: expected a response table" },
        { "x", "expected a table of options { responses=, default= }, got string" },
      }
      for _, case in ipairs(cases) do
        local line = next_line()
        local err = fails(pcall(fakes.fake, fakes, DEPLOY, case[1]))
        assert_error_at(err, line, 'fakes:fake("spec.testing.deploy"): ' .. case[2])
      end
      local line = next_line()
      local err = fails(pcall(T.sleep, "soon"))
      assert_error_at(err, line, 'T.sleep: seconds: invalid duration "soon"')
      line = next_line()
      err = fails(pcall(T.fail, 42))
      assert_error_at(err, line, "T.fail: msg: expected string, got number")
      line = next_line()
      err = fails(pcall(fakes.run, fakes, plan_for { "web1" }, { registry = ws.registry() }))
      assert_error_at(err, line, "fakes:run: opts: registry: fakes:run runs against the fakes registry")
    end)

    it("to run a plan with a plugin the fakes do not have, pointing at fakes:fake and fakes:real", function()
      local fakes = T.fakes()
      local plan = plan_for { "web1", "web2" }
      local line = next_line()
      local err = fails(pcall(fakes.run, fakes, plan))
      assert_error_at(err, line, 'fakes:run: plan "p": unknown plugin "spec.testing.deploy" in the fakes registry '
                                 .. '(used at "b/web1/deploy"); fake it with fakes:fake("spec.testing.deploy", {...}) '
                                 .. 'or let the real one run with fakes:real("spec.testing.deploy")')
      local two = ws.plan{ name = "two", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
        deploy("web1"), ws.action{ name = "tell", plugin = NOTIFY, req = { msg = "done" } } } } } } } }
      line = next_line()
      err = fails(pcall(fakes.run, fakes, two))
      assert_error_at(err, line, 'fakes:run: plan "two": unknown plugins in the fakes registry: '
                                 .. '"spec.testing.deploy" (used at "b/s/deploy"), "spec.testing.notify" (used at "b/s/tell"); '
                                 .. "fake each with fakes:fake(name, {...}) or let the real ones run with fakes:real(name)")
      -- Nothing ran: the same plan runs once the plugin is faked.
      fakes:fake(DEPLOY, { default = { previous = "1.0" } })
      assert.are.equal("completed", fakes:run(plan).status)
    end)
  end)

  describe("fakes:real", function()
    local real_spec = plugins.spec
    after_each(function() plugins.spec = real_spec end)

    it("lets a real Lua plugin run, given the registered specs (plugins.spec)", function()
      local ran = {}
      local spec = { name = "spec.testing.real", request = { x = t.integer }, response = { y = t.integer },
                     execute = function(_, req) ran[#ran + 1] = req.x return { y = req.x * 2 } end }
      ws.plugin(spec)
      -- Stands for workstream.plugins keeping the specs it registered.
      plugins.spec = function(name) if name == spec.name then return spec end end
      local fakes = T.fakes()
      assert.are.equal(fakes, fakes:real("spec.testing.real"))
      local r = fakes:run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s", actions = { ws.action{ name = "double", plugin = "spec.testing.real", req = { x = 21 } } } },
      } } } })
      assert.are.equal(42, T.find(r, "b/s/double").resp.y)
      assert.are.same({ 21 }, ran)
      local line = next_line()
      local err = fails(pcall(fakes.fake, fakes, "spec.testing.real"))
      assert_error_at(err, line, '"spec.testing.real" is already let through (fakes:real at ')
      line = next_line()
      err = fails(pcall(fakes.real, fakes, DEPLOY)) -- plugins.spec knows only the one above
      assert_error_at(err, line, 'fakes:real("spec.testing.deploy"): cannot let "spec.testing.deploy" through: '
                                 .. "it is not a Lua plugin registered with ws.plugin")
    end)

    it("says so when workstream.plugins does not keep the specs", function()
      plugins.spec = nil
      local fakes = T.fakes()
      local line = next_line()
      local err = fails(pcall(fakes.real, fakes, DEPLOY))
      assert_error_at(err, line, "does not keep the specs of the plugins it registers; fake it with fakes:fake instead")
    end)
  end)

  describe("T.find", function()
    local result
    setup(function()
      local fakes = T.fakes()
      fakes:fake(DEPLOY, { default = { previous = "1.0" } })
      result = fakes:run(ws.plan{ name = "p", blocks = {
        ws.block{ name = "canary", sequences = { ws.seq{ name = "web1", actions = { deploy("web1") } } } },
        ws.block{ name = "rest", sequences = {
          ws.seq{ name = "web2", actions = { deploy("web2") } },
          ws.seq{ name = "twin", actions = { deploy("a") } },
          ws.seq{ name = "twin", actions = { deploy("b") } },
        } },
      } })
    end)

    it("finds a node by its ws.walk path, and the plan at \"\"", function()
      local a = T.find(result, "canary/web1/deploy")
      assert.are.equal("action", a.type)
      assert.are.equal("web1", a.req.host)
      assert.are.equal(result, T.find(result, ""))
      assert.are.equal("block", T.find(result, "rest").type)
    end)

    it("lists close matches when nothing is there", function()
      local line = next_line()
      local err = fails(pcall(T.find, result, "canary/web1/deplyo"))
      assert_error_at(err, line, 'T.find: no object at "canary/web1/deplyo"; close matches: "canary/web1/deploy"')
      line = next_line()
      err = fails(pcall(T.find, result, "canary/web2/deploy"))
      assert_error_at(err, line, 'close matches: "canary/web1/deploy", "rest/web2/deploy"')
      line = next_line()
      err = fails(pcall(T.find, result, "zzz"))
      assert_error_at(err, line, 'T.find: no object at "zzz"; the top-level paths are "canary", "rest"')
    end)

    it("refuses an ambiguous path", function()
      local line = next_line()
      local err = fails(pcall(T.find, result, "rest/twin"))
      assert_error_at(err, line, 'T.find: "rest/twin" is ambiguous: 2 objects have that path '
                                 .. '(sequence "twin", sequence "twin")')
      line = next_line()
      err = fails(pcall(T.find, result, 42))
      assert_error_at(err, line, "T.find: path: expected a string")
      line = next_line()
      err = fails(pcall(T.find, { status = "completed" }, "x"))
      assert_error_at(err, line, "ws.walk: expected a run result (from ws.run) or a plan, got a table")
    end)

    it("T.statuses gives the statuses of a node's children by name", function()
      assert.are.same({ canary = "completed", rest = "completed" }, T.statuses(result))
      assert.are.same({ web1 = "completed" }, T.statuses(result, "canary"))
      assert.are.same({ deploy = "completed" }, T.statuses(result, "canary/web1"))
      local line = next_line()
      local err = fails(pcall(T.statuses, result, "rest"))
      assert_error_at(err, line, 'T.statuses: block "rest" has two sequences named "twin"')
    end)
  end)
end)
