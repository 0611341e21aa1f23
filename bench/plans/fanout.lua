-- bench/plans/fanout.lua: the process fan-out workloads, for wsrun and for
-- bench/driver.lua (which loads this file with the same arguments).
--
--   wsrun -q bench/plans/fanout.lua true  HOSTS CONCURRENCY   HOSTS x 3 ws.exec {"true"}, in order
--   wsrun -q bench/plans/fanout.lua sleep N CONCURRENCY SECS  N x ws.exec {"sleep", SECS}
--   wsrun -q bench/plans/fanout.lua retry HOSTS CONCURRENCY STATEDIR
--        HOSTS x one ws.exec {"sh", bench/flaky.sh, STATEDIR/hostI} that fails twice then
--        succeeds: retries = 2, backoff 0.1 s constant (multiplier 1, jitter 0)
local ws = require "workstream"

local kind, n, conc, extra = ...
n, conc = assert(tonumber(n), "HOSTS"), assert(tonumber(conc), "CONCURRENCY")
local here = debug.getinfo(1, "S").source:match("^@(.*)/plans/[^/]*$") or "bench"

local function exec(name, argv, more)
  local t = { name = name, plugin = "ws.exec", timeout = "60s", req = { argv = argv } }
  for k, v in pairs(more or {}) do t[k] = v end
  return ws.action(t)
end

local seqs = {}
for i = 1, n do
  local actions
  if kind == "true" then
    actions = { exec("t1", { "true" }), exec("t2", { "true" }), exec("t3", { "true" }) }
  elseif kind == "sleep" then
    actions = { exec("sleep", { "sleep", (assert(extra, "SECS")) }) }
  elseif kind == "retry" then
    actions = { exec("flaky", { "sh", here .. "/flaky.sh", assert(extra, "STATEDIR") .. "/host" .. i },
                     { retries = 2, retry = { initial = 0.1, multiplier = 1, jitter = 0, max = 0.1 } }) }
  else
    error("unknown workload " .. tostring(kind))
  end
  seqs[i] = ws.seq{ name = "host" .. i, actions = actions }
end
return ws.plan{ name = "bench fanout " .. kind, blocks = {
  ws.block{ name = "hosts", concurrency = conc, sequences = seqs },
} }
