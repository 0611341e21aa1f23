-- ws.builder: plans assembled step by step. The builder makes the same objects
-- as the constructors and raises their errors, each at the line that wrote the
-- part in question; its own errors (misuse) name the line of the misused call.
local ws = require "workstream"
local H = require "spec.helpers"

local getinfo = debug.getinfo
local next_line, assert_error_at, fails = H.next_line, H.assert_error_at, H.fails

-- A check plugin for the checks below.
local HEALTH = "spec.builder.health"
ws.plugin{ name = HEALTH, check = true, request = { host = ws.types.string },
           execute = function() end }

local function sleep(name, extra)
  local t = { name = name, plugin = "ws.sleep", req = { seconds = 1 } }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

local function health(name, host)
  return ws.action{ name = name, plugin = HEALTH, req = { host = host or "web1" } }
end

-- A builder with a block and a sequence open.
local function open_sequence()
  local b = ws.builder{ name = "rollout" }
  b:block{ name = "canary" }
  b:sequence{ name = "web1" }
  return b
end

describe("ws.builder", function()
  describe("builds", function()
    it("the plan the constructors make", function()
      local b = ws.builder{ name = "rollout", descr = "web fleet", group = "web", meta = { ticket = "OPS-1" } }
      b:checks("pre", { health("fleet healthy") })
      b:checks("cont", ws.checks{ delay = "10s", actions = { health("error budget") } })
      b:block{ name = "canary", key = "canary", entrance_delay = "1m" }
        b:checks("post", { health("canary healthy") })
        b:sequence{ name = "web1", descr = "first" }
          b:action(sleep("drain", { timeout = "5s", retries = 2 }))
          b:action(sleep("deploy"))
        b:up()
      b:up()
      b:block{ name = "rest", concurrency = 2, tolerated_failures = "25%", stop = "action" }
      for _, host in ipairs { "web2", "web3" } do
        b:seq{ name = host }
        b:action(sleep("deploy"))
        b:up()
      end
      b:up()
      b:checks("post", { health("all healthy") })
      b:deferred{ name = "rollback", when = "on_failure", fail_plan = true }
        b:action(sleep("undo"))
      b:up()
      local plan = b:plan()

      assert.are.equal("plan", ws.kind(plan))
      assert.are.equal("rollout", plan.name)
      assert.are.equal("web fleet", plan.descr)
      assert.are.equal("web", plan.group)
      assert.are.same({ ticket = "OPS-1" }, plan.meta)
      assert.are.equal(30, plan.pre_checks.delay)
      assert.are.equal(10, plan.cont_checks.delay)
      assert.are.equal("all healthy", plan.post_checks.actions[1].name)
      assert.are.equal(2, #plan.blocks)
      local canary, rest = plan.blocks[1], plan.blocks[2]
      assert.are.equal("block", ws.kind(canary))
      assert.are.equal("canary", canary.key)
      assert.are.equal(60, canary.entrance_delay)
      assert.are.equal("canary healthy", canary.post_checks.actions[1].name)
      assert.are.equal("first", canary.sequences[1].descr)
      assert.are.same({ "drain", "deploy" }, { canary.sequences[1].actions[1].name,
                                               canary.sequences[1].actions[2].name })
      assert.are.equal(5, canary.sequences[1].actions[1].timeout)
      assert.are.equal(2, canary.sequences[1].actions[1].retries)
      assert.are.equal(2, rest.concurrency)
      assert.are.equal("25%", rest.tolerated_failures)
      assert.are.equal("action", rest.stop)
      assert.are.same({ "web2", "web3" }, { rest.sequences[1].name, rest.sequences[2].name })
      assert.are.equal("batch", ws.kind(plan.deferred_actions[1]))
      assert.are.equal("on_failure", plan.deferred_actions[1].when)
      assert.is_true(plan.deferred_actions[1].fail_plan)

      local r = ws.run(plan, { clock = "virtual" })
      assert.are.equal("completed", r.status)
      assert.are.equal("not_started", r.deferred_actions[1].status)
    end)

    it("with chained calls, each method returning the builder", function()
      local b = ws.builder{ name = "p" }
      assert.are.equal(b, b:block{ name = "b" })
      assert.are.equal(b, b:sequence{ name = "s" })
      assert.are.equal(b, b:action(sleep("a")))
      assert.are.equal(b, b:up())
      assert.are.equal(b, b:checks("pre", { health("h") }))
      assert.are.equal(b, b:up())
      local plan = ws.builder{ name = "p" }
        :block{ name = "b" }:seq{ name = "s" }:action(sleep("a")):up():up()
        :deferred{ name = "d", when = "always" }:action(sleep("tidy")):up()
        :plan()
      assert.are.equal("tidy", plan.deferred_actions[1].actions[1].name)
    end)

    it("from actions already made, and copies the caller's tables", function()
      local b = ws.builder{ name = "p" }
      local fields = { name = "b" }
      b:block(fields)
      fields.name = "changed" -- a loop may reuse its table
      b:sequence{ name = "s" }
      local made = ws.action(sleep("made"))
      b:action(made)
      local plan = b:plan()
      assert.are.equal("b", plan.blocks[1].name)
      assert.are.equal(made, plan.blocks[1].sequences[1].actions[1])
    end)

    it("closing what is still open at b:plan()", function()
      local plan = open_sequence():action(sleep("a")):plan()
      assert.are.equal("a", plan.blocks[1].sequences[1].actions[1].name)
      local b = ws.builder{ name = "p" }
      b:block{ name = "b" }:seq{ name = "s" }:action(sleep("a")):up():up()
      b:deferred{ name = "d", when = "always" }:action(sleep("a"))
      assert.are.equal("d", b:plan().deferred_actions[1].name)
    end)

    it("leaves the builder as it was after an error, so it can go on", function()
      local b = open_sequence()
      fails(pcall(b.up, b)) -- no actions yet
      b:action(sleep("a")):up():up()
      assert.are.equal("a", b:plan().blocks[1].sequences[1].actions[1].name)
    end)
  end)

  describe("raises the constructors' errors", function()
    it("for an action at the b:action line", function()
      local b = open_sequence()
      local line = next_line()
      local err = fails(pcall(b.action, b, { name = "a", plugin = "ws.sleep", req = { seconds = "x" } }))
      assert_error_at(err, line, 'action "a": req.seconds: expected number, got string')
      line = next_line()
      err = fails(pcall(b.action, b, { name = "a", plugin = "ws.sleep", retries = -1 }))
      assert_error_at(err, line, 'action "a": retries: must be >= 0, got -1')
    end)

    it("for a block's or sequence's fields at the line that opened it", function()
      local b = ws.builder{ name = "rollout" }
      local line = next_line()
      b:block{ name = "canary", concurrency = 0 }
      b:sequence{ name = "web1" }:action(sleep("a")):up()
      local err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'block "canary": concurrency: must be >= 1, got 0')

      b = ws.builder{ name = "rollout" }
      b:block{ name = "canary" }
      line = next_line()
      b:sequence{ name = "web1", kee = "k" }
      b:action(sleep("a"))
      err = fails(pcall(b.plan, b))
      assert_error_at(err, line, 'sequence "web1": unknown field "kee" (did you mean "key"?)')
    end)

    it("for the plan's own fields at the ws.builder line", function()
      local line = next_line()
      local b = ws.builder{ descr = "no name" }
      b:block{ name = "b" }:seq{ name = "s" }:action(sleep("a"))
      local err = fails(pcall(b.plan, b))
      assert_error_at(err, line, "plan: name: expected a non-empty string, got nil")
      line = next_line()
      b = ws.builder{ name = "p", meta = { f = print } }
      err = fails(pcall(b.plan, b))
      -- no blocks either, but meta is checked first, as ws.plan does
      assert_error_at(err, line, 'plan "p": meta.f: expected a string, number, boolean or table, got function')
    end)

    it("for an empty scope at the line that opened it", function()
      local b = ws.builder{ name = "p" }
      b:block{ name = "canary" }
      local line = next_line()
      b:sequence{ name = "web1" }
      local err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'sequence "web1": actions: must not be empty')

      b = ws.builder{ name = "p" }
      line = next_line()
      b:block{ name = "canary" }
      err = fails(pcall(b.plan, b))
      assert_error_at(err, line, 'block "canary": sequences: must not be empty')

      b = open_sequence():action(sleep("a")):up():up()
      line = next_line()
      b:deferred{ name = "rollback", when = "on_failure" }
      err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'batch "rollback": actions: must not be empty')

      line = next_line()
      b = ws.builder{ name = "p" }
      err = fails(pcall(b.plan, b))
      assert_error_at(err, line, 'plan "p": blocks: must not be empty')
    end)

    it("for a check plugin in a sequence at the b:action line", function()
      local b = open_sequence()
      b:action(sleep("a"))
      local line = next_line()
      b:action(health("probe"))
      local err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'sequence "web1": actions[2]: action "probe" uses check plugin "spec.builder.health"')
    end)

    it("for bad checks at the b:checks line", function()
      local b = ws.builder{ name = "p" }
      b:block{ name = "canary" }
      local line = next_line()
      b:checks("post", { ws.action(sleep("not a check")) })
      b:sequence{ name = "s" }:action(sleep("a")):up()
      local err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'block "canary": post_checks[1]: action "not a check" uses plugin "ws.sleep", which is not a check plugin')

      b = open_sequence():action(sleep("a")):up():up()
      line = next_line()
      b:checks("cont", "often")
      err = fails(pcall(b.plan, b))
      assert_error_at(err, line, 'plan "rollout": cont_checks: expected checks (ws.checks{...}) or a list of actions, got string')
    end)

    it("for duplicate keys, naming the lines that added both", function()
      local b = ws.builder{ name = "p" }
      local block_line = next_line()
      b:block{ name = "canary", key = "web1" }
      b:sequence{ name = "s" }
      local action_line = next_line()
      b:action(sleep("a", { key = "web1" }))
      local err = fails(pcall(b.plan, b))
      assert.matches('plan "p": duplicate key "web1": block "canary" at "canary" %(%S-builder_spec%.lua:'
                     .. block_line .. '%) and action "a" at "canary/s/a" %(%S-builder_spec%.lua:'
                     .. action_line .. "%)", err)
    end)
  end)

  it("names the plan file's lines when the file ends with `return b:plan()`", function()
    -- A tail call: Lua drops the plan file's frame before the builder runs.
    local chunk = assert(load([[
      local ws = require "workstream"
      local b = ws.builder{ name = "p" }
      b:block{ name = "empty" }
      return b:plan()
    ]], "=plan.lua"))
    local err = fails(pcall(chunk))
    assert.are.equal('plan.lua:3: block "empty": sequences: must not be empty', err)
  end)

  describe("refuses misuse, at the line of the misused call:", function()
    it("an action outside a sequence or batch", function()
      local b = ws.builder{ name = "p" }
      local line = next_line()
      local err = fails(pcall(b.action, b, sleep("a")))
      assert_error_at(err, line, 'builder "p": b:action{...}: action "a" outside a sequence or batch; '
                                 .. "open a sequence (b:block{...}, then b:sequence{...}) or a batch (b:deferred{...}) first")
      b:block{ name = "canary" }
      line = next_line()
      err = fails(pcall(b.action, b, sleep("a")))
      assert_error_at(err, line, 'action "a" outside a sequence or batch; open a sequence of block "canary" with b:sequence{...} first')
    end)

    it("a sequence outside a block", function()
      local b = ws.builder{ name = "p" }
      local line = next_line()
      local err = fails(pcall(b.sequence, b, { name = "web1" }))
      assert_error_at(err, line, 'builder "p": b:sequence{...}: sequence "web1" outside a block; '
                                 .. "sequences go in a block: open one with b:block{...}")
      b:deferred{ name = "rollback", when = "on_failure" }
      line = next_line()
      err = fails(pcall(b.seq, b, { name = "web1" }))
      assert_error_at(err, line, 'sequence "web1" outside a block (deferred batch "rollback", open now, holds actions only)')
    end)

    it("a sequence inside a sequence", function()
      local b = open_sequence()
      local line = next_line()
      local err = fails(pcall(b.sequence, b, { name = "web2" }))
      assert_error_at(err, line, 'b:sequence{...}: sequence "web2" inside sequence "web1"; close it with b:up() first')
    end)

    it("a block inside a block", function()
      local b = ws.builder{ name = "p" }
      b:block{ name = "canary" }
      local line = next_line()
      local err = fails(pcall(b.block, b, { name = "rest" }))
      assert_error_at(err, line, 'builder "p": b:block{...}: block "rest" inside block "canary"; close it with b:up() first')
      b:sequence{ name = "web1" }
      line = next_line()
      err = fails(pcall(b.block, b, { name = "rest" }))
      assert_error_at(err, line, 'block "rest" inside sequence "web1" (in block "canary"); close them with b:up() 2 times first')
    end)

    it("a deferred batch inside a block or a batch", function()
      local b = open_sequence()
      local line = next_line()
      local err = fails(pcall(b.deferred, b, { name = "rollback", when = "on_failure" }))
      assert_error_at(err, line, 'b:deferred{...}: deferred batch "rollback" inside sequence "web1" (in block "canary")')
      b = ws.builder{ name = "p" }:deferred{ name = "one", when = "always" }
      line = next_line()
      err = fails(pcall(b.deferred, b, { name = "two", when = "always" }))
      assert_error_at(err, line, 'deferred batch "two" inside deferred batch "one"; close it with b:up() first')
    end)

    it("checks in a sequence or a batch", function()
      local b = open_sequence()
      local line = next_line()
      local err = fails(pcall(b.checks, b, "pre", { health("h") }))
      assert_error_at(err, line, 'builder "rollout": b:checks("pre", ...): checks in sequence "web1"; checks belong to a block or the plan')
      b = ws.builder{ name = "p" }:deferred{ name = "rollback", when = "on_failure" }
      line = next_line()
      err = fails(pcall(b.checks, b, "post", { health("h") }))
      assert_error_at(err, line, 'checks in deferred batch "rollback"')
    end)

    it("the same checks set twice, naming where they were set", function()
      local b = ws.builder{ name = "p" }
      local first = next_line()
      b:checks("pre", { health("a") })
      local line = next_line()
      local err = fails(pcall(b.checks, b, "pre", { health("b") }))
      assert_error_at(err, line, ('b:checks("pre", ...): the pre checks of plan "p" are already set (at %s:%d)')
                                 :format(getinfo(1, "S").short_src, first))
      b:block{ name = "canary" }:checks("pre", { health("c") }) -- the block's own: fine
      line = next_line()
      err = fails(pcall(b.checks, b, "pre", { health("d") }))
      assert_error_at(err, line, 'the pre checks of block "canary" are already set')
    end)

    it("an unknown checks slot, or no checks", function()
      local b = ws.builder{ name = "p" }
      local line = next_line()
      local err = fails(pcall(b.checks, b, "pre_checks", {}))
      assert_error_at(err, line, 'b:checks: expected "bypass", "pre", "cont", "post" or "deferred", got "pre_checks"')
      line = next_line()
      err = fails(pcall(b.checks, b, "pre"))
      assert_error_at(err, line, 'b:checks("pre", ...): expected checks (ws.checks{...}) or a list of actions, got nil')
    end)

    it("fields the builder fills in itself", function()
      local line = next_line()
      local err = fails(pcall(ws.builder, { name = "p", blocks = {} }))
      assert_error_at(err, line, 'builder "p": ws.builder{...}: blocks: not a field here; add each block with b:block{...}')
      line = next_line()
      err = fails(pcall(ws.builder, { name = "p", cont_checks = {} }))
      assert_error_at(err, line, 'cont_checks: not a field here; set them with b:checks("cont", ...)')
      local b = ws.builder{ name = "p" }
      line = next_line()
      err = fails(pcall(b.block, b, { name = "b", sequences = {} }))
      assert_error_at(err, line, 'b:block{...}: sequences: not a field here; add each sequence with b:sequence{...}')
      line = next_line()
      err = fails(pcall(b.block, b, { name = "b", post_checks = {} }))
      assert_error_at(err, line, 'post_checks: not a field here; set them with b:checks("post", ...)')
      b:block{ name = "b" }
      line = next_line()
      err = fails(pcall(b.sequence, b, { name = "s", actions = {} }))
      assert_error_at(err, line, 'b:sequence{...}: actions: not a field here; add each action with b:action{...}')
      b = ws.builder{ name = "p" }
      line = next_line()
      err = fails(pcall(b.deferred, b, { name = "d", when = "always", actions = {} }))
      assert_error_at(err, line, 'b:deferred{...}: actions: not a field here')
    end)

    it("fields that are not a table", function()
      local line = next_line()
      local err = fails(pcall(ws.builder, "rollout"))
      assert_error_at(err, line, "builder: ws.builder{...}: expected a table of fields, got string")
      local b = ws.builder{ name = "p" }
      line = next_line()
      err = fails(pcall(b.block, b, ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = { ws.action(sleep("a")) } } } }))
      assert_error_at(err, line, 'builder "p": b:block{...}: expected a table of fields, got a block')
    end)

    it("up() at the root", function()
      local b = ws.builder{ name = "p" }
      local line = next_line()
      local err = fails(pcall(b.up, b))
      assert_error_at(err, line, 'builder "p": b:up(): nothing to close: no block, sequence or batch is open')
    end)

    it("plan() taken twice, and any call after it", function()
      local b = open_sequence():action(sleep("a"))
      local taken = next_line()
      b:plan()
      local line = next_line()
      local err = fails(pcall(b.plan, b))
      assert_error_at(err, line, ('builder "rollout": b:plan(): the plan was already taken (b:plan() at %s:%d); a builder makes one plan')
                                 :format(getinfo(1, "S").short_src, taken))
      for _, call in ipairs {
        function() b:block{ name = "more" } end,
        function() b:sequence{ name = "more" } end,
        function() b:action(sleep("more")) end,
        function() b:checks("post", { health("h") }) end,
        function() b:deferred{ name = "more", when = "always" } end,
        function() b:up() end,
      } do
        assert.matches("the plan was already taken", fails(pcall(call)))
      end
    end)

    it("a method called with a dot, and ws:builder", function()
      local b = ws.builder{ name = "p" }
      local line = next_line()
      local err = fails(pcall(function() b.block{ name = "b" } end))
      assert_error_at(err, line, "ws.builder: b:block{...}: call it with a colon (b:block{...}), not a dot")
      line = next_line()
      err = fails(pcall(function() ws:builder{ name = "p" } end))
      assert_error_at(err, line, "called as ws:builder{...}; write ws.builder{...}")
    end)
  end)
end)
