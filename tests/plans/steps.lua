-- For the durability tests: N short steps, one sequence each, COUNT at a
-- time; each appends its number to DIR/log (a step that ran twice shows
-- twice). A step listed in DIR/fail fails.
-- Each step also prints BYTES bytes (recorded with its result).
--   wsrun steps.lua DIR N CONCURRENCY [BYTES]
local ws = require "workstream"
local dir, n, conc = assert(arg[1], "DIR"), tonumber(arg[2] or "20"), tonumber(arg[3] or "1")
local bytes = arg[4] or "0"

local seqs = {}
for i = 1, n do
  seqs[i] = ws.seq{ name = "s" .. i, actions = {
    ws.action{ name = "step", plugin = "ws.exec", timeout = "30s", req = { argv = { "sh", "-c",
      'if grep -qx "$2" "$1/fail" 2>/dev/null; then exit 1; fi; sleep 0.02; echo "$2" >> "$1/log"; '
        .. 'head -c "$3" /dev/urandom | base64',
      "sh", dir, tostring(i), bytes } } },
  } }
end

return ws.plan{
  name = "steps",
  blocks = { ws.block{ name = "b", concurrency = conc, tolerated_failures = -1, sequences = seqs } },
  deferred_actions = { ws.batch{ name = "done", when = "always", actions = {
    ws.action{ name = "mark", plugin = "ws.exec", req = { argv = { "sh", "-c", 'echo done >> "$1/deferred"', "sh", dir } } },
  } } },
}
