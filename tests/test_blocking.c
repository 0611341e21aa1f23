/*
** test_blocking.c - blocking plugins: they run on libuv's thread pool, see a
** cancel flag, and a late result after a timeout is discarded and freed.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "test_plugins.h"

static pthread_t main_thread;
static int saw_cancel, late_results;

static const ws_type_t t_secs = WS_DEFAULT(&ws_t_number, "0");
static const ws_type_t t_false = WS_DEFAULT(&ws_t_boolean, "false");
static const ws_field_t req_fields[] = {
    {"sleep", &t_secs}, {"fail", &t_false}, {"ignore_cancel", &t_false}, {NULL, NULL}};
static const ws_type_t req_type = WS_RECORD(req_fields);
static const ws_field_t resp_fields[] = {{"on_pool", &ws_t_boolean}, {NULL, NULL}};
static const ws_type_t resp_type = WS_RECORD(resp_fields);

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static json_t *block_run(const ws_plugin_def_t *def, const json_t *req, const volatile int *cancelled,
                         ws_blocking_error_t *err) {
  (void)def;
  long ms = (long)(json_number_value(json_object_get(req, "sleep")) * 1000);
  bool ignore = json_is_true(json_object_get(req, "ignore_cancel"));
  for (long i = 0; i < ms; i++) {
    if (*cancelled && !ignore) {
      __atomic_add_fetch(&saw_cancel, 1, __ATOMIC_SEQ_CST);
      snprintf(err->msg, sizeof err->msg, "gave up");
      return NULL;
    }
    nap_ms(1);
  }
  if (*cancelled) __atomic_add_fetch(&late_results, 1, __ATOMIC_SEQ_CST);
  if (json_is_true(json_object_get(req, "fail"))) {
    err->permanent = 1;
    snprintf(err->code, sizeof err->code, "E_DISK");
    snprintf(err->msg, sizeof err->msg, "disk %s is full", "/var");
    return NULL;
  }
  return json_pack("{s:b}", "on_pool", !pthread_equal(pthread_self(), main_thread));
}

static const ws_plugin_def_t block_plugin = {
    .abi = WS_PLUGIN_ABI, .name = "test.block", .request = &req_type, .response = &resp_type,
    .run = block_run};

static ws_registry_t *reg;

static ws_action_t *run_one(ws_plan_t **pp, const char *req, double timeout) {
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *s = ws_sequence_new("s", NULL);
  ws_action_t *a = test_action("a", "test.block", req);
  a->timeout = timeout;
  ws_sequence_add_action(s, a);
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  char err[256];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("%s", err);
  uv_loop_t loop;
  uv_loop_init(&loop);
  if (ws_run_plan(&loop, p, reg, NULL, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(uv_loop_close(&loop), 0); /* the late job, too, has come back */
  *pp = p;
  return a;
}

static void runs_on_the_pool(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = run_one(&p, "{\"sleep\": 0.01}", 5);
  assert_int_equal(a->node.state.status, WS_COMPLETED);
  assert_true(json_is_true(json_object_get(a->resp, "on_pool")));
  ws_plan_free(p);
}

static void reports_its_error(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = run_one(&p, "{\"fail\": true}", 5);
  assert_int_equal(a->node.state.status, WS_FAILED);
  assert_string_equal(a->err->msg, "disk /var is full");
  assert_string_equal(a->err->code, "E_DISK");
  assert_true(a->err->permanent);
  ws_plan_free(p);
}

static void timeout_sets_the_cancel_flag(void **state) {
  (void)state;
  saw_cancel = 0;
  ws_plan_t *p;
  ws_action_t *a = run_one(&p, "{\"sleep\": 30}", 0.1);
  assert_int_equal(a->node.state.status, WS_FAILED);
  assert_true(a->attempts[0].timed_out);
  assert_int_equal(saw_cancel, 1);
  assert_true(p->node.state.ended - p->node.state.started < 5); /* not 30 s */
  ws_plan_free(p);
}

static void late_result_is_discarded(void **state) {
  (void)state;
  late_results = 0;
  ws_plan_t *p;
  ws_action_t *a = run_one(&p, "{\"sleep\": 0.3, \"ignore_cancel\": true}", 0.05);
  assert_int_equal(a->node.state.status, WS_FAILED);
  assert_true(a->attempts[0].timed_out);
  assert_null(a->attempts[0].resp);
  assert_int_equal(late_results, 1); /* it did return one; ASan checks it was freed */
  ws_plan_free(p);
}

static int never_start(ws_call_t *call) {
  (void)call;
  return 0;
}

static void both_styles_are_refused(void **state) {
  (void)state;
  ws_plugin_def_t both = block_plugin;
  both.name = "test.both";
  both.start = never_start;
  char err[256];
  assert_int_equal(ws_registry_add(reg, &both, err, sizeof err), -1);
  assert_non_null(strstr(err, "either start (asynchronous) or run (blocking)"));
  ws_plugin_def_t no_cancel = both;
  no_cancel.name = "test.no_cancel";
  no_cancel.run = NULL;
  assert_int_equal(ws_registry_add(reg, &no_cancel, err, sizeof err), -1);
  assert_non_null(strstr(err, "must support cancel"));
}

/* Types are checked whole when a plugin registers, not when a request needs them. */
static const ws_type_t bad_default = WS_DEFAULT(&ws_t_integer, "\"ten\"");
static const ws_type_t no_elem = {WS_T_LIST, NULL, NULL, NULL, NULL};
static const ws_field_t bad_fields[] = {{"n", &bad_default}, {NULL, NULL}};
static const ws_field_t bad_fields2[] = {{"xs", &no_elem}, {NULL, NULL}};
static const ws_type_t bad_req = WS_RECORD(bad_fields);
static const ws_type_t bad_req2 = WS_RECORD(bad_fields2);

static void broken_types_are_refused(void **state) {
  (void)state;
  char err[256];
  ws_plugin_def_t def = block_plugin;
  def.name = "test.bad_default";
  def.request = &bad_req;
  assert_int_equal(ws_registry_add(reg, &def, err, sizeof err), -1);
  assert_string_equal(err, "plugin \"test.bad_default\": request.n: default: expected integer, got string");
  def.name = "test.no_elem";
  def.request = &bad_req2;
  assert_int_equal(ws_registry_add(reg, &def, err, sizeof err), -1);
  assert_string_equal(err, "plugin \"test.no_elem\": request.xs: a NULL type");
}

int main(void) {
  main_thread = pthread_self();
  reg = test_registry();
  char err[256];
  if (ws_registry_add(reg, &block_plugin, err, sizeof err)) fail_msg("%s", err);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(runs_on_the_pool),
      cmocka_unit_test(reports_its_error),
      cmocka_unit_test(timeout_sets_the_cancel_flag),
      cmocka_unit_test(late_result_is_discarded),
      cmocka_unit_test(both_styles_are_refused),
      cmocka_unit_test(broken_types_are_refused),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ws_registry_free(reg);
  return rc;
}
