-- For the resource test: N runs of `true` (concurrency C) between two probes
-- that write what the wsrun process holds: its open file descriptors and its
-- child processes (the probe itself is one). A warm-up of C runs comes first,
-- so that what is made once, on first use (the spawner threads' wake-up
-- handles, a sanitizer's own files), exists at both probes.
--   wsrun leaks.lua DIR N C
local ws = require "workstream"
local dir, n, conc = assert(arg[1], "DIR"), tonumber(arg[2] or "100"), tonumber(arg[3] or "10")

local function probe(name)
  return ws.block{ name = name, sequences = { ws.seq{ name = name, actions = {
    ws.action{ name = "probe", plugin = "ws.exec", req = { argv = { "sh", "-c",
      -- after a pause: what the previous block's last actions held is
      -- released by the loop's next turns, which run meanwhile
      'sleep 0.3; ls /proc/$PPID/fd | wc -l > "$1/$2.fds"; ps -o pid= --ppid $PPID | wc -l > "$1/$2.children"',
      "sh", dir, name } } },
  } } } }
end

local function spawns(name, count)
  local seqs = {}
  for i = 1, count do
    seqs[i] = ws.seq{ name = "s" .. i, actions = {
      ws.action{ name = "true", plugin = "ws.exec", req = { argv = { "true" } } },
    } }
  end
  return ws.block{ name = name, concurrency = conc, sequences = seqs }
end

return ws.plan{ name = "leaks", blocks = {
  spawns("warm-up", conc),
  probe("before"),
  spawns("spawn", n),
  probe("after"),
} }
