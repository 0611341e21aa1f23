-- A Lua plugin whose request holds a secret; the secret must never reach the
-- database. The secret comes from the environment ($TEST_SECRET), as secrets
-- do: plan arguments are recorded (resume needs them).
local ws = require "workstream"
local t = ws.types
local secret = assert(os.getenv("TEST_SECRET"), "set TEST_SECRET")
ws.plugin{
  name = "test.login",
  request = { user = t.string, token = t.secret(t.string) },
  response = { said = t.string },
  execute = function(ctx, req)
    ctx.log("logging in with", req.token)
    local r = ws.exec{ argv = { "sh", "-c", 'echo "token is $1"; echo "bad token $1" >&2', "sh", req.token } }
    if ctx.attempt == 1 then error("first try failed for " .. req.token) end
    return { said = r.stdout }
  end,
}
return ws.plan{ name = "secret", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "login", plugin = "test.login", retries = 1, retry = { initial = "10ms" },
             req = { user = "ops", token = secret } },
} } } } } }
