-- ws.run from Lua: the execution contract as a plan author sees it, with the
-- built-in plugins and the virtual clock.
local ws = require "workstream"
local H = require "spec.helpers"

local sleep, sh = H.sleep, H.sh

local function one_block(seqs, block)
  block = block or {}
  block.name = block.name or "b"
  block.sequences = seqs
  return ws.plan{ name = "p", blocks = { ws.block(block) } }
end

local find = H.find

describe("ws.run", function()
  it("runs hours of waiting in no time on the virtual clock, with exact times", function()
    local plan = one_block({
      ws.seq{ name = "s", actions = { sleep("wait", 3600, { timeout = "2h" }), sleep("again", 1800, { timeout = "1h" }) } },
    })
    local t0 = os.clock()
    local r = ws.run(plan, { clock = "virtual" })
    assert.is_true(os.clock() - t0 < 1)
    assert.are.equal("completed", r.status)
    assert.are.equal(5400, r.ended - r.started)
    local wait = find(r, "b/s/wait")
    assert.are.equal(3600, wait.ended - wait.started)
    assert.are.equal(3600, wait.resp.slept)
  end)

  it("keeps at most `concurrency` sequences in flight", function()
    local seqs = {}
    for i = 1, 10 do seqs[i] = ws.seq{ name = "s" .. i, actions = { sleep("a", 0.1) } } end
    local in_flight, peak = 0, 0
    local r = ws.run(one_block(seqs, { concurrency = 3 }), {
      clock = "virtual",
      on_event = function(ev)
        if ev.type == "state" and ev.object == "sequence" then
          if ev.status == "running" then in_flight = in_flight + 1 else in_flight = in_flight - 1 end
          if in_flight > peak then peak = in_flight end
        end
      end,
    })
    assert.are.equal(3, peak)
    assert.are.equal(0.4, math.floor((r.ended - r.started) * 1e6 + 0.5) / 1e6)
  end)

  it("times out an attempt, cancels it, and retries with the action's backoff", function()
    local r = ws.run(one_block({ ws.seq{ name = "s", actions = {
      sleep("stuck", 3600, { timeout = "2s", retries = 1,
                             retry = { initial = 1, multiplier = 2, jitter = 0, max = 60 } }),
    } } }), { clock = "virtual" })
    local a = find(r, "b/s/stuck")
    assert.are.equal("failed", a.status)
    assert.are.equal(2, #a.attempts)
    for _, at in ipairs(a.attempts) do
      assert.is_true(at.timed_out)
      assert.are.equal(2, at.ended - at.started)
      assert.are.equal("timeout", at.err.code)
    end
    assert.are.equal(1, a.attempts[2].started - a.attempts[1].ended)
    assert.are.equal(a.attempts[2].ended, a.ended) -- no wait after the last attempt
  end)

  it("reports the plugin's own last error after retries", function()
    local r = ws.run(one_block({ ws.seq{ name = "s", actions = {
      sh("flaky", "echo 'disk full' >&2; exit 4", { retries = 2, retry = ws.retry.fast }),
    } } }), { clock = "virtual" })
    local a = find(r, "b/s/flaky")
    assert.are.equal(3, #a.attempts)
    assert.matches("exited with code 4", a.err.msg)
    assert.matches("disk full", a.err.msg)
    assert.are.equal("block", r.reason)
  end)

  it("kills a timed-out command's process group", function()
    local pidfile = os.tmpname()
    local r = ws.run(one_block({ ws.seq{ name = "s", actions = {
      sh("hang", "echo $$ > " .. pidfile .. "; exec sleep 100", { timeout = "1s" }),
    } } }))
    local a = find(r, "b/s/hang")
    assert.is_true(a.attempts[1].timed_out)
    local pid = assert(io.open(pidfile)):read("l")
    os.remove(pidfile)
    assert.is_truthy(pid:match("^%d+$"))
    assert.is_falsy(os.execute("kill -0 " .. pid .. " 2>/dev/null")) -- gone
  end)

  it("stops gracefully from an event handler with ws.stop()", function()
    local plan = ws.plan{
      name = "p",
      blocks = { ws.block{ name = "b", sequences = {
        ws.seq{ name = "s1", actions = { sleep("one", 5), sleep("two", 5) } },
        ws.seq{ name = "s2", actions = { sleep("three", 1) } },
      } } },
      deferred_actions = { ws.batch{ name = "cleanup", when = "always", actions = { sleep("tidy", 1) } } },
    }
    local r = ws.run(plan, { clock = "virtual", on_event = function(ev)
      if ev.type == "state" and ev.path == "b/s1/one" and ev.status == "running" then
        assert.is_true(ws.stop())
      end
    end })
    assert.are.equal("stopped", r.status)
    assert.are.equal("stopped", r.reason)
    assert.are.equal("completed", find(r, "b/s1").status) -- stop = "sequence": in flight, it finishes
    assert.are.equal("not_started", find(r, "b/s2").status)
    assert.are.equal("completed", find(r, "deferred_actions/cleanup").status)
    assert.is_false(ws.stop()) -- nothing runs now
  end)

  it("cancels running actions on a forced stop", function()
    local r = ws.run(one_block({ ws.seq{ name = "s", actions = { sleep("long", 3600, { timeout = "2h" }), sleep("next", 1) } } }),
      { clock = "virtual", on_event = function(ev)
        if ev.type == "state" and ev.path == "b/s/long" and ev.status == "running" then ws.stop(true) end
      end })
    assert.are.equal("stopped", r.status)
    assert.are.equal("stopped", find(r, "b/s/long").status)
    assert.are.equal("not_started", find(r, "b/s/next").status)
    assert.are.equal(0, r.ended - r.started)
  end)

  it("runs deferred batches by `when` and names the reason", function()
    local plan = ws.plan{
      name = "p",
      blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = { sh("boom", "exit 1") } } } } },
      deferred_actions = {
        ws.batch{ name = "s", when = "on_success", actions = { sleep("x", 1) } },
        ws.batch{ name = "f", when = "on_failure", actions = { sleep("y", 1) } },
        ws.batch{ name = "a", when = "always", actions = { sleep("z", 1) } },
      },
    }
    local r = ws.run(plan, { clock = "virtual" })
    local statuses = {}
    for i, b in ipairs(r.deferred_actions) do statuses[i] = b.status end
    assert.are.same({ "not_started", "completed", "completed" }, statuses)
    assert.are.equal("block", r.reason)
  end)

  it("re-checks a plan edited after construction", function()
    local plan = ws.plan{ name = "p", cont_checks = ws.checks{ delay = "5s", actions = {
      ws.action{ name = "ok", plugin = "ws.check.exec", req = { argv = { "true" } } } } },
      blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = { sleep("x", 1) } } } } } }
    plan.cont_checks.delay = 0
    local ok, err = pcall(ws.run, plan, { clock = "virtual" })
    assert.is_false(ok)
    assert.matches("run_spec.lua:%d+: ws.run: invalid plan: cont_checks: delay must be > 0", err)
    plan.cont_checks.delay = 5
    plan.blocks[1].sequences[1].actions[1].timeout = 1e20
    ok, err = pcall(ws.run, plan, { clock = "virtual" })
    assert.matches("b/s/x: timeout must be > 0 and at most", err)
    plan.blocks[1].sequences[1].actions[1].timeout = 30
    assert.are.equal("completed", ws.run(plan, { clock = "virtual" }).status) -- refused runs did not count
  end)

  it("stops the run when the event handler fails, and raises its error", function()
    local executed = 0
    ws.plugin{ name = "spec.run.count", execute = function() executed = executed + 1; ws.sleep(1) end }
    local seqs = {}
    for i = 1, 5 do
      seqs[i] = ws.seq{ name = "s" .. i, actions = { ws.action{ name = "a", plugin = "spec.run.count" } } }
    end
    local ok, err = pcall(ws.run, one_block(seqs), { clock = "virtual", on_event = function(ev)
      if ev.type == "state" and ev.object == "sequence" and ev.status == "running" then
        error("handler broke")
      end
    end })
    assert.is_false(ok)
    assert.matches("on_event handler failed: .*handler broke", err)
    assert.are.equal(1, executed) -- a graceful stop: the running sequence finished, no other started
  end)

  it("tolerates failures within the budget and shows them", function()
    local seqs = {}
    for i = 1, 3 do seqs[i] = ws.seq{ name = "s" .. i, actions = { sh("x", i == 2 and "exit 1" or "true") } } end
    local r = ws.run(one_block(seqs, { tolerated_failures = 1 }))
    assert.are.equal("completed", r.status)
    assert.are.equal("failed", find(r, "b/s2").status)
    assert.are.equal("completed", find(r, "b/s3").status)
  end)
end)
