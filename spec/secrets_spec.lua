-- Values typed secret(T) never reach results, events, logs or error messages
-- in clear; the plugin itself gets them.
local ws = require "workstream"
local t = ws.types

-- Every string anywhere in v (keys and values), for "does it leak" checks.
local function strings(v, out)
  out = out or {}
  if type(v) == "table" then
    for k, x in pairs(v) do strings(k, out); strings(x, out) end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

describe("secrets", function()
  it("are redacted from results and events and scrubbed from plugin output", function()
    local secret = "s3cr3t-T0ken-42"
    local seen
    ws.plugin{
      name = "spec.secrets.login",
      request = { user = t.string, creds = t.secret(t.record{ token = t.string, pin = t.integer }) },
      response = { echo = t.string },
      execute = function(ctx, req)
        seen = req.creds.token
        ctx.log("using", req.creds.token)
        if ctx.attempt == 1 then error("auth failed for " .. req.creds.token) end
        local r = ws.exec{ argv = { "sh", "-c", 'echo "token=$1 pin=$2"', "sh", req.creds.token,
                                    tostring(req.creds.pin) } }
        return { echo = r.stdout }
      end,
    }
    local events = {}
    local r = ws.run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
      ws.seq{ name = "s", actions = { ws.action{ name = "login", plugin = "spec.secrets.login", retries = 1,
        req = { user = "ops", creds = { token = secret, pin = 98765 } } } } } } } } },
      { clock = "virtual", on_event = function(ev) events[#events + 1] = ev end })

    assert.are.equal(secret, seen) -- the plugin gets the real value
    local a = r.blocks[1].sequences[1].actions[1]
    assert.are.equal("completed", a.status)
    assert.are.equal("ops", a.req.user)
    assert.are.equal("<redacted>", a.req.creds)
    assert.matches("auth failed for %*%*%*", a.attempts[1].err.msg)
    assert.are.same({ "using ***" }, a.attempts[1].log)
    assert.are.equal("token=*** pin=***\n", a.resp.echo)
    for _, s in ipairs(strings({ r, events })) do
      assert.is_nil(s:find(secret, 1, true), "leaked: " .. s)
      assert.is_nil(s:find("98765", 1, true), "leaked: " .. s)
    end
  end)
end)
