-- workstream.builder: ws.builder{...}, for plans assembled step by step from
-- data rather than written as one nested table (DESIGN.md, section 3):
--
--   local b = ws.builder{ name = "rollout" }      -- any ws.plan field but the parts
--   b:checks("pre", { ws.action{...} })           -- at the plan, or in an open block
--   b:block{ name = "canary" }                    -- ws.block fields but the parts
--     b:sequence{ name = "web1" }                 -- alias b:seq
--       b:action{ name = "restart", plugin = "ws.exec", req = {...} }
--     b:up()
--   b:up()
--   b:deferred{ name = "rollback", when = "on_failure" } ; b:action{...} ; b:up()
--   local plan = b:plan()                         -- closes what is still open
--
-- The builder makes the real objects with the constructors: ws.action at once,
-- the others when their scope closes (b:up(), b:plan()). So it validates
-- exactly as they do and raises their errors; it only moves each error to the
-- line that wrote the part it is about (the b:block{...} line for a bad block
-- field or a block without sequences, the b:checks line for bad checks, the
-- b:action line for a misplaced plugin). Its own errors are about misuse: an
-- action outside a sequence, a block inside a block, a method after b:plan().

local check = require "workstream.check"
check.register(debug.getinfo(1, "S").source)

local type, pairs, ipairs, tonumber, pcall, error, require =
      type, pairs, ipairs, tonumber, pcall, error, require
local setmetatable, getmetatable = setmetatable, getmetatable
local fmt, concat = string.format, table.concat

local quote, label, describe = check.quote, check.label, check.describe

local M = {}

-- "workstream" requires this module while it loads, so it is looked up on
-- first use rather than here (that would be a require cycle).
local ws_module
local function ws()
  if not ws_module then ws_module = require "workstream" end
  return ws_module
end

-- b:checks("pre", ...) -> the pre_checks field of the owner.
local SLOTS = { bypass = "bypass_checks", pre = "pre_checks", cont = "cont_checks",
                post = "post_checks", deferred = "deferred_checks" }
local SLOT_NAMES = { "bypass", "pre", "cont", "post", "deferred" }

-- Fields the builder fills in itself, with where they come from instead.
local PARTS = {
  plan = { blocks = "add each block with b:block{...}",
           deferred_actions = "add each batch with b:deferred{...}" },
  block = { sequences = "add each sequence with b:sequence{...}" },
  sequence = { actions = "add each action with b:action{...}" },
  batch = { actions = "add each action with b:action{...}" },
}
for _, kind in ipairs { "plan", "block" } do
  for _, short in ipairs(SLOT_NAMES) do
    PARTS[kind][SLOTS[short]] = fmt('set them with b:checks("%s", ...)', short)
  end
end

-- The list fields each kind of scope fills: children are appended to them.
local LISTS = { plan = { "blocks", "deferred_actions" }, block = { "sequences" },
                sequence = { "actions" }, batch = { "actions" } }
-- A plan may have no deferred actions; every other list must not be empty,
-- which the constructor says.
local OPTIONAL_LIST = { deferred_actions = true }

local Builder = {}
Builder.__index = Builder

---------------------------------------------------------------- scopes

-- A scope is an object being built: a plan (the root), a block, a sequence,
-- or a deferred batch. It keeps the caller's fields, the line that opened it,
-- its children so far with the lines that added them, and its checks.
local function new_scope(kind, fields, site)
  local lists = {}
  for _, f in ipairs(LISTS[kind]) do lists[f] = { items = {}, sites = {} } end
  return { kind = kind, fields = fields, site = site, lists = lists, checks = {} }
end

-- `block "canary"`, `deferred batch "rollback"`: a scope as messages name it.
local function scope_label(scope)
  if scope.kind == "batch" then return label("deferred batch", scope.fields.name) end
  return label(scope.kind, scope.fields.name)
end

local function top(self) return self.stack[#self.stack] end

------------------------------------------------------------------ errors

-- `builder "rollout"`: how the builder's own errors start.
local function builder_label(self)
  return label("builder", self.root.fields.name)
end

-- Raises `<site>: builder "rollout": <method>: <msg>`.
local function misuse(self, site, method, msg)
  check.raise(site, fmt("%s: %s: %s", builder_label(self), method, msg))
end

-- The line of the method call being checked. A tail call (`return b:plan()`)
-- loses the caller's frame; the builder's own line is then the best guess.
local function here(self)
  local site, tail = check.caller()
  if tail or not site then return self.root.site end
  return site
end

-- Checks that the method was called on a builder that can still take calls;
-- returns the caller's line.
local function enter(self, method)
  if getmetatable(self) ~= Builder then
    check.raise(check.caller(), fmt("ws.builder: %s: call it with a colon (b:%s), not a dot",
                                    method, method:match("^b:(.*)$")))
  end
  local site = here(self)
  if self.taken then
    misuse(self, site, method, fmt("the plan was already taken (b:plan() at %s); a builder "
                                   .. "makes one plan", self.taken))
  end
  return site
end

-- A copy of the caller's fields for `kind`, refusing what the builder fills in
-- itself. The copy lets a caller reuse its table (a loop over data often does).
-- who: how the error starts (`builder "rollout"`).
local function own_fields(who, site, method, kind, t)
  if type(t) ~= "table" or check.kind(t) then
    check.raise(site, fmt("%s: %s: expected a table of fields, got %s", who, method, describe(t)))
  end
  local copy = {}
  for k, v in pairs(t) do
    local hint = PARTS[kind][k]
    if hint then check.raise(site, fmt("%s: %s: %s: not a field here; %s", who, method, k, hint)) end
    copy[k] = v
  end
  return copy
end

---------------------------------------------------------- closing scopes

-- Where a constructor's error belongs. Its message reads
-- "<site>: <label>: <field>: <problem>" (or without the field), the site being
-- the line that closed the scope; the part the field names was written
-- elsewhere: a child at the line that added it, checks at their b:checks line,
-- anything else (the scope's own fields, an empty list) at the line that
-- opened the scope, which names it.
local function site_of(scope, field, index)
  local list = field and scope.lists[field]
  if list and index and list.sites[index] then return list.sites[index] end
  local checks = field and scope.checks[field]
  if checks then return checks.site end
  return scope.site
end

local function resite(err, scope, t)
  if type(err) ~= "string" then error(err, 0) end
  local rest = err:match("^.-:%d+: (.*)$")
  local prefix = label(scope.kind, t.name) .. ": "
  if not rest or rest:sub(1, #prefix) ~= prefix then error(err, 0) end -- not one of ours
  local body = rest:sub(#prefix + 1)
  local field, index = body:match("^([%w_]+)%[(%d+)%]")
  field = field or body:match("^([%w_]+): ")
  check.raise(site_of(scope, field, tonumber(index)), rest)
end

-- Builds the scope's object with its constructor.
local function construct(scope)
  local t = {}
  for k, v in pairs(scope.fields) do t[k] = v end
  for field, list in pairs(scope.lists) do
    if #list.items > 0 or not OPTIONAL_LIST[field] then t[field] = list.items end
  end
  for field, c in pairs(scope.checks) do t[field] = c.value end
  local ok, obj = pcall(ws()[scope.kind], t)
  if not ok then resite(obj, scope, t) end
  -- The object's recorded place (shown by later errors, such as a duplicate
  -- key) is the line that opened its scope, not the one that closed it.
  return check.make(scope.kind, obj, scope.site)
end

-- Closes the innermost scope: its object joins its parent. On error the scope
-- stays open, so the builder is left as it was.
local function close(self)
  local scope = top(self)
  local obj = construct(scope)
  self.stack[#self.stack] = nil
  local parent = top(self)
  local list = parent.lists[scope.kind == "batch" and "deferred_actions" or LISTS[parent.kind][1]]
  list.items[#list.items + 1] = obj
  list.sites[#list.sites + 1] = scope.site
end

------------------------------------------------------------------ opening

-- Why `what` cannot go where the builder is: the scopes in the way, innermost
-- first, up to the first of kind `want`, and how many b:up() close them.
local function in_the_way(self, what, want)
  local names = {}
  for i = #self.stack, 1, -1 do
    local scope = self.stack[i]
    if scope.kind == want then break end
    names[#names + 1] = scope_label(scope)
  end
  local where = names[1]
  if names[2] then where = where .. " (in " .. concat(names, ", in ", 2) .. ")" end
  return fmt("%s inside %s; close %s with %s first", what, where,
             #names == 1 and "it" or "them",
             #names == 1 and "b:up()" or fmt("b:up() %d times", #names))
end

-- Whether a scope of this kind is open.
local function is_open(self, kind)
  for i = #self.stack, 1, -1 do
    if self.stack[i].kind == kind then return true end
  end
  return false
end

local function open(self, kind, method, t, parent_kind)
  local site = enter(self, method)
  local fields = own_fields(builder_label(self), site, method, kind, t)
  if top(self).kind ~= parent_kind then
    local what = kind == "batch" and label("deferred batch", fields.name) or label(kind, fields.name)
    if not is_open(self, parent_kind) then -- only a sequence can lack its parent
      local batch = top(self).kind == "batch" and fmt(" (%s, open now, holds actions only)",
                                                      scope_label(top(self))) or ""
      misuse(self, site, method, fmt("%s outside a block%s; sequences go in a block: "
                                     .. "open one with b:block{...}", what, batch))
    end
    misuse(self, site, method, in_the_way(self, what, parent_kind))
  end
  self.stack[#self.stack + 1] = new_scope(kind, fields, site)
end

-- The methods below never tail-call (`return f()`): a tail call drops a frame,
-- which check.caller() cannot tell from the caller's own frame being dropped,
-- and it would give up the caller's line.

--- b:block{ name=, ... }: opens a block in the plan (ws.block fields except
-- sequences and checks).
function Builder:block(t)
  open(self, "block", "b:block{...}", t, "plan")
  return self
end

--- b:sequence{ name=, ... } (alias b:seq): opens a sequence in the open block.
function Builder:sequence(t)
  open(self, "sequence", "b:sequence{...}", t, "block")
  return self
end
Builder.seq = Builder.sequence

--- b:deferred{ name=, when=, ... }: opens a deferred batch of the plan.
function Builder:deferred(t)
  open(self, "batch", "b:deferred{...}", t, "plan")
  return self
end

--- b:action{ ws.action fields } or b:action(action): adds an action to the open
-- sequence or deferred batch. It is made at once, so its errors name this line.
function Builder:action(t)
  local site = enter(self, "b:action{...}")
  local scope = top(self)
  if scope.kind ~= "sequence" and scope.kind ~= "batch" then
    local what = label("action", type(t) == "table" and t.name or nil)
    local hint = scope.kind == "plan"
      and "open a sequence (b:block{...}, then b:sequence{...}) or a batch (b:deferred{...}) first"
      or "open a sequence of " .. scope_label(scope) .. " with b:sequence{...} first"
    misuse(self, site, "b:action{...}", fmt("%s outside a sequence or batch; %s", what, hint))
  end
  local action = check.kind(t) == "action" and t or ws().action(t)
  local list = scope.lists.actions
  list.items[#list.items + 1] = action
  list.sites[#list.sites + 1] = site
  return self
end

--- b:checks(which, checks): the plan's or the open block's checks, where which
-- is "bypass", "pre", "cont", "post" or "deferred" and checks a ws.checks{...}
-- object or a list of actions (validated with the owner, as the constructors do).
function Builder:checks(which, checks)
  local site = enter(self, "b:checks")
  local slot = SLOTS[which]
  if not slot then
    misuse(self, site, "b:checks", fmt("expected %s, got %s", check.choices(SLOT_NAMES),
                                       type(which) == "string" and quote(which) or type(which)))
  end
  local method = fmt('b:checks("%s", ...)', which)
  if checks == nil then
    misuse(self, site, method, "expected checks (ws.checks{...}) or a list of actions, got nil")
  end
  local scope = top(self)
  if scope.kind == "sequence" or scope.kind == "batch" then
    misuse(self, site, method, fmt("checks in %s; checks belong to a block or the plan "
                                   .. "(close it with b:up() first)", scope_label(scope)))
  end
  local set = scope.checks[slot]
  if set then
    misuse(self, site, method, fmt("the %s checks of %s are already set (at %s)", which,
                                   scope_label(scope), set.site))
  end
  scope.checks[slot] = { value = checks, site = site }
  return self
end

--- b:up(): closes the innermost open block, sequence or batch, building it.
function Builder:up()
  local site = enter(self, "b:up()")
  if #self.stack == 1 then
    misuse(self, site, "b:up()", "nothing to close: no block, sequence or batch is open")
  end
  close(self)
  return self
end

--- b:plan() -> plan: closes whatever is still open and builds the plan. A
-- builder makes one plan; it takes no calls after this one.
function Builder:plan()
  local site = enter(self, "b:plan()")
  while #self.stack > 1 do close(self) end
  local plan = construct(self.root)
  self.taken = site
  return plan
end

--- ws.builder{ name=, descr?, group?, meta? } -> builder
-- The plan's own fields are validated by ws.plan when b:plan() builds it; its
-- errors name this line.
function M.new(t)
  local site = check.caller()
  if t == check.api then check.raise(site, "called as ws:builder{...}; write ws.builder{...}") end
  local who = label("builder", type(t) == "table" and t.name or nil)
  local root = new_scope("plan", own_fields(who, site, "ws.builder{...}", "plan", t), site)
  return setmetatable({ root = root, stack = { root } }, Builder)
end

Builder.__name = "workstream.builder"
Builder.__tostring = function(b)
  return "ws.builder " .. (type(b.root.fields.name) == "string" and quote(b.root.fields.name) or "")
end

return M
