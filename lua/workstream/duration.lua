-- Durations: a number of seconds, or a string such as "250ms", "30s", "5m", "1h",
-- "1m30s" or "1.5s". Everything comes out as seconds (a float).
--
--   local duration = require "workstream.duration"
--   duration.parse("1m30s")         --> 90.0
--   duration.parse(0, true)         --> nil, "must be > 0, got 0"
--   duration.format(90)             --> "1m30s"

local type, tonumber, tostring = type, tonumber, tostring
local math_type, huge = math.type, math.huge
local fmt, floor, concat = string.format, math.floor, table.concat

local M = {}

-- Units in the order they must appear in a combined string ("1h30m", not "30m1h").
local UNITS = { h = 3600, m = 60, s = 1, ms = 0.001 }
local RANK = { h = 1, m = 2, s = 3, ms = 4 }

local HINT = 'a number of seconds, or a string such as "250ms", "30s", "5m", "1h" or "1m30s"'

-- The longest duration the engine takes (engine/ws_registry.c): beyond it a
-- number is a mistake, and timer arithmetic would overflow.
local MAX = 1e9

-- Quotes a string for an error message; long or multi-line text is shortened.
local function show(s)
  if #s > 40 then s = s:sub(1, 37) .. "..." end
  return (fmt("%q", s):gsub("\\\n", "\\n"))
end

local function show_number(n)
  if math_type(n) == "integer" then return tostring(n) end
  if n ~= n then return "nan" end
  if n == huge then return "inf" end
  if n == -huge then return "-inf" end
  return fmt("%.14g", n)
end

-- Parses the string form; returns seconds or nil. Each component is digits with an
-- optional fraction and a unit; units decrease and appear once, and only the last
-- component may have a fraction (so "1.5m30s" and "30s1m" are refused as unclear).
local function parse_string(s)
  local total, pos, last_rank, n = 0, 1, 0, #s
  if n == 0 then return nil end
  while pos <= n do
    local int, frac, unit, nxt = s:match("^(%d+)(%.?%d*)(%a+)()", pos)
    if not int or frac == "." then return nil end
    local mult, rank = UNITS[unit], RANK[unit]
    if not mult or rank <= last_rank then return nil end
    if frac ~= "" and nxt <= n then return nil end
    total = total + tonumber(int .. frac) * mult
    pos, last_rank = nxt, rank
  end
  return total
end

--- Parses a duration.
-- @param v        number (seconds) or string
-- @param positive true when the duration must be > 0 (otherwise it must be >= 0)
-- @return seconds (float), or nil and a message saying what is wrong with v
function M.parse(v, positive)
  local secs
  if type(v) == "number" then
    if v ~= v then return nil, "expected a duration, got nan" end
    secs = v
  elseif type(v) == "string" then
    secs = parse_string(v)
    if not secs then
      return nil, fmt("invalid duration %s (expected %s)", show(v), HINT)
    end
  else
    return nil, fmt("expected a duration (%s), got %s", HINT, type(v))
  end
  local shown = type(v) == "string" and show(v) or show_number(v)
  if secs == huge or secs == -huge then
    return nil, "must be finite, got " .. shown
  end
  if secs > MAX then
    return nil, fmt("must be at most %g s (about 31 years), got %s", MAX, shown)
  end
  if positive and secs <= 0 then
    return nil, "must be > 0, got " .. shown
  elseif secs < 0 then
    return nil, "must be >= 0, got " .. shown
  end
  return secs + 0.0
end

--- Formats seconds the way they are written in plans: 0.25 -> "250ms", 90 -> "1m30s".
-- Values that are not whole milliseconds keep their fractional seconds ("0.0001s").
function M.format(secs)
  if type(secs) ~= "number" or secs ~= secs or secs == huge or secs == -huge then
    return tostring(secs)
  end
  secs = secs + 0.0 -- an integer's -secs and secs * 1000 could wrap around
  if secs < 0 then return "-" .. M.format(-secs) end
  local ms = secs * 1000
  if ms ~= floor(ms) or ms >= 2^53 then return show_number(secs) .. "s" end
  if ms == 0 then return "0s" end
  if ms < 1000 then return fmt("%dms", ms) end
  local out = {}
  local h = floor(ms / 3600000); ms = ms - h * 3600000
  local m = floor(ms / 60000); ms = ms - m * 60000
  if h > 0 then out[#out + 1] = fmt("%dh", h) end
  if m > 0 then out[#out + 1] = fmt("%dm", m) end
  if ms > 0 then
    -- Whole seconds print as "30s"; anything finer keeps its milliseconds ("1.5s").
    out[#out + 1] = ms % 1000 == 0 and fmt("%ds", ms // 1000) or (show_number(ms / 1000) .. "s")
  end
  return concat(out)
end

return M
