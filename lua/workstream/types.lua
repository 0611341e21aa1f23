-- workstream.types: the type system of plugin requests and responses, as Lua
-- values. These are only descriptions: the C core turns them into its own
-- type descriptors and one validator serves Lua and C plugins alike.
--
--   local t = ws.types
--   request = { host = t.string, port = t.default(t.integer, 22),
--               tags = t.optional(t.list(t.string)), token = t.secret(t.string) }
--
-- A plain table of fields, where a type is expected, is a record.

local check = require "workstream.check"

local error, getmetatable, ipairs, pairs, setmetatable, type =
  error, getmetatable, ipairs, pairs, setmetatable, type
local fmt = string.format

local T = {}

local TYPE = { __name = "workstream.type" }

local function new(t)
  return setmetatable(t, TYPE)
end

local function fail(msg)
  check.raise(check.caller(), "ws.types: " .. msg)
end

--- True when v is a type made here.
function T.is_type(v)
  return getmetatable(v) == TYPE
end

-- A type, or a plain table of fields (a record), or an error naming `what`.
local function as_type(v, what)
  if getmetatable(v) == TYPE then return v end
  if type(v) == "table" and getmetatable(v) == nil then return T.record(v) end
  fail(fmt("%s: expected a type (ws.types.string, ws.types.list(...), ...), got %s", what, type(v)))
end
T.as_type = as_type

T.any = new { kind = "any" }
T.string = new { kind = "string" }
T.integer = new { kind = "integer" }
T.number = new { kind = "number" }
T.boolean = new { kind = "boolean" }

function T.list(elem) return new { kind = "list", elem = as_type(elem, "list") } end
function T.map(elem) return new { kind = "map", elem = as_type(elem, "map") } end
function T.optional(elem) return new { kind = "optional", elem = as_type(elem, "optional") } end
function T.secret(elem) return new { kind = "secret", elem = as_type(elem, "secret") } end

--- default(T, v): absent means v (checked against T when the plugin registers).
function T.default(elem, value)
  if value == nil then fail("default: needs a value") end
  return new { kind = "default", elem = as_type(elem, "default"), value = value }
end

--- record{ name = type, ... }: closed; an unknown field is an error.
function T.record(fields)
  if type(fields) ~= "table" or getmetatable(fields) ~= nil then
    fail("record: expected a table of field = type, got " .. type(fields))
  end
  local out = {}
  for name, ft in pairs(fields) do
    if type(name) ~= "string" or name == "" then
      fail(fmt("record: field names must be non-empty strings, got %s", type(name)))
    end
    out[name] = as_type(ft, "record field " .. name)
  end
  return new { kind = "record", fields = out }
end

--- enum{ "a", "b", ... }: one of these strings.
function T.enum(values)
  if type(values) ~= "table" or #values == 0 then fail("enum: expected a non-empty list of strings") end
  local seen, out = {}, {}
  for i, v in ipairs(values) do
    if type(v) ~= "string" or v == "" then fail(fmt("enum: value %d is not a non-empty string", i)) end
    if seen[v] then fail(fmt("enum: %q appears twice", v)) end
    seen[v] = true
    out[i] = v
  end
  return new { kind = "enum", values = out }
end

return T
