-- ws.check.http from the Lua module: its definition is built into
-- workstream.core, its libcurl transfers are a module of their own
-- (ws_check_http.so) that core.so finds relative to itself on first use.
local ws = require "workstream"
local H = require "spec.helpers"

local function http_plan(req)
  return ws.plan{
    name = "http",
    pre_checks = { ws.action{ name = "web up", plugin = "ws.check.http", timeout = "10s", req = req } },
    blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
      ws.action{ name = "nap", plugin = "ws.sleep", req = { seconds = 0 } },
    } } } } },
  }
end

describe("ws.check.http", function()
  it("validates a request when the plan is built", function()
    local ok, err = pcall(http_plan, { url = "http://[::1/" })
    assert.is_false(ok)
    assert.matches('req.url: "http://[::1/" is not a valid URL: bad IPv6 address', err, 1, true)
  end)

  it("loads its libcurl module from beside workstream.core when a check first runs", function()
    -- Nothing answers on port 1 of the loopback (nor would it say 599): curl's
    -- own error, not the module loader's, proves the transfer ran.
    local r = ws.run(http_plan{ url = "http://127.0.0.1:1/health", status = 599 })
    assert.are.equal("failed", r.status)
    local check = H.find(r, "pre_checks/web up")
    assert.are_not.equal("module", check.err.code)
    local prefix = "GET http://127.0.0.1:1/health: "
    assert.are.equal(prefix, check.err.msg:sub(1, #prefix))
  end)
end)
