-- Helpers shared by the specs (not a spec itself: busted runs *_spec files).
--
--   local H = require "spec.helpers"   -- the repository root is on .busted's lpath
--
-- Errors raised by workstream name the caller's file:line; next_line and
-- assert_error_at check that they name the right line of the spec itself.
local assert = require "luassert" -- busted's assert (spec files get it as a global; modules do not)
local getinfo = debug.getinfo

local H = {}

--- The line after the caller's: `local line = next_line()`, then the call whose
-- error must name that line. (Call it directly, not through a wrapper.)
function H.next_line() return getinfo(2, "l").currentline + 1 end

--- Asserts that err is a message that starts with "<spec file>:<line>: ", where
-- <spec file> is the file of the caller (the spec), and contains `text` (plain).
function H.assert_error_at(err, line, text)
  local file = getinfo(2, "S").source:match("([^/\\]+)$")
  assert.is_string(err)
  local got = err:match("^.-" .. file:gsub("%p", "%%%0") .. ":(%d+): ")
  assert.is_truthy(got, "no '" .. file .. ":<line>: ' prefix in: " .. err)
  assert.are.equal(line, tonumber(got), "wrong line in: " .. err)
  assert.is_truthy(err:find(text, 1, true), ("expected %q in:\n%s"):format(text, err))
end

--- For `local err = fails(pcall(f, ...))`: asserts that the call failed and
-- returns its error.
function H.fails(ok, err)
  assert.is_false(ok, "expected an error")
  return err
end

--- s quoted for sh.
function H.shell_quote(s) return "'" .. s:gsub("'", [['\'']]) .. "'" end

--- A fresh path in the temporary directory, where nothing is yet (for a
-- directory the code under test creates); remove it with remove_tree.
function H.tmp_path()
  local path = os.tmpname()
  os.remove(path)
  return path
end

--- Removes path and all below it (nothing when it does not exist).
function H.remove_tree(path)
  os.execute("rm -rf " .. H.shell_quote(path))
end

--- Actions for run specs: ws.sleep for `seconds`, or `sh -c script`; `extra`
-- fields (timeout, retries, ...) are added to the action.
local function action(t, extra)
  for k, v in pairs(extra or {}) do t[k] = v end
  return require("workstream").action(t)
end

function H.sleep(name, seconds, extra)
  return action({ name = name, plugin = "ws.sleep", req = { seconds = seconds } }, extra)
end

function H.sh(name, script, extra)
  return action({ name = name, plugin = "ws.exec", req = { argv = { "sh", "-c", script } } }, extra)
end

--- The node of a result at `path` (ws.walk's paths), or an error.
function H.find(result, path)
  for node, p in require("workstream").walk(result) do
    if p == path then return node end
  end
  error("no object at " .. path, 2)
end

return H
