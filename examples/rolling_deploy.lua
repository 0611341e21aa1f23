-- rolling_deploy.lua: a rolling deploy of "myapp" to seven pretend hosts, with
-- the safety nets of a real rollout: health gates before, during and after, a
-- canary, waves with a failure budget, and a rollback if anything goes wrong.
--
--   wsrun examples/rolling_deploy.lua                 hosts in a new temporary directory
--   wsrun examples/rolling_deploy.lua DIR             hosts under DIR (kept between runs)
--   wsrun examples/rolling_deploy.lua DIR version=2.1
--   wsrun examples/rolling_deploy.lua DIR fail=web3   web3 will not come up: the wave
--                                                     tolerates it, the final check does
--                                                     not, and everything is rolled back
--   wsrun examples/rolling_deploy.lua DIR fail=web1   the canary fails: the waves never
--                                                     start; web1 is rolled back
--
-- A host is a directory under DIR (see demo_plugins.lua): look at
-- DIR/*/version before and after. Nothing leaves this machine.

local ws = require "workstream"

-- The plugins live next to this file: demo.deploy, demo.health, demo.rollback.
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$") or ""
local demo = dofile(here .. "demo_plugins.lua")

---------------------------------------------------------------- arguments

local USAGE = "usage: wsrun rolling_deploy.lua [DIR] [version=V] [fail=HOST,...]"

local HOSTS = { "web1", "web2", "web3", "web4", "web5", "web6", "web7" }
local CANARY = { "web1" }
local WAVES = { { "web2", "web3", "web4" }, { "web5", "web6", "web7" } }
local IS_HOST = {}
for _, host in ipairs(HOSTS) do IS_HOST[host] = true end

local state, version, broken = nil, "2.0", {}
for _, a in ipairs { ... } do
  local key, value = a:match("^(%w+)=(.*)$")
  if key == "version" and value ~= "" then
    version = value
  elseif key == "fail" then
    for host in value:gmatch("[^,]+") do
      if not IS_HOST[host] then
        error(("fail=%s: no host %q (the hosts are %s)"):format(value, host,
                                                                 table.concat(HOSTS, ", ")), 0)
      end
      broken[host] = true
    end
  elseif not key and not state then
    state = a
  else
    error(("unexpected argument %q\n%s"):format(a, USAGE), 0)
  end
end

if not state then -- a fresh directory of our own
  state = os.tmpname()
  os.remove(state)
end
demo.setup(state, HOSTS, "1.0", broken)

----------------------------------------------------------------- the plan

-- Every request names the state directory; these keep the plan below short.
local function health(name, hosts, extra)
  local req = { state = state, hosts = hosts }
  for k, v in pairs(extra or {}) do req[k] = v end
  return ws.action{ name = name, plugin = "demo.health", req = req, timeout = "10s" }
end

local function lb(name, host, script)
  return ws.action{ name = name, plugin = "ws.exec", timeout = "10s",
                    req = { argv = { "sh", "-c", script, "sh", state .. "/" .. host } } }
end

-- One host: out of the load balancer, deploy, back in. If the deploy fails the
-- host stays out (its later actions do not run).
local function upgrade(host)
  return ws.seq{ name = host, actions = {
    lb("drain", host, 'rm -f "$1/serving"'),
    ws.action{ name = "deploy", plugin = "demo.deploy", timeout = "1m",
               req = { state = state, host = host, version = version } },
    lb("undrain", host, 'touch "$1/serving"'),
  } }
end

local function sequences(hosts)
  local seqs = {}
  for i, host in ipairs(hosts) do seqs[i] = upgrade(host) end
  return seqs
end

local blocks = {
  ws.block{
    name = "canary",
    descr = "one host first; the rollout goes on only if it is healthy on the new release",
    concurrency = 1,
    sequences = sequences(CANARY),
    post_checks = { health("canary healthy", CANARY, { version = version }) },
  },
}
for i, hosts in ipairs(WAVES) do
  blocks[#blocks + 1] = ws.block{
    name = "wave " .. i,
    concurrency = 2,          -- two hosts at a time
    tolerated_failures = 1,   -- one host may fail; a second stops the wave
    sequences = sequences(hosts),
  }
end

local rollback = {}
for i, host in ipairs(HOSTS) do
  rollback[i] = ws.action{ name = host, plugin = "demo.rollback",
                           req = { state = state, host = host, version = version } }
end

return ws.plan{
  name = ("deploy myapp %s (hosts under %s)"):format(version, state),
  descr = "canary, then two waves of three hosts, two at a time",
  meta = { version = version, state = state },
  -- Do not start on a sick fleet.
  pre_checks = { health("fleet healthy", HOSTS) },
  -- While it runs, every 2 s: more than one host down stops the rollout at once.
  cont_checks = ws.checks{ delay = "2s", actions = {
    health("error budget", HOSTS, { max_unhealthy = 1 }),
  } },
  blocks = blocks,
  -- At the end every host must be up on the new release.
  post_checks = { health("fleet on " .. version, HOSTS, { version = version }) },
  -- If anything failed (or the run was stopped), put the old release back.
  deferred_actions = {
    ws.batch{ name = "rollback", when = "on_failure", actions = rollback },
  },
}
