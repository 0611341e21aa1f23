/*
** test_plugins.c - the test plugins and the shared test helpers (see test_plugins.h).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "builtins.h"
#include "test_plugins.h"

test_stats_t test_stats;

void test_stats_reset(void) { memset(&test_stats, 0, sizeof test_stats); }

static const ws_type_t t_opt_string = WS_OPTIONAL(&ws_t_string);
static const ws_type_t t_sleep = WS_DEFAULT(&ws_t_number, "0");
static const ws_type_t t_false = WS_DEFAULT(&ws_t_boolean, "false");
static const ws_type_t t_zero = WS_DEFAULT(&ws_t_integer, "0");

static const ws_field_t work_req_fields[] = {
    {"name", &t_opt_string}, {"sleep", &t_sleep},         {"fail", &t_false},
    {"permanent", &t_false}, {"fail_times", &t_zero},     {"bad_response", &t_false},
    {NULL, NULL}};
static const ws_type_t work_req = WS_RECORD(work_req_fields);
static const ws_field_t work_resp_fields[] = {
    {"name", &t_opt_string}, {"attempt", &ws_t_integer}, {NULL, NULL}};
static const ws_type_t work_resp = WS_RECORD(work_resp_fields);

static const ws_field_t check_req_fields[] = {
    {"name", &t_opt_string}, {"sleep", &t_sleep}, {"fail", &t_false}, {"fail_from", &t_zero},
    {NULL, NULL}};
static const ws_type_t check_req = WS_RECORD(check_req_fields);
static const ws_field_t check_resp_fields[] = {{NULL, NULL}};
static const ws_type_t check_resp = WS_RECORD(check_resp_fields);

static const char *req_name(const json_t *req) {
  const char *n = json_string_value(json_object_get(req, "name"));
  return n ? n : "";
}

static void work_finish(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  test_stats.in_flight--;
  int attempt = ws_call_attempt(call);
  if (json_is_true(json_object_get(req, "fail")) ||
      attempt <= json_integer_value(json_object_get(req, "fail_times"))) {
    ws_call_fail(call, json_is_true(json_object_get(req, "permanent")), "test",
                 "%s failed on attempt %d", req_name(req), attempt);
  } else if (json_is_true(json_object_get(req, "bad_response"))) {
    ws_call_succeed(call, json_pack("{s:s}", "attempt", "not a number"));
  } else {
    json_t *resp = json_pack("{s:I}", "attempt", (json_int_t)attempt);
    if (*req_name(req)) json_object_set_new(resp, "name", json_string(req_name(req)));
    ws_call_succeed(call, resp);
  }
}

static int work_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  if (test_stats.calls < TEST_MAX_CALLS) {
    test_call_record_t *r = &test_stats.log[test_stats.calls];
    snprintf(r->name, sizeof r->name, "%s", req_name(req));
    r->attempt = ws_call_attempt(call);
    r->started = ws_call_now(call);
  }
  test_stats.calls++;
  if (++test_stats.in_flight > test_stats.peak) test_stats.peak = test_stats.in_flight;
  double s = json_number_value(json_object_get(req, "sleep"));
  if (s > 0) return ws_call_sleep(call, s, work_finish);
  work_finish(call); /* at once: a zero wait would still take a virtual millisecond */
  return 0;
}

static void work_cancel(ws_call_t *call) {
  test_stats.in_flight--;
  test_stats.cancels++;
  ws_call_fail(call, 0, "cancelled", "cancelled");
}

static void check_finish(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  json_int_t from = json_integer_value(json_object_get(req, "fail_from"));
  if (json_is_true(json_object_get(req, "fail")) || (from > 0 && test_stats.check_calls >= from))
    ws_call_fail(call, 0, "test", "check %s failed", req_name(req));
  else ws_call_succeed(call, NULL);
}

static int check_start(ws_call_t *call) {
  test_stats.check_calls++;
  double s = json_number_value(json_object_get(ws_call_request(call), "sleep"));
  if (s > 0) return ws_call_sleep(call, s, check_finish);
  check_finish(call);
  return 0;
}

static void check_cancel(ws_call_t *call) { ws_call_fail(call, 0, "cancelled", "cancelled"); }

static const ws_plugin_def_t work_plugin = {
    .abi = WS_PLUGIN_ABI, .name = "test.work", .request = &work_req, .response = &work_resp,
    .start = work_start, .cancel = work_cancel};
static const ws_plugin_def_t check_plugin = {
    .abi = WS_PLUGIN_ABI, .name = "test.check", .is_check = 1, .request = &check_req,
    .response = &check_resp, .start = check_start, .cancel = check_cancel};

ws_registry_t *test_registry(void) {
  ws_registry_t *r = ws_registry_new();
  char err[256];
  if (ws_builtins_register(r, err, sizeof err) || ws_registry_add(r, &work_plugin, err, sizeof err) ||
      ws_registry_add(r, &check_plugin, err, sizeof err)) {
    fprintf(stderr, "test_registry: %s\n", err);
    abort();
  }
  return r;
}

json_t *test_req(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_error_t je;
  json_t *v = json_loads(buf, 0, &je);
  if (!v) {
    fprintf(stderr, "test_req: bad json %s: %s\n", buf, je.text);
    abort();
  }
  return v;
}

ws_action_t *test_action(const char *name, const char *plugin, const char *req_json) {
  return ws_action_new(name, NULL, plugin, req_json ? test_req("%s", req_json) : NULL);
}

/* ------------------------------------------------- helpers for the suites */

void test_run_plan(uv_loop_t *loop, ws_registry_t *reg, ws_plan_t *plan, ws_action_t *action,
                   test_run_t *run) {
  char err[1024];
  uint64_t t0;

  run->plan = plan;
  run->action = action;
  if (ws_plan_resolve(plan, reg, err, sizeof err) != 0)
    fail_msg("ws_plan_resolve: %s", err);
  t0 = uv_hrtime();
  if (ws_run_plan(loop, plan, reg, NULL, err, sizeof err) != 0)
    fail_msg("ws_run_plan: %s", err);
  run->elapsed = (double)(uv_hrtime() - t0) / 1e9;
  assert_true(action->nattempts >= 1);
}

void test_run_free(test_run_t *run) {
  ws_plan_free(run->plan);
  memset(run, 0, sizeof *run);
}

static void walk_print(uv_handle_t *h, void *arg) {
  (void)arg;
  fprintf(stderr, "  handle left on the loop: %s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
          uv_is_closing(h) ? " (closing)" : "");
}

void test_close_loop(uv_loop_t *loop) {
  int rc;

  uv_run(loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(loop);
  if (rc != 0) {
    uv_walk(loop, walk_print, NULL);
    fail_msg("uv_loop_close: %s", uv_strerror(rc));
  }
}

json_t *test_run_resp(const test_run_t *run) {
  const ws_attempt_t *at = &run->action->attempts[0];

  if (at->err != NULL)
    fail_msg("attempt failed: [%s] %s", at->err->code ? at->err->code : "-", at->err->msg);
  assert_int_equal(run->action->node.state.status, WS_COMPLETED);
  assert_non_null(at->resp);
  return at->resp;
}

const ws_error_t *test_run_err(const test_run_t *run) {
  const ws_attempt_t *at = &run->action->attempts[0];

  if (at->err == NULL)
    fail_msg("the attempt succeeded, expected a failure");
  assert_int_equal(run->action->node.state.status, WS_FAILED);
  assert_null(at->resp);
  assert_non_null(at->err->msg);
  return at->err;
}

const char *test_resp_str(const json_t *resp, const char *field) {
  const json_t *v = json_object_get(resp, field);

  assert_true(json_is_string(v));
  return json_string_value(v);
}

json_int_t test_resp_int(const json_t *resp, const char *field) {
  const json_t *v = json_object_get(resp, field);

  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

double test_resp_num(const json_t *resp, const char *field) {
  const json_t *v = json_object_get(resp, field);

  assert_true(json_is_number(v));
  return json_number_value(v);
}

bool test_resp_bool(const json_t *resp, const char *field) {
  const json_t *v = json_object_get(resp, field);

  assert_true(json_is_boolean(v));
  return json_is_true(v);
}

void test_assert_contains(const char *haystack, const char *needle) {
  if (haystack == NULL || strstr(haystack, needle) == NULL)
    fail_msg("\"%s\" does not contain \"%s\"", haystack ? haystack : "(null)", needle);
}
