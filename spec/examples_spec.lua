-- The examples, end to end: `wsrun` runs them as a newcomer would, for real
-- (real clock, real processes), and exits with the documented code after the
-- summary line. Needs a build (scripts/build.sh); pending without one.

-- The wsrun of the build whose C module these specs load: busted's cpath names
-- <build>/lib/lua/5.4/?.so (build/ from .busted, or ctest's own build dir).
local function find_wsrun()
  local env = os.getenv("WSRUN")
  if env then return env end
  for entry in package.cpath:gmatch("[^;]+") do
    local build = entry:match("^(.-)/lib/[^;]*lua/5%.4/%?%.so$")
    if build then
      local candidate = build .. "/bin/wsrun"
      local f = io.open(candidate)
      if f then
        f:close()
        return candidate
      end
    end
  end
  local f = io.open("build/bin/wsrun")
  if f then
    f:close()
    return "build/bin/wsrun"
  end
  return nil
end

local H = require "spec.helpers"
local shell_quote = H.shell_quote

-- Runs wsrun with the arguments; returns its exit code and its output (stdout
-- and stderr together). LD_PRELOAD is dropped: a sanitizer build preloads its
-- runtime into this interpreter, and the commands the examples run must not
-- inherit it (some hang under it); the sanitized wsrun carries its own.
local function wsrun(exe, ...)
  -- runs are recorded in a database of this spec's own, not the user's
  local state = os.tmpname()
  os.remove(state)
  local cmd = { "env -u LD_PRELOAD XDG_STATE_HOME=" .. shell_quote(state), shell_quote(exe) }
  for _, a in ipairs { ... } do cmd[#cmd + 1] = shell_quote(a) end
  local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1 </dev/null; echo \"exit: $?\""))
  local out = p:read("a")
  p:close()
  os.execute("rm -rf " .. shell_quote(state))
  local code = tonumber(out:match("exit: (%d+)\n$"))
  return code, out:gsub("exit: %d+\n$", "")
end

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return (s:gsub("%s+$", ""))
end

describe("examples, run with wsrun", function()
  local exe = find_wsrun()
  local state

  before_each(function() state = H.tmp_path() end)
  after_each(function() H.remove_tree(state) end)

  local function need_wsrun()
    if not exe then pending("no wsrun: build it first (scripts/build.sh), or set WSRUN") end
  end

  it("retry_and_timeout.lua retries, times out, and tolerates the lost host", function()
    need_wsrun()
    local code, out = wsrun(exe, "examples/retry_and_timeout.lua")
    assert.are.equal(0, code, out)
    assert.matches("completed hosts/web1/flaky [^\n]*%(3 attempts%): ready after 3 attempts", out)
    assert.matches("failed    hosts/web2/stuck [^\n]*%(2 attempts%): timed out after 1s", out)
    assert.matches("tolerated sequence failures %(1%):\n  hosts/web2\n", out)
  end)

  it("checksum.lua runs the example C plugin loaded with --plugin", function()
    need_wsrun()
    local so = exe:gsub("/bin/wsrun$", "/lib/workstream/plugins/example.so")
    local code, out = wsrun(exe, "--plugin", so, "examples/checksum.lua")
    assert.are.equal(0, code, out)
    assert.matches("completed sums/fnv1a64/sum", out, 1, true)
    assert.matches("actions: 2 completed", out, 1, true)
  end)

  it("hello.lua completes", function()
    need_wsrun()
    local code, out = wsrun(exe, "examples/hello.lua", "spec")
    assert.are.equal(0, code, out)
    assert.matches('\nplan "hello" completed in [^\n]*: actions: 11 completed\n', out)
    assert.matches("hello, spec", out, 1, true)
  end)

  it("rolling_deploy.lua deploys every host and rolls nothing back", function()
    need_wsrun()
    local code, out = wsrun(exe, "examples/rolling_deploy.lua", state)
    assert.are.equal(0, code, out)
    assert.matches('\nplan "deploy myapp 2%.0 %(hosts under [^\n]*%)" completed in [^\n]*: '
                   .. "actions: 21 completed\n", out)
    assert.is_nil(out:find("deferred actions:", 1, true)) -- no rollback ran
    for i = 1, 7 do assert.are.equal("2.0", read(("%s/web%d/version"):format(state, i))) end
  end)

  it("rolling_deploy.lua rolls back after a failed canary, and exits 1", function()
    need_wsrun()
    local code, out = wsrun(exe, "examples/rolling_deploy.lua", state, "fail=web1")
    assert.are.equal(1, code, out)
    assert.matches('\nplan "deploy myapp 2%.0 [^\n]*" failed %(reason: block%)', out)
    assert.matches("completed deferred_actions/rollback/web1", out, 1, true)
    assert.matches("canary/web1/deploy: web1: myapp 2.0 did not come up", out, 1, true)
    for i = 1, 7 do assert.are.equal("1.0", read(("%s/web%d/version"):format(state, i))) end
    assert.are.equal("ok", read(state .. "/web1/health"))
  end)
end)
