-- bench/driver.lua: the Lua side of the benchmarks (bench/run.sh runs it with
-- lua5.4, LUA_PATH at lua/ and LUA_CPATH at build/lib/lua/5.4). It builds a
-- plan, runs it with ws.run and prints one line of key=value figures:
--
--   lua5.4 bench/driver.lua native NOOP_SO SEQS ACTIONS CONC [STORE]
--       no-op native actions ("bench.noop" from bench/noop.c); STORE: a SQLite file
--   lua5.4 bench/driver.lua lua SEQS ACTIONS CONC
--       no-op Lua-plugin actions (ws.plugin whose execute returns {} at once)
--   lua5.4 bench/driver.lua mem NOOP_SO SEQS ACTIONS CONC
--       native no-ops on the virtual clock, in memory; adds the peak RSS (VmHWM)
--   lua5.4 bench/driver.lua fanout ARGS...
--       the plan of bench/plans/fanout.lua ARGS..., in memory, real clock
--
-- Figures: build_cpu/build_wall (the constructors: ws.action, ws.seq, ...),
-- run_wall (all of ws.run: plan handed to C, the run, the result built back),
-- engine (result.ended - result.started, the engine's own clock), hwm_kb.
-- Wall times come from `date +%s%N` (Lua has no monotonic clock; a fork of a
-- small process costs ~1 ms, next to runs of 100 ms and more); engine times
-- from the engine's clock; CPU times from os.clock.
local ws = require "workstream"

local mode = arg[1]
local out = {}
local function put(k, v) out[#out + 1] = k .. "=" .. (math.type(v) == "float" and ("%.6f"):format(v) or tostring(v)) end

local function wall()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end

local function hwm_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

-- SEQS sequences of ACTIONS actions of `plugin` (empty requests), one block.
local function noop_plan(plugin, seqs, actions, conc)
  local list = {}
  for i = 1, seqs do
    local acts = {}
    for j = 1, actions do acts[j] = ws.action{ name = "a" .. j, plugin = plugin, req = {} } end
    list[i] = ws.seq{ name = "s" .. i, actions = acts }
  end
  return ws.plan{ name = "bench " .. plugin, blocks = {
    ws.block{ name = "b", concurrency = conc, sequences = list },
  } }
end

local function timed_build(f, ...)
  local w0, c0 = wall(), os.clock()
  local plan = f(...)
  local c1, w1 = os.clock(), wall()
  put("build_cpu", c1 - c0)
  put("build_wall", w1 - w0)
  return plan
end

local function timed_run(plan, opts)
  local w0, c0 = wall(), os.clock()
  local r = ws.run(plan, opts)
  local c1, w1 = os.clock(), wall()
  put("status", r.status)
  put("run_wall", w1 - w0)
  put("run_cpu", c1 - c0)
  put("engine", r.ended - r.started)
  -- before the run (plan to C, store setup) and after it (the result to Lua)
  put("pre", r.started - w0)
  put("post", w1 - r.ended)
  return r
end

if mode == "native" or mode == "mem" then
  local so, seqs, actions, conc, store = arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]), arg[6]
  ws.plugins.load(so)
  local plan = timed_build(noop_plan, "bench.noop", seqs, actions, conc)
  put("actions", seqs * actions)
  if mode == "mem" then
    put("hwm_build_kb", hwm_kb()) -- the peak so far: the Lua plan (and the garbage of building it)
    local r = ws.run(plan, { clock = "virtual" })
    put("status", r.status)
    put("hwm_kb", hwm_kb())
  else
    timed_run(plan, { store = store })
  end
elseif mode == "lua" then
  local seqs, actions, conc = tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
  ws.plugin{ name = "bench.lua_noop", request = {}, response = {},
             execute = function() return {} end }
  local plan = timed_build(noop_plan, "bench.lua_noop", seqs, actions, conc)
  put("actions", seqs * actions)
  timed_run(plan)
elseif mode == "fanout" then
  local file = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "bench") .. "/plans/fanout.lua"
  local plan = timed_build(assert(loadfile(file)), table.unpack(arg, 2))
  timed_run(plan)
else
  io.stderr:write("usage: see the head of bench/driver.lua\n")
  os.exit(2)
end
print(table.concat(out, " "))
