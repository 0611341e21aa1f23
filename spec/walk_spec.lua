-- Specs for ws.walk: every object of a run result, parents before children, in the
-- documented order, with "block/sequence/action" paths. The results here are
-- built by hand in the shape core.run returns (plain tables, no metatables).

local ws = require "workstream"

local n = 0
local function id()
  n = n + 1
  return ("0190c0de-0000-7000-8000-%012d"):format(n)
end

local function state(t, status)
  t.id = id()
  t.status = status or "completed"
  t.started, t.ended = 1700000000.25, 1700000001.5
  return t
end

local function action(name, status)
  local a = state({ type = "action", name = name, plugin = "ws.exec", req = { argv = { name } },
                    timeout = 30, retries = 0, attempts = {} }, status)
  a.attempts[1] = { started = a.started, ended = a.ended, timed_out = false, resp = { code = 0 } }
  a.resp = a.attempts[1].resp
  return a
end

local function checks(kind, ...)
  return state({ type = "checks", kind = kind, delay = 30, actions = { ... } })
end

local function sequence(name, ...)
  return state({ type = "sequence", name = name, actions = { ... } })
end

local function block(t)
  t.type = "block"
  t.concurrency, t.tolerated_failures = t.concurrency or 1, t.tolerated_failures or 0
  return state(t)
end

local function batch(name, when, status, ...)
  return state({ type = "batch", name = name, when = when, fail_plan = false, actions = { ... } }, status)
end

-- A result with every part filled in.
local function full_result()
  return state({
    type = "plan", name = "rollout", descr = "web fleet", group = "web",
    bypass_checks = checks("bypass", action("already done", "failed")),
    pre_checks = checks("pre", action("healthy"), action("capacity")),
    cont_checks = checks("cont", action("alarms")),
    blocks = {
      block{
        name = "canary",
        bypass_checks = checks("bypass", action("canary done", "failed")),
        pre_checks = checks("pre", action("drained")),
        cont_checks = checks("cont", action("errors")),
        sequences = {
          sequence("web1", action("stop"), action("upgrade"), action("start")),
        },
        post_checks = checks("post", action("serving")),
        deferred_checks = checks("deferred", action("logs clean")),
      },
      block{
        name = "rest", concurrency = 2, tolerated_failures = "10%",
        sequences = {
          sequence("web2", action("restart")),
          sequence("web3", action("restart")),
        },
      },
    },
    post_checks = checks("post", action("all serving")),
    deferred_actions = {
      batch("rollback", "on_failure", "not_started", action("undo")),
      batch("notify", "always", "completed", action("mail"), action("page")),
    },
    deferred_checks = checks("deferred", action("final")),
  })
end

local EXPECTED = {
  { "plan", "" },
  { "checks", "bypass_checks" },
  { "action", "bypass_checks/already done" },
  { "checks", "pre_checks" },
  { "action", "pre_checks/healthy" },
  { "action", "pre_checks/capacity" },
  { "checks", "cont_checks" },
  { "action", "cont_checks/alarms" },
  { "block", "canary" },
  { "checks", "canary/bypass_checks" },
  { "action", "canary/bypass_checks/canary done" },
  { "checks", "canary/pre_checks" },
  { "action", "canary/pre_checks/drained" },
  { "checks", "canary/cont_checks" },
  { "action", "canary/cont_checks/errors" },
  { "sequence", "canary/web1" },
  { "action", "canary/web1/stop" },
  { "action", "canary/web1/upgrade" },
  { "action", "canary/web1/start" },
  { "checks", "canary/post_checks" },
  { "action", "canary/post_checks/serving" },
  { "checks", "canary/deferred_checks" },
  { "action", "canary/deferred_checks/logs clean" },
  { "block", "rest" },
  { "sequence", "rest/web2" },
  { "action", "rest/web2/restart" },
  { "sequence", "rest/web3" },
  { "action", "rest/web3/restart" },
  { "checks", "post_checks" },
  { "action", "post_checks/all serving" },
  { "batch", "deferred_actions/rollback" },
  { "action", "deferred_actions/rollback/undo" },
  { "batch", "deferred_actions/notify" },
  { "action", "deferred_actions/notify/mail" },
  { "action", "deferred_actions/notify/page" },
  { "checks", "deferred_checks" },
  { "action", "deferred_checks/final" },
}

local function collect(result)
  local got = {}
  for node, path in ws.walk(result) do got[#got + 1] = { node.type, path } end
  return got
end

describe("ws.walk", function()
  it("yields every object of a result in the documented order, with paths", function()
    assert.are.same(EXPECTED, collect(full_result()))
  end)

  it("yields the result's own tables", function()
    local r = full_result()
    local nodes = {}
    for node, path in ws.walk(r) do nodes[path] = node end
    assert.are.equal(r, nodes[""])
    assert.are.equal(r.blocks[1], nodes["canary"])
    assert.are.equal(r.blocks[1].sequences[1], nodes["canary/web1"])
    assert.are.equal(r.blocks[1].sequences[1].actions[2], nodes["canary/web1/upgrade"])
    assert.are.equal(r.pre_checks, nodes["pre_checks"])
    assert.are.equal(r.blocks[1].pre_checks.actions[1], nodes["canary/pre_checks/drained"])
    assert.are.equal(r.deferred_actions[2], nodes["deferred_actions/notify"])
    assert.are.equal(r.deferred_actions[2].actions[2], nodes["deferred_actions/notify/page"])
    assert.are.equal(r.deferred_checks.actions[1], nodes["deferred_checks/final"])
  end)

  it("skips the parts a result does not have", function()
    local r = state({ type = "plan", name = "small", blocks = {
      block{ name = "only", sequences = { sequence("s", action("a"), action("b")) } },
    } })
    assert.are.same({
      { "plan", "" },
      { "block", "only" },
      { "sequence", "only/s" },
      { "action", "only/s/a" },
      { "action", "only/s/b" },
    }, collect(r))
  end)

  it("can be left early", function()
    local seen = 0
    for node in ws.walk(full_result()) do
      seen = seen + 1
      if node.type == "block" then break end
    end
    assert.are.equal(9, seen)
  end)

  it("gives independent iterators", function()
    local r = full_result()
    local it1, it2 = ws.walk(r), ws.walk(r)
    local _, p1 = it1()
    local _, p2 = it1()
    local _, q1 = it2()
    assert.are.equal("", p1)
    assert.are.equal("bypass_checks", p2)
    assert.are.equal("", q1)
  end)

  it("also walks a plan before it runs, in the same order", function()
    local function act(name) return ws.action{ name = name, plugin = "ws.exec", req = { argv = { "true" } } } end
    local p = ws.plan{
      name = "p",
      blocks = {
        ws.block{ name = "b1", sequences = { ws.seq{ name = "s1", actions = { act("x"), act("y") } } } },
        ws.block{ name = "b2", sequences = { ws.seq{ name = "s2", actions = { act("z") } } } },
      },
      deferred_actions = { ws.batch{ name = "undo", when = "on_failure", actions = { act("u") } } },
    }
    local got = {}
    for node, path in ws.walk(p) do got[#got + 1] = { ws.kind(node), path } end
    assert.are.same({
      { "plan", "" },
      { "block", "b1" }, { "sequence", "b1/s1" }, { "action", "b1/s1/x" }, { "action", "b1/s1/y" },
      { "block", "b2" }, { "sequence", "b2/s2" }, { "action", "b2/s2/z" },
      { "batch", "deferred_actions/undo" }, { "action", "deferred_actions/undo/u" },
    }, got)
  end)

  it("walks a real result from ws.run", function()
    local function act(name, argv)
      return ws.action{ name = name, plugin = "ws.exec", req = { argv = argv or { "true" } } }
    end
    local plan = ws.plan{
      name = "real",
      blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s", actions = { act("ok"), act("fails", { "false" }), act("never") } } } } },
      deferred_actions = { ws.batch{ name = "undo", when = "on_failure", actions = { act("u") } } },
    }
    local result = ws.run(plan)
    local got, ids = {}, {}
    for node, path in ws.walk(result) do
      got[#got + 1] = { node.type, path, node.status }
      assert.is_nil(getmetatable(node))
      assert.is_string(node.id)
      assert.is_nil(ids[node.id])
      ids[node.id] = true
    end
    assert.are.same({
      { "plan", "", "failed" },
      { "block", "b", "failed" },
      { "sequence", "b/s", "failed" },
      { "action", "b/s/ok", "completed" },
      { "action", "b/s/fails", "failed" },
      { "action", "b/s/never", "not_started" },
      { "batch", "deferred_actions/undo", "completed" },
      { "action", "deferred_actions/undo/u", "completed" },
    }, got)
  end)

  it("refuses something that is not a result, at the caller's line", function()
    for _, bad in ipairs({ {}, "result", { type = "block" }, false }) do
      local line, ok, err = debug.getinfo(1, "l").currentline, pcall(ws.walk, bad)
      assert.is_false(ok)
      local got = err:match("^.-walk_spec%.lua:(%d+): ws%.walk: expected a run result")
      assert.are.equal(line, tonumber(got), err)
    end
  end)
end)
