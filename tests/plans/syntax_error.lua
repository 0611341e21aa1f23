local ws = require "workstream"
return ws.plan{
  name = "broken"
  blocks = {},
}
