/*
** test_sched.c - the scheduler: order, concurrency, failure propagation and
** the consistency of recorded times. Test plugins wait on the engine clock.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "test_plugins.h"

static ws_registry_t *reg;

static int setup(void **state) {
  (void)state;
  test_stats_reset();
  return 0;
}

/* Resolves and runs p on a fresh loop; the plan stays for inspection. */
static void run(ws_plan_t *p) {
  char err[512];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("resolve: %s", err);
  uv_loop_t loop;
  uv_loop_init(&loop);
  if (ws_run_plan(&loop, p, reg, NULL, err, sizeof err)) fail_msg("run: %s", err);
  assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
}

static ws_sequence_t *seq_of(const char *name, int n, const char *req_json) {
  ws_sequence_t *s = ws_sequence_new(name, NULL);
  for (int i = 0; i < n; i++) {
    char an[64];
    snprintf(an, sizeof an, "%s.a%d", name, i + 1);
    ws_sequence_add_action(s, test_action(an, "test.work", req_json));
  }
  return s;
}

static ws_action_t *work(const char *name, const char *extra) {
  char req[256];
  snprintf(req, sizeof req, "{\"name\": \"%s\"%s%s}", name, extra ? ", " : "", extra ? extra : "");
  return test_action(name, "test.work", req);
}

static void blocks_run_in_order(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("order", NULL);
  const char *names[] = {"first", "second", "third"};
  for (int i = 0; i < 3; i++) {
    ws_block_t *b = ws_block_new(names[i], NULL);
    b->concurrency = 2;
    for (int j = 0; j < 2; j++) {
      char sn[32];
      snprintf(sn, sizeof sn, "%s.s%d", names[i], j);
      ws_sequence_t *s = ws_sequence_new(sn, NULL);
      ws_sequence_add_action(s, work(names[i], "\"sleep\": 0.01"));
      ws_block_add_sequence(b, s);
    }
    ws_plan_add_block(p, b);
  }
  run(p);
  assert_int_equal(p->node.state.status, WS_COMPLETED);
  assert_int_equal(test_stats.calls, 6);
  for (int i = 0; i < 6; i++) assert_string_equal(test_stats.log[i].name, names[i / 2]);
  for (int i = 1; i < 3; i++) /* a block starts after the previous one ended */
    assert_true(p->blocks[i]->node.state.started >= p->blocks[i - 1]->node.state.ended);
  ws_plan_free(p);
}

static void concurrency_is_never_exceeded(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("fanout", NULL);
  ws_block_t *b = ws_block_new("wave", NULL);
  b->concurrency = 3;
  for (int i = 0; i < 10; i++) {
    char sn[16];
    snprintf(sn, sizeof sn, "s%d", i);
    ws_block_add_sequence(b, seq_of(sn, 2, "{\"sleep\": 0.02}"));
  }
  ws_plan_add_block(p, b);
  run(p);
  assert_int_equal(p->node.state.status, WS_COMPLETED);
  assert_int_equal(test_stats.calls, 20);
  assert_int_equal(test_stats.peak, 3);
  assert_int_equal(test_stats.in_flight, 0);
  ws_plan_free(p);
}

static void concurrency_one_is_serial(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("serial", NULL);
  ws_block_t *b = ws_block_new("one-by-one", NULL);
  for (int i = 0; i < 4; i++) {
    char sn[16];
    snprintf(sn, sizeof sn, "s%d", i);
    ws_block_add_sequence(b, seq_of(sn, 1, "{\"sleep\": 0.005}"));
  }
  ws_plan_add_block(p, b);
  run(p);
  assert_int_equal(test_stats.peak, 1);
  for (size_t i = 1; i < b->nsequences; i++)
    assert_true(b->sequences[i]->node.state.started >= b->sequences[i - 1]->node.state.ended);
  ws_plan_free(p);
}

static void actions_run_in_order(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("steps", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *s = ws_sequence_new("s", NULL);
  const char *steps[] = {"drain", "stop", "upgrade", "start", "undrain"};
  for (int i = 0; i < 5; i++) ws_sequence_add_action(s, work(steps[i], NULL));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  run(p);
  assert_int_equal(test_stats.calls, 5);
  assert_int_equal(test_stats.peak, 1);
  for (int i = 0; i < 5; i++) {
    assert_string_equal(test_stats.log[i].name, steps[i]);
    assert_int_equal(s->actions[i]->node.state.status, WS_COMPLETED);
    assert_string_equal(json_string_value(json_object_get(s->actions[i]->resp, "name")), steps[i]);
  }
  ws_plan_free(p);
}

static void failure_stops_sequence_fails_block_and_plan(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("broken", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *s = ws_sequence_new("s", NULL);
  ws_sequence_add_action(s, work("ok", NULL));
  ws_sequence_add_action(s, work("boom", "\"fail\": true"));
  ws_sequence_add_action(s, work("never", NULL));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  ws_block_t *later = ws_block_new("later", NULL);
  ws_block_add_sequence(later, seq_of("l", 1, NULL));
  ws_plan_add_block(p, later);
  run(p);

  assert_int_equal(s->actions[0]->node.state.status, WS_COMPLETED);
  assert_int_equal(s->actions[1]->node.state.status, WS_FAILED);
  assert_int_equal(s->actions[2]->node.state.status, WS_NOT_STARTED);
  assert_int_equal(s->actions[2]->nattempts, 0);
  assert_string_equal(s->actions[1]->err->msg, "boom failed on attempt 1"); /* the plugin's own */
  assert_int_equal(s->node.state.status, WS_FAILED);
  assert_int_equal(b->node.state.status, WS_FAILED);
  assert_int_equal(later->node.state.status, WS_NOT_STARTED);
  assert_int_equal(p->node.state.status, WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  assert_int_equal(test_stats.calls, 2);
  ws_plan_free(p);
}

static void other_sequences_in_flight_finish_after_a_failure(void **state) {
  (void)state;
  /* budget 0, concurrency 2: s0 fails fast while s1 is in flight; s1 finishes,
  ** s2 and s3 never start, and the block ends after s1. */
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  b->concurrency = 2;
  ws_sequence_t *s0 = ws_sequence_new("s0", NULL);
  ws_sequence_add_action(s0, work("fast-fail", "\"fail\": true"));
  ws_block_add_sequence(b, s0);
  ws_sequence_t *s1 = ws_sequence_new("s1", NULL);
  ws_sequence_add_action(s1, work("slow", "\"sleep\": 0.05"));
  ws_block_add_sequence(b, s1);
  ws_block_add_sequence(b, seq_of("s2", 1, NULL));
  ws_block_add_sequence(b, seq_of("s3", 1, NULL));
  ws_plan_add_block(p, b);
  run(p);
  assert_int_equal(s1->node.state.status, WS_COMPLETED);
  assert_int_equal(b->sequences[2]->node.state.status, WS_NOT_STARTED);
  assert_int_equal(b->sequences[3]->node.state.status, WS_NOT_STARTED);
  assert_int_equal(b->node.state.status, WS_FAILED);
  assert_true(b->node.state.ended >= s1->node.state.ended);
  ws_plan_free(p);
}

/* Every started object: started <= ended, and its parent encloses it. */
static int check_times(ws_node_t *n, void *ud) {
  int *checked = ud;
  if (n->state.status == WS_NOT_STARTED) {
    assert_true(n->state.started == 0 && n->state.ended == 0);
    return 0;
  }
  assert_true(n->state.started > 0);
  assert_true(n->state.started <= n->state.ended);
  if (n->parent) {
    assert_true(n->parent->state.started <= n->state.started);
    assert_true(n->state.ended <= n->parent->state.ended);
  }
  if (n->type == WS_OBJ_ACTION) {
    ws_action_t *a = (ws_action_t *)n;
    for (size_t i = 0; i < a->nattempts; i++) {
      assert_true(a->node.state.started <= a->attempts[i].started);
      assert_true(a->attempts[i].started <= a->attempts[i].ended);
      assert_true(a->attempts[i].ended <= a->node.state.ended);
    }
  }
  (*checked)++;
  return 0;
}

static void times_are_ordered_and_nested(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("times", NULL);
  for (int i = 0; i < 2; i++) {
    ws_block_t *b = ws_block_new(i ? "b2" : "b1", NULL);
    b->concurrency = 2;
    ws_block_add_sequence(b, seq_of("x", 3, "{\"sleep\": 0.003}"));
    ws_block_add_sequence(b, seq_of("y", 2, "{\"sleep\": 0.004}"));
    ws_block_add_sequence(b, seq_of("z", 1, "{\"fail_times\": 1}"));
    b->sequences[2]->actions[0]->retries = 1;
    ws_plan_add_block(p, b);
  }
  run(p);
  assert_int_equal(p->node.state.status, WS_COMPLETED);
  int checked = 0;
  ws_plan_walk(p, check_times, &checked);
  assert_int_equal(checked, 1 + 2 * (1 + 3 + 3 + 2 + 1));
  ws_plan_free(p);
}

static void ids_are_uuid7_and_unique(void **state) {
  (void)state;
  char a[WS_UUID_STRLEN + 1], b[WS_UUID_STRLEN + 1];
  ws_uuid7(a);
  for (int i = 0; i < 10000; i++) {
    ws_uuid7(b);
    assert_int_equal(strlen(b), 36);
    assert_int_equal(b[14], '7');                 /* version */
    assert_non_null(strchr("89ab", b[19]));       /* variant */
    assert_true(strcmp(a, b) < 0);                /* monotonic in a process */
    memcpy(a, b, sizeof a);
  }
}

static void plan_runs_once(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("once", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_block_add_sequence(b, seq_of("s", 1, NULL));
  ws_plan_add_block(p, b);
  run(p);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256];
  assert_int_equal(ws_run_plan(&loop, p, reg, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "has already run"));
  uv_loop_close(&loop);
  ws_plan_free(p);
}

static void resolve_rejects_bad_plans(void **state) {
  (void)state;
  char err[512];
  ws_plan_t *p = ws_plan_new("p", NULL);
  assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
  assert_string_equal(err, "plan: has no blocks");

  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *s = ws_sequence_new("s", NULL);
  ws_sequence_add_action(s, test_action("a", "nope.missing", NULL));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
  assert_string_equal(err, "b/s/a: unknown plugin \"nope.missing\"");
  ws_plan_free(p);

  /* a check plugin in a sequence */
  p = ws_plan_new("p", NULL);
  b = ws_block_new("b", NULL);
  s = ws_sequence_new("s", NULL);
  ws_sequence_add_action(s, test_action("c", "test.check", NULL));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
  assert_non_null(strstr(err, "b/s/c: plugin \"test.check\" is a check plugin"));
  ws_plan_free(p);

  /* duplicate keys */
  p = ws_plan_new("p", NULL);
  b = ws_block_new("b", NULL);
  ws_node_set_key(&b->node, "k1");
  s = seq_of("s", 1, NULL);
  ws_node_set_key(&s->node, "k1");
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
  assert_string_equal(err, "b/s: key \"k1\" is already used by b");
  ws_plan_free(p);

  /* a request of the wrong type */
  p = ws_plan_new("p", NULL);
  b = ws_block_new("b", NULL);
  s = ws_sequence_new("s", NULL);
  ws_sequence_add_action(s, test_action("a", "test.work", "{\"sleep\": \"1s\"}"));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
  assert_string_equal(err, "b/s/a: req.sleep: expected number, got string");
  ws_plan_free(p);
}

int main(void) {
  reg = test_registry();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(blocks_run_in_order, setup),
      cmocka_unit_test_setup(concurrency_is_never_exceeded, setup),
      cmocka_unit_test_setup(concurrency_one_is_serial, setup),
      cmocka_unit_test_setup(actions_run_in_order, setup),
      cmocka_unit_test_setup(failure_stops_sequence_fails_block_and_plan, setup),
      cmocka_unit_test_setup(other_sequences_in_flight_finish_after_a_failure, setup),
      cmocka_unit_test_setup(times_are_ordered_and_nested, setup),
      cmocka_unit_test_setup(ids_are_uuid7_and_unique, setup),
      cmocka_unit_test_setup(plan_runs_once, setup),
      cmocka_unit_test_setup(resolve_rejects_bad_plans, setup),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ws_registry_free(reg);
  return rc;
}
