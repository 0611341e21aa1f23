-- The bad input catalogue's runner: runs the real `wsrun` on one case of
-- cases.lua (or on all of them) and checks its exit code and messages.
--
--   WSRUN=build/bin/wsrun BAD_PLUGIN=build/tests/bad_input/bad_plugin.so \
--     lua5.4 tests/bad_input/run.lua [CASE...]
--
-- Each case runs in a new temporary directory (its current directory, with
-- XDG_STATE_HOME inside it), under `timeout`, so a hang fails the case
-- instead of the build. Whatever a case expects, wsrun must not crash, hang,
-- or print a sanitizer report or an internal error.

-- Cases run in directories of their own: make the paths absolute.
local function absolute(path)
  if path == "" or path:sub(1, 1) == "/" then return path end
  return assert(os.getenv("PWD"), "no $PWD") .. "/" .. path
end
local WSRUN = absolute(assert(os.getenv("WSRUN"), "set WSRUN to the wsrun binary"))
local BAD_PLUGIN = absolute(os.getenv("BAD_PLUGIN") or "")
local TIME_LIMIT = 20 -- seconds per wsrun invocation, unless a case says otherwise

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local cases = dofile(here .. "/cases.lua")

-- What every plan file of the catalogue starts with, on its first line, so
-- that the line numbers in expected messages are those of the case's text.
local PRELUDE = 'local ws = require "workstream"; local t = ws.types; '
  .. 'local function one(a) return ws.plan{ name = "p", blocks = { ws.block{ name = "b", '
  .. 'sequences = { ws.seq{ name = "s", actions = { a } } } } } } end; '

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if how == "exit" then return code end
  return 128 + code -- killed by a signal
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Runs wsrun with argv in dir; returns exit code, stdout, stderr.
local function wsrun(dir, argv, limit)
  local words = {}
  for i, a in ipairs(argv) do words[i] = sh_quote(a) end
  local cmd = string.format("cd %s && XDG_STATE_HOME=%s timeout -k 5 %d %s %s >out 2>err </dev/null",
                            sh_quote(dir), sh_quote(dir .. "/state"), limit or TIME_LIMIT,
                            sh_quote(WSRUN),
                            table.concat(words, " "))
  local code = sh(cmd)
  return code, read(dir .. "/out"), read(dir .. "/err")
end

local function newest_run(dir)
  local _, out = wsrun(dir, { "list" })
  return out:match("\n(%x+%-[%x%-]+)") or "NO-RUN"
end

local function expand(dir, argv)
  local out = {}
  for i, a in ipairs(argv) do
    a = a:gsub("{TMP}", dir):gsub("{BAD_PLUGIN}", BAD_PLUGIN)
    if a:find("{ID}", 1, true) then a = a:gsub("{ID}", newest_run(dir)) end
    out[i] = a
  end
  return out
end

-- Texts no run may print, whatever its case expects.
local NEVER = { "AddressSanitizer", "LeakSanitizer", "runtime error:", "internal error",
                "stack traceback" }

-- Runs one case; returns nil when it passes, else what went wrong.
local function run_case(c)
  local dir = io.popen("mktemp -d"):read("l")
  local function cleanup() sh("chmod -R u+rwx " .. sh_quote(dir) .. " && rm -rf " .. sh_quote(dir)) end
  if c.plan then write(dir .. "/plan.lua", PRELUDE .. c.plan) end
  for name, text in pairs(c.files or {}) do write(dir .. "/" .. name, text) end
  if c.setup then
    local code = sh("cd " .. sh_quote(dir) .. " && " .. c.setup)
    if code ~= 0 then cleanup() return "setup failed: " .. c.setup end
  end
  for _, argv in ipairs(c.before or {}) do
    local code, out, err = wsrun(dir, expand(dir, argv))
    if code ~= 0 then
      cleanup()
      return string.format("a preparatory run (%s) exited %d\n%s%s", table.concat(argv, " "), code,
                           out, err)
    end
  end
  local argv = expand(dir, c.argv or { "plan.lua" })
  local limit = c.time_limit or TIME_LIMIT
  local code, out, err = wsrun(dir, argv, limit)
  cleanup()

  local problems = {}
  local function problem(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end
  if code == 124 or code == 128 + 9 then
    problem("hung: killed after %d s", limit)
  elseif code ~= c.exit then
    problem("exit code %d, expected %d%s", code, c.exit,
            code > 3 and " (a crash or a signal: never acceptable)" or "")
  end
  for _, text in ipairs(NEVER) do
    if not (c.internal and text == "internal error") then
      if out:find(text, 1, true) or err:find(text, 1, true) then problem("printed %q", text) end
    end
  end
  local streams = { out = out, err = err }
  for _, s in ipairs { "out", "err" } do
    for _, want in ipairs(c[s] or {}) do
      if not streams[s]:find(want, 1, true) then problem("std%s lacks: %s", s, want) end
    end
    for _, pat in ipairs(c[s .. "_match"] or {}) do
      if not streams[s]:find(pat) then problem("std%s does not match: %s", s, pat) end
    end
    for _, bad in ipairs(c["no_" .. s] or {}) do
      if streams[s]:find(bad, 1, true) then problem("std%s has: %s", s, bad) end
    end
  end
  if #problems == 0 then return nil end
  local function cut(s) return #s > 3000 and s:sub(1, 3000) .. "\n[... cut]" or s end
  return string.format("%s\n  wsrun %s\n--- stdout\n%s--- stderr\n%s", table.concat(problems, "\n"),
                       table.concat(argv, " "), cut(out), cut(err))
end

local by_name, wanted = {}, {}
for _, c in ipairs(cases) do
  assert(not by_name[c.name], "two cases named " .. c.name)
  assert(type(c.exit) == "number", c.name .. ": no expected exit code")
  by_name[c.name] = c
end
for i = 1, #arg do wanted[#wanted + 1] = assert(by_name[arg[i]], "no case " .. arg[i]) end
if #wanted == 0 then wanted = cases end

local function now() return tonumber(io.popen("date +%s.%N"):read("l")) end

local failed = 0
for _, c in ipairs(wanted) do
  local t0 = now()
  local why = run_case(c)
  local took = string.format(" (%.1fs)", now() - t0)
  if why then
    failed = failed + 1
    io.write("FAIL ", c.name, took, ": ", why, "\n")
  else
    io.write("ok   ", c.name, took, "\n")
  end
end
if #wanted > 1 then io.write(string.format("%d of %d cases failed\n", failed, #wanted)) end
os.exit(failed == 0 and 0 or 1)
