-- The bad input catalogue: malformed plans, plugins and command lines, each
-- with the exit code the real `wsrun` must give (DESIGN.md section 6: 0
-- completed, 1 failed or stopped, 2 bad usage or invalid plan, 3 internal or
-- storage error) and what its messages must say. run.lua runs them; each is
-- also its own ctest test (bad_input_<name>).
--
--   case "name" {
--     plan   = [[...]],      -- plan.lua; it starts with run.lua's PRELUDE on its
--                            -- line 1 (ws, t = ws.types, one(action) -> a plan
--                            -- "p" with block "b", sequence "s"), so the line
--                            -- numbers below are those of the text as written
--     files  = { name = text },  -- more files in the case's directory
--     setup  = "sh command",     -- run in that directory first
--     before = { argv, ... },    -- wsrun runs that must exit 0 first
--     argv   = { ... },          -- default { "plan.lua" }; {TMP} is the case's
--                                -- directory, {ID} the newest run, {BAD_PLUGIN}
--                                -- the misbehaving C plugins (bad_plugin.c)
--     exit   = N,
--     out, err = { "substring", ... }, out_match, err_match = { "Lua pattern", ... },
--     no_out, no_err = { "substring that must not appear", ... },
--     time_limit = seconds,      -- instead of run.lua's 20 for each wsrun
--   }
--
-- Runtime misbehaviour of a plugin must end the run (never hang or crash)
-- with the action failed and the reason in the summary: exit 1.

local cases = {}
local function case(name)
  return function(t)
    t.name = name
    cases[#cases + 1] = t
  end
end

-- A plan that completes (for the cases that need a recorded run).
local GOOD = [[
local ws = require "workstream"
return ws.plan{ name = "good", blocks = { ws.block{ name = "b", sequences = {
  ws.seq{ name = "s", actions = { ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } }
]]

-- The summary line of a failed one-action plan, and the failed action's line.
local FAILED = 'plan "p" failed (reason: block)'
local function failed_with(msg) return "  b/s/a: " .. msg end

----------------------------------------------------------- command lines

case "cli_no_arguments" { argv = {}, exit = 2, err = { "usage: wsrun" } }

case "cli_unknown_flag" {
  plan = "return 1", argv = { "--frobnicate", "plan.lua" }, exit = 2,
  err = { "unknown option --frobnicate" },
}

case "cli_missing_plan_file" {
  argv = { "nowhere.lua" }, exit = 2, err = { "cannot open nowhere.lua" },
}

case "cli_plan_is_a_directory" {
  setup = "mkdir dir.lua", argv = { "dir.lua" }, exit = 2,
  err = { "cannot read dir.lua: Is a directory" },
}

case "cli_option_without_value" {
  argv = { "--db" }, exit = 2, err = { "--db needs a path" },
}

case "cli_plugin_flag_without_path" {
  argv = { "--plugin=" }, exit = 2, err = { "--plugin needs a path to a .so file" },
}

case "cli_plugin_not_a_library" {
  plan = "return 1", argv = { "--plugin", "plan.lua", "plugins" }, exit = 2,
  err = { "wsrun: --plugin: plan.lua: " },
}

case "cli_list_with_extra_argument" {
  argv = { "list", "everything" }, exit = 2, err = { "list: wrong arguments" },
}

case "cli_resume_without_id" {
  argv = { "resume" }, exit = 2, err = { "resume: wrong arguments" },
}

case "cli_db_in_missing_directory" { -- created, as the default one is
  argv = { "--db", "{TMP}/no/such/dir/runs.db", "list" }, exit = 0,
  out = { "no runs recorded in" },
}

case "cli_db_under_a_file" {
  setup = "touch file", argv = { "--db", "{TMP}/file/runs.db", "list" }, exit = 3,
  err = { "file/runs.db", "is not a directory" },
}

case "cli_db_where_nothing_can_be_created" {
  argv = { "--db", "/proc/runs.db", "list" }, exit = 3, err = { "/proc/runs.db" },
}

case "cli_show_unknown_id" {
  argv = { "show", "00000000-0000" }, exit = 2, err = { "no run" },
}

case "cli_show_id_with_sql" {
  argv = { "show", "0' OR '1'='1" }, exit = 2, err = { "no run" },
}

case "cli_resume_completed_run" {
  files = { ["good.lua"] = GOOD }, before = { { "good.lua" } },
  argv = { "resume", "{ID}" }, exit = 2, err = { "nothing to resume" },
}

case "cli_retry_unknown_id" {
  argv = { "retry", "ffffffff" }, exit = 2, err = { "no run" },
}

case "cli_check_of_an_invalid_plan" {
  plan = [[
return one(ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, retries = "3" })]],
  argv = { "--check", "plan.lua" }, exit = 2,
  err = { 'plan.lua:1: action "a": retries: expected integer, got string' },
}

case "cli_report_without_output" {
  files = { ["good.lua"] = GOOD }, before = { { "good.lua" } },
  argv = { "report", "{ID}" }, exit = 2, err = { "report needs -o FILE.html" },
}

case "cli_report_into_missing_directory" {
  files = { ["good.lua"] = GOOD }, before = { { "good.lua" } },
  argv = { "report", "{ID}", "-o", "{TMP}/no/dir/r.html" }, exit = 2,
  err = { "cannot write the report", "no/dir/r.html" },
}

----------------------------------------------------- evaluating the plan file

case "file_returns_nothing" {
  plan = [[
local p = 1]], exit = 2, err = { "plan.lua returned nothing, not a plan" },
}

case "file_returns_a_number" {
  plan = [[
return 42]], exit = 2, err = { "plan.lua returned a number, not a plan" },
}

case "file_returns_a_block" {
  plan = [[
return ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } }]],
  exit = 2, err = { "plan.lua returned a block, not a plan" },
}

case "file_syntax_error" {
  plan = [[
return ws.plan{ name = "p"
  blocks = {} }]], exit = 2, err = { "plan.lua:2: '}' expected" },
}

case "file_raises_at_load" {
  plan = [[
local hosts = nil
error("no inventory for " .. tostring(hosts))]], exit = 2,
  err = { "wsrun: plan.lua:2: no inventory for nil" },
}

case "file_raises_nil" {
  plan = [[
error(nil)]], exit = 2, err = { "wsrun: plan.lua raised an error without a message (nil)" },
}

case "file_raises_a_table" {
  plan = [[
error({ reason = "no inventory" })]], exit = 2,
  err = { "wsrun: plan.lua raised an error that is a table, not a message" },
}

case "file_raises_a_table_whose_tostring_raises" {
  plan = [[
error(setmetatable({}, { __tostring = function() error("again") end }))]], exit = 2,
  err = { "wsrun: plan.lua raised an error that is a table, not a message" },
}

case "file_requires_a_missing_module" {
  plan = [[
local inventory = require "acme.inventory"]], exit = 2,
  err = { "plan.lua:1: module 'acme.inventory' not found" },
}

------------------------------------------------ wrong types, at every level

case "plan_not_a_table" { -- a tail call: Lua loses the line, not the file
  plan = [[
return ws.plan("rollout")]], exit = 2,
  err = { "wsrun: plan.lua: ws.plan: expected a table of fields (ws.plan{...}), got string" },
  no_err = { "cli.lua" },
}

case "plan_name_not_a_string" {
  plan = [[
local p = ws.plan{ name = 42, blocks = {} }]], exit = 2,
  err = { "plan.lua:1: plan: name: expected a non-empty string, got number" },
}

case "plan_blocks_not_a_list" {
  plan = [[
local p = ws.plan{ name = "p", blocks = "canary" }]], exit = 2,
  err = { 'plan.lua:1: plan "p": blocks: expected a list of blocks, got string' },
}

case "plan_blocks_empty" {
  plan = [[
local p = ws.plan{ name = "p", blocks = {} }]], exit = 2,
  err = { 'plan.lua:1: plan "p": blocks: must not be empty' },
}

case "plan_unknown_field" {
  plan = [[
local b = ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } }
local p = ws.plan{ name = "p", blokcs = { b } }]], exit = 2,
  err = { 'plan.lua:3: plan "p": unknown field "blokcs" (did you mean "blocks"?)' },
}

case "plan_blocks_hold_an_action" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } }
local p = ws.plan{ name = "p", blocks = { a } }]], exit = 2,
  err = { 'plan.lua:2: plan "p": blocks[1]: expected a block (ws.block{...}), got an action' },
}

case "block_concurrency_zero" {
  plan = [[
return ws.plan{ name = "p", blocks = {
  ws.block{ name = "wave", concurrency = 0, sequences = {
    ws.seq{ name = "s", actions = { ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } }]],
  exit = 2, err = { 'plan.lua:2: block "wave": concurrency: must be >= 1, got 0' },
}

case "block_concurrency_a_string" {
  plan = [[
local b = ws.block{ name = "wave", concurrency = "2", sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": concurrency: expected integer, got string' },
}

case "block_concurrency_out_of_range" {
  plan = [[
local b = ws.block{ name = "wave", concurrency = math.maxinteger, sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": concurrency: must be <= 1000000000, got 9223372036854775807' },
}

case "block_concurrency_beyond_integers" {
  plan = [[
local b = ws.block{ name = "wave", concurrency = 2^63, sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": concurrency: expected integer, got 9.2233720368548e+18' },
}

case "block_budget_not_a_percentage" {
  plan = [[
local b = ws.block{ name = "wave", tolerated_failures = "abc%", sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": tolerated_failures: expected an integer >= -1', 'got "abc%"' },
}

case "block_budget_over_100_percent" {
  plan = [[
local b = ws.block{ name = "wave", tolerated_failures = "150%", sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": tolerated_failures: a percentage must be from "0%" to "100%", got "150%"' },
}

case "block_budget_percentage_tolerates" { -- 1 failure of 10 is not more than 10%
  plan = [[
local seqs = {}
for i = 1, 10 do
  seqs[i] = ws.seq{ name = "s" .. i, actions = {
    ws.action{ name = "a", plugin = "ws.exec", req = { argv = { i == 3 and "false" or "true" } } } } }
end
return ws.plan{ name = "p", blocks = { ws.block{ name = "b", tolerated_failures = "10%", sequences = seqs } } }]],
  exit = 0, out = { 'plan "p" completed', "tolerated sequence failures (1):", "  b/s3" },
}

case "block_budget_fractional_percentage" {
  plan = [[
local b = ws.block{ name = "wave", tolerated_failures = "10.5%", sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": tolerated_failures: expected an integer >= -1', 'got "10.5%"' },
}

case "block_budget_fraction" {
  plan = [[
local b = ws.block{ name = "wave", tolerated_failures = 0.5, sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": tolerated_failures: expected integer, got 0.5' },
}

case "block_stop_unknown" {
  plan = [[
local b = ws.block{ name = "wave", stop = "now", sequences = {} }]], exit = 2,
  err = { 'plan.lua:1: block "wave": stop: expected "sequence" or "action", got "now"' },
}

case "block_sequences_hold_an_action" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } }
local b = ws.block{ name = "wave", sequences = { a } }]], exit = 2,
  err = { 'plan.lua:2: block "wave": sequences[1]: expected a sequence (ws.sequence{...}), got an action' },
}

case "sequence_positional_fields" {
  plan = [[
local s = ws.seq{ "web1", {} }]], exit = 2,
  err = { "plan.lua:1: sequence: unexpected positional value [1] (string); fields are named" },
}

case "sequence_actions_with_a_hole" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } }
local s = ws.seq{ name = "s", actions = { a, nil, a } }]], exit = 2,
  err = { 'plan.lua:2: sequence "s": actions[2]: missing (the list has a hole)' },
}

case "sequence_with_a_check_plugin" {
  plan = [[
local s = ws.seq{ name = "web1", actions = {
  ws.action{ name = "probe", plugin = "ws.check.tcp", req = { host = "localhost", port = 22 } } } }]],
  exit = 2,
  err = { 'plan.lua:1: sequence "web1": actions[1]: action "probe" uses check plugin "ws.check.tcp"' },
}

case "sequence_with_an_external_check_plugin" {
  plan = [[
local s = ws.seq{ name = "web1", actions = {
  ws.action{ name = "probe", plugin = "bad.check" } } }]],
  argv = { "--plugin", "{BAD_PLUGIN}", "plan.lua" }, exit = 2,
  err = { 'plan.lua:1: sequence "web1": actions[1]: action "probe" uses check plugin "bad.check"' },
}

case "checks_with_a_plain_plugin" {
  plan = [[
local c = ws.checks{ delay = "10s", actions = {
  ws.action{ name = "restart", plugin = "ws.exec", req = { argv = { "true" } } } } }]],
  exit = 2,
  err = { 'plan.lua:1: checks: actions[1]: action "restart" uses plugin "ws.exec", which is not a check plugin' },
}

case "checks_delay_zero" {
  plan = [[
local c = ws.checks{ delay = 0, actions = {
  ws.action{ name = "probe", plugin = "ws.check.tcp", req = { host = "localhost", port = 22 } } } }]],
  exit = 2, err = { "plan.lua:1: checks: delay: must be > 0, got 0" },
}

case "checks_as_a_table_of_fields" {
  plan = [[
local s = ws.seq{ name = "s", actions = { ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } }
local b = ws.block{ name = "b", sequences = { s }, pre_checks = { delay = "5s", actions = {} } }]],
  exit = 2,
  err = { 'plan.lua:2: block "b": pre_checks: got a plain table with checks fields; write ws.checks{' },
}

case "batch_when_unknown" {
  plan = [[
local d = ws.batch{ name = "undo", when = "sometimes", actions = {} }]], exit = 2,
  err = { 'plan.lua:1: batch "undo": when: expected "on_failure", "on_success" or "always", got "sometimes"' },
}

case "batch_fail_plan_a_string" {
  plan = [[
local d = ws.batch{ name = "undo", when = "always", fail_plan = "yes", actions = {} }]], exit = 2,
  err = { 'plan.lua:1: batch "undo": fail_plan: expected boolean, got string' },
}

case "action_timeout_zero" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } },
                     timeout = 0 }]], exit = 2,
  err = { 'plan.lua:1: action "a": timeout: must be > 0, got 0' },
}

case "action_timeout_nan" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, timeout = 0/0 }]],
  exit = 2, err = { 'plan.lua:1: action "a": timeout: expected a duration, got nan' },
}

case "action_timeout_infinite" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, timeout = math.huge }]],
  exit = 2, err = { 'plan.lua:1: action "a": timeout: must be finite, got inf' },
}

case "action_timeout_centuries" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, timeout = "99999999h" }]],
  exit = 2, err = { 'plan.lua:1: action "a": timeout: must be at most 1e+09 s (about 31 years), got "99999999h"' },
}

case "action_timeout_not_a_duration" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, timeout = "5 minutes" }]],
  exit = 2, err = { 'plan.lua:1: action "a": timeout: invalid duration "5 minutes"' },
}

case "action_unknown_field" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, retires = 3 }]],
  exit = 2, err = { 'plan.lua:1: action "a": unknown field "retires" (did you mean "retries"?)' },
}

case "action_retries_negative" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, retries = -1 }]],
  exit = 2, err = { 'plan.lua:1: action "a": retries: must be >= 0, got -1' },
}

case "action_retries_out_of_range" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } }, retries = math.maxinteger }]],
  exit = 2, err = { 'plan.lua:1: action "a": retries: must be <= 1000000, got 9223372036854775807' },
}

case "action_retry_policy_typo" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } },
                     retry = { initail = "1s" } }]],
  exit = 2, err = { 'plan.lua:1: action "a": retry: unknown field "initail" (did you mean "initial"?)' },
}

case "action_retry_multiplier_huge" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } },
                     retry = { multiplier = 1e308 } }]],
  exit = 2, err = { 'plan.lua:1: action "a": retry.multiplier: must be <= 1000000, got 1e+308' },
}

case "action_unknown_plugin" {
  plan = [[
local a = ws.action{ name = "a", plugin = "acme.deploy", req = {} }]], exit = 2,
  err = { 'plan.lua:1: action "a": unknown plugin "acme.deploy"' },
}

case "action_req_not_a_table" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = "ls -l" }]], exit = 2,
  err = { 'plan.lua:1: action "a": req: expected table, got string' },
}

case "action_req_wrong_field_type" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "ls", 42 } } }]], exit = 2,
  err = { 'plan.lua:1: action "a": req.argv[2]: expected string, got integer' },
}

case "action_req_unknown_field" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "ls" }, cwdd = "/" } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req: unknown field "cwdd"' },
}

case "action_req_integer_out_of_range" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "ls" }, ok_codes = { 2^70 } } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req.ok_codes[1]: expected integer, got number 1.18059e+21' },
}

case "action_req_nan" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.sleep", req = { seconds = 0/0 } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req.seconds: number is not finite' },
}

case "action_req_function" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "ls" }, cwd = print } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req.cwd: a function cannot be sent to a plugin' },
}

------------------------------------------------------------------ cycles

case "req_contains_itself" {
  plan = [[
local req = { argv = { "true" } }
req.env = req
local a = ws.action{ name = "a", plugin = "ws.exec", req = req }]], exit = 2,
  err = { 'plan.lua:3: action "a": req.env: contains itself (a cycle)' },
}

case "req_list_contains_itself" {
  plan = [[
local argv = { "echo" }
argv[2] = argv
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = argv } }]], exit = 2,
  err = { 'plan.lua:3: action "a": req.argv[2]: contains itself (a cycle)' },
}

case "blocks_list_contains_itself" {
  plan = [[
local blocks = {}
blocks[1] = blocks
local p = ws.plan{ name = "p", blocks = blocks }]], exit = 2,
  err = { 'plan.lua:3: plan "p": blocks[1]: expected a block (ws.block{...}), got a table' },
}

case "meta_contains_itself" {
  plan = [[
local meta = { owner = "ops" }
meta.again = meta
local b = ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } }
local p = ws.plan{ name = "p", meta = meta, blocks = { b } }]], exit = 2,
  err = { 'plan.lua:5: plan "p": meta.again: contains itself (a cycle)' },
}

case "same_action_twice" {
  plan = [[
local a = ws.action{ name = "restart", plugin = "ws.exec", req = { argv = { "true" } } }
local b = ws.block{ name = "b", sequences = { ws.seq{ name = "web1", actions = { a } },
                                             ws.seq{ name = "web2", actions = { a } } } }
local p = ws.plan{ name = "p", blocks = { b } }]], exit = 2,
  err = { 'plan.lua:4: plan "p": action "restart" appears twice: at "b/web1/restart" and at "b/web2/restart"' },
}

------------------------------------------------------------- huge values

case "req_nested_100000_deep" {
  plan = [[
local deep = {}
for _ = 1, 100000 do deep = { deep } end
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" }, env = { deep = deep } } }]],
  exit = 2, err = { 'plan.lua:3: action "a": req.env.deep', "nested deeper than 64 levels" },
}

case "req_string_of_50_mb" {
  plan = [[
return one(ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "echo", string.rep("x", 50 * 1024 * 1024) } } })]],
  time_limit = 50, -- copied, checked and stored several times: slow under the sanitizers
  exit = 1, out = { FAILED, failed_with('cannot run "echo": argument list too long') },
}

case "lua_plugin_request_of_10_mb" {
  plan = [[
ws.plugin{ name = "big.len", request = { s = t.string }, response = { n = t.integer },
           execute = function(ctx, req) error("got " .. #req.s .. " bytes") end }
return one(ws.action{ name = "a", plugin = "big.len", req = { s = string.rep("y", 10 * 1024 * 1024) } })]],
  exit = 1, out = { FAILED, failed_with("plan.lua:2: got 10485760 bytes") },
}

case "name_of_a_megabyte" {
  plan = [[
return one(ws.action{ name = string.rep("n", 1024 * 1024), plugin = "ws.exec", req = { argv = { "false" } } })]],
  exit = 1, out = { FAILED, 'command "false" exited with code 1' },
}

----------------------------------------------------------- invalid UTF-8

case "utf8_invalid_in_plan_name" {
  plan = [[
local p = ws.plan{ name = "deploy \xff", blocks = {} }]], exit = 2,
  err = { 'plan.lua:1: plan "deploy \\255": name: must be valid UTF-8 text (invalid byte at position 8)' },
}

case "utf8_invalid_in_action_name" {
  plan = [[
local a = ws.action{ name = "restart \xc3", plugin = "ws.exec", req = { argv = { "true" } } }]],
  exit = 2,
  err = { 'plan.lua:1: action "restart \\195": name: must be valid UTF-8 text (invalid byte at position 9)' },
}

case "utf8_invalid_in_key" {
  plan = [[
local a = ws.action{ name = "a", key = "\xed\xa0\x80", plugin = "ws.exec", req = { argv = { "true" } } }]],
  exit = 2, err = { 'plan.lua:1: action "a": key: must be valid UTF-8 text (invalid byte at position 1)' },
}

case "utf8_invalid_in_request" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "echo", "caf\xe9" } } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req.argv[2]: string is not valid UTF-8' },
}

case "utf8_invalid_in_request_key" {
  plan = [[
local a = ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" }, env = { ["\xff"] = "1" } } }]],
  exit = 2, err = { 'plan.lua:1: action "a": req.env: a key is not valid UTF-8' },
}

case "utf8_invalid_in_meta" {
  plan = [[
local b = ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } }
local p = ws.plan{ name = "p", meta = { owner = "\x80" }, blocks = { b } }]], exit = 2,
  err = { 'plan.lua:3: plan "p": meta.owner: must be valid UTF-8 text (invalid byte at position 1)' },
}

case "utf8_invalid_in_plan_path" {
  files = { ["\xff.lua"] = GOOD }, argv = { "\xff.lua" }, exit = 2,
  err = { "origin.file: string is not valid UTF-8" },
}

case "utf8_invalid_in_plan_argument" {
  files = { ["good.lua"] = GOOD }, argv = { "good.lua", "caf\xe9" }, exit = 2,
  err = { "origin.args[1]: string is not valid UTF-8" },
}

case "utf8_invalid_in_plugin_name" {
  plan = [[
ws.plugin{ name = "acme.\xff", execute = function() end }]], exit = 2,
  err = { 'plan.lua:1: invalid plugin name "acme.' },
}

---------------------------------------------------------- duplicates

case "duplicate_key" {
  plan = [[
local a1 = ws.action{ name = "a1", key = "web", plugin = "ws.exec", req = { argv = { "true" } } }
local a2 = ws.action{ name = "a2", key = "web", plugin = "ws.exec", req = { argv = { "true" } } }
local b = ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = { a1, a2 } } } }
local p = ws.plan{ name = "p", blocks = { b } }]], exit = 2,
  err = { 'plan.lua:4: plan "p": duplicate key "web": action "a1" at "b/s/a1" (plan.lua:1) and action "a2" at "b/s/a2" (plan.lua:2)' },
}

case "duplicate_key_block_and_sequence" {
  plan = [[
local s = ws.seq{ name = "s", key = "k", actions = { ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } }
local b = ws.block{ name = "b", key = "k", sequences = { s } }
local p = ws.plan{ name = "p", blocks = { b } }]], exit = 2,
  err = { 'plan.lua:3: plan "p": duplicate key "k": block "b" at "b" (plan.lua:2) and sequence "s" at "b/s" (plan.lua:1)' },
}

case "duplicate_plugin_name" {
  plan = [[
ws.plugin{ name = "acme.deploy", execute = function() end }
ws.plugin{ name = "acme.deploy", execute = function() end }]], exit = 2,
  err = { 'plan.lua:2: plugin "acme.deploy" is already registered' },
}

case "duplicate_of_a_builtin_plugin" {
  plan = [[
ws.plugin{ name = "ws.exec", execute = function() end }]], exit = 2,
  err = { 'plan.lua:1: plugin "ws.exec" is already registered' },
}

-------------------------------------------------- Lua plugins that misbehave

case "lua_plugin_raises_nil" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() error(nil) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("error with no message (nil)") },
}

case "lua_plugin_raises_a_table" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() error({ reason = 1 }) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("error object is a table without a msg field") },
}

case "lua_plugin_raises_a_table_whose_tostring_raises" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() error(setmetatable({}, { __tostring = error })) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("error object is a table without a msg field") },
}

case "lua_plugin_raises_a_huge_message" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() error(string.rep("x", 10 * 1024 * 1024), 0) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("xxxxxxxx") },
}

case "lua_plugin_returns_a_number" {
  plan = [[
ws.plugin{ name = "bad.p", response = { out = t.string }, execute = function() return 42 end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp: expected record{out = string}, got integer') },
}

case "lua_plugin_returns_wrong_field_types" {
  plan = [[
ws.plugin{ name = "bad.p", response = { out = t.string, n = t.integer },
           execute = function() return { out = "x", n = "seven" } end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp.n: expected integer, got string') },
}

case "lua_plugin_returns_a_function" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() return print end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp: a function cannot be sent to a plugin') },
}

case "lua_plugin_returns_a_coroutine" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() return coroutine.create(print) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp: a thread cannot be sent to a plugin') },
}

case "lua_plugin_returns_a_file" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() return io.stdout end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp: a userdata cannot be sent to a plugin') },
}

case "lua_plugin_returns_itself" {
  plan = [[
ws.plugin{ name = "bad.p", response = { again = t.any },
           execute = function() local r = {}; r.again = r; return r end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" returned a bad response: resp.again: contains itself (a cycle)') },
}

case "lua_plugin_runs_a_plan" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function()
  ws.run(ws.plan{ name = "inner", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
    ws.action{ name = "a", plugin = "ws.exec", req = { argv = { "true" } } } } } } } } })
end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("a plan is already running in this Lua state; runs do not nest") },
}

case "lua_plugin_yields_directly" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() coroutine.yield("please resume me") end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1,
  out = { FAILED, failed_with('plugin "bad.p" yielded outside ws.sleep, ws.call and ws.exec') },
}

case "lua_plugin_sleeps_in_a_metamethod" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function()
  return { out = tostring(setmetatable({}, { __tostring = function() ws.sleep(0) return "x" end })) }
end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, "ws.sleep can only be called by a plugin's execute, where it can yield" },
}

case "lua_plugin_sleeps_in_its_own_coroutine" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function()
  coroutine.wrap(function() ws.sleep(0) end)()
end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, "ws.sleep can only be called by a plugin's execute" },
}

case "lua_plugin_sleeps_badly" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() ws.sleep("forever") end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, 'ws.sleep: invalid duration "forever"' },
}

case "lua_plugin_calls_an_unknown_plugin" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() return ws.call("acme.nothing", {}) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, 'ws.call: unknown plugin "acme.nothing"' },
}

case "lua_plugin_calls_with_a_bad_request" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() ws.call("ws.exec", { argv = "ls" }) end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, 'ws.call("ws.exec"): req.argv: expected list(string), got string' },
}

case "lua_plugin_misuses_stop" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() ws.stop("now") end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, "ws.stop: force: expected boolean, got string" },
}

case "lua_plugin_stops_the_run" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() ws.stop(true) end }
return ws.plan{ name = "p", blocks = { ws.block{ name = "b", sequences = { ws.seq{ name = "s", actions = {
  ws.action{ name = "a", plugin = "bad.p" }, ws.action{ name = "never", plugin = "bad.p" } } } } } } }]],
  exit = 1, out = { 'plan "p" stopped (reason: stopped)', "1 completed, 1 not started" },
}

case "lua_plugin_never_yields" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function() while true do end end }
return one(ws.action{ name = "a", plugin = "bad.p", timeout = "1s" })]],
  exit = 1,
  out = { FAILED },
  -- stopped by the count hook, and not before its timeout
  out_match = { '  b/s/a: plugin "bad%.p" ran for [1-9]%d*%.%ds without yielding, past its timeout' },
}

case "lua_plugin_never_ends_its_close_handler" {
  plan = [[
ws.plugin{ name = "bad.p", execute = function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  error("first failure", 0)
end }
return one(ws.action{ name = "a", plugin = "bad.p" })]],
  exit = 1, out = { FAILED, failed_with("first failure") },
}

case "lua_plugin_spec_wrong_types" {
  plan = [[
ws.plugin{ name = "acme.deploy", check = "no", execute = function() end }]], exit = 2,
  err = { 'plan.lua:1: plugin "acme.deploy": check: expected boolean, got string' },
}

case "lua_plugin_request_type_not_a_type" {
  plan = [[
ws.plugin{ name = "acme.deploy", request = { host = "string" }, execute = function() end }]],
  exit = 2, err = { 'plan.lua:1: plugin "acme.deploy": request: record field host: expected a type' },
}

case "lua_plugin_init_raises_nil" {
  plan = [[
ws.plugin{ name = "acme.deploy", init = function() error(nil) end, execute = function() end }]],
  exit = 2, err = { 'plan.lua:1: plugin "acme.deploy" refused to load: error with no message (nil)' },
}

case "lua_plugin_validate_raises_a_table" {
  plan = [[
ws.plugin{ name = "acme.deploy", validate = function() error({}) end, execute = function() end }
local a = ws.action{ name = "a", plugin = "acme.deploy" }]],
  exit = 2, err = { 'plan.lua:2: action "a": error object is a table without a msg field' },
}

case "sleep_outside_a_plugin" {
  plan = [[
ws.sleep(1)]], exit = 2,
  err = { "plan.lua:1: ws.sleep can only be called by a plugin's execute" },
}

case "exec_outside_a_plugin" {
  plan = [[
local r = ws.exec{ argv = { "true" } }]], exit = 2,
  err = { "plan.lua:1: ws.exec can only be called by a plugin's execute" },
}

------------------------------------------------------- C plugins that misbehave

local function c_case(name, plugin, exit, out, extra)
  local c = {
    plan = 'return one(ws.action{ name = "a", plugin = "' .. plugin .. '", timeout = "0.5s" })',
    argv = { "--plugin", "{BAD_PLUGIN}", "plan.lua" }, exit = exit, out = out,
  }
  for k, v in pairs(extra or {}) do c[k] = v end
  case(name)(c)
end

c_case("c_plugin_completes_twice", "bad.twice", 1,
       { FAILED, failed_with('plugin "bad.twice" completed a call twice (a plugin bug)') })
c_case("c_plugin_completes_twice_later", "bad.twice_later", 1,
       { FAILED, failed_with('plugin "bad.twice_later" completed a call twice (a plugin bug)') })
c_case("c_plugin_completes_then_fails_to_start", "bad.fail_after_complete", 1,
       { FAILED, failed_with('plugin "bad.fail_after_complete" completed a call and then returned an error from start (a plugin bug)') })
c_case("c_plugin_fails_without_a_format", "bad.null_message", 1,
       { FAILED, failed_with('plugin "bad.null_message" failed without a message') })
c_case("c_plugin_answers_a_list", "bad.array_response", 1,
       { FAILED, failed_with('plugin "bad.array_response" returned a bad response: resp: expected record{out = optional(string)}, got list') })
c_case("c_plugin_answers_a_string", "bad.string_response", 1,
       { FAILED, failed_with('plugin "bad.string_response" returned a bad response: resp: expected record{out = optional(string)}, got string') })
c_case("c_plugin_answers_a_wrong_field_type", "bad.wrong_field", 1,
       { FAILED, failed_with('plugin "bad.wrong_field" returned a bad response: resp.out: expected string, got integer') })
c_case("c_plugin_answers_an_unknown_field", "bad.unknown_field", 1,
       { FAILED, failed_with('plugin "bad.unknown_field" returned a bad response: resp: unknown field "surprise"') })
c_case("c_plugin_answers_invalid_utf8", "bad.bad_utf8", 1,
       { FAILED, failed_with('plugin "bad.bad_utf8" returned a bad response: resp.out: string is not valid UTF-8') })
c_case("c_plugin_huge_invalid_utf8_error", "bad.huge_error", 1, nil,
       { argv = { "--json", "--plugin", "{BAD_PLUGIN}", "plan.lua" }, err = { FAILED },
         out = { '"type":"attempt"', '"code":"??"' } })
c_case("c_plugin_start_returns_garbage", "bad.positive_rc", 1,
       { FAILED, failed_with("timed out after 0.5s") })
c_case("c_plugin_never_completes", "bad.deaf", 1,
       { FAILED, failed_with("timed out after 0.5s") },
       { err = { 'plugin "bad.deaf" did not complete a call within 5s of its cancel; the call is abandoned' } })
c_case("c_blocking_plugin_answers_garbage", "bad.blocking_garbage", 1,
       { FAILED, failed_with('plugin "bad.blocking_garbage" returned a bad response: resp: expected record{out = optional(string)}, got integer') })
c_case("c_blocking_plugin_fails_silently", "bad.blocking_silent", 1,
       { FAILED, failed_with("the plugin failed without a message") })
c_case("c_blocking_plugin_unterminated_error", "bad.blocking_unterminated", 1,
       { FAILED, failed_with("mmmmmmmm") })

case "lua_plugin_calls_a_deaf_c_plugin" {
  plan = [[
ws.plugin{ name = "lua.p", execute = function() return ws.call("bad.deaf", {}) end }
return one(ws.action{ name = "a", plugin = "lua.p", timeout = "0.5s" })]],
  argv = { "--plugin", "{BAD_PLUGIN}", "plan.lua" }, exit = 1,
  out = { FAILED, failed_with("timed out after 0.5s") },
  -- only the deaf one is abandoned: the Lua plugin waited for it
  err = { 'plugin "bad.deaf" did not complete a call within 5s of its cancel' },
  no_err = { 'plugin "lua.p" did not complete' },
}

return cases
