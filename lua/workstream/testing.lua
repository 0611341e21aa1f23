-- workstream.testing: helpers for testing plans with busted (DESIGN.md, section 3).
--
--   local T = require "workstream.testing"
--   local fakes = T.fakes()                       -- a registry: fakes + the built-ins
--   local deploy = fakes:fake("acme.deploy", {    -- keeps acme.deploy's real types
--     responses = { { previous = "1.1" }, T.fail("boom"), T.sleep("1h") }, -- in call order
--     default = { previous = "1.0" },             -- once the script has run out
--   })
--   local result = fakes:run(plan)                -- on the virtual clock
--   deploy.calls[1].req.host                      -- every call, in order
--   T.find(result, "canary/web1/deploy").status   -- a node by its ws.walk path
--   T.statuses(result, "canary")                  -- { web1 = "completed", ... }
--
-- A fake is registered with `like` the real plugin, so it has the real one's
-- request and response types and check flag: a plan with a bad request is still
-- refused, and a scripted response of the wrong type fails its attempt, as the
-- real plugin's would. Errors name the caller's file:line.

local check = require "workstream.check"
check.register(debug.getinfo(1, "S").source)

local ws = require "workstream"
local plugins = require "workstream.plugins"
local duration = require "workstream.duration"

local type, pairs, ipairs, next, error, tostring, require =
      type, pairs, ipairs, next, error, tostring, require
local setmetatable, getmetatable = setmetatable, getmetatable
local fmt, concat, sort = string.format, table.concat, table.sort
local math_type, min = math.type, math.min

local quote, describe, distance = check.quote, check.describe, check.distance

local T = {}

-- The C module requires nothing of ours: no cycle to avoid by loading it late.
local core = require "workstream.core"

------------------------------------------------------------ scripted answers

-- T.fail, T.fail_permanent and T.sleep make steps of a script: tables with this
-- metatable, so they cannot be mistaken for a response.
local STEP = { __name = "workstream.testing.step" }
STEP.__tostring = function(s)
  if s.step == "sleep" then return fmt("T.sleep(%s)", duration.format(s.seconds)) end
  return fmt("T.%s(%s)", s.permanent and "fail_permanent" or "fail", quote(s.msg))
end

local function is_step(v) return getmetatable(v) == STEP end

local function fail_step(fn, msg, code, permanent)
  local site = check.caller()
  if type(msg) ~= "string" then
    check.raise(site, fmt("%s: msg: expected string, got %s", fn, describe(msg)))
  end
  if code ~= nil and type(code) ~= "string" then
    check.raise(site, fmt("%s: code: expected string, got %s", fn, describe(code)))
  end
  return setmetatable({ step = "fail", msg = msg, code = code, permanent = permanent }, STEP)
end

--- T.fail(msg, code?): the call fails with a retryable error.
function T.fail(msg, code) return fail_step("T.fail", msg, code, false) end

--- T.fail_permanent(msg, code?): the call fails with an error that stops retries.
function T.fail_permanent(msg, code) return fail_step("T.fail_permanent", msg, code, true) end

-- What a script entry may be, for messages.
local ENTRY = "a response table, T.fail(...), T.fail_permanent(...), T.sleep(...) "
              .. "or a function(req, ctx)"

-- nil when v can be a script entry, else what is wrong with it.
local function bad_entry(v)
  if type(v) == "function" or is_step(v) then return nil end
  if type(v) == "table" and getmetatable(v) == nil then return nil end
  return fmt("expected %s, got %s", ENTRY, describe(v))
end

--- T.sleep(seconds, answer?): the call waits (ws.sleep, so on the run's clock)
-- before it answers with `answer` (any script entry), or with the fake's
-- default. Longer than the action's timeout, it makes the attempt time out.
function T.sleep(seconds, answer)
  local site = check.caller()
  local secs, why = duration.parse(seconds)
  if not secs then check.raise(site, "T.sleep: seconds: " .. why) end
  if answer ~= nil then
    local bad = bad_entry(answer)
    if bad then check.raise(site, "T.sleep: answer: " .. bad) end
  end
  return setmetatable({ step = "sleep", seconds = secs, answer = answer }, STEP)
end

-- Gives the answer an entry stands for: returns a response or raises the
-- plugin error. Runs inside the fake's execute, so it may yield (ws.sleep).
-- default: the fake's default, which a T.sleep without an answer gives.
local function answer(entry, default, req, ctx)
  if type(entry) == "function" then
    return answer(entry(req, ctx), default, req, ctx)
  end
  if not is_step(entry) then return entry end
  if entry.step == "sleep" then
    ws.sleep(entry.seconds)
    local after = entry.answer
    if after == nil then after = default or {} end
    return answer(after, default, req, ctx)
  end
  if entry.permanent then error(ws.permanent(entry.msg, entry.code)) end
  error({ msg = entry.msg, code = entry.code }, 0)
end

------------------------------------------------------------------- fakes

local Fakes = {}
Fakes.__index = Fakes

local FAKE_OPTIONS = { responses = true, default = true }

--- T.fakes() -> fakes: a registry of its own (fakes.registry) holding the
-- built-in plugins, and the fakes and real plugins added to it.
function T.fakes()
  return setmetatable({
    registry = ws.registry(),
    by_name = {},   -- name -> fake
    reals = {},     -- name -> site of fakes:real
    paths = {},     -- action id -> path, from the events of fakes:run
    starts = {},    -- action id -> when it last started running (a check reruns)
    fresh = {},     -- calls made since the last fakes:run ended
  }, Fakes)
end

local function method_check(self, method)
  if getmetatable(self) ~= Fakes then
    check.raise(check.caller(), fmt("%s: call it with a colon (fakes:%s), not a dot",
                                    "fakes." .. method, method))
  end
end

-- Checks that `name` names a plugin of the default registry; returns the site.
local function real_plugin(self, method, name)
  method_check(self, method)
  local site = check.caller()
  local call = fmt("fakes:%s(%s)", method, type(name) == "string" and quote(name) or "...")
  if type(name) ~= "string" or name == "" then
    check.raise(site, fmt("%s: name: expected a plugin name, got %s", call, describe(name)))
  end
  if not core.plugin_info(name) then
    check.raise(site, fmt("%s: no plugin %s is registered (load the module that registers it "
                          .. "before the fakes; a fake keeps the real plugin's types)",
                          call, quote(name)))
  end
  if self.by_name[name] then
    check.raise(site, fmt("%s: %s is already faked in these fakes", call, quote(name)))
  end
  if self.reals[name] then
    check.raise(site, fmt("%s: %s is already let through (fakes:real at %s)", call, quote(name),
                          self.reals[name]))
  end
  return site, call
end

-- The options of fakes:fake, checked: the script (copied) and the default.
local function fake_options(site, call, opts)
  if opts == nil then return {}, {} end -- nothing scripted: {} to every call
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    check.raise(site, fmt("%s: expected a table of options { responses=, default= }, got %s",
                          call, describe(opts)))
  end
  for k in pairs(opts) do
    if not FAKE_OPTIONS[k] then
      check.raise(site, fmt("%s: unknown option %s (expected responses or default)", call,
                            type(k) == "string" and quote(k) or tostring(k)))
    end
  end
  local script = {}
  local responses = opts.responses
  if responses ~= nil then
    if type(responses) ~= "table" or getmetatable(responses) ~= nil then
      check.raise(site, fmt("%s: responses: expected a list of script entries, got %s", call,
                            describe(responses)))
    end
    local n = 0
    for k in pairs(responses) do
      if math_type(k) ~= "integer" or k < 1 then
        check.raise(site, fmt("%s: responses: expected a list, but it has the key [%s]", call,
                              check.show(k)))
      end
      if k > n then n = k end
    end
    for i = 1, n do
      local bad = responses[i] == nil and "missing (the list has a hole)" or bad_entry(responses[i])
      if bad then check.raise(site, fmt("%s: responses[%d]: %s", call, i, bad)) end
      script[i] = responses[i]
    end
  end
  local default = opts.default
  if default ~= nil then
    local bad = bad_entry(default)
    if bad then check.raise(site, fmt("%s: default: %s", call, bad)) end
  elseif responses == nil then
    default = {}
  end
  return script, default
end

--- fakes:fake(name, { responses = {...}, default = ... }) -> fake
-- Puts a fake of plugin `name` (registered in the default registry) in the
-- fakes registry. Each call takes the next entry of `responses`, then `default`:
-- a response table, T.fail(msg, code?), T.fail_permanent(msg, code?),
-- T.sleep(seconds, answer?), or a function(req, ctx) returning one of these or
-- raising. Without `responses` the default is {}; with them and no default, a
-- call past the script fails (a test that scripted n calls did not expect n+1).
-- fake.calls lists every call: { req, attempt, action_id, path, time }; path
-- and time (when the attempt started) are filled in by fakes:run.
function Fakes:fake(name, opts)
  local site, call = real_plugin(self, "fake", name)
  self.faked = self.faked or {}
  if self.faked[name] then check.raise(site, fmt("%s: %s is already faked here", call, quote(name))) end
  if core.plugin_info(name, self.registry) then
    -- a built-in, which a fakes registry starts with: the fake replaces it
    core.unregister(name, self.registry)
  end
  local script, default = fake_options(site, call, opts)
  self.faked[name] = true
  local fake = { name = name, calls = {} }
  local used = 0
  local fakes, paths, starts = self, self.paths, self.starts
  plugins.plugin({
    name = name,
    like = name,
    descr = "fake of " .. name .. " (workstream.testing)",
    execute = function(ctx, req)
      -- A first attempt starts with its action's "running" event; a later one
      -- after a backoff that no event tells, so the result does (settle_calls).
      local id = ctx.action_id
      local record = { req = req, attempt = ctx.attempt, action_id = id, path = paths[id],
                       time = ctx.attempt == 1 and starts[id] or nil }
      fake.calls[#fake.calls + 1] = record
      fakes.fresh[#fakes.fresh + 1] = record -- a new list after each run
      local entry
      if used < #script then
        used = used + 1
        entry = script[used]
      else
        entry = default
      end
      if entry == nil then
        error(ws.permanent(fmt("fake %s: call %d: the %d scripted responses are used up and "
                               .. "there is no default", quote(name), #fake.calls, #script),
                           "fake_exhausted"))
      end
      return answer(entry, default, req, ctx)
    end,
  }, self.registry)
  self.by_name[name] = fake
  return fake
end

--- fakes:real(name) -> fakes: lets the real plugin `name` run in these fakes.
-- Built-in plugins are there already. A Lua plugin is registered again with
-- its own spec, which needs workstream.plugins to keep the specs it registered
-- (plugins.spec(name)); where it does not, this is an error that says so.
function Fakes:real(name)
  local site, call = real_plugin(self, "real", name)
  if core.plugin_info(name, self.registry) then -- a built-in: real already
    self.reals[name] = site
    return self
  end
  local spec = plugins.spec and plugins.spec(name)
  if not spec then
    check.raise(site, fmt("%s: cannot let %s through: %s", call, quote(name),
                          plugins.spec and "it is not a Lua plugin registered with ws.plugin"
                          or "this version of workstream.plugins does not keep the specs of "
                             .. "the plugins it registers; fake it with fakes:fake instead"))
  end
  local copy = {}
  for k, v in pairs(spec) do copy[k] = v end
  plugins.plugin(copy, self.registry)
  self.reals[name] = site
  return self
end

-- Every plugin the plan uses that the fakes registry lacks, in walk order:
-- { name =, path = (of its first use) }.
local function missing_plugins(self, plan)
  local missing, seen = {}, {}
  for node, path in ws.walk(plan) do
    local name = ws.kind(node) == "action" and node.plugin
    if name and not seen[name] then
      seen[name] = true
      if not core.plugin_info(name, self.registry) then
        missing[#missing + 1] = { name = name, path = path }
      end
    end
  end
  return missing
end

-- The engine would refuse such a plan with `unknown plugin "x"` (after taking
-- the plan's one run); this says the same before anything runs, with the way out.
local function unknown_plugins(site, plan, missing)
  local what = check.label("plan", plan.name)
  if #missing == 1 then
    local name = quote(missing[1].name)
    check.raise(site, fmt("fakes:run: %s: unknown plugin %s in the fakes registry (used at %s); "
                          .. "fake it with fakes:fake(%s, {...}) or let the real one run with "
                          .. "fakes:real(%s)", what, name, quote(missing[1].path), name, name))
  end
  local list = {}
  for i, m in ipairs(missing) do list[i] = fmt("%s (used at %s)", quote(m.name), quote(m.path)) end
  check.raise(site, fmt("fakes:run: %s: unknown plugins in the fakes registry: %s; fake each with "
                        .. "fakes:fake(name, {...}) or let the real ones run with fakes:real(name)",
                        what, concat(list, ", ")))
end

-- Fills in what the calls made since the last fakes:run lack (the time of a
-- retry; anything, for a call outside fakes:run) from this run's result. A
-- result keeps only the last run of a check's action, hence the events first.
local function settle_calls(self, result)
  local fresh = self.fresh
  if next(fresh) == nil then return end
  self.fresh = {}
  local by_id = {}
  for node, path in ws.walk(result) do
    if node.type == "action" then by_id[node.id] = { node = node, path = path } end
  end
  for _, call in ipairs(fresh) do
    local found = by_id[call.action_id]
    if found then
      call.path = call.path or found.path
      local attempt = found.node.attempts and found.node.attempts[call.attempt]
      if call.time == nil and attempt then call.time = attempt.started end
    end
  end
end

--- fakes:run(plan, opts?) -> result: ws.run with the fakes registry and, unless
-- opts says otherwise, the virtual clock. opts are ws.run's, but `registry`.
function Fakes:run(plan, opts)
  method_check(self, "run")
  local site = check.caller()
  local o = { registry = self.registry, clock = "virtual" }
  if opts ~= nil then
    if type(opts) ~= "table" or getmetatable(opts) ~= nil then
      check.raise(site, "fakes:run: opts: expected table, got " .. describe(opts))
    end
    for k, v in pairs(opts) do
      if k == "registry" then
        check.raise(site, "fakes:run: opts: registry: fakes:run runs against the fakes "
                          .. "registry; use ws.run(plan, { registry = ... }) for another")
      end
      o[k] = v
    end
  end
  if ws.kind(plan) == "plan" then
    local missing = missing_plugins(self, plan)
    if #missing > 0 then unknown_plugins(site, plan, missing) end
  end
  -- Each action's path and start, as it starts, so that its calls know them at
  -- once. (Anything but a function is left to ws.run, which says what is wrong.)
  local paths, starts, user_on_event = self.paths, self.starts, o.on_event
  if user_on_event == nil or type(user_on_event) == "function" then
    o.on_event = function(ev)
      if ev.type == "state" and ev.object == "action" and ev.status == "running" then
        paths[ev.id], starts[ev.id] = ev.path, ev.time
      end
      if user_on_event then return user_on_event(ev) end
    end
  end
  local result = ws.run(plan, o)
  settle_calls(self, result)
  return result
end

Fakes.__name = "workstream.testing.fakes"

-------------------------------------------------------------------- finding

local function kind_of(node) return node.type or ws.kind(node) or "object" end

local function node_label(node)
  return check.label(kind_of(node), node.name)
end

-- Up to 5 paths near `path`: within a few edits (a quarter of its length), or
-- ending with the same name (the right action in the wrong sequence).
local function close_matches(path, all)
  local last = path:match("([^/]*)$")
  local scored = {}
  for _, p in ipairs(all) do
    local d = distance(path, p)
    if p ~= "" and (d <= 1 or d <= #path // 4 or p:match("([^/]*)$") == last) then
      scored[#scored + 1] = { p = p, d = d }
    end
  end
  sort(scored, function(x, y) if x.d ~= y.d then return x.d < y.d end return x.p < y.p end)
  local out = {}
  for i = 1, min(5, #scored) do out[i] = quote(scored[i].p) end
  return out
end

local function find(site, result, path)
  if type(path) ~= "string" then
    check.raise(site, "T.find: path: expected a string such as \"canary/web1/restart\", got "
                      .. describe(path))
  end
  local found, all = {}, {}
  for node, p in ws.walk(result) do
    if p == path then found[#found + 1] = node end
    all[#all + 1] = p
  end
  if #found == 1 then return found[1] end
  if #found > 1 then
    local names = {}
    for i, node in ipairs(found) do names[i] = node_label(node) end
    check.raise(site, fmt("T.find: %s is ambiguous: %d objects have that path (%s); "
                          .. "ws.walk paths repeat when names do", quote(path), #found,
                          concat(names, ", ")))
  end
  local near = close_matches(path, all)
  local hint
  if #near > 0 then
    hint = "close matches: " .. concat(near, ", ")
  else
    local tops = {}
    for _, p in ipairs(all) do
      if p ~= "" and not p:find("/", 1, true) then tops[#tops + 1] = quote(p) end
    end
    hint = "the top-level paths are " .. concat(tops, ", ")
  end
  check.raise(site, fmt("T.find: no object at %s; %s", quote(path), hint))
end

--- T.find(result, path) -> node: the object of a result (or plan) at a ws.walk
-- path ("" is the plan); an error if there is none (listing close matches) or
-- if more than one object has that path.
function T.find(result, path)
  return find(check.caller(), result, path)
end

-- The children whose statuses T.statuses reports.
local CHILDREN = { plan = "blocks", block = "sequences", sequence = "actions", batch = "actions",
                   checks = "actions" }

--- T.statuses(result, path?) -> { name = status }: the statuses of the children
-- of the object at path: a plan's blocks ("" or no path), a block's sequences,
-- the actions of a sequence, batch or checks.
function T.statuses(result, path)
  local site = check.caller()
  local node = find(site, result, path or "")
  local field = CHILDREN[kind_of(node)]
  local out = {}
  for _, child in ipairs(field and node[field] or {}) do
    if out[child.name] then
      check.raise(site, fmt("T.statuses: %s has two %s named %s; use T.find or ws.walk",
                            node_label(node), field, quote(child.name)))
    end
    out[child.name] = child.status
  end
  return out
end

return T
