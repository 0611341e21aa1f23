-- workstream: the public Lua API (`local ws = require "workstream"`).
--
-- Constructors (ws.plan, ws.block, ws.sequence, ws.action, ws.checks, ws.batch)
-- validate their fields at once and return normalised tables that the C core
-- reads; their errors start with the caller's "file:line: ". ws.run runs a plan
-- once; ws.walk iterates over every object of a result. See DESIGN.md, section 3.

local type, pairs, ipairs, tostring, tonumber, require =
      type, pairs, ipairs, tostring, tonumber, require
local setmetatable, getmetatable = setmetatable, getmetatable
local fmt, tointeger = string.format, math.tointeger
local co_wrap, co_yield = coroutine.wrap, coroutine.yield
local getinfo = debug.getinfo

local check = require "workstream.check"
check.register(getinfo(1, "S").source)

local kind_of, describe, quote, label = check.kind, check.describe, check.quote, check.label

local ws = {}
check.api = ws

-- The C module is loaded on first use, not here: it may itself require this
-- module (Lua plugins do), and the walk helpers work without it.
local core_module
local function core()
  if not core_module then core_module = require "workstream.core" end
  return core_module
end

local EMPTY = {} -- stands in for missing lists; never written

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local CHECKS_SLOTS = { "bypass_checks", "pre_checks", "cont_checks", "post_checks",
                       "deferred_checks" }

-------------------------------------------------------------------- retry

--- Retry policies (seconds). `fast` is the engine's default policy.
ws.retry = {
  fast = { initial = 0.1, multiplier = 2, jitter = 0.5, max = 60 },
  seconds = { initial = 1, multiplier = 2, jitter = 0.5, max = 60 },
  thirty_seconds = { initial = 30, multiplier = 1.1, jitter = 0.2, max = 300 },
}

local DEFAULT_RETRY = { initial = 0.1, multiplier = 2, jitter = 0.5, max = 60 }
-- The engine's limits (engine/ws_registry.c, bindings/ws_lua_plan.c), checked here
-- too so that the error names the line that set the value.
local MAX_MULTIPLIER, MAX_RETRIES, MAX_CONCURRENCY = 1000000, 1000000, 1000000000
local RETRY_FIELDS = set { "initial", "multiplier", "jitter", "max" }

-- A policy with its missing fields taken from the engine default.
local function retry_policy(ctx, v)
  if v == nil then return nil end
  if type(v) ~= "table" or kind_of(v) then
    ctx:fail("retry", "expected a retry policy ({ initial=, multiplier=, jitter=, max= } "
                      .. "or ws.retry.*), got " .. describe(v))
  end
  ctx:unknown_fields(RETRY_FIELDS, v, "retry")
  local p = {
    initial = ctx:duration(v.initial, "retry.initial", true, DEFAULT_RETRY.initial),
    multiplier = ctx:number(v.multiplier, "retry.multiplier", 1, MAX_MULTIPLIER,
                            DEFAULT_RETRY.multiplier),
    jitter = ctx:number(v.jitter, "retry.jitter", 0, 1, DEFAULT_RETRY.jitter),
    max = ctx:duration(v.max, "retry.max", true, DEFAULT_RETRY.max),
  }
  if p.initial > p.max then
    ctx:fail("retry", fmt("initial (%s) must be <= max (%s)",
                          check.show(p.initial), check.show(p.max)))
  end
  return p
end

------------------------------------------------------------------ plugins

-- Whether each plugin (by name) is a check plugin. A plugin's kind is part of its
-- definition and names are unique in the registry, so the answer cannot change;
-- caching it saves a registry look-up per action of every sequence.
local IS_CHECK = {}

local function is_check(ctx, action, field, i)
  local name = action.plugin
  local known = IS_CHECK[name]
  if known ~= nil then return known end
  local info = core().plugin_info(name)
  if not info then
    ctx:fail(check.at(field, i),
             fmt("%s: unknown plugin %s (wsrun plugins lists the registered ones)",
                 label("action", action.name), quote(name)))
  end
  IS_CHECK[name] = info.is_check == true
  return IS_CHECK[name]
end

local CHECKS_LIST = "bypass_checks, pre_checks, cont_checks, post_checks or deferred_checks"

local function only_check_plugins(ctx, action, field, i)
  if not is_check(ctx, action, field, i) then
    ctx:fail(check.at(field, i),
             fmt("%s uses plugin %s, which is not a check plugin; checks run only check plugins",
                 label("action", action.name), quote(action.plugin)))
  end
end

local function no_check_plugins(ctx, action, field, i)
  if is_check(ctx, action, field, i) then
    ctx:fail(check.at(field, i),
             fmt("%s uses check plugin %s; check plugins belong in checks (%s), not in a %s",
                 label("action", action.name), quote(action.plugin), CHECKS_LIST, ctx.kind))
  end
end

------------------------------------------------------------ constructors

-- Where a tail-called constructor (`return ws.plan{...}`) reports its errors:
-- Lua drops the caller's frame, so use the line of its first child object.
local CHILD_FIELDS = { "blocks", "sequences", "actions", "bypass_checks", "pre_checks",
                       "cont_checks", "post_checks", "deferred_checks", "deferred_actions" }

local function first_child_site(t)
  for _, f in ipairs(CHILD_FIELDS) do
    local v = t[f]
    if type(v) == "table" then
      local site = check.site(v)
      if not site and not kind_of(v) then site = check.site(v[1]) end
      if site then return site end
    end
  end
  return nil
end

local DEFAULT_TIMEOUT = 30
local DEFAULT_CHECKS_DELAY = 30

local ACTION_FIELDS = set { "name", "descr", "key", "plugin", "req", "timeout", "retries", "retry" }

--- ws.action{ name=, descr?, key?, plugin=, req=, timeout="30s", retries=0, retry? }
function ws.action(t)
  local ctx = check.begin("action", t, ACTION_FIELDS)
  local a = {
    name = ctx:name(t.name, "name"),
    descr = ctx:opt_string(t.descr, "descr"),
    key = ctx:opt_name(t.key, "key"),
    plugin = ctx:name(t.plugin, "plugin"),
    timeout = ctx:duration(t.timeout, "timeout", true, DEFAULT_TIMEOUT),
    retries = ctx:integer(t.retries, "retries", 0, 0, nil, MAX_RETRIES),
    retry = retry_policy(ctx, t.retry),
  }
  local req = t.req
  if req ~= nil and (type(req) ~= "table" or kind_of(req)) then
    ctx:fail("req", "expected table, got " .. describe(req))
  end
  -- The plugin's request type is checked now, so a bad request fails at this line
  -- rather than mid-run; the normalised copy (defaults filled in) is what runs.
  local normalised, problem = core().check_request(a.plugin, req or {})
  if normalised == nil then ctx:fail(nil, tostring(problem)) end
  a.req = normalised
  return check.make("action", a, ctx.site)
end

local SEQUENCE_FIELDS = set { "name", "descr", "key", "actions" }

--- ws.sequence{ name=, descr?, key?, actions= } (alias ws.seq)
function ws.sequence(t)
  local ctx = check.begin("sequence", t, SEQUENCE_FIELDS, first_child_site)
  local s = {
    name = ctx:name(t.name, "name"),
    descr = ctx:opt_string(t.descr, "descr"),
    key = ctx:opt_name(t.key, "key"),
    actions = ctx:children(t.actions, "actions", "action", no_check_plugins),
  }
  return check.make("sequence", s, ctx.site)
end
ws.seq = ws.sequence

local CHECKS_FIELDS = set { "delay", "actions" }

--- ws.checks{ delay="30s", actions= }
function ws.checks(t)
  local ctx = check.begin("checks", t, CHECKS_FIELDS, first_child_site)
  local c = {
    delay = ctx:duration(t.delay, "delay", true, DEFAULT_CHECKS_DELAY),
    actions = ctx:children(t.actions, "actions", "action", only_check_plugins),
  }
  return check.make("checks", c, ctx.site)
end

-- A checks field: a checks object, or a plain list of actions that becomes one
-- with the default delay.
local function checks_field(ctx, v, field)
  if v == nil or kind_of(v) == "checks" then return v end
  if type(v) ~= "table" or kind_of(v) then
    ctx:fail(field, "expected checks (ws.checks{...}) or a list of actions, got " .. describe(v))
  end
  if v.actions ~= nil or v.delay ~= nil then
    ctx:fail(field, "got a plain table with checks fields; "
                    .. "write ws.checks{ delay = ..., actions = ... }")
  end
  local c = {
    delay = DEFAULT_CHECKS_DELAY + 0.0,
    actions = ctx:children(v, field, "action", only_check_plugins),
  }
  return check.make("checks", c, ctx.site)
end

local function add_checks(ctx, t, obj)
  for _, slot in ipairs(CHECKS_SLOTS) do obj[slot] = checks_field(ctx, t[slot], slot) end
  return obj
end

local BATCH_FIELDS = set { "name", "descr", "key", "when", "fail_plan", "actions" }
local WHEN = { "on_failure", "on_success", "always" }

--- ws.batch{ name=, descr?, key?, when=, fail_plan=false, actions= }
-- `when` has no default: whether a batch runs after a failure is too important to guess.
function ws.batch(t)
  local ctx = check.begin("batch", t, BATCH_FIELDS, first_child_site)
  local b = {
    name = ctx:name(t.name, "name"),
    descr = ctx:opt_string(t.descr, "descr"),
    key = ctx:opt_name(t.key, "key"),
    when = ctx:enum(t.when, "when", WHEN),
    fail_plan = ctx:boolean(t.fail_plan, "fail_plan", false),
    actions = ctx:children(t.actions, "actions", "action", no_check_plugins),
  }
  return check.make("batch", b, ctx.site)
end

local BLOCK_FIELDS = set { "name", "descr", "key", "concurrency", "tolerated_failures",
                           "entrance_delay", "exit_delay", "stop", "sequences",
                           "bypass_checks", "pre_checks", "cont_checks", "post_checks",
                           "deferred_checks" }

local BUDGET_HINT = 'expected an integer >= -1 (-1 = unlimited) or a percentage such as "10%"'

-- tolerated_failures: an integer >= -1, or "N%" with N an integer in 0..100.
local function budget(ctx, v)
  if v == nil or type(v) == "number" then
    return ctx:integer(v, "tolerated_failures", -1, 0, " (-1 means unlimited)")
  end
  if type(v) ~= "string" then ctx:fail("tolerated_failures", BUDGET_HINT .. ", got " .. type(v)) end
  local digits = v:match("^(%d+)%%$")
  if not digits then ctx:fail("tolerated_failures", BUDGET_HINT .. ", got " .. quote(v)) end
  local n = tointeger(tonumber(digits))
  if not n or n > 100 then
    ctx:fail("tolerated_failures", 'a percentage must be from "0%" to "100%", got ' .. quote(v))
  end
  return n .. "%"
end

--- ws.block{ name=, descr?, key?, concurrency=1, tolerated_failures=0, entrance_delay=0,
---           exit_delay=0, stop="sequence", sequences=, <the five checks>? }
function ws.block(t)
  local ctx = check.begin("block", t, BLOCK_FIELDS, first_child_site)
  local b = {
    name = ctx:name(t.name, "name"),
    descr = ctx:opt_string(t.descr, "descr"),
    key = ctx:opt_name(t.key, "key"),
    concurrency = ctx:integer(t.concurrency, "concurrency", 1, 1, nil, MAX_CONCURRENCY),
    tolerated_failures = budget(ctx, t.tolerated_failures),
    entrance_delay = ctx:duration(t.entrance_delay, "entrance_delay", false, 0),
    exit_delay = ctx:duration(t.exit_delay, "exit_delay", false, 0),
    stop = ctx:enum(t.stop, "stop", { "sequence", "action" }, "sequence"),
    sequences = ctx:children(t.sequences, "sequences", "sequence"),
  }
  return check.make("block", add_checks(ctx, t, b), ctx.site)
end

----------------------------------------------------------------- walking

local EARLY_CHECKS = { "bypass_checks", "pre_checks", "cont_checks" }
local LATE_CHECKS = { "post_checks", "deferred_checks" }

local function join(prefix, name)
  name = tostring(name)
  if prefix == "" then return name end
  return prefix .. "/" .. name
end

local function visit_actions(list, prefix, fn)
  for _, a in ipairs(list or EMPTY) do fn(a, join(prefix, a.name)) end
end

local function visit_checks(owner, slot, prefix, fn)
  local c = owner[slot]
  if c == nil then return end
  local path = join(prefix, slot)
  fn(c, path)
  visit_actions(c.actions, path, fn)
end

-- Calls fn(node, path) for every object, in the documented order. Works on plans
-- made by the constructors and on results from core.run (same field names).
local function visit(plan, fn)
  fn(plan, "")
  for _, slot in ipairs(EARLY_CHECKS) do visit_checks(plan, slot, "", fn) end
  for _, block in ipairs(plan.blocks or EMPTY) do
    local bpath = join("", block.name)
    fn(block, bpath)
    for _, slot in ipairs(EARLY_CHECKS) do visit_checks(block, slot, bpath, fn) end
    for _, seq in ipairs(block.sequences or EMPTY) do
      local spath = join(bpath, seq.name)
      fn(seq, spath)
      visit_actions(seq.actions, spath, fn)
    end
    for _, slot in ipairs(LATE_CHECKS) do visit_checks(block, slot, bpath, fn) end
  end
  visit_checks(plan, "post_checks", "", fn)
  for _, batch in ipairs(plan.deferred_actions or EMPTY) do
    local path = join("deferred_actions", batch.name)
    fn(batch, path)
    visit_actions(batch.actions, path, fn)
  end
  visit_checks(plan, "deferred_checks", "", fn)
end

--- for node, path in ws.walk(result) do ... end
-- Every object of a result (or of a plan), parents before children: plan (""),
-- its bypass/pre/cont checks, each block with its checks and sequences, the
-- plan's post checks, deferred batches, deferred checks.
function ws.walk(result)
  if type(result) ~= "table" or not (result.type == "plan" or kind_of(result) == "plan") then
    check.raise(check.caller(), "ws.walk: expected a run result (from ws.run) or a plan, got "
                                .. describe(result))
  end
  return co_wrap(function() visit(result, co_yield) end)
end

-------------------------------------------------------------------- plan

-- `action "restart" at "canary/web1/restart" (plan.lua:12)`
local function whereabouts(node, path)
  local site = check.site(node)
  return fmt("%s at %s%s", label(kind_of(node) or "object", node.name), quote(path),
             site and " (" .. site .. ")" or "")
end

-- An object may appear once in a plan (each gets its own ID and state when it
-- runs), and keys, when given, are unique across the whole plan.
local function check_tree(ctx, plan)
  local seen, keys = {}, {}
  visit(plan, function(node, path)
    if seen[node] then
      ctx:fail(nil, fmt("%s appears twice: at %s and at %s; an object can have only one place in a "
                        .. "plan (build a new one for each place, e.g. with a function)",
                        label(kind_of(node), node.name), quote(seen[node]), quote(path)))
    end
    seen[node] = path
    local key = node.key
    if key ~= nil then
      local other = keys[key]
      if other then
        ctx:fail(nil, fmt("duplicate key %s: %s and %s", quote(key),
                          whereabouts(other, seen[other]), whereabouts(node, path)))
      end
      keys[key] = node
    end
  end)
end

local PLAN_FIELDS = set { "name", "descr", "group", "meta", "blocks", "bypass_checks", "pre_checks",
                          "cont_checks", "post_checks", "deferred_checks", "deferred_actions" }

--- ws.plan{ name=, descr?, group?, meta?, blocks=, <the five checks>?, deferred_actions? }
function ws.plan(t)
  local ctx = check.begin("plan", t, PLAN_FIELDS, first_child_site)
  local p = {
    name = ctx:name(t.name, "name"),
    descr = ctx:opt_string(t.descr, "descr"),
    group = ctx:opt_name(t.group, "group"),
  }
  if t.meta ~= nil then
    if type(t.meta) ~= "table" or kind_of(t.meta) then
      ctx:fail("meta", "expected table, got " .. describe(t.meta))
    end
    p.meta = ctx:json(t.meta, "meta")
  end
  p.blocks = ctx:children(t.blocks, "blocks", "block")
  add_checks(ctx, t, p)
  p.deferred_actions = ctx:children(t.deferred_actions, "deferred_actions", "batch", nil, true)
  check_tree(ctx, p)
  return check.make("plan", p, ctx.site)
end

--------------------------------------------------------------------- run

-- Plans that have been given to ws.run (weak: a plan can still be collected).
local RAN = setmetatable({}, { __mode = "k" })
-- signals: handle SIGINT/SIGTERM during the run (the first stops gracefully,
-- the second cancels running actions); wsrun sets it.
-- origin, resume and retry_of are for wsrun: how to rebuild the plan, the
-- stored run to continue, the stored run this new one retries.
local RUN_OPTIONS = set { "clock", "on_event", "store", "registry", "signals", "origin", "resume",
                          "retry_of", "on_tick", "tick_interval" }

local function run_options(ctx, opts)
  if opts == nil then return EMPTY end
  if type(opts) ~= "table" or kind_of(opts) then
    ctx:fail("opts", "expected table, got " .. describe(opts))
  end
  ctx:unknown_fields(RUN_OPTIONS, opts, "opts")
  ctx:enum(opts.clock, "clock", { "real", "virtual" }, "real")
  ctx:boolean(opts.signals, "signals", false)
  -- Options of the contract the C core does not implement yet: refuse them
  -- rather than run with different semantics than asked for.
  if opts.store ~= nil and (type(opts.store) ~= "string" or opts.store == "") then
    ctx:fail("store", "expected the path of a database, got " .. describe(opts.store))
  end
  for _, f in ipairs { "resume", "retry_of" } do
    if opts[f] ~= nil and type(opts[f]) ~= "string" then ctx:fail(f, "expected a run id") end
    if opts[f] ~= nil and opts.store == nil then ctx:fail(f, "needs a store") end
  end
  if opts.registry ~= nil and not core().is_registry(opts.registry) then
    ctx:fail("registry", "expected a registry (ws.registry()), got " .. describe(opts.registry))
  end
  if opts.on_event ~= nil and type(opts.on_event) ~= "function" then
    ctx:fail("on_event", "expected function, got " .. describe(opts.on_event))
  end
  return opts
end

--- ws.run(plan, { clock = "real", on_event = function(ev) end }) -> result
-- A plan runs once; ws.clone(plan) makes a copy that can run again.
function ws.run(plan, opts)
  local site = check.caller()
  local ctx = check.context("ws.run", site)
  if kind_of(plan) ~= "plan" then
    ctx:fail(nil, "expected a plan (ws.plan{...}), got " .. describe(plan))
  end
  opts = run_options(ctx, opts)
  if RAN[plan] then
    check.raise(site, fmt("%s has already run; use ws.clone(plan) for a new run",
                          label("plan", plan.name)))
  end
  RAN[plan] = true
  local ok, result = pcall(core().run, plan, {
    on_event = opts.on_event, signals = opts.signals == true, clock = opts.clock,
    registry = opts.registry, store = opts.store, origin = opts.origin, resume = opts.resume,
    retry_of = opts.retry_of, on_tick = opts.on_tick, tick_interval = opts.tick_interval })
  if ok then return result end
  local msg = tostring(result)
  local invalid = msg:match("invalid plan: .*$")
  if invalid then
    RAN[plan] = nil -- refused before anything ran: it may run once fixed (or elsewhere)
    check.raise(site, "ws.run: " .. invalid)
  end
  error(result, 0)
end

--- ws.stop(force) -> boolean
-- Stops the plan running in this Lua state (from an on_event handler or a
-- plugin). Graceful by default: nothing new starts, running actions finish,
-- deferred actions still run, the plan ends "stopped". force = true also
-- cancels the running actions. Returns false when no plan is running.
function ws.stop(force)
  if force ~= nil and type(force) ~= "boolean" then
    check.raise(check.caller(), "ws.stop: force: expected boolean, got " .. type(force))
  end
  return core().stop(force == true)
end

------------------------------------------------------------------- clone

-- Deep copy of plain data (requests, meta, retry); tables with a metatable of
-- their own are opaque values and are shared.
local function copy_data(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy_data(x) end
  return out
end

local function clone_node(node)
  local kind = kind_of(node)
  local out = {}
  for k, v in pairs(node) do
    if kind_of(v) then
      out[k] = clone_node(v)
    elseif type(v) == "table" and (k == "blocks" or k == "sequences" or k == "actions"
                                   or k == "deferred_actions") then
      local list = {}
      for i, child in ipairs(v) do list[i] = clone_node(child) end
      out[k] = list
    else
      out[k] = copy_data(v)
    end
  end
  return check.make(kind, out, check.site(node))
end

--- ws.clone(plan): a new plan with the same structure, requests and secrets, that
-- can run (again). Cloning a run result is not supported yet.
function ws.clone(plan)
  if kind_of(plan) ~= "plan" then
    local what = type(plan) == "table" and plan.type == "plan"
                 and "a run result (not supported yet)" or describe(plan)
    check.raise(check.caller(), "ws.clone: expected a plan (ws.plan{...}), got " .. what)
  end
  return clone_node(plan)
end

--- ws.kind(x): "plan", "block", "sequence", "action", "checks", "batch", or nil.
ws.kind = kind_of

------------------------------------------------------------------- plugins

-- The fields below that come from other modules are loaded on first use (the
-- metatable at the end): most plans, and most wsrun commands, need none of
-- them, and compiling them is a good part of wsrun's start. The C module
-- still loads with this one, as it did when workstream.plugins came with it:
-- a bad $WS_PLUGIN_PATH is reported by `require "workstream"`.
core()
local function from_plugins(name)
  return function() return require("workstream.plugins")[name] end
end
local LAZY = {
  types = function() return require "workstream.types" end, -- ws.types.string, ...
  plugin = from_plugins("plugin"),       -- ws.plugin{ name=, request=, execute=, ... }
  permanent = from_plugins("permanent"), -- error(ws.permanent("bad version")) stops retries
  -- Inside a plugin's execute (they yield to the engine, never block the loop):
  sleep = from_plugins("sleep"),         -- ws.sleep("2s")
  call = from_plugins("call"),           -- ws.call("ws.exec", req) -> resp
  exec = from_plugins("exec"),           -- ws.exec{ argv = {...} } -> { code, stdout, stderr, ... }
  -- plans assembled step by step (builder.lua)
  builder = function() return require("workstream.builder").new end,
}

--- ws.plugins.load(path): loads an external C plugin (a shared object) into the
-- default registry. The plugins in $WS_PLUGIN_PATH's directories load by themselves.
ws.plugins = {
  load = function(path, registry)
    if type(path) ~= "string" then
      check.raise(check.caller(), "ws.plugins.load: expected a path, got " .. type(path))
    end
    local ok, err = pcall(core().load_plugin, path, registry)
    if not ok then check.raise(check.caller(), tostring(err)) end
  end,
}
-- A new registry with the built-ins: ws.run(plan, { registry = r }) runs against it
-- (the testing helpers put fakes in one).
ws.registry = function() return core().new_registry() end

-- ws.types, ws.plugin, ws.builder...: loaded, then kept as plain fields.
setmetatable(ws, {
  __index = function(t, k)
    local load = LAZY[k]
    if load == nil then return nil end
    local v = load()
    rawset(t, k, v)
    return v
  end,
})

return ws
