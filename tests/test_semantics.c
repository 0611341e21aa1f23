/*
** test_semantics.c - the execution contract (DESIGN.md section 5) under the
** virtual clock: checks, budgets, stop modes, deferred actions, reasons,
** retries, timeouts and stops. Times are exact: the clock only moves by the
** delays the engine itself sets.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
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

/* ------------------------------------------------------------- builders */

static ws_action_t *act(const char *name, const char *plugin, const char *extra) {
  char req[512];
  snprintf(req, sizeof req, "{\"name\": \"%s\"%s%s}", name, extra ? ", " : "", extra ? extra : "");
  return test_action(name, plugin, req);
}

static ws_block_t *add_block(ws_plan_t *p, const char *name, int conc) {
  ws_block_t *b = ws_block_new(name, NULL);
  b->concurrency = conc;
  ws_plan_add_block(p, b);
  return b;
}

/* A sequence of one or more test.work actions: extras, one per action. */
static ws_sequence_t *add_seq(ws_block_t *b, const char *name, int n, ...) {
  ws_sequence_t *s = ws_sequence_new(name, NULL);
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    char an[64];
    snprintf(an, sizeof an, "%s.%d", name, i + 1);
    ws_sequence_add_action(s, act(an, "test.work", va_arg(ap, const char *)));
  }
  va_end(ap);
  ws_block_add_sequence(b, s);
  return s;
}

static ws_checks_t *make_checks(ws_checks_kind_t kind, double delay, const char *name,
                                const char *extra) {
  ws_checks_t *c = ws_checks_new(kind, delay);
  ws_checks_add_action(c, act(name, "test.check", extra));
  return c;
}

static ws_batch_t *add_batch(ws_plan_t *p, const char *name, ws_when_t when, bool fail_plan,
                             const char *extra) {
  ws_batch_t *b = ws_batch_new(name, NULL, when, fail_plan);
  ws_sequence_add_action(b, act(name, "test.work", extra));
  ws_plan_add_batch(p, b);
  return b;
}

/* --------------------------------------------------------------- running */

/* Optionally stops the run when an action with a given name starts. */
typedef struct runner {
  ws_run_t *run;
  const char *stop_on;      /* action name, or NULL */
  bool force_too;           /* follow the graceful stop with a forced one */
  const char *force_on;     /* or force when this action starts */
  bool done;
} runner_t;

static void on_event(const ws_event_t *ev, void *ud) {
  runner_t *r = ud;
  if (ev->kind != WS_EV_STATE || ev->node->type != WS_OBJ_ACTION || ev->status != WS_RUNNING)
    return;
  if (r->stop_on && strcmp(ev->node->name, r->stop_on) == 0) {
    assert_int_equal(ws_run_stop(r->run, false), 0);
    if (r->force_too) assert_int_equal(ws_run_stop(r->run, true), 0);
  }
  if (r->force_on && strcmp(ev->node->name, r->force_on) == 0)
    assert_int_equal(ws_run_stop(r->run, true), 0);
}

static void done(ws_run_t *run, void *ud) {
  (void)run;
  ((runner_t *)ud)->done = true;
}

static void run_with(ws_plan_t *p, runner_t *r) {
  char err[512];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("resolve: %s", err);
  uv_loop_t loop;
  uv_loop_init(&loop);
  ws_run_opts_t opts = {.on_event = on_event, .ud = r, .virtual_clock = true};
  r->run = ws_run_new(&loop, p, reg, &opts, err, sizeof err);
  if (!r->run) fail_msg("run: %s", err);
  assert_int_equal(ws_run_start(r->run, done), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(r->done);
  ws_run_free(r->run);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void run(ws_plan_t *p) {
  runner_t r = {0};
  run_with(p, &r);
}

#define STATUS(n) ((n)->node.state.status)
#define DURATION(n) ((n)->node.state.ended - (n)->node.state.started)
#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-6)



/* ------------------------------------------------------------ concurrency */

static void peak_is_exactly_the_concurrency(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "wave", 3);
  for (int i = 0; i < 10; i++) {
    char n[16];
    snprintf(n, sizeof n, "s%d", i);
    add_seq(b, n, 1, "\"sleep\": 0.1");
  }
  run(p);
  assert_int_equal(test_stats.peak, 3);
  assert_int_equal(test_stats.calls, 10);
  assert_near(DURATION(p), 0.4); /* waves of 3, 3, 3, 1: exact on the virtual clock */
  ws_plan_free(p);
}

/* ---------------------------------------------------------------- budgets */

static ws_plan_t *budget_plan(int64_t tolerated, bool percent, int n, const char *const *extras,
                              int conc) {
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", conc);
  b->tolerated.count = tolerated;
  b->tolerated.percent = percent;
  for (int i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    add_seq(b, name, 1, extras[i]);
  }
  return p;
}

static void budget_counts_failures_strictly(void **state) {
  (void)state;
  const char *fail_ok_fail[] = {"\"fail\": true", NULL, "\"fail\": true"};
  ws_plan_t *p = budget_plan(1, false, 3, fail_ok_fail, 1);
  run(p);
  assert_int_equal(test_stats.calls, 3);
  assert_int_equal(STATUS(p->blocks[0]), WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  ws_plan_free(p);

  test_stats_reset();
  const char *fail_fail_ok[] = {"\"fail\": true", "\"fail\": true", NULL};
  p = budget_plan(1, false, 3, fail_fail_ok, 1);
  run(p);
  assert_int_equal(test_stats.calls, 2);
  assert_int_equal(STATUS(p->blocks[0]->sequences[2]), WS_NOT_STARTED);
  assert_int_equal(STATUS(p->blocks[0]), WS_FAILED);
  ws_plan_free(p);

  test_stats_reset();
  const char *all_fail[] = {"\"fail\": true", "\"fail\": true", "\"fail\": true"};
  p = budget_plan(-1, false, 3, all_fail, 1);
  run(p);
  assert_int_equal(test_stats.calls, 3);
  assert_int_equal(STATUS(p->blocks[0]), WS_COMPLETED);
  assert_int_equal(STATUS(p), WS_COMPLETED); /* tolerated failures stay visible below */
  for (int i = 0; i < 3; i++) assert_int_equal(STATUS(p->blocks[0]->sequences[i]), WS_FAILED);
  ws_plan_free(p);
}

static void budget_in_percent(void **state) {
  (void)state;
  const char *extras[10] = {0};
  extras[0] = extras[1] = "\"fail\": true";
  ws_plan_t *p = budget_plan(20, true, 10, extras, 1); /* 2 of 10 tolerated */
  run(p);
  assert_int_equal(STATUS(p), WS_COMPLETED);
  assert_int_equal(test_stats.calls, 10);
  ws_plan_free(p);

  test_stats_reset();
  extras[5] = "\"fail\": true"; /* the third failure trips it */
  p = budget_plan(20, true, 10, extras, 1);
  run(p);
  assert_int_equal(STATUS(p->blocks[0]), WS_FAILED);
  assert_int_equal(test_stats.calls, 6);
  assert_int_equal(STATUS(p->blocks[0]->sequences[6]), WS_NOT_STARTED);
  ws_plan_free(p);
}

static void tripped_budget_waits_for_work_in_flight(void **state) {
  (void)state;
  /* concurrency 2, budget 0: s0 fails at t=1 while s1 runs until t=5 */
  for (int mode = 0; mode < 2; mode++) {
    test_stats_reset();
    ws_plan_t *p = ws_plan_new("p", NULL);
    ws_block_t *b = add_block(p, "b", 2);
    b->stop = mode ? WS_STOP_ACTION : WS_STOP_SEQUENCE;
    ws_block_set_checks(b, make_checks(WS_CHECKS_DEFERRED, 30, "after", NULL));
    add_seq(b, "s0", 1, "\"sleep\": 1, \"fail\": true");
    ws_sequence_t *s1 = add_seq(b, "s1", 3, "\"sleep\": 2", "\"sleep\": 3", "\"sleep\": 1");
    ws_sequence_t *s2 = add_seq(b, "s2", 1, NULL);
    run(p);
    assert_int_equal(STATUS(b), WS_FAILED);
    assert_int_equal(STATUS(s2), WS_NOT_STARTED);
    if (mode == 0) { /* stop = "sequence": s1 runs to its end */
      assert_int_equal(STATUS(s1), WS_COMPLETED);
      assert_near(s1->node.state.ended - p->node.state.started, 6);
    } else { /* stop = "action": s1 stops after its current action */
      assert_int_equal(STATUS(s1), WS_STOPPED);
      assert_int_equal(STATUS(s1->actions[0]), WS_COMPLETED);
      assert_int_equal(STATUS(s1->actions[1]), WS_NOT_STARTED);
      assert_near(s1->node.state.ended - p->node.state.started, 2);
    }
    /* the block (and its deferred checks) ended only after s1 */
    ws_checks_t *after = b->checks[WS_CHECKS_DEFERRED];
    assert_true(after->node.state.started >= s1->node.state.ended);
    assert_true(b->node.state.ended >= s1->node.state.ended);
    ws_plan_free(p);
  }
}

/* ----------------------------------------------------------------- bypass */

static void plan_bypass_skips_everything(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_plan_set_checks(p, make_checks(WS_CHECKS_BYPASS, 30, "already done", NULL));
  ws_plan_set_checks(p, make_checks(WS_CHECKS_PRE, 30, "pre", NULL));
  ws_plan_set_checks(p, make_checks(WS_CHECKS_DEFERRED, 30, "deferred", NULL));
  ws_block_t *b = add_block(p, "b", 1);
  add_seq(b, "s", 1, NULL);
  ws_batch_t *da = add_batch(p, "cleanup", WS_WHEN_ALWAYS, false, NULL);
  run(p);
  assert_int_equal(STATUS(p), WS_COMPLETED);
  assert_int_equal(p->reason, WS_REASON_NONE);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_BYPASS]), WS_COMPLETED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_PRE]), WS_NOT_STARTED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_DEFERRED]), WS_NOT_STARTED);
  assert_int_equal(STATUS(b), WS_NOT_STARTED);
  assert_int_equal(STATUS(da), WS_NOT_STARTED);
  assert_int_equal(test_stats.calls, 0);
  ws_plan_free(p);
}

static void block_bypass(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b0 = add_block(p, "done already", 1);
  b0->exit_delay = 60;
  ws_block_set_checks(b0, make_checks(WS_CHECKS_BYPASS, 30, "bypass ok", NULL));
  ws_block_set_checks(b0, make_checks(WS_CHECKS_DEFERRED, 30, "b0 deferred", NULL));
  add_seq(b0, "s0", 1, NULL);
  ws_block_t *b1 = add_block(p, "to do", 1);
  ws_block_set_checks(b1, make_checks(WS_CHECKS_BYPASS, 30, "bypass no", "\"fail\": true"));
  ws_sequence_t *s1 = add_seq(b1, "s1", 1, NULL);
  run(p);
  assert_int_equal(STATUS(b0), WS_COMPLETED);
  assert_int_equal(STATUS(b0->sequences[0]), WS_NOT_STARTED);
  assert_int_equal(STATUS(b0->checks[WS_CHECKS_DEFERRED]), WS_NOT_STARTED); /* not after a bypass */
  assert_near(DURATION(b0), 0);                                             /* no exit delay */
  assert_int_equal(STATUS(b1->checks[WS_CHECKS_BYPASS]), WS_FAILED); /* recorded, not a failure */
  assert_int_equal(STATUS(b1), WS_COMPLETED);
  assert_int_equal(STATUS(s1), WS_COMPLETED);
  assert_int_equal(STATUS(p), WS_COMPLETED);
  ws_plan_free(p);
}

/* ------------------------------------------------------------ pre checks */

static void pre_check_failure_runs_only_deferred_work(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_plan_set_checks(p, make_checks(WS_CHECKS_PRE, 30, "healthy?", "\"fail\": true"));
  ws_plan_set_checks(p, make_checks(WS_CHECKS_POST, 30, "post", NULL));
  ws_plan_set_checks(p, make_checks(WS_CHECKS_DEFERRED, 30, "deferred", NULL));
  ws_block_t *b = add_block(p, "b", 1);
  add_seq(b, "s", 1, NULL);
  ws_batch_t *rollback = add_batch(p, "rollback", WS_WHEN_ON_FAILURE, false, NULL);
  run(p);
  assert_int_equal(STATUS(b), WS_NOT_STARTED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_POST]), WS_NOT_STARTED);
  assert_int_equal(STATUS(rollback), WS_COMPLETED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_DEFERRED]), WS_COMPLETED);
  assert_int_equal(STATUS(p), WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_PRE_CHECK);
  ws_plan_free(p);
}

/* ----------------------------------------------------------- cont checks */

static void plan_cont_check_failure_stops_new_sequences_at_once(void **state) {
  (void)state;
  /* cont checks every 10 s, each run taking 1 s: [0,1], [11,12], [22,23]; the
  ** third fails. Sequences (3 s + 1 s) run one at a time from t=1:
  ** s5 starts at 21 and is in its first action when the failure is known. */
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_plan_set_checks(p, make_checks(WS_CHECKS_CONT, 10, "error rate ok",
                                    "\"sleep\": 1, \"fail_from\": 3"));
  ws_block_t *b = add_block(p, "wave", 1);
  b->stop = WS_STOP_ACTION;
  for (int i = 0; i < 10; i++) {
    char n[16];
    snprintf(n, sizeof n, "s%d", i);
    add_seq(b, n, 2, "\"sleep\": 3", "\"sleep\": 1");
  }
  ws_plan_set_checks(p, make_checks(WS_CHECKS_POST, 30, "post", NULL));
  run(p);
  double t0 = p->node.state.started;
  /* the first cont run gates the blocks: s0 starts at t=1 */
  assert_near(b->sequences[0]->node.state.started - t0, 1);
  /* the failure is known at t=23: s5 stops after its current action (t=24)
  ** and nothing else starts */
  assert_int_equal(STATUS(b->sequences[5]), WS_STOPPED);
  assert_int_equal(STATUS(b->sequences[5]->actions[1]), WS_NOT_STARTED);
  assert_int_equal(STATUS(b->sequences[6]), WS_NOT_STARTED);
  assert_int_equal(STATUS(b), WS_STOPPED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_CONT]), WS_FAILED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_POST]), WS_NOT_STARTED);
  assert_int_equal(STATUS(p), WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_CONT_CHECK);
  assert_near(p->checks[WS_CHECKS_CONT]->node.state.ended - t0, 23);
  assert_near(p->node.state.ended - t0, 24);
  ws_plan_free(p);
}

static void block_pre_check_failure_with_cont_checks_ends(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 1);
  ws_block_set_checks(b, make_checks(WS_CHECKS_PRE, 30, "pre", "\"fail\": true"));
  ws_block_set_checks(b, make_checks(WS_CHECKS_CONT, 5, "cont", "\"sleep\": 1"));
  ws_block_set_checks(b, make_checks(WS_CHECKS_DEFERRED, 30, "deferred", NULL));
  ws_sequence_t *s = add_seq(b, "s", 1, NULL);
  run(p); /* an ancestor hung here forever */
  assert_int_equal(STATUS(s), WS_NOT_STARTED);
  assert_int_equal(STATUS(b), WS_FAILED);
  assert_int_equal(STATUS(b->checks[WS_CHECKS_CONT]), WS_COMPLETED);
  assert_int_equal(STATUS(b->checks[WS_CHECKS_DEFERRED]), WS_COMPLETED);
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  assert_int_equal(test_stats.check_calls, 3); /* pre, one cont run, deferred */
  ws_plan_free(p);
}

static void block_cont_checks_repeat_and_are_awaited(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 1);
  ws_block_set_checks(b, make_checks(WS_CHECKS_CONT, 3, "cont", "\"sleep\": 2"));
  ws_sequence_t *s = add_seq(b, "s", 1, "\"sleep\": 10");
  run(p);
  /* runs at [0,2], [5,7], [10,12]; the work ends at t=12 (2 + 10) while the
  ** third run is in flight; it is awaited, then no fourth run starts */
  assert_near(s->node.state.ended - p->node.state.started, 12);
  assert_int_equal(test_stats.check_calls, 3);
  assert_near(b->node.state.ended - p->node.state.started, 12);
  assert_int_equal(STATUS(b), WS_COMPLETED);
  ws_plan_free(p);
}

/* ---------------------------------------------------------------- reasons */

static void failed_block_with_post_checks_gives_reason_block(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_plan_set_checks(p, make_checks(WS_CHECKS_POST, 30, "post", NULL));
  ws_block_t *b = add_block(p, "b", 1);
  add_seq(b, "s", 1, "\"fail\": true");
  run(p);
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_POST]), WS_NOT_STARTED);
  ws_plan_free(p);
}

static void deferred_batches_by_when(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  add_seq(add_block(p, "b", 1), "s", 1, "\"fail\": true");
  ws_batch_t *on_success = add_batch(p, "on success", WS_WHEN_ON_SUCCESS, false, NULL);
  ws_batch_t *on_failure = add_batch(p, "on failure", WS_WHEN_ON_FAILURE, false, "\"sleep\": 2");
  ws_batch_t *always = add_batch(p, "always", WS_WHEN_ALWAYS, false, "\"sleep\": 2");
  run(p);
  assert_int_equal(STATUS(on_success), WS_NOT_STARTED);
  assert_int_equal(STATUS(on_failure), WS_COMPLETED);
  assert_int_equal(STATUS(always), WS_COMPLETED);
  assert_near(on_failure->node.state.started, always->node.state.started); /* together */
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  ws_plan_free(p);

  p = ws_plan_new("p", NULL);
  add_seq(add_block(p, "b", 1), "s", 1, NULL);
  ws_batch_t *must = ws_batch_new("must work", NULL, WS_WHEN_ON_SUCCESS, true);
  ws_sequence_add_action(must, act("m1", "test.work", "\"fail\": true"));
  ws_sequence_add_action(must, act("m2", "test.work", NULL));
  ws_plan_add_batch(p, must);
  run(p);
  assert_int_equal(STATUS(must), WS_FAILED);
  assert_int_equal(STATUS(must->actions[1]), WS_NOT_STARTED); /* stops at the first failure */
  assert_int_equal(STATUS(p), WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_DEFERRED_ACTION);
  ws_plan_free(p);
}

/* ---------------------------------------------------------------- retries */

static ws_action_t *lone_action(ws_plan_t **pp, const char *extra, int retries) {
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_sequence_t *s = add_seq(add_block(p, "b", 1), "s", 1, extra);
  ws_action_t *a = s->actions[0];
  a->retries = retries;
  *pp = p;
  return a;
}

static void retries_report_the_plugins_last_error(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = lone_action(&p, "\"fail\": true", 1);
  run(p);
  assert_int_equal(a->nattempts, 2);
  assert_int_equal(STATUS(a), WS_FAILED);
  assert_string_equal(a->err->msg, "s.1 failed on attempt 2");
  /* no wait after the last attempt */
  assert_near(a->node.state.ended, a->attempts[1].ended);
  ws_plan_free(p);

  a = lone_action(&p, "\"fail_times\": 2", 5);
  run(p);
  assert_int_equal(a->nattempts, 3);
  assert_int_equal(STATUS(a), WS_COMPLETED);
  assert_int_equal(json_integer_value(json_object_get(a->resp, "attempt")), 3);
  ws_plan_free(p);
}

static void backoff_gaps_are_exact_without_jitter(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = lone_action(&p, "\"fail\": true", 3);
  a->has_retry = true;
  a->retry = (ws_retry_policy_t){1, 2, 0, 60};
  run(p);
  assert_int_equal(a->nattempts, 4);
  double want[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) assert_near(a->attempts[i + 1].started - a->attempts[i].ended, want[i]);
  ws_plan_free(p);

  /* capped at max, jitter never pushes past it */
  a = lone_action(&p, "\"fail\": true", 6);
  a->has_retry = true;
  a->retry = (ws_retry_policy_t){1, 10, 0.5, 5};
  run(p);
  for (size_t i = 1; i < a->nattempts; i++) {
    double gap = a->attempts[i].started - a->attempts[i - 1].ended;
    assert_true(gap >= 0.5 - 1e-9 && gap <= 5 + 1e-9);
  }
  ws_plan_free(p);
}

static void permanent_errors_and_bad_responses_stop_retries(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = lone_action(&p, "\"fail\": true, \"permanent\": true", 5);
  run(p);
  assert_int_equal(a->nattempts, 1);
  assert_true(a->err->permanent);
  ws_plan_free(p);

  a = lone_action(&p, "\"bad_response\": true", 5);
  run(p);
  assert_int_equal(a->nattempts, 1);
  assert_int_equal(STATUS(a), WS_FAILED);
  assert_true(a->err->permanent);
  assert_non_null(strstr(a->err->msg, "resp.attempt: expected integer, got string"));
  ws_plan_free(p);
}

/* --------------------------------------------------------------- timeouts */

static void timeouts_cancel_and_retry(void **state) {
  (void)state;
  ws_plan_t *p;
  ws_action_t *a = lone_action(&p, "\"sleep\": 3600", 1);
  a->timeout = 2;
  a->has_retry = true;
  a->retry = (ws_retry_policy_t){1, 2, 0, 60};
  run(p);
  assert_int_equal(a->nattempts, 2);
  for (int i = 0; i < 2; i++) {
    assert_true(a->attempts[i].timed_out);
    assert_near(a->attempts[i].ended - a->attempts[i].started, 2);
    assert_string_equal(a->attempts[i].err->code, "timeout");
  }
  assert_int_equal(test_stats.cancels, 2); /* really cancelled, both times */
  assert_int_equal(test_stats.in_flight, 0);
  assert_near(DURATION(p), 5); /* 2 + backoff 1 + 2: an hour of sleep took no time */
  ws_plan_free(p);
}

/* ------------------------------------------------------------------ stops */

static void graceful_stop(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 2);
  ws_sequence_t *s0 = add_seq(b, "s0", 2, "\"sleep\": 5", "\"sleep\": 5");
  ws_sequence_t *s1 = add_seq(b, "s1", 1, "\"sleep\": 1");
  ws_sequence_t *s2 = add_seq(b, "s2", 1, NULL);
  ws_block_t *later = add_block(p, "later", 1);
  add_seq(later, "l", 1, NULL);
  ws_batch_t *cleanup = add_batch(p, "cleanup", WS_WHEN_ALWAYS, false, NULL);
  ws_batch_t *rollback = add_batch(p, "rollback", WS_WHEN_ON_FAILURE, false, NULL);
  runner_t r = {.stop_on = "s1.1"};
  run_with(p, &r);
  assert_int_equal(STATUS(s0), WS_COMPLETED); /* stop = "sequence": in flight, finishes */
  assert_int_equal(STATUS(s1), WS_COMPLETED);
  assert_int_equal(STATUS(s2), WS_NOT_STARTED);
  assert_int_equal(STATUS(b), WS_STOPPED);
  assert_int_equal(STATUS(later), WS_NOT_STARTED);
  assert_int_equal(STATUS(cleanup), WS_COMPLETED); /* deferred actions still run */
  assert_int_equal(STATUS(rollback), WS_COMPLETED);
  assert_int_equal(STATUS(p), WS_STOPPED);
  assert_int_equal(p->reason, WS_REASON_STOPPED);
  ws_plan_free(p);
}

static void forced_stop_cancels_running_actions(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 2);
  ws_sequence_t *s0 = add_seq(b, "s0", 2, "\"sleep\": 3600", NULL);
  ws_sequence_t *s1 = add_seq(b, "s1", 1, "\"sleep\": 1");
  ws_batch_t *cleanup = add_batch(p, "cleanup", WS_WHEN_ALWAYS, false, NULL);
  runner_t r = {.stop_on = "s1.1", .force_too = true};
  run_with(p, &r);
  assert_int_equal(STATUS(s0->actions[0]), WS_STOPPED);
  assert_int_equal(s0->actions[0]->nattempts, 1);
  assert_int_equal(STATUS(s0->actions[1]), WS_NOT_STARTED);
  assert_int_equal(STATUS(s0), WS_STOPPED);
  assert_int_equal(STATUS(s1), WS_STOPPED);
  assert_int_equal(test_stats.cancels, 2);
  assert_int_equal(STATUS(cleanup), WS_NOT_STARTED); /* left for a resume */
  assert_int_equal(STATUS(p), WS_STOPPED);
  assert_near(DURATION(p), 0);
  ws_plan_free(p);
}

static void forced_stop_during_pre_checks_is_a_stop(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_plan_set_checks(p, make_checks(WS_CHECKS_PRE, 30, "slow pre", "\"sleep\": 3600"));
  ws_plan_set_checks(p, make_checks(WS_CHECKS_CONT, 30, "slow cont", "\"sleep\": 3600"));
  ws_block_t *b = add_block(p, "b", 1);
  add_seq(b, "s", 1, NULL);
  runner_t r = {.force_on = "slow pre"};
  run_with(p, &r);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_PRE]), WS_STOPPED);
  assert_int_equal(STATUS(p->checks[WS_CHECKS_CONT]), WS_STOPPED);
  assert_int_equal(STATUS(b), WS_NOT_STARTED);
  assert_int_equal(STATUS(p), WS_STOPPED);
  assert_int_equal(p->reason, WS_REASON_STOPPED);
  ws_plan_free(p);
}

/* A forced stop still drains the cont checks: their run in flight is
** cancelled and awaited, their timer stopped (nothing reaches a freed runner). */
static void forced_stop_drains_cont_checks(void **state) {
  (void)state;
  for (int level = 0; level < 2; level++) {
    test_stats_reset();
    ws_plan_t *p = ws_plan_new("p", NULL);
    ws_block_t *b = add_block(p, "b", 1);
    ws_checks_t *cont = make_checks(WS_CHECKS_CONT, 5, "cont", "\"sleep\": 2");
    if (level) ws_plan_set_checks(p, cont);
    else ws_block_set_checks(b, cont);
    add_seq(b, "s", 1, "\"sleep\": 3600")->actions[0]->timeout = 7200;
    ws_batch_t *cleanup = add_batch(p, "cleanup", WS_WHEN_ALWAYS, false, NULL);
    runner_t r = {0};
    run_with(p, &r); /* unforced, it runs the hour */
    assert_true(DURATION(p) >= 3600);
    assert_int_equal(STATUS(cleanup), WS_COMPLETED);
    ws_plan_free(p);

    test_stats_reset();
    p = ws_plan_new("p", NULL);
    b = add_block(p, "b", 1);
    cont = make_checks(WS_CHECKS_CONT, 5, "cont", "\"sleep\": 2");
    if (level) ws_plan_set_checks(p, cont);
    else ws_block_set_checks(b, cont);
    ws_sequence_t *s = add_seq(b, "s", 1, "\"sleep\": 3600");
    s->actions[0]->timeout = 7200;
    cleanup = add_batch(p, "cleanup", WS_WHEN_ALWAYS, false, NULL);
    r = (runner_t){.force_on = "s.1"};
    run_with(p, &r);
    assert_int_equal(STATUS(s), WS_STOPPED);
    assert_int_equal(STATUS(p), WS_STOPPED);
    assert_int_equal(STATUS(cleanup), WS_NOT_STARTED);
    assert_near(DURATION(p), 2); /* the first cont run gates the work: forced at t=2 */
    assert_int_equal(STATUS(cont), WS_COMPLETED); /* its next run never started */
    ws_plan_free(p);
  }
}

static void stop_action_mode_applies_to_a_user_stop(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 2);
  b->stop = WS_STOP_ACTION;
  ws_sequence_t *s0 = add_seq(b, "s0", 3, "\"sleep\": 5", NULL, NULL);
  add_seq(b, "s1", 1, "\"sleep\": 1");
  runner_t r = {.stop_on = "s1.1"};
  run_with(p, &r);
  assert_int_equal(STATUS(s0->actions[0]), WS_COMPLETED); /* never interrupted */
  assert_int_equal(STATUS(s0->actions[1]), WS_NOT_STARTED);
  assert_int_equal(STATUS(s0), WS_STOPPED);
  assert_int_equal(STATUS(b), WS_STOPPED);
  ws_plan_free(p);
}

/* ----------------------------------------------------------------- delays */

static void entrance_and_exit_delays(void **state) {
  (void)state;
  ws_plan_t *p = ws_plan_new("p", NULL);
  ws_block_t *b = add_block(p, "b", 1);
  b->entrance_delay = 60;
  b->exit_delay = 120;
  ws_sequence_t *s = add_seq(b, "s", 1, "\"sleep\": 1");
  ws_block_t *b2 = add_block(p, "b2", 1);
  add_seq(b2, "s", 1, NULL);
  run(p);
  double t0 = p->node.state.started;
  assert_near(s->node.state.started - t0, 60);
  assert_near(b->node.state.ended - t0, 181);
  assert_near(b2->node.state.started - t0, 181);
  ws_plan_free(p);
}

int main(void) {
  reg = test_registry();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(peak_is_exactly_the_concurrency, setup),
      cmocka_unit_test_setup(budget_counts_failures_strictly, setup),
      cmocka_unit_test_setup(budget_in_percent, setup),
      cmocka_unit_test_setup(tripped_budget_waits_for_work_in_flight, setup),
      cmocka_unit_test_setup(plan_bypass_skips_everything, setup),
      cmocka_unit_test_setup(block_bypass, setup),
      cmocka_unit_test_setup(pre_check_failure_runs_only_deferred_work, setup),
      cmocka_unit_test_setup(plan_cont_check_failure_stops_new_sequences_at_once, setup),
      cmocka_unit_test_setup(block_pre_check_failure_with_cont_checks_ends, setup),
      cmocka_unit_test_setup(block_cont_checks_repeat_and_are_awaited, setup),
      cmocka_unit_test_setup(failed_block_with_post_checks_gives_reason_block, setup),
      cmocka_unit_test_setup(deferred_batches_by_when, setup),
      cmocka_unit_test_setup(retries_report_the_plugins_last_error, setup),
      cmocka_unit_test_setup(backoff_gaps_are_exact_without_jitter, setup),
      cmocka_unit_test_setup(permanent_errors_and_bad_responses_stop_retries, setup),
      cmocka_unit_test_setup(timeouts_cancel_and_retry, setup),
      cmocka_unit_test_setup(graceful_stop, setup),
      cmocka_unit_test_setup(forced_stop_cancels_running_actions, setup),
      cmocka_unit_test_setup(stop_action_mode_applies_to_a_user_stop, setup),
      cmocka_unit_test_setup(forced_stop_during_pre_checks_is_a_stop, setup),
      cmocka_unit_test_setup(forced_stop_drains_cont_checks, setup),
      cmocka_unit_test_setup(entrance_and_exit_delays, setup),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ws_registry_free(reg);
  return rc;
}
