/*
** test_plugins.h - native plugins for the engine's tests. They wait on the
** engine clock (ws_call_sleep) and record what the engine asked of them.
** Also cmocka helpers shared by the suites that run plans (see the end).
**
** "test.work" request: name?, sleep=0, fail=false, permanent=false,
**   fail_times=0 (fail while ctx attempt <= fail_times), bad_response=false.
**   response: name?, attempt.
** "test.check" (a check plugin) request: name?, sleep=0, fail=false,
**   fail_from=0 (when > 0: fail from this call of the plugin on).
*/
#ifndef TEST_PLUGINS_H
#define TEST_PLUGINS_H

#include "workstream/engine.h"

#define TEST_MAX_CALLS 4096

typedef struct test_call_record {
  char name[64];
  int attempt;
  double started;
} test_call_record_t;

typedef struct test_stats {
  int calls, in_flight, peak, cancels;
  int check_calls;
  test_call_record_t log[TEST_MAX_CALLS]; /* test.work calls, in start order */
} test_stats_t;

extern test_stats_t test_stats;

void test_stats_reset(void);
/* Registers the built-ins and the test plugins in a new registry. */
ws_registry_t *test_registry(void);

/* Short builders: json requests from a format, e.g. req("{\"name\": %s}", ...) */
json_t *test_req(const char *fmt, ...);
ws_action_t *test_action(const char *name, const char *plugin, const char *req_json);

/*
** Helpers for cmocka tests that run plans and inspect an action's attempts.
** Each fails the running test (fail_msg, assert_*) when what it checks is
** not so.
*/

/* One finished run of a plan, and the action under test in it. */
typedef struct test_run {
  ws_plan_t *plan;
  ws_action_t *action; /* the action whose first attempt the test inspects */
  double elapsed;      /* seconds, wall clock, spent in ws_run_plan */
} test_run_t;

/* Resolves plan against reg and runs it on loop with ws_run_plan (default
** options); fills run (which then owns plan). The loop is left open: the
** caller may still have its own handles on it (then test_close_loop).
** action, a node of plan, must have been attempted at least once. */
void test_run_plan(uv_loop_t *loop, ws_registry_t *reg, ws_plan_t *plan, ws_action_t *action,
                   test_run_t *run);

/* Frees run->plan and clears run. */
void test_run_free(test_run_t *run);

/* Runs loop until nothing is left, then closes it: every handle must be gone
** by now (the handles left are listed on stderr when not). */
void test_close_loop(uv_loop_t *loop);

/* The response of the action's first attempt, which succeeded (the action
** completed). Says the attempt's error when it failed. */
json_t *test_run_resp(const test_run_t *run);

/* The error of the action's first attempt, which failed (as did the action);
** it has a message. */
const ws_error_t *test_run_err(const test_run_t *run);

/* resp.field, which must be a string, an integer, a number or a boolean. */
const char *test_resp_str(const json_t *resp, const char *field);
json_int_t test_resp_int(const json_t *resp, const char *field);
double test_resp_num(const json_t *resp, const char *field);
bool test_resp_bool(const json_t *resp, const char *field);

/* haystack (NULL fails) contains needle. */
void test_assert_contains(const char *haystack, const char *needle);

#endif
