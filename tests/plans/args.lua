-- Writes what it was given (as `...` and as `arg`) into the file named by arg[1].
local ws = require "workstream"
local out, greeting = ...
assert(out == arg[1] and greeting == arg[2], "`...` and `arg` disagree")
return ws.plan{
  name = "args",
  blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
    ws.action{ name = "write", plugin = "ws.exec",
               req = { argv = { "sh", "-c", 'printf "%s|%s|%s" "$1" "$2" "$3" > "$0"',
                                out, arg[0], greeting, tostring(#arg) } } },
  } } } } },
}
