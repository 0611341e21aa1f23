-- checksum.lua: a plan that uses an external C plugin, example.checksum
-- (plugins/example/), loaded at run time:
--
--   wsrun --plugin build/lib/workstream/plugins/example.so examples/checksum.lua [FILE]
--
-- It checksums FILE (default: this plan file) with both algorithms the plugin
-- offers, without blocking the engine's loop.
local ws = require "workstream"

local here = debug.getinfo(1, "S").source:match("^@(.*)$")
local file = ... or here
if file:sub(1, 1) ~= "/" then -- the plugin wants an absolute path (its validate says so)
  local pwd = os.getenv("PWD") or "."
  file = pwd .. "/" .. file
end

return ws.plan{
  name = "checksum " .. file,
  blocks = { ws.block{ name = "sums", concurrency = 2, sequences = {
    ws.seq{ name = "fnv1a64", actions = {
      ws.action{ name = "sum", plugin = "example.checksum", req = { path = file } } } },
    ws.seq{ name = "adler32", actions = {
      ws.action{ name = "sum", plugin = "example.checksum", req = { path = file, algorithm = "adler32" } } } },
  } } },
}
