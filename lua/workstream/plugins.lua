-- workstream.plugins: Lua plugins (ws.plugin) and what their execute may call
-- (ws.sleep, ws.call, ws.exec, ws.permanent). The C core runs each attempt in
-- a coroutine of its own; these functions yield to it.

local check = require "workstream.check"
local duration = require "workstream.duration"
local types = require "workstream.types"

local error, pairs, setmetatable, type = error, pairs, setmetatable, type
local isyieldable = coroutine.isyieldable
local fmt = string.format

local M = {}

-- The C module requires nothing of ours: no cycle to avoid by loading it late.
local core = require "workstream.core"

-- Specs of the plugins registered in the default registry, by name: the
-- testing helpers register a real one again in a fakes registry (fakes:real).
local SPECS = {}
function M.spec(name) return SPECS[name] end

local function remember(name, spec, registry)
  if registry ~= nil then return end
  local copy = {}
  for k, v in pairs(spec) do copy[k] = v end
  SPECS[name] = copy
end

local SPEC_FIELDS = { name = true, descr = true, check = true, request = true, response = true,
                      retry = true, init = true, validate = true, execute = true, like = true }

local function fail(site, name, field, msg)
  local who = name and fmt("plugin %s", check.quote(name)) or "ws.plugin"
  check.raise(site, who .. ": " .. (field and field .. ": " or "") .. msg)
end

-- A retry policy table with durations, in seconds; missing fields take the default.
local function policy(site, name, p)
  if type(p) ~= "table" then fail(site, name, "retry", "expected a table, got " .. type(p)) end
  local out = { initial = 0.1, multiplier = 2, jitter = 0.5, max = 60 }
  for k, v in pairs(p) do
    if out[k] == nil then fail(site, name, "retry", fmt("unknown field %q", tostring(k))) end
    if k == "initial" or k == "max" then
      local secs, why = duration.parse(v, true)
      if not secs then fail(site, name, "retry." .. k, why) end
      out[k] = secs
    elseif type(v) ~= "number" then
      fail(site, name, "retry." .. k, "expected number, got " .. type(v))
    else
      out[k] = v
    end
  end
  if out.multiplier < 1 or out.multiplier > 1e6 then
    fail(site, name, "retry.multiplier", "must be within [1, 1000000]")
  end
  if out.jitter < 0 or out.jitter > 1 then fail(site, name, "retry.jitter", "must be within [0, 1]") end
  if out.initial > out.max then fail(site, name, "retry", "initial must not exceed max") end
  return out
end

--- ws.plugin{ name=, check?, request=, response?, retry?, init?, validate?, execute= }
-- Registers a Lua plugin in the default registry, or in `registry`.
-- like = "other.plugin" (instead of check, request, response, retry) takes
-- those of that plugin in the default registry: a fake that keeps its types.
function M.plugin(spec, registry)
  local site = check.caller()
  if type(spec) ~= "table" then fail(site, nil, nil, "expected a table of fields, got " .. type(spec)) end
  local name = spec.name
  if type(name) ~= "string" or name == "" then
    fail(site, nil, "name", "expected a non-empty string")
  end
  for k in pairs(spec) do
    if not SPEC_FIELDS[k] then fail(site, name, nil, fmt("unknown field %q", tostring(k))) end
  end
  if spec.descr ~= nil and type(spec.descr) ~= "string" then
    fail(site, name, "descr", "expected string, got " .. type(spec.descr))
  end
  if spec.check ~= nil and type(spec.check) ~= "boolean" then
    fail(site, name, "check", "expected boolean, got " .. type(spec.check))
  end
  if type(spec.execute) ~= "function" then
    fail(site, name, "execute", "expected a function(ctx, req), got " .. type(spec.execute))
  end
  for _, f in pairs { "init", "validate" } do
    if spec[f] ~= nil and type(spec[f]) ~= "function" then
      fail(site, name, f, "expected a function, got " .. type(spec[f]))
    end
  end
  if spec.like ~= nil then
    if type(spec.like) ~= "string" then fail(site, name, "like", "expected a plugin name") end
    for _, f in pairs { "check", "request", "response", "retry" } do
      if spec[f] ~= nil then fail(site, name, f, "comes from the plugin named by `like`") end
    end
    local def = { name = name, descr = spec.descr, like = spec.like, init = spec.init,
                  validate = spec.validate, execute = spec.execute }
    local done, err = pcall(core.register_plugin, def, registry)
    if not done then check.raise(site, tostring(err)) end
    remember(name, spec, registry)
    return name
  end
  local ok, request = pcall(types.as_type, spec.request or {}, "request")
  if not ok then fail(site, name, "request", (request:gsub("^.-ws%.types: ", ""))) end
  local response
  ok, response = pcall(types.as_type, spec.response or {}, "response")
  if not ok then fail(site, name, "response", (response:gsub("^.-ws%.types: ", ""))) end
  if request.kind ~= "record" or response.kind ~= "record" then
    fail(site, name, nil, "request and response must be records (tables of fields)")
  end
  local def = {
    name = name, descr = spec.descr, check = spec.check == true,
    request = request, response = response,
    retry = spec.retry ~= nil and policy(site, name, spec.retry) or nil,
    init = spec.init, validate = spec.validate, execute = spec.execute,
  }
  local done, err = pcall(core.register_plugin, def, registry)
  if not done then check.raise(site, tostring(err)) end
  remember(name, spec, registry)
  return name
end

local ERROR_MT
--- ws.permanent(msg, code?): an error that stops retries: error(ws.permanent("bad version")).
function M.permanent(msg, code)
  ERROR_MT = ERROR_MT or core.error_mt
  return setmetatable({ msg = tostring(msg), code = code, permanent = true }, ERROR_MT)
end

-- The primitives yield to the engine: called where nothing can yield (a plan
-- file's main chunk, a metamethod), they fail at the caller's line.
local function can_yield(fn)
  if not isyieldable() then
    check.raise(check.caller(), fn .. " can only be called by a plugin's execute, where it can "
                .. "yield (not in a metamethod, an iterator or a __gc handler)")
  end
end

--- ws.sleep(seconds or "250ms"): waits on the engine's clock, inside a plugin's execute.
function M.sleep(d)
  can_yield("ws.sleep")
  local secs, why = duration.parse(d)
  if not secs then error("ws.sleep: " .. why, 2) end
  return core.sleep(secs)
end

--- ws.call(plugin, req) -> resp: calls another plugin, native or Lua, without
-- blocking the loop. Its error is raised as an error table {msg, code, permanent}.
function M.call(plugin, req)
  can_yield("ws.call")
  return core.call(plugin, req)
end

-- Every exit code: ws.exec from Lua returns the result, whatever the code.
local ANY_CODE = {}
for c = 0, 255 do ANY_CODE[#ANY_CODE + 1] = c end

--- ws.exec{ argv, env?, cwd?, stdin?, timeout? } -> { code, signal, stdout, stderr, ... }
-- Runs a command from a plugin's execute. A non-zero exit is a result, not an
-- error; a command that cannot start or dies of a signal raises.
function M.exec(req)
  can_yield("ws.exec")
  if type(req) ~= "table" then error("ws.exec: expected a table {argv = {...}}, got " .. type(req), 2) end
  local r = {}
  for k, v in pairs(req) do r[k] = v end
  if r.ok_codes == nil then r.ok_codes = ANY_CODE end
  return core.call("ws.exec", r)
end

return M
