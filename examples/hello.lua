-- hello.lua: a first plan. Two blocks of real commands: the first runs one
-- sequence, the second fans out to three "hosts" two at a time.
--
--   wsrun examples/hello.lua            (or: wsrun examples/hello.lua Ada)
local ws = require "workstream"

local who = ... or os.getenv("USER") or "operator"

local function sh(name, script, ...)
  return ws.action{
    name = name,
    plugin = "ws.exec",
    req = { argv = { "sh", "-c", script, "sh", ... } },
    timeout = "10s",
  }
end

local hosts = {}
for _, host in ipairs { "web1", "web2", "web3" } do
  hosts[#hosts + 1] = ws.seq{
    name = host,
    actions = {
      sh("greet", 'echo "hello from $1"', host),
      sh("uptime", "uptime"),
      sh("pause", "sleep 0.2"),
    },
  }
end

return ws.plan{
  name = "hello",
  descr = "says hello to " .. who .. " and to three pretend hosts",
  blocks = {
    ws.block{
      name = "local",
      sequences = {
        ws.seq{ name = "this machine", actions = {
          sh("whoami", 'echo "hello, $1"', who),
          sh("kernel", "uname -sr"),
        } },
      },
    },
    ws.block{
      name = "fleet",
      concurrency = 2,
      sequences = hosts,
    },
  },
}
