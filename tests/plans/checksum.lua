-- Uses the example external plugin (wsrun --plugin .../example.so): the
-- checksum of the file named by arg[1].
local ws = require "workstream"
local file = assert(arg[1], "usage: wsrun --plugin example.so checksum.lua FILE")
return ws.plan{
  name = "checksum",
  blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
    ws.action{ name = "sum", plugin = "example.checksum", req = { path = file } },
    ws.action{ name = "sum adler", plugin = "example.checksum", req = { path = file, algorithm = "adler32" } },
  } } } } },
}
