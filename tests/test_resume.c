/*
** test_resume.c - a plan loaded back (here: the same objects, as a store
** would fill them) runs again without redoing what completed: the attempt in
** flight at a crash runs again, recorded as interrupted; a stopped run goes on.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "test_plugins.h"

static ws_registry_t *reg;

typedef struct runner {
  ws_run_t *run;
  const char *force_on;
  bool done;
} runner_t;

static void on_event(const ws_event_t *ev, void *ud) {
  runner_t *r = ud;
  if (r->force_on && ev->kind == WS_EV_STATE && ev->node->type == WS_OBJ_ACTION &&
      ev->status == WS_RUNNING && strcmp(ev->node->name, r->force_on) == 0)
    ws_run_stop(r->run, true);
}

static void done(ws_run_t *run, void *ud) {
  (void)run;
  ((runner_t *)ud)->done = true;
}

static void run(ws_plan_t *p, const char *force_on) {
  runner_t r = {.force_on = force_on};
  char err[256];
  uv_loop_t loop;
  uv_loop_init(&loop);
  ws_run_opts_t opts = {.on_event = on_event, .ud = &r, .virtual_clock = true};
  r.run = ws_run_new(&loop, p, reg, &opts, err, sizeof err);
  if (!r.run) fail_msg("%s", err);
  ws_run_start(r.run, done);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(r.done);
  ws_run_free(r.run);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* One block, three sequences one at a time, two actions each (1 s). */
static ws_plan_t *three_by_two(void) {
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  for (int i = 1; i <= 3; i++) {
    char sn[8], an[16];
    snprintf(sn, sizeof sn, "s%d", i);
    ws_sequence_t *s = ws_sequence_new(sn, NULL);
    for (int j = 1; j <= 2; j++) {
      snprintf(an, sizeof an, "s%d.a%d", i, j);
      char req[64];
      snprintf(req, sizeof req, "{\"name\": \"%s\", \"sleep\": 1}", an);
      ws_sequence_add_action(s, test_action(an, "test.work", req));
    }
    ws_block_add_sequence(b, s);
  }
  ws_plan_add_block(p, b);
  ws_batch_t *cleanup = ws_batch_new("cleanup", NULL, WS_WHEN_ALWAYS, false);
  ws_sequence_add_action(cleanup, test_action("cleanup", "test.work", "{\"name\": \"cleanup\"}"));
  ws_plan_add_batch(p, cleanup);
  char err[256];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("%s", err);
  return p;
}

/* Forgets an action's attempts, as if they had never been recorded. */
static void forget_attempts(ws_action_t *a) {
  for (size_t i = 0; i < a->nattempts; i++) {
    json_decref(a->attempts[i].resp);
    if (a->attempts[i].err) {
      free(a->attempts[i].err->msg);
      free(a->attempts[i].err->code);
      free(a->attempts[i].err);
    }
  }
  free(a->attempts);
  a->attempts = NULL;
  a->nattempts = 0;
  a->resp = NULL;
  a->err = NULL;
}

static void names_called(const char *const *want, int n) {
  assert_int_equal(test_stats.calls, n);
  for (int i = 0; i < n; i++) assert_string_equal(test_stats.log[i].name, want[i]);
}

static void a_stopped_run_goes_on(void **state) {
  (void)state;
  test_stats_reset();
  ws_plan_t *p = three_by_two();
  run(p, "s2.a1"); /* forced stop as s2 begins */
  ws_block_t *b = p->blocks[0];
  assert_int_equal(p->node.state.status, WS_STOPPED);
  assert_int_equal(b->sequences[1]->node.state.status, WS_STOPPED);
  assert_int_equal(p->batches[0]->node.state.status, WS_NOT_STARTED); /* left for the resume */
  double started = p->node.state.started;

  test_stats_reset();
  assert_true(ws_plan_prepare_resume(p));
  run(p, NULL);
  const char *want[] = {"s2.a1", "s2.a2", "s3.a1", "s3.a2", "cleanup"};
  names_called(want, 5); /* s1 is not redone */
  assert_int_equal(p->node.state.status, WS_COMPLETED);
  assert_true(p->node.state.started == started); /* one run, resumed */
  ws_action_t *a = b->sequences[1]->actions[0];
  assert_int_equal(a->nattempts, 2); /* the cancelled one, then the one that passed */
  assert_string_equal(a->attempts[0].err->code, "cancelled");
  assert_null(a->attempts[1].err);
  assert_int_equal(test_stats.log[0].attempt, 2);
  assert_false(ws_plan_prepare_resume(p)); /* completed: nothing to resume */
  ws_plan_free(p);
}

static void a_crash_reruns_the_attempt_in_flight(void **state) {
  (void)state;
  test_stats_reset();
  ws_plan_t *p = three_by_two();
  run(p, NULL);
  /* What a store holds after a kill -9 while s3.a1 ran: s3.a1 running with an
  ** attempt that never ended, its parents running, the cleanup not started. */
  ws_block_t *b = p->blocks[0];
  ws_sequence_t *s3 = b->sequences[2];
  ws_action_t *a = s3->actions[0];
  json_decref(a->attempts[0].resp);
  a->attempts[0].resp = NULL;
  a->attempts[0].ended = 0;
  a->resp = NULL;
  a->node.state = (ws_state_t){WS_RUNNING, a->node.state.started, 0};
  s3->actions[1]->node.state = (ws_state_t){WS_NOT_STARTED, 0, 0};
  forget_attempts(s3->actions[1]);
  s3->node.state.status = WS_RUNNING;
  b->node.state.status = WS_RUNNING;
  p->batches[0]->node.state = (ws_state_t){WS_NOT_STARTED, 0, 0};
  forget_attempts(p->batches[0]->actions[0]);
  p->batches[0]->actions[0]->node.state = (ws_state_t){WS_NOT_STARTED, 0, 0};
  p->node.state.status = WS_RUNNING;
  p->node.state.ended = 0;

  test_stats_reset();
  assert_true(ws_plan_prepare_resume(p));
  assert_true(a->attempts[0].interrupted);
  run(p, NULL);
  const char *want[] = {"s3.a1", "s3.a2", "cleanup"};
  names_called(want, 3);
  assert_int_equal(p->node.state.status, WS_COMPLETED);
  assert_int_equal(a->nattempts, 2);
  assert_string_equal(a->attempts[0].err->code, "interrupted");
  assert_null(a->attempts[1].err);
  ws_plan_free(p);
}

static void failures_before_a_crash_still_count(void **state) {
  (void)state;
  test_stats_reset();
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  b->tolerated.count = 1;
  const char *reqs[] = {"{\"fail\": true}", "{\"sleep\": 5}", "{\"fail\": true}", "{}"};
  for (int i = 0; i < 4; i++) {
    char sn[8];
    snprintf(sn, sizeof sn, "s%d", i);
    ws_sequence_t *s = ws_sequence_new(sn, NULL);
    ws_sequence_add_action(s, test_action(sn, "test.work", reqs[i]));
    ws_block_add_sequence(b, s);
  }
  ws_plan_add_block(p, b);
  char err[256];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("%s", err);
  run(p, "s1"); /* s0 failed (tolerated), then stopped during s1 */
  assert_int_equal(b->sequences[0]->node.state.status, WS_FAILED);
  test_stats_reset();
  assert_true(ws_plan_prepare_resume(p));
  run(p, NULL);
  /* s0's failure still counts: s2 failing exceeds the budget, s3 never starts */
  assert_int_equal(b->node.state.status, WS_FAILED);
  assert_int_equal(b->sequences[3]->node.state.status, WS_NOT_STARTED);
  assert_int_equal(test_stats.calls, 2); /* s1 again, s2 */
  ws_plan_free(p);
}

int main(void) {
  reg = test_registry();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_stopped_run_goes_on),
      cmocka_unit_test(a_crash_reruns_the_attempt_in_flight),
      cmocka_unit_test(failures_before_a_crash_still_count),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ws_registry_free(reg);
  return rc;
}
