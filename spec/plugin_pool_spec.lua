-- Lua plugins: the coroutine of a finished attempt is reused by a later one.
-- What must hold (DESIGN.md section 3): each attempt's coroutine is closed
-- when the attempt ends, so <close> runs then, and a reused coroutine starts
-- as a new one: no stack values, hooks or error state of the attempt before,
-- its ctx and attempt its own. The specs of reuse check that the thread
-- really was reused; those of attempts cut short, that the next one behaves.
local ws = require "workstream"
local t = ws.types

local n = 0
local function unique(name) n = n + 1; return ("spec.pool.%s.%d"):format(name, n) end

-- Actions of `plugin` run one after the other on the virtual clock, each in
-- a sequence of its own (so that one failing does not stop the next); each
-- action's req.step tells the plugin what to do. Returns the result's actions.
local function run_steps(plugin, steps)
  local seqs = {}
  for i, step in ipairs(steps) do
    local a = { name = "a" .. i, plugin = plugin, req = { step = step.step } }
    for k, v in pairs(step) do if k ~= "step" then a[k] = v end end
    seqs[i] = ws.seq{ name = "s" .. i, actions = { ws.action(a) } }
  end
  local plan = ws.plan{ name = "p", blocks = { ws.block{ name = "b", concurrency = 1,
    tolerated_failures = -1, sequences = seqs } } }
  local r = ws.run(plan, { clock = "virtual" })
  local actions = {}
  for i, seq in ipairs(r.blocks[1].sequences) do actions[i] = seq.actions[1] end
  return actions
end

-- Spins without yielding, for at most `limit` seconds of CPU: the overrun
-- hook must stop it long before (real time passes at least as fast as CPU
-- time); reaching the limit means the hook is gone.
local function spin(limit)
  local stop = os.clock() + limit
  while os.clock() < stop do end
  return { spun = true }
end

describe("Lua plugin coroutines reused across attempts", function()
  it("start clean: own ctx, log and stack, the overrun hook set again", function()
    local name = unique("clean")
    local first, seen
    ws.plugin{ name = name, request = { step = t.string },
      response = { spun = t.optional(t.boolean) },
      execute = function(...)
        local ctx, req = ...
        if req.step == "dirty" then
          first = coroutine.running()
          ctx.log("first")
          ctx.extra = "mine"
          debug.sethook() -- removes the overrun hook from this thread
          return {}
        end
        seen = { same = coroutine.running() == first, nargs = select("#", ...),
                 below = debug.getinfo(2, "f"), ctx = ctx, extra = ctx.extra }
        ctx.log("second")
        ws.sleep(1) -- finds its attempt through the reused thread
        return spin(5) -- the deadline is 1 s away
      end }
    local acts = run_steps(name, { { step = "dirty" }, { step = "spin", timeout = 2 } })
    assert.are.equal("completed", acts[1].status)
    assert.is_true(seen.same, "the second attempt did not reuse the first one's thread")
    assert.are.equal(2, seen.nargs)
    assert.is_nil(seen.below) -- execute is the only function on the thread
    assert.are.equal(acts[2].id, seen.ctx.action_id)
    assert.are.equal(1, seen.ctx.attempt)
    assert.are.equal(acts[2].attempts[1].started + 2, seen.ctx.deadline)
    assert.is_nil(seen.extra)
    assert.are.same({ "first" }, acts[1].attempts[1].log)
    assert.are.equal("second", acts[2].attempts[1].log[1])
    -- the overrun hook was set again: the spin is stopped at its timeout
    assert.are.equal("failed", acts[2].status)
    assert.is_true(acts[2].attempts[1].timed_out)
    assert.matches("without yielding", acts[2].err.msg)
  end)

  it("close a reused coroutine at its timeout: <close> runs then, before the next", function()
    local name = unique("close")
    local first, reused, closed, closed_before_third = nil, nil, 0, nil
    ws.plugin{ name = name, request = { step = t.string }, execute = function(_, req)
      if req.step == "first" then first = coroutine.running(); return end
      if req.step == "third" then closed_before_third = closed; return end
      reused = coroutine.running() == first
      local guard <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
      ws.sleep("1h")
    end }
    local acts = run_steps(name, { { step = "first" }, { step = "hang", timeout = "2s" },
                                   { step = "third" } })
    assert.is_true(reused, "the second attempt did not reuse the first one's thread")
    assert.is_true(acts[2].attempts[1].timed_out)
    assert.are.equal(1, closed_before_third)
    assert.are.equal(1, closed)
  end)

  it("do not reuse a thread cut short inside xpcall: a later error keeps its message", function()
    local name = unique("xpcall")
    ws.plugin{ name = name, request = { step = t.string }, execute = function(_, req)
      if req.step == "cut" then
        xpcall(function() ws.sleep("1h") end, function() return "from the old handler" end)
      end
      error("plain failure")
    end }
    local acts = run_steps(name, { { step = "cut", timeout = "1s" }, { step = "fail" } })
    assert.is_true(acts[1].attempts[1].timed_out)
    assert.matches("plain failure", acts[2].err.msg)
  end)

  it("do not reuse a thread stopped by the overrun hook: the next spin is stopped too", function()
    local name = unique("overrun")
    ws.plugin{ name = name, request = { step = t.string },
               response = { spun = t.optional(t.boolean) },
               execute = function() return spin(5) end }
    local acts = run_steps(name, { { step = "a", timeout = 0.2 }, { step = "b", timeout = 0.2 } })
    for i = 1, 2 do
      assert.are.equal("failed", acts[i].status)
      assert.is_true(acts[i].attempts[1].timed_out)
      assert.matches("without yielding", acts[i].err.msg)
    end
  end)

  it("reuse a thread after a plain error, with the attempt's own ctx", function()
    local name = unique("retry")
    local threads, attempts = {}, {}
    ws.plugin{ name = name, request = { step = t.string }, execute = function(ctx)
      threads[#threads + 1] = coroutine.running()
      attempts[#attempts + 1] = ctx.attempt
      if ctx.attempt == 1 then error("first try fails") end
    end }
    local acts = run_steps(name, { { step = "x", retries = 1,
                                     retry = { initial = 1, jitter = 0 } } })
    assert.are.equal("completed", acts[1].status)
    assert.are.same({ 1, 2 }, attempts)
    assert.are.equal(threads[1], threads[2])
  end)

  -- A plan of many Lua-plugin actions runs with the collector in generational
  -- mode; the run's end, failed or not, gives back the user's setting.
  local function many(plugin, on_event)
    local seqs = {}
    for i = 1, 1200 do
      seqs[i] = ws.seq{ name = "s" .. i, actions = { ws.action{ name = "a", plugin = plugin } } }
    end
    local plan = ws.plan{ name = "p", blocks = {
      ws.block{ name = "b", concurrency = 10, sequences = seqs } } }
    return pcall(ws.run, plan, { clock = "virtual", on_event = on_event })
  end

  it("leave the collector as they found it, after a run that changed its mode", function()
    local name = unique("gc")
    local count, probe, mode_late = 0, true, nil
    ws.plugin{ name = name, execute = function()
      count = count + 1
      -- the last attempt: the mode it is in (and stays in, if generational)
      if count % 1200 == 0 and probe then mode_late = collectgarbage("generational") end
    end }
    collectgarbage("incremental")
    assert.is_true((many(name)))
    assert.are.equal("generational", mode_late)
    assert.are.equal("incremental", collectgarbage("incremental"))
    -- a failed run too: its on_event handler raised
    local before = count -- fails once past the switch
    local ok, err = many(name, function() if count - before > 1100 then error("enough") end end)
    assert.is_false(ok)
    assert.matches("on_event handler failed: .*enough", err)
    assert.are.equal("incremental", collectgarbage("incremental"))
    -- the user's generational mode and stopped collector stay so
    collectgarbage("generational")
    assert.is_true((many(name)))
    assert.are.equal("generational", collectgarbage("incremental"))
    collectgarbage("stop")
    probe = false
    assert.is_true((many(name)))
    assert.is_false(collectgarbage("isrunning"))
    collectgarbage("restart")
    assert.are.equal("incremental", collectgarbage("incremental"))
  end)

  it("let the threads go when the run ends", function()
    local name = unique("release")
    local threads = setmetatable({}, { __mode = "k" })
    ws.plugin{ name = name, request = { step = t.string },
               execute = function() threads[coroutine.running()] = true end }
    run_steps(name, { { step = "a" }, { step = "b" } })
    assert.is_not_nil(next(threads))
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(threads))
  end)
end)
