-- Internals of the constructors: object kinds, where an object was written (the
-- caller's file:line), and field validators that raise errors naming the caller's
-- line, the object and the field. Not part of the public API.

local type, pairs, next, error, tostring = type, pairs, next, error, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local math_type, tointeger, huge = math.type, math.tointeger, math.huge
local utf8_len = utf8.len
local fmt, concat, sort = string.format, table.concat, table.sort
local getinfo = debug.getinfo
local duration = require "workstream.duration"

local M = {}

---------------------------------------------------------------------- kinds

-- One private metatable per kind; ws.kind(x) looks the metatable up here, so a
-- table only has a kind if a constructor made it.
local KIND_OF = {}
local META = {}
local ARTICLE = { plan = "a plan", block = "a block", sequence = "a sequence",
                  action = "an action", checks = "a checks object", batch = "a batch" }
local PLURAL = { plan = "plans", block = "blocks", sequence = "sequences", action = "actions",
                 checks = "checks objects", batch = "batches" }

for kind in pairs(ARTICLE) do
  local mt = { __name = "workstream." .. kind }
  mt.__tostring = function(o)
    return o.name and fmt("ws.%s %s", kind, M.quote(o.name)) or "ws." .. kind
  end
  META[kind], KIND_OF[mt] = mt, kind
end

--- The kind of a constructed object ("plan", "block", ...), or nil.
function M.kind(x)
  if type(x) ~= "table" then return nil end
  return KIND_OF[getmetatable(x)]
end

-- Where each object was constructed ("file:line"); weak so objects can be collected.
local SITE = setmetatable({}, { __mode = "k" })

--- Gives obj its kind and remembers where it was written.
function M.make(kind, obj, site)
  SITE[obj] = site
  return setmetatable(obj, META[kind])
end

function M.site(obj) return SITE[obj] end

------------------------------------------------------------ describing values

--- Quotes a string for a message; long text is cut so errors stay one line, and
-- text that is not valid UTF-8 shows its bytes >= 128 as escapes ("\255").
function M.quote(s)
  -- (a cut never splits a character: the lead byte of the last one goes with it)
  if #s > 60 then s = s:sub(1, 57):gsub("[\192-\255][\128-\191]*$", "") .. "..." end
  s = fmt("%q", s):gsub("\\\n", "\\n")
  if not utf8_len(s) then s = s:gsub("[\128-\255]", function(c) return "\\" .. c:byte() end) end
  return s
end

--- A value as shown after "got": strings quoted, numbers as written.
function M.show(v)
  if type(v) == "string" then return M.quote(v) end
  if math_type(v) == "float" then
    if v ~= v then return "nan" end
    if v == huge then return "inf" elseif v == -huge then return "-inf" end
    return fmt("%.14g", v)
  end
  return tostring(v)
end

--- What v is, for "expected X, got <describe(v)>": "string", "a block", "a table".
function M.describe(v)
  local kind = M.kind(v)
  if kind then return ARTICLE[kind] end
  if type(v) == "table" then return "a table" end
  return type(v)
end

--- How an object is named in messages: `action "restart web1"`, or just `checks`.
function M.label(kind, name)
  if type(name) == "string" and name ~= "" then return kind .. " " .. M.quote(name) end
  return kind
end

----------------------------------------------------------------- locations

-- Frames whose source lies in one of these directories belong to the library and
-- are skipped when looking for the caller. Each library file registers its own
-- directory: with an unusual package.path two files can resolve to different
-- directories (e.g. the build tree's symlink and the source tree).
local LIB_DIRS = {}
local OWN_FILES = {}

--- Registers the file whose debug source is given (a "@path") as part of the library.
function M.register(source)
  OWN_FILES[source] = true
  local dir = source:match("^@(.*[/\\])[^/\\]*$")
  if dir then LIB_DIRS["@" .. dir] = true end
end

M.register(getinfo(1, "S").source)

local function in_library(source)
  for dir in pairs(LIB_DIRS) do
    if source:sub(1, #dir) == dir then return true end
  end
  return false
end

-- What we need to know of a function on the stack: { src = short_src, c = is C,
-- lib = in the library, own = in one of the files that registered }. Cached per
-- function because getinfo's "S" is the dearest part of a constructor's
-- bookkeeping, and a plan can have a million objects.
local FUNC = setmetatable({}, { __mode = "k" })

local function classify(fn)
  local c = FUNC[fn]
  if c == nil then
    local info = getinfo(fn, "S")
    local is_c = info.what == "C"
    c = { src = info.short_src, c = is_c, lib = not is_c and in_library(info.source),
          own = OWN_FILES[info.source] or false }
    FUNC[fn] = c
  end
  return c
end

--- Finds the caller: the first Lua frame outside the library.
-- Returns "file:line" and whether the library was entered through a tail call
-- (`return ws.plan{...}`), in which case Lua has dropped the caller's own frame
-- and the location found is the caller's caller (or nil).
-- start: the stack level to look from, counted from the function calling
-- M.caller (1, the default, is that function itself).
function M.caller(start)
  local level, fallback = (start or 1) + 1, nil
  -- tail: the library frame next to the caller was tail-called; any_tail: some
  -- library frame was (when nothing outside is on the stack, e.g. under wsrun,
  -- whose CLI is library code, that is where the plan file's frame went).
  local tail, any_tail = false, false
  while true do
    local info = getinfo(level, "flt")
    if not info then return fallback, any_tail end
    local c = classify(info.func)
    if not c.c then
      if not c.lib then return c.src .. ":" .. info.currentline, tail end
      tail = info.istailcall
      any_tail = any_tail or tail
      -- Library code that is not ours (the CLI, say) is the best we can do when
      -- nothing outside the library is on the stack.
      if not fallback and not c.own then fallback = c.src .. ":" .. info.currentline end
    end
    level = level + 1
  end
end

--------------------------------------------------------- validation context

-- A Ctx validates the fields of one constructor call and raises its errors.
local Ctx = {}
Ctx.__index = Ctx

local NOWHERE = "?:0"

--- Raises `<site>: <msg>`.
function M.raise(site, msg)
  error((site or NOWHERE) .. ": " .. msg, 0)
end

-- The public module, set by init.lua, to catch ws:action{...} (a colon for a dot).
M.api = nil

--- Starts validating `t` for constructor `kind` (e.g. "block").
-- fields: set of accepted field names. first_child(t), optional, returns the
-- site of a child object in t, used when the call was a tail call (see M.caller).
function M.begin(kind, t, fields, first_child)
  local site, tail = M.caller(2) -- from the constructor's frame: skip this one
  if tail and first_child and type(t) == "table" then
    -- The caller's line was lost; the constructor's own table is written right
    -- around its first child, whose line we did record.
    site = first_child(t) or site
  end
  local ctx = setmetatable({ kind = kind, site = site or NOWHERE, t = t }, Ctx)
  if type(t) ~= "table" or M.kind(t) then
    ctx.label = "ws." .. kind
    ctx:fail(nil, fmt("expected a table of fields (ws.%s{...}), got %s", kind, M.describe(t)))
  end
  if t == M.api then
    ctx.label = "ws." .. kind
    ctx:fail(nil, fmt("called as ws:%s{...}; write ws.%s{...}", kind, kind))
  end
  -- The label is only needed for an error, so it is made then (quoting costs).
  ctx.named = fields.name ~= nil
  ctx:unknown_fields(fields)
  return ctx
end

--- A context for validating something other than a constructor's table (ws.run's
-- options): messages read `<site>: <label>: <field>: <problem>`.
function M.context(label, site)
  return setmetatable({ label = label, site = site or NOWHERE }, Ctx)
end

--- Raises `<site>: <label>: <field>: <problem>` (field may be nil).
function Ctx:fail(field, problem)
  local lbl = self.label or (self.named and M.label(self.kind, self.t.name)) or self.kind
  local msg = lbl .. ": " .. (field and field .. ": " or "") .. problem
  error(self.site .. ": " .. msg, 0)
end

--- Edit distance (Levenshtein, by bytes) between strings a and b: what "did you
-- mean" suggestions are made from, here (fields) and in workstream.testing (paths).
function M.distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local d = prev[j] + 1
      if cur[j - 1] + 1 < d then d = cur[j - 1] + 1 end
      if prev[j - 1] + cost < d then d = prev[j - 1] + cost end
      cur[j] = d
    end
    prev = cur
  end
  return prev[#b]
end

local function suggestion(name, fields)
  local best, best_d
  for f in pairs(fields) do
    local d = M.distance(name, f)
    if d <= 2 and (not best_d or d < best_d or (d == best_d and f < best)) then
      best, best_d = f, d
    end
  end
  return best and fmt(' (did you mean "%s"?)', best) or ""
end

--- Rejects fields the constructor does not know (typo protection). t defaults to
-- the constructor's table; field names a nested table ("retry").
function Ctx:unknown_fields(fields, t, field)
  t = t or self.t
  local bad
  for k in pairs(t) do
    if not (type(k) == "string" and fields[k]) then
      bad = bad or {}
      bad[#bad + 1] = k
    end
  end
  if not bad then return end
  -- Report the same field whatever the table's internal order.
  sort(bad, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  local k = bad[1]
  if type(k) == "string" then
    self:fail(field, fmt("unknown field %s%s", M.quote(k), suggestion(k, fields)))
  elseif math_type(k) == "integer" then
    self:fail(field, fmt("unexpected positional value [%d] (%s); fields are named, "
                         .. "e.g. { name = ... }", k, M.describe(t[k])))
  else
    self:fail(field, fmt("unknown field [%s]", M.show(k)))
  end
end

------------------------------------------------------------------ validators
-- Each takes the context, the value and the field's name, and returns the
-- normalised value or raises through ctx:fail.

-- Text is shown, stored and sent as JSON: it must be valid UTF-8.
function Ctx:utf8(v, field)
  local ok, at = utf8_len(v)
  if not ok then self:fail(field, fmt("must be valid UTF-8 text (invalid byte at position %d)", at)) end
  return v
end

function Ctx:name(v, field)
  if type(v) ~= "string" then self:fail(field, "expected a non-empty string, got " .. type(v)) end
  if v == "" then self:fail(field, "must not be empty") end
  return self:utf8(v, field)
end

--- Optional string (descr, group).
function Ctx:opt_string(v, field)
  if v == nil then return nil end
  if type(v) ~= "string" then self:fail(field, "expected string, got " .. type(v)) end
  return self:utf8(v, field)
end

--- Optional non-empty string (key).
function Ctx:opt_name(v, field)
  if v == nil then return nil end
  return self:name(v, field)
end

--- Integer within [min, max] (max may be nil; floats with an integral value are
-- accepted as integers).
function Ctx:integer(v, field, min, default, note, max)
  if v == nil then return default end
  if type(v) ~= "number" then self:fail(field, "expected integer, got " .. type(v)) end
  local i = tointeger(v)
  if not i then self:fail(field, "expected integer, got " .. M.show(v)) end
  if i < min then self:fail(field, fmt("must be >= %d%s, got %s", min, note or "", M.show(v))) end
  if max and i > max then self:fail(field, fmt("must be <= %d, got %s", max, M.show(v))) end
  return i
end

--- Number within [lo, hi] (either bound may be nil).
function Ctx:number(v, field, lo, hi, default)
  if v == nil then return default end
  if type(v) ~= "number" then self:fail(field, "expected number, got " .. type(v)) end
  if v ~= v or v == huge or v == -huge then
    self:fail(field, "must be finite, got " .. M.show(v))
  end
  if lo and v < lo then self:fail(field, fmt("must be >= %s, got %s", M.show(lo), M.show(v))) end
  if hi and v > hi then self:fail(field, fmt("must be <= %s, got %s", M.show(hi), M.show(v))) end
  return v + 0.0
end

--- Duration in seconds; positive means > 0, otherwise >= 0.
function Ctx:duration(v, field, positive, default)
  if v == nil then v = default end
  local secs, problem = duration.parse(v, positive)
  if not secs then self:fail(field, problem) end
  return secs
end

function Ctx:boolean(v, field, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then self:fail(field, "expected boolean, got " .. type(v)) end
  return v
end

--- One of the given strings; default nil means the field is required.
function Ctx:enum(v, field, choices, default)
  if v == nil then
    if default ~= nil then return default end
    self:fail(field, "missing (expected " .. M.choices(choices) .. ")")
  end
  for i = 1, #choices do
    if v == choices[i] then return v end
  end
  self:fail(field, fmt("expected %s, got %s", M.choices(choices),
                       type(v) == "string" and M.quote(v) or type(v)))
end

--- `"a", "b" or "c"`.
function M.choices(list)
  local q = {}
  for i = 1, #list do q[i] = '"' .. list[i] .. '"' end
  if #q == 1 then return q[1] end
  return concat(q, ", ", 1, #q - 1) .. " or " .. q[#q]
end

--- Checks that v is a plain list (keys exactly 1..n, no holes); returns n. Does
-- not check the elements. `what` names the elements for messages ("blocks").
function Ctx:list(v, field, what, optional)
  if v == nil then
    if optional then return nil end
    self:fail(field, "missing (expected a non-empty list of " .. what .. ")")
  end
  if type(v) ~= "table" or M.kind(v) then
    self:fail(field, fmt("expected a list of %s, got %s", what, M.describe(v)))
  end
  if next(v) == nil then self:fail(field, "must not be empty") end
  -- Count the keys rather than trust #v, which is any border when there are holes.
  local count, max = 0, 0
  for k in pairs(v) do
    if math_type(k) ~= "integer" or k < 1 then
      self:fail(field, fmt("expected a list of %s, but it has the key [%s]", what, M.show(k)))
    end
    count = count + 1
    if k > max then max = k end
  end
  if count ~= max then
    for i = 1, max do
      if v[i] == nil then self:fail(fmt("%s[%d]", field, i), "missing (the list has a hole)") end
    end
  end
  return max
end

--- A non-empty list of objects of one kind, copied. check(ctx, obj, field, i)
-- may reject an element (M.at(field, i) names it: "sequences[2]").
function Ctx:children(v, field, kind, check, optional)
  local n = self:list(v, field, PLURAL[kind], optional)
  if not n then return nil end
  local out = {}
  for i = 1, n do
    local el = v[i]
    if M.kind(el) ~= kind then
      local extra = type(el) == "table" and not M.kind(el) and " (not made by a constructor)" or ""
      self:fail(M.at(field, i), fmt("expected %s (ws.%s{...}), got %s%s",
                                    ARTICLE[kind], kind, M.describe(el), extra))
    end
    if check then check(self, el, field, i) end
    out[i] = el
  end
  return out
end

--- "field[i]", made only when a message needs it.
function M.at(field, i)
  return fmt("%s[%d]", field, i)
end

--- Copies a JSON-like value (string, finite number, boolean, list or string-keyed
-- table), rejecting anything the engine could not store, and cycles.
function Ctx:json(v, field, seen)
  local t = type(v)
  if t == "string" then return self:utf8(v, field) end
  if t == "boolean" then return v end
  if t == "number" then
    if v ~= v or v == huge or v == -huge then
      self:fail(field, "must be finite, got " .. M.show(v))
    end
    return v
  end
  if t ~= "table" or M.kind(v) then
    self:fail(field, "expected a string, number, boolean or table, got " .. M.describe(v))
  end
  seen = seen or {}
  if seen[v] then self:fail(field, "contains itself (a cycle)") end
  seen[v] = true
  local out, n, has_string = {}, #v, false
  for k, x in pairs(v) do
    local sub
    if type(k) == "string" then
      has_string, sub = true, field .. "." .. self:utf8(k, field)
    elseif math_type(k) == "integer" and k >= 1 and k <= n then
      sub = fmt("%s[%d]", field, k)
    else
      self:fail(field, "keys must be strings, or 1..n for a list; got the key ["
                       .. M.show(k) .. "]")
    end
    out[k] = self:json(x, sub, seen)
  end
  if has_string and n > 0 then self:fail(field, "mixes a list part with string keys") end
  seen[v] = nil
  return out
end

return M
