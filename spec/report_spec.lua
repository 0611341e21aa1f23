-- workstream.report: the HTML page of a run, from real results of ws.run on the
-- virtual clock. The assertions read the HTML text.
local ws = require "workstream"
local R = require "workstream.report"
local H = require "spec.helpers"

local sleep, sh = H.sleep, H.sh

local find = H.find

-- Plain-text search (no patterns), with the page in the message when it fails.
local function has(html, text)
  assert.is_truthy(html:find(text, 1, true), ("expected %q in the page"):format(text))
end

local function lacks(html, text)
  local at = html:find(text, 1, true)
  assert.is_falsy(at, at and ("unexpected %q in the page near: %s"):format(text, html:sub(at - 80, at + 80)))
end

local function count(html, text)
  local n, from = 0, 1
  while true do
    local s, e = html:find(text, from, true)
    if not s then return n end
    n, from = n + 1, e + 1
  end
end

local function escaped(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"):gsub("'", "&#39;"))
end

-- Every href="#x" of the page names an element's id="x".
local function links_resolve(html)
  local ids = {}
  for id in html:gmatch(' id="([^"]+)"') do
    assert.is_nil(ids[id], "duplicate id " .. id)
    ids[id] = true
  end
  local n = 0
  for id in html:gmatch(' href="#([^"]*)"') do
    assert.is_true(ids[id], "a link to a missing #" .. id)
    n = n + 1
  end
  return n
end

-- The bar of the sequence (or other node) whose id is id, if there is one.
local function bar_of(html, id)
  return html:match('<a class="bar sq [^"]*" href="#n%-' .. id:gsub("%-", "%%-") .. '"')
end

-- Two blocks (the first tolerates failures, so the second runs too), failures
-- in commands and in a deferred batch, and a sequence that never starts.
local function failing_plan()
  return ws.plan{
    name = "nightly upgrade",
    pre_checks = ws.checks{ actions = { ws.action{ name = "healthy", plugin = "ws.check.exec",
                                                   req = { argv = { "true" } } } } },
    blocks = {
      ws.block{ name = "wave 1", concurrency = 2, tolerated_failures = -1, sequences = {
        ws.seq{ name = "db1", actions = { sleep("drain", 2), sh("migrate", "echo 'schema locked' >&2; exit 1") } },
        ws.seq{ name = "db2", actions = { sleep("drain", 3), sh("migrate", "exit 0") } },
        ws.seq{ name = "db3", actions = { sh("restart", "echo 'no such unit' >&2; exit 1", { retries = 1 }),
                                          sleep("verify", 1) } },
      } },
      ws.block{ name = "wave 2", sequences = {
        ws.seq{ name = "web1", actions = { sh("reload", "echo 'config invalid' >&2; exit 1") } },
        ws.seq{ name = "web2", actions = { sleep("reload", 1) } }, -- the budget is spent: never starts
      } },
    },
    deferred_actions = { ws.batch{ name = "notify", when = "on_failure", actions = {
      sleep("page oncall", 60, { timeout = "5s" }),
    } } },
  }
end

describe("workstream.report", function()
  local result, html
  setup(function()
    result = ws.run(failing_plan(), { clock = "virtual" })
    html = R.html(result)
  end)

  it("is one HTML5 document headed by the plan's name, id, status and reason", function()
    assert.are.equal("failed", result.status)
    assert.is_truthy(html:match("^<!DOCTYPE html>\n<html"))
    assert.is_truthy(html:match("</html>\n$"))
    assert.are.equal(1, count(html, "<html"))
    has(html, "<title>nightly upgrade")
    has(html, "<h1>")
    has(html, "nightly upgrade")
    has(html, result.id)
    has(html, "reason: <b>block</b>")
    has(html, os.date("!%Y-%m-%dT%H:%M:%S", math.floor(result.started))) -- start, UTC ISO
  end)

  it("lists every failed action with its path and last error, first", function()
    local failures = html:sub(1, html:find('id="timeline"', 1, true))
    has(failures, "Failed actions (4)")
    for path, text in pairs {
      ["wave 1/db1/migrate"] = "schema locked",
      ["wave 1/db3/restart"] = "no such unit",
      ["wave 2/web1/reload"] = "config invalid",
      ["deferred_actions/notify/page oncall"] = "timed out",
    } do
      local action = find(result, path)
      assert.are.equal("failed", action.status)
      has(failures, escaped(path))
      has(failures, escaped(action.name))
      has(failures, escaped(action.err.msg))
      has(failures, text)
    end
    -- failures the block tolerated are marked so
    assert.are.equal(2, count(failures, '<span class="tag">tolerated</span>'))
    assert.is_true(links_resolve(html) > 8)
  end)

  it("shows each action's status in words, its attempts and errors in the tree", function()
    local tree = html:sub((html:find('id="tree"', 1, true)))
    has(tree, '<span class="st st-failed">failed</span>')
    has(tree, '<span class="st st-completed">completed</span>')
    has(tree, '<span class="st st-not_started">not started</span>')
    has(tree, "restart")
    has(tree, "2 attempts")
    has(tree, "attempt 2")
    has(tree, "no such unit")
    has(tree, "healthy") -- the pre check
    has(tree, "notify")  -- the deferred batch
  end)

  it("draws one timeline bar per started sequence and none for one that did not start", function()
    local started = 0
    for _, b in ipairs(result.blocks) do
      for _, s in ipairs(b.sequences) do
        if s.started then
          started = started + 1
          assert.is_truthy(bar_of(html, s.id), "no bar for " .. s.name)
        else
          assert.is_nil(bar_of(html, s.id), "a bar for " .. s.name)
        end
      end
    end
    assert.are.equal(4, started)
    assert.are.equal("not_started", find(result, "wave 2/web2").status)
    assert.are.equal(started, count(html, '<a class="bar sq '))
    -- failed bars are coloured and say so in words
    has(html, '<a class="bar sq st-failed"')
    assert.is_truthy(html:find('aria-label="db1: failed, +', 1, true))
    has(html, "1 not started (no bar)")
  end)

  it("positions a sequence's bar on its block's time axis", function()
    local b = find(result, "wave 1")
    local db2 = find(result, "wave 1/db2")
    local left, width = html:match('href="#n%-' .. db2.id:gsub("%-", "%%-")
                                   .. '" style="left:([%d.]+)%%;width:([%d.]+)%%"')
    local span = b.ended - b.started
    assert.is_near((db2.started - b.started) / span * 100, tonumber(left), 0.01)
    assert.is_near((db2.ended - db2.started) / span * 100, tonumber(width), 0.01)
  end)

  it("loads nothing from anywhere", function()
    lacks(html, "http://")
    lacks(html, "https://")
    lacks(html, 'src="//')
    lacks(html, "src=")
    lacks(html, "url(")
    lacks(html, "@import")
    has(html, "default-src 'none'")
  end)

  it("escapes every string of the result", function()
    local hostile = [[<script>alert("x")</script>]]
    local r = ws.run(ws.plan{
      name = hostile,
      blocks = { ws.block{ name = "b<i>", sequences = {
        ws.seq{ name = [["><img onerror=alert(1)>]], actions = {
          sh("a'&\"<b>", "echo '<script>evil()</script>' >&2; exit 3"),
        } },
      } } },
    }, { clock = "virtual" })
    local page = R.html(r)
    lacks(page, "<script>alert")
    lacks(page, "<script>evil")
    lacks(page, "<img")
    lacks(page, "<i>")
    lacks(page, "<b>\"")
    has(page, escaped(hostile))
    has(page, escaped([["><img onerror=alert(1)>]]))
    has(page, escaped("a'&\"<b>"))
    has(page, "&lt;script&gt;evil()&lt;/script&gt;")
    -- the only script is the page's own
    assert.are.equal(1, count(page, "<script>"))
  end)

  it("shows requests and responses as JSON, and command output as text", function()
    local r = ws.run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
      ws.seq{ name = "s", actions = { sh("two lines", "printf 'first <line>\\nsecond\\n'") } },
    } } } }, { clock = "virtual" })
    local page = R.html(r)
    has(page, "&quot;argv&quot;: [&quot;sh&quot;, &quot;-c&quot;")
    has(page, "&quot;code&quot;: 0")
    has(page, "response.stdout (text)")
    has(page, "first &lt;line&gt;\nsecond\n</pre>")
    assert.are.equal('{\n  "a": [1, 2],\n  "b": {\n    "c": "x\\ny"\n  }\n}', R.json{ b = { c = "x\ny" }, a = { 1, 2 } })
  end)

  it("clips long texts and says how much was left out", function()
    local r = ws.run(ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = {
      ws.seq{ name = "s", actions = { sh("loud", "yes 0123456789 | head -c 5000 >&2; exit 1") } },
    } } } }, { clock = "virtual" })
    local page = R.html(r, { text_limit = 100 })
    has(page, "more bytes not shown")
    assert.is_falsy(page:find(("0123456789\n"):rep(12), 1, true))
  end)

  it("renders a plan that did not start, and a run still running", function()
    -- A stored run read while it runs: copy a finished result and take the
    -- ends away from what was still going on.
    local r = ws.run(ws.plan{ name = "live", blocks = { ws.block{ name = "b", concurrency = 2, sequences = {
      ws.seq{ name = "done", actions = { sleep("a", 1) } },
      ws.seq{ name = "going", actions = { sleep("a", 5), sleep("b", 5) } },
      ws.seq{ name = "waiting", actions = { sleep("a", 1) } },
    } } } }, { clock = "virtual" })
    local going = find(r, "b/going")
    for _, node in ipairs { r, find(r, "b"), going, going.actions[2] } do
      node.ended, node.status = nil, "running"
    end
    going.actions[2].attempts[1].ended, going.actions[2].attempts[1].resp = nil, nil
    r.reason = nil
    local page = R.html(r)
    has(page, '<span class="st st-running">running</span>')
    has(page, "running; last record")
    assert.is_truthy(bar_of(page, going.id):find("open-end", 1, true))
    has(page, "now (still running)")

    local never = ws.run(ws.plan{
      name = "skipped",
      bypass_checks = { ws.action{ name = "done already", plugin = "ws.check.exec", req = { argv = { "true" } } } },
      blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = { sleep("a", 1) } } } } },
    }, { clock = "virtual" })
    assert.are.equal("not_started", find(never, "b").status)
    local page2 = R.html(never)
    has(page2, "No sequence of this block started.")
    assert.are.equal(0, count(page2, '<a class="bar sq '))
    has(page2, "Failed actions (0)")
  end)

  it("keeps a plan of 2000 sequences usable: capped timeline, collapsed blocks", function()
    local seqs = {}
    for i = 1, 2000 do
      local a = i % 250 == 0 and sleep("hang", 600, { timeout = "10s" }) or sleep("work", 1 + i % 7)
      seqs[i] = ws.seq{ name = "host" .. i, actions = { a } }
    end
    local r = ws.run(ws.plan{ name = "fleet", blocks = {
      ws.block{ name = "all", concurrency = 50, tolerated_failures = -1, sequences = seqs },
    } }, { clock = "virtual" })
    assert.are.equal(2000, #r.blocks[1].sequences)
    local page = R.html(r)
    assert.are.equal(R.defaults.timeline_rows, count(page, '<a class="bar sq '))
    has(page, ("%d of 2000 started sequences shown"):format(R.defaults.timeline_rows))
    has(page, ("%d omitted"):format(2000 - R.defaults.timeline_rows))
    for i = 250, 2000, 250 do -- every failure keeps its row
      assert.is_truthy(bar_of(page, find(r, "all/host" .. i).id), "no bar for host" .. i)
    end
    has(page, "in flight (all 2000)") -- the strip counts them all
    has(page, "peak 50")
    has(page, "Failed actions (8)")
    -- the tree: the block starts closed; sequences past the cap are one row each
    assert.is_truthy(page:find('<details class="node block ns%-completed" id="[^"]*">'))
    lacks(page, " open>")
    has(page, ("%d more sequences, in brief"):format(2000 - R.defaults.tree_sequences))
    assert.is_true(#page < 6 * 1024 * 1024, "page of " .. #page .. " bytes")

    local small = R.html(r, { timeline_rows = 20, tree_sequences = 10, brief_rows = 100 })
    assert.are.equal(20, count(small, '<a class="bar sq '))
    has(small, "1980 omitted")
    has(small, "1890 more sequences not listed")
    -- 8 failures, 3 sequences in full: the others' failures link to their rows
    local tiny = R.html(r, { tree_sequences = 3 })
    links_resolve(tiny)
    links_resolve(small)
    assert.is_truthy(tiny:find('<tr id="n%-' .. find(r, "all/host2000").id:gsub("%-", "%%-") .. '" class="pr">'))
  end)

  it("renders a run as stored, with its group and origin", function()
    local dir = H.tmp_path()
    assert(os.execute("mkdir -p " .. H.shell_quote(dir)))
    local db = dir .. "/runs.db"
    local r = ws.run(failing_plan(), { clock = "virtual", store = db,
                                       origin = { file = "/plans/upgrade.lua", args = { "v2" }, cwd = "/plans" } })
    local rec = assert(require("workstream.core").store_get(db, r.id))
    H.remove_tree(dir)
    local page = R.html(rec)
    has(page, r.id)
    has(page, rec.group)
    has(page, "/plans/upgrade.lua v2")
    has(page, "Failed actions (4)")
    has(page, "schema locked")
    assert.are.equal(count(html, '<a class="bar sq '), count(page, '<a class="bar sq '))
  end)

  it("writes no globals and refuses what is not a result", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded["workstream.report"] = nil
    local R2 = require "workstream.report"
    R2.html(result)
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. tostring(k)) end
    assert.has_error(function() R.html(nil) end)
    assert.has_error(function() R.html({ type = "block" }) end)
    assert.has_error(function() R.html(result, { no_such_option = 1 }) end)
    assert.has_error(function() R.html(result, { timeline_rows = -1 }) end)
  end)
end)
