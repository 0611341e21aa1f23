-- The duration fuzz target's checks (fuzz_duration.c calls the function this
-- returns with each input). Any error is a finding.
--   - parse gives either a finite float (> 0 when positive, else >= 0) and
--     nothing else, or nil and a message;
--   - a number in range parses to itself, as a float;
--   - format never fails and gives a string; for a duration a plan can hold
--     (1 ms to 10 years, whole milliseconds or not) that string parses back to
--     the same number of seconds (to 1e-9 relative).
local duration = require "workstream.duration"

local mtype, abs, max, huge = math.type, math.abs, math.max, math.huge
local fmt = string.format

local function parse(v, positive)
  local secs, msg = duration.parse(v, positive)
  if secs == nil then
    assert(type(msg) == "string" and #msg > 0, "parse: nil without a message")
    return nil
  end
  assert(msg == nil, "parse: a value and a message")
  assert(mtype(secs) == "float", "parse: not a float")
  assert(secs == secs and secs < huge, "parse: not finite: " .. tostring(secs))
  assert(secs > 0 or (not positive and secs == 0), "parse: out of range: " .. secs)
  return secs
end

local function round_trip(secs)
  local text = duration.format(secs)
  assert(type(text) == "string", "format: not a string")
  if secs < 0.001 or secs > 10 * 365 * 86400 then return end
  local back = parse(text, false)
  assert(back, fmt("format(%.17g) = %q does not parse", secs, text))
  assert(abs(back - secs) <= 1e-9 * max(abs(back), abs(secs)),
         fmt("format(%.17g) = %q parses to %.17g", secs, text, back))
end

-- mode: bit 0 = the input is a number (n), not a string (s); bit 1 = positive.
return function(mode, s, n)
  local positive = mode & 2 ~= 0
  if mode & 1 == 0 then
    local secs = parse(s, positive)
    if secs then round_trip(secs) end
    return
  end
  local secs = parse(n, positive)
  -- in range: not negative, at most duration.lua's limit of 1e9 s (31 years)
  if n == n and n >= 0 and n <= 1e9 and (n > 0 or not positive) then
    assert(secs == n + 0.0, "parse: a number in range changed")
  end
  assert(type(duration.format(n)) == "string", "format: not a string")
  if secs then round_trip(secs) end
end
