-- examples/rolling_deploy.lua, tested the way a plan author tests a plan: the
-- plan is loaded from the example file itself (with arguments, as wsrun passes
-- them), its demo plugins are faked with workstream.testing, and it runs on the
-- virtual clock. The ws.exec actions (drain, undrain) run for real, in a
-- temporary state directory.
local ws = require "workstream"
local T = require "workstream.testing"
local H = require "spec.helpers"

local EXAMPLE = "examples/rolling_deploy.lua"
local HOSTS = { "web1", "web2", "web3", "web4", "web5", "web6", "web7" }

local state -- a fresh state directory per test

-- Evaluates the example as wsrun does: args as `...` and in `arg`.
local function load_plan(...)
  local chunk = assert(loadfile(EXAMPLE))
  local saved = _G.arg
  _G.arg = { [0] = EXAMPLE, ... }
  local ok, plan = pcall(chunk, ...)
  _G.arg = saved
  assert(ok, plan)
  assert.are.equal("plan", ws.kind(plan))
  return plan
end

-- The hosts deployed, in call order.
local function hosts_of(calls)
  local hosts = {}
  for i, call in ipairs(calls) do hosts[i] = call.req.host end
  return hosts
end

local function sorted(list)
  local copy = { table.unpack(list) }
  table.sort(copy)
  return copy
end

-- The most sequences of a block in flight at one instant.
local function peak(block)
  local edges = {}
  for _, s in ipairs(block.sequences) do
    if s.started then
      edges[#edges + 1] = { s.started, 1 }
      edges[#edges + 1] = { s.ended, -1 }
    end
  end
  table.sort(edges, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2] -- an end and a start at the same instant do not overlap
  end)
  local now, most = 0, 0
  for _, e in ipairs(edges) do
    now = now + e[2]
    if now > most then most = now end
  end
  return most
end

-- Fakes of the three demo plugins: a deploy takes 30 s and replaces 1.0; the
-- hosts are healthy; a rollback leaves 1.0. Each test changes what it needs.
local function demo_fakes(over)
  over = over or {}
  local fakes = T.fakes()
  return fakes, {
    deploy = fakes:fake("demo.deploy", over.deploy or { default = T.sleep("30s", { previous = "1.0" }) }),
    health = fakes:fake("demo.health", over.health or { default = { healthy = 7, unhealthy = {} } }),
    rollback = fakes:fake("demo.rollback", { default = { version = "1.0" } }),
  }
end

describe("examples/rolling_deploy.lua", function()
  before_each(function() state = H.tmp_path() end)
  after_each(function() H.remove_tree(state) end)

  it("deploys the canary first, then the waves two hosts at a time, without a rollback", function()
    local plan = load_plan(state, "version=2.1")
    local fakes, fake = demo_fakes()
    local result = fakes:run(plan)

    assert.are.equal("completed", result.status, result.reason)
    assert.is_nil(result.reason)
    local deployed = hosts_of(fake.deploy.calls)
    assert.are.equal(7, #deployed)
    assert.are.equal("web1", deployed[1])
    assert.are.same({ "web2", "web3", "web4" }, sorted { deployed[2], deployed[3], deployed[4] })
    assert.are.same({ "web5", "web6", "web7" }, sorted { deployed[5], deployed[6], deployed[7] })
    for _, call in ipairs(fake.deploy.calls) do
      assert.are.equal("2.1", call.req.version)
      assert.are.equal(state, call.req.state)
      assert.are.equal(1, call.attempt)
    end

    local canary, wave1, wave2 = T.find(result, "canary"), T.find(result, "wave 1"), T.find(result, "wave 2")
    assert.is_true(canary.ended <= wave1.started and wave1.ended <= wave2.started)
    assert.are.equal(1, peak(canary))
    assert.are.equal(2, peak(wave1))
    assert.are.equal(2, peak(wave2))
    -- 30 s a deploy: canary 30 s, then each wave 60 s (two rounds); the real
    -- drain and undrain commands add their real milliseconds.
    local took = result.ended - result.started
    assert.is_true(took >= 150 and took < 155, took)

    assert.are.equal("completed", T.find(result, "canary/post_checks").status)
    assert.are.equal("completed", T.find(result, "post_checks").status)
    assert.are.equal("not_started", T.find(result, "deferred_actions/rollback").status)
    assert.are.equal(0, #fake.rollback.calls)
    for _, host in ipairs(HOSTS) do -- the real drain and undrain ran
      assert.is_truthy(io.open(state .. "/" .. host .. "/serving"))
    end
  end)

  it("rolls back when the canary fails, and never starts the waves", function()
    local plan = load_plan(state)
    local fakes, fake = demo_fakes{ deploy = {
      responses = { T.fail_permanent("web1: myapp 2.0 did not come up", "not_up") },
      default = { previous = "1.0" },
    } }
    local result = fakes:run(plan)

    assert.are.equal("failed", result.status)
    assert.are.equal("block", result.reason)
    assert.are.equal("failed", T.find(result, "canary").status)
    assert.are.same({ msg = "web1: myapp 2.0 did not come up", code = "not_up", permanent = true },
                    T.find(result, "canary/web1/deploy").err)
    assert.are.equal("not_started", T.find(result, "canary/web1/undrain").status)
    assert.are.same({ canary = "failed", ["wave 1"] = "not_started", ["wave 2"] = "not_started" },
                    T.statuses(result))
    assert.are.same({ "web1" }, hosts_of(fake.deploy.calls))
    assert.are.equal("not_started", T.find(result, "post_checks").status)

    assert.are.equal("completed", T.find(result, "deferred_actions/rollback").status)
    assert.are.same(HOSTS, hosts_of(fake.rollback.calls)) -- every host, in order
    for _, call in ipairs(fake.rollback.calls) do assert.are.equal("2.0", call.req.version) end
  end)

  it("stops starting hosts as soon as the error budget check fails, then rolls back", function()
    local plan = load_plan(state)
    local deploy -- the deploy fake, to see how far the rollout got
    local fakes, fake = demo_fakes{ health = { default = function(req)
      -- The continuous check (the only one with a budget) sees web3 go down.
      if req.max_unhealthy == 1 and deploy and #deploy.calls >= 3 then
        return T.fail("2 of 7 hosts unhealthy (web2 down, web3 down); at most 1 allowed")
      end
      return { healthy = 7, unhealthy = {} }
    end } }
    deploy = fake.deploy
    local failed_at
    local result = fakes:run(plan, { on_event = function(ev)
      if ev.type == "state" and ev.object == "checks" and ev.path == "cont_checks"
         and ev.status == "failed" then
        failed_at = ev.time
      end
    end })

    assert.are.equal("failed", result.status)
    assert.are.equal("cont_check", result.reason)
    assert.is_number(failed_at)
    local wave1 = T.find(result, "wave 1")
    -- web2 and web3 were in flight: they finish (stop = "sequence"); web4 never starts.
    assert.are.same({ web2 = "completed", web3 = "completed", web4 = "not_started" },
                    T.statuses(result, "wave 1"))
    assert.is_true(failed_at < T.find(result, "wave 1/web2").ended, "noticed while the wave ran")
    assert.are.equal("stopped", wave1.status)
    assert.are.equal("not_started", T.find(result, "wave 2").status)
    local deployed = hosts_of(deploy.calls)
    assert.are.equal(3, #deployed)
    assert.are.equal("web1", deployed[1])
    assert.are.same({ "web2", "web3" }, sorted { deployed[2], deployed[3] })
    assert.are.equal("not_started", T.find(result, "post_checks").status)
    assert.are.equal("completed", T.find(result, "deferred_actions/rollback").status)
    assert.are.equal(7, #fake.rollback.calls)
  end)

  it("keeps the demo plugins' types: a bad scripted response fails the deploy", function()
    local plan = load_plan(state)
    local fakes = demo_fakes{ deploy = { default = { previous = 1.0 } } }
    local result = fakes:run(plan)
    local err = T.find(result, "canary/web1/deploy").err
    assert.is_true(err.permanent)
    assert.matches("resp.previous: expected string", err.msg)
    assert.are.equal("block", result.reason)
  end)

  it("registers the demo plugins once, however often the example is loaded", function()
    load_plan(state)
    load_plan(state, "fail=web3")
    assert.is_truthy(io.open(state .. "/web3/broken"))
    load_plan(state)
    assert.is_nil(io.open(state .. "/web3/broken"))
  end)

  it("refuses arguments it does not know", function()
    local chunk = assert(loadfile(EXAMPLE))
    local ok, err = pcall(chunk, state, "fail=web9")
    assert.is_false(ok)
    assert.matches('no host "web9"', err)
    ok, err = pcall(chunk, state, "colour=red")
    assert.is_false(ok)
    assert.matches('unexpected argument "colour=red"', err)
  end)
end)
