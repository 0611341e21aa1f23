-- demo_plugins.lua: the Lua plugins of rolling_deploy.lua. They act on pretend
-- hosts: a host is a directory, under a state directory, that holds
--
--   version            the release of "myapp" it runs
--   version.previous   the release it ran before the last deploy (for a rollback)
--   health             "ok", or "down" when the app did not come up
--   serving            present while the load balancer sends it traffic
--   broken             present: the app will not come up after a deploy there
--
-- Load it with dofile(); it registers its plugins once per Lua state however
-- many times it is loaded (a plugin name is unique in its registry), and
-- returns the same table each time.
--
--   demo.deploy    installs a release on a host (ws.exec), waits for the app to
--                  restart (ws.sleep); responds with the release it replaced
--   demo.health    check plugin: are these hosts up (and on this release)?
--   demo.rollback  puts back the release a deploy replaced

local LOADED = "workstream.examples.demo_plugins"
if package.loaded[LOADED] then return package.loaded[LOADED] end

local ws = require "workstream"
local t = ws.types

local M = {}

-- The content of a small state file, without its trailing newline; nil if absent.
local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return (s:gsub("%s+$", ""))
end

local function host_dir(req) return req.state .. "/" .. req.host end

-- Runs a shell script with arguments ($1, $2, ...) without blocking the
-- engine's loop; raises with its stderr if it fails.
local function sh(what, script, ...)
  local r = ws.exec{ argv = { "sh", "-c", "set -e\n" .. script, "sh", ... } }
  if r.code ~= 0 then error(("%s failed (exit %d): %s"):format(what, r.code, r.stderr), 0) end
  return (r.stdout:gsub("%s+$", ""))
end

ws.plugin{
  name = "demo.deploy",
  descr = "installs a release of myapp on a pretend host and waits for it to come up",
  request = {
    state = t.string,                   -- the state directory
    host = t.string,                    -- a directory under it
    version = t.string,                 -- the release to install
    restart = t.default(t.number, 0.5), -- seconds the pretend restart takes
  },
  response = { previous = t.string },
  execute = function(ctx, req)
    -- Keep the running release for a rollback (unless it is this one: a retry
    -- must not lose it), then install the new one atomically.
    local previous = sh("install on " .. req.host, [[
      cd "$1"
      current=$(cat version)
      if [ "$current" != "$2" ]; then printf '%s\n' "$current" > version.previous; fi
      printf '%s\n' "$2" > version.new
      mv version.new version
      echo "$current"
    ]], host_dir(req), req.version)
    ctx.log(("%s: %s -> %s, restarting"):format(req.host, previous, req.version))
    ws.sleep(req.restart)
    if read(host_dir(req) .. "/broken") then
      sh("mark " .. req.host .. " down", [[echo down > "$1/health"]], host_dir(req))
      -- Retrying will not help: permanent.
      error(ws.permanent(("%s: myapp %s did not come up"):format(req.host, req.version),
                         "not_up"))
    end
    return { previous = previous }
  end,
}

ws.plugin{
  name = "demo.health",
  descr = "checks that pretend hosts are up, and optionally on a given release",
  check = true,
  request = {
    state = t.string,
    hosts = t.list(t.string),
    version = t.optional(t.string),         -- also require this release
    max_unhealthy = t.default(t.integer, 0), -- how many may fail the check
  },
  response = { healthy = t.integer, unhealthy = t.list(t.string) },
  execute = function(_, req)
    local healthy, unhealthy, why = 0, {}, {}
    for _, host in ipairs(req.hosts) do
      local dir = req.state .. "/" .. host
      local health, version = read(dir .. "/health"), read(dir .. "/version")
      local problem
      if health ~= "ok" then
        problem = health and "down" or "no state (not a host?)"
      elseif req.version and version ~= req.version then
        problem = ("on %s, not %s"):format(version, req.version)
      end
      if problem then
        unhealthy[#unhealthy + 1] = host
        why[#why + 1] = host .. " " .. problem
      else
        healthy = healthy + 1
      end
    end
    if #unhealthy > req.max_unhealthy then
      error(("%d of %d hosts unhealthy (%s); at most %d allowed"):format(
        #unhealthy, #req.hosts, table.concat(why, ", "), req.max_unhealthy), 0)
    end
    return { healthy = healthy, unhealthy = unhealthy }
  end,
}

ws.plugin{
  name = "demo.rollback",
  descr = "puts back the release that a deploy of `version` replaced on a pretend host",
  request = { state = t.string, host = t.string, version = t.string },
  response = { version = t.string },
  execute = function(_, req)
    -- Only a host running the release being rolled back is touched: hosts the
    -- rollout never reached keep what they run.
    local now = sh("roll back " .. req.host, [[
      cd "$1"
      if [ "$(cat version)" = "$2" ] && [ -f version.previous ]; then
        mv version.previous version
        echo ok > health
        touch serving
      fi
      cat version
    ]], host_dir(req), req.version)
    return { version = now }
  end,
}

--- Makes the pretend hosts under `state` that do not exist yet (running
-- `version`, healthy, serving), and marks those in `broken` (a set of host
-- names) so that a deploy there fails.
function M.setup(state, hosts, version, broken)
  for _, host in ipairs(hosts) do
    local dir = state .. "/" .. host
    local quoted = "'" .. dir:gsub("'", [['\'']]) .. "'"
    assert(os.execute("mkdir -p " .. quoted), "cannot create " .. dir)
    local function init(name, content, replace)
      if replace or not read(dir .. "/" .. name) then
        local f = assert(io.open(dir .. "/" .. name, "w"))
        f:write(content)
        f:close()
      end
    end
    init("version", version .. "\n")
    init("health", "ok\n")
    init("serving", "")
    if broken[host] then init("broken", "", true) else os.remove(dir .. "/broken") end
  end
end

package.loaded[LOADED] = M
return M
