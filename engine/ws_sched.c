/*
** ws_sched.c - the scheduler: one state machine per running object.
**
** Nothing here blocks and nothing owns a thread. Every running object has a
** small runner struct; runners start their children and are told when each
** child ends through a continuation (k). Plans and blocks move through phases
** (the orders of DESIGN.md section 5) in a step function that runs until a
** phase has to wait for something, then returns to the loop.
**
** Two invariants keep the recursion flat: starting an action never completes
** it synchronously (call results arrive through the run's deferred queue),
** and a sequence never ends before its first action does. So a parent that
** starts children in a loop is never re-entered from inside that loop.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "ws_internal.h"

#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* A child's end: what it was, how it ended. */
typedef void (*k_fn)(void *ud, ws_node_t *child, ws_status_t st);

static bool is_done(ws_status_t st) { return st == WS_COMPLETED || st == WS_FAILED; }

/* A child found already done (a resumed run) is reported on a later turn, as
** a running one would be: starting a child never ends it synchronously. */
typedef struct later {
  ws__work_t work;
  k_fn k;
  void *ud;
  ws_node_t *n;
} later_t;

static void later_fire(ws__work_t *w) {
  later_t *l = (later_t *)w;
  k_fn k = l->k;
  void *ud = l->ud;
  ws_node_t *n = l->n;
  free(l);
  k(ud, n, n->state.status);
}

static void report_later(ws_run_t *run, ws_node_t *n, k_fn k, void *ud) {
  later_t *l = ws__calloc(1, sizeof *l);
  l->k = k;
  l->ud = ud;
  l->n = n;
  ws__defer(run, &l->work, later_fire);
}

typedef struct action_run action_run_t;

typedef struct ws__plan_run {
  ws_run_t *run;
  ws_plan_t *plan;
  action_run_t *live; /* every action runner in flight, for a forced stop */
  uint64_t prng;      /* backoff jitter */
  bool stopping;      /* graceful stop requested */
  bool forced;        /* second stop: running actions are cancelled */
  bool want_stop, want_force; /* asked for, not yet applied */
  bool stop_queued;
  ws__work_t stop_work;
  /* With a store, attempts start in groups: their records are committed
  ** first, once for the group (see start_queued). */
  struct action_run **to_start;
  size_t nto_start, cap_to_start;
  bool start_queued;
  ws__work_t start_work;
  struct plan_runner *root;
} plan_run_t;

static double jitter_unit(plan_run_t *pr) { /* uniform in [0, 1), xorshift64* */
  pr->prng ^= pr->prng >> 12;
  pr->prng ^= pr->prng << 25;
  pr->prng ^= pr->prng >> 27;
  return (double)((pr->prng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ================================================================ actions */

struct action_run {
  ws_run_t *run;
  ws_action_t *a;
  k_fn k;
  void *ud;
  ws_call_t *call;   /* the attempt in flight, or NULL */
  size_t queued;     /* position + 1 in the start queue, 0 when not queued */
  ws__timer_t timer; /* the attempt's timeout, or the backoff wait */
  bool timed_out;    /* the attempt in flight ran out of time */
  bool stopped;      /* a forced stop: no further attempts */
  action_run_t *prev, *next;
};

static void attempt_start(action_run_t *ar);
static void backoff_over(ws__timer_t *t);

static void action_finish(action_run_t *ar, ws_status_t st) {
  plan_run_t *pr = ar->run->pr;
  if (ar->prev) ar->prev->next = ar->next;
  else pr->live = ar->next;
  if (ar->next) ar->next->prev = ar->prev;

  ws_action_t *a = ar->a;
  ws_action_settle(a, st);
  ws__set_status(ar->run, &a->node, st);
  k_fn k = ar->k;
  void *ud = ar->ud;
  free(ar);
  k(ud, &a->node, st);
}

/* The wait before attempt n+1: initial * multiplier^(n-1), capped, jittered,
** and capped again so that a jittered wait never exceeds max. */
static double backoff(action_run_t *ar) {
  const ws_action_t *a = ar->a;
  const ws_retry_policy_t *p = a->has_retry ? &a->retry
                             : a->plugin->retry ? a->plugin->retry
                                                : &ws__default_retry;
  double base = p->initial * pow(p->multiplier, (double)(a->nattempts - 1));
  if (base > p->max) base = p->max;
  double wait = base * (1 - p->jitter + 2 * p->jitter * jitter_unit(ar->run->pr));
  return wait > p->max ? p->max : wait;
}

/* Attempts that count against `retries`: not those a crash interrupted. */
static size_t counted_attempts(const ws_action_t *a) {
  size_t n = 0;
  for (size_t i = 0; i < a->nattempts; i++) n += !a->attempts[i].interrupted;
  return n;
}

static void after_attempt(action_run_t *ar) {
  ws_action_t *a = ar->a;
  ws_attempt_t *att = &a->attempts[a->nattempts - 1];
  if (!att->err) {
    action_finish(ar, WS_COMPLETED);
  } else if (ar->stopped) {
    action_finish(ar, WS_STOPPED);
  } else if (att->err->permanent || counted_attempts(a) > (size_t)a->retries) {
    action_finish(ar, WS_FAILED); /* no wait after the last attempt */
  } else {
    ws__timer_start(ar->run, &ar->timer, backoff(ar), backoff_over);
  }
}

/* Takes the result of the attempt in flight; the call is gone afterwards. */
static void record_attempt(action_run_t *ar, json_t *resp, ws_error_t *err) {
  ws_action_t *a = ar->a;
  ws_attempt_t *att = &a->attempts[a->nattempts - 1];
  att->ended = ws_run_now(ar->run);
  /* a plugin may find its own timeout (a Lua plugin that never yields) */
  att->timed_out = ar->timed_out || (err && err->code && strcmp(err->code, "timeout") == 0);
  if (ar->timed_out) {
    json_decref(resp);
    ws__error_free(err);
    resp = NULL;
    err = ws__error_new(false, "timeout", "timed out after %gs", a->timeout);
  }
  if (err && a->nsecrets) {
    char *clean = ws__scrub(a, err->msg);
    free(err->msg);
    err->msg = clean;
  }
  ws__scrub_json(a, resp);
  att->resp = resp;
  att->err = err;
  ar->call = NULL;
  ws__persist(ar->run, &a->node);
  ws__emit(ar->run, WS_EV_ATTEMPT, &a->node, att);
}

static void call_done(ws_call_t *call, void *ud) {
  action_run_t *ar = ud;
  ws__timer_stop(ar->run, &ar->timer);
  json_t *resp = call->resp;
  ws_error_t *err = call->err;
  call->resp = NULL;
  call->err = NULL;
  ws__call_free(call);
  record_attempt(ar, resp, err);
  after_attempt(ar);
}

static void attempt_timed_out(ws__timer_t *t) {
  action_run_t *ar = CONTAINER_OF(t, action_run_t, timer);
  if (!ar->call || ar->call->completed) return; /* not begun yet, or its result is on the way */
  ar->timed_out = true;
  ws__call_cancel(ar->call); /* the result comes promptly (every plugin can cancel) */
}

static void call_begin(action_run_t *ar) {
  ws_action_t *a = ar->a;
  ws_attempt_t *att = &a->attempts[a->nattempts - 1];
  ar->call = ws__call_start(ar->run, a, (int)a->nattempts, att->started + a->timeout, call_done,
                            ar);
}

/* Commits the records of the queued attempts, once, then starts them: a crash
** after this loses at most their outcome, never the knowledge they began. */
static void start_queued(ws__work_t *w) {
  plan_run_t *pr = CONTAINER_OF(w, plan_run_t, start_work);
  pr->start_queued = false;
  bool ok = ws__flush(pr->run);
  size_t n = pr->nto_start;
  pr->nto_start = 0;
  for (size_t i = 0; i < n; i++) {
    action_run_t *ar = pr->to_start[i];
    if (!ar) continue; /* stopped while queued */
    ar->queued = 0;
    if (ok) call_begin(ar);
    else {
      ar->stopped = true; /* the storage error forces a stop */
      ws__timer_stop(ar->run, &ar->timer);
      ws_action_t *a = ar->a;
      a->nattempts--; /* it never began */
      action_finish(ar, WS_STOPPED);
    }
  }
}

static void queue_start(action_run_t *ar) {
  plan_run_t *pr = ar->run->pr;
  if (pr->nto_start == pr->cap_to_start) {
    pr->cap_to_start = pr->cap_to_start ? 2 * pr->cap_to_start : 64;
    pr->to_start = ws__realloc(pr->to_start, pr->cap_to_start * sizeof *pr->to_start);
  }
  pr->to_start[pr->nto_start++] = ar;
  ar->queued = pr->nto_start;
  if (!pr->start_queued) {
    pr->start_queued = true;
    ws__defer(ar->run, &pr->start_work, start_queued);
  }
}

static void attempt_start(action_run_t *ar) {
  ws_action_t *a = ar->a;
  a->attempts = ws__realloc(a->attempts, (a->nattempts + 1) * sizeof *a->attempts);
  ws_attempt_t *att = &a->attempts[a->nattempts++];
  memset(att, 0, sizeof *att);
  att->started = ws_run_now(ar->run);
  ar->timed_out = false;
  ws__timer_start(ar->run, &ar->timer, a->timeout, attempt_timed_out);
  if (ar->run->opts.store) {
    ws__persist(ar->run, &a->node);
    queue_start(ar);
  } else {
    call_begin(ar);
  }
}

static void backoff_over(ws__timer_t *t) { attempt_start(CONTAINER_OF(t, action_run_t, timer)); }

static void action_start(ws_run_t *run, ws_action_t *a, k_fn k, void *ud) {
  if (is_done(a->node.state.status)) { /* a resumed run: done before */
    report_later(run, &a->node, k, ud);
    return;
  }
  plan_run_t *pr = run->pr;
  action_run_t *ar = ws__calloc(1, sizeof *ar);
  ar->run = run;
  ar->a = a;
  ar->k = k;
  ar->ud = ud;
  ar->next = pr->live;
  if (pr->live) pr->live->prev = ar;
  pr->live = ar;
  ws__set_status(run, &a->node, WS_RUNNING);
  attempt_start(ar);
}

/* A forced stop: cancel the attempt in flight, or cut the backoff short. */
static void action_force_stop(action_run_t *ar) {
  if (ar->stopped) return;
  ar->stopped = true;
  if (ar->call) {
    ws__call_cancel(ar->call); /* no-op when its result is already on the way */
  } else {
    ws__timer_stop(ar->run, &ar->timer); /* waiting to retry: the last error stands */
    if (ar->queued) { /* it never began: forget the attempt */
      ar->run->pr->to_start[ar->queued - 1] = NULL;
      ar->queued = 0;
      ar->a->nattempts--;
    }
    action_finish(ar, WS_STOPPED);
  }
}

/* ====================================================== sequences, batches */

typedef struct seq_run {
  ws_run_t *run;
  ws_sequence_t *s;
  const bool *halt; /* when set: stop after the current action (stop = "action") */
  k_fn k;
  void *ud;
  size_t next;
} seq_run_t;

static void seq_finish(seq_run_t *sr, ws_status_t st) {
  ws__set_status(sr->run, &sr->s->node, st);
  k_fn k = sr->k;
  void *ud = sr->ud;
  ws_node_t *n = &sr->s->node;
  free(sr);
  k(ud, n, st);
}

static void seq_action_done(void *ud, ws_node_t *child, ws_status_t st);

static void seq_next(seq_run_t *sr) {
  if (sr->next == sr->s->nactions) seq_finish(sr, WS_COMPLETED);
  else if ((sr->halt && *sr->halt) || sr->run->pr->forced) seq_finish(sr, WS_STOPPED);
  else action_start(sr->run, sr->s->actions[sr->next++], seq_action_done, sr);
}

static void seq_action_done(void *ud, ws_node_t *child, ws_status_t st) {
  WS__UNUSED(child);
  seq_run_t *sr = ud;
  if (st == WS_COMPLETED) seq_next(sr);
  else seq_finish(sr, st); /* later actions stay not_started */
}

/* Runs the actions in order. Always starts the first one, so it never ends
** before returning. */
static void seq_start(ws_run_t *run, ws_sequence_t *s, const bool *halt, k_fn k, void *ud) {
  if (is_done(s->node.state.status)) { /* a resumed run: done before */
    report_later(run, &s->node, k, ud);
    return;
  }
  seq_run_t *sr = ws__calloc(1, sizeof *sr);
  sr->run = run;
  sr->s = s;
  sr->halt = halt;
  sr->k = k;
  sr->ud = ud;
  ws__set_status(run, &s->node, WS_RUNNING);
  /* a resumed sequence goes on after the actions it completed */
  size_t first = 0;
  while (first + 1 < s->nactions && s->actions[first]->node.state.status == WS_COMPLETED) first++;
  sr->next = first + 1;
  action_start(run, s->actions[first], seq_action_done, sr);
}

/* ================================================================= checks */

typedef struct checks_run {
  ws_run_t *run;
  ws_checks_t *c;
  k_fn k;
  void *ud;
  size_t pending;
  ws_status_t worst;
} checks_run_t;

static void reset_action(ws_action_t *a) {
  ws__attempts_clear(a);
  memset(&a->node.state, 0, sizeof a->node.state);
}

static void checks_action_done(void *ud, ws_node_t *child, ws_status_t st) {
  WS__UNUSED(child);
  checks_run_t *cr = ud;
  if (st > cr->worst) cr->worst = st; /* completed < failed < stopped */
  if (--cr->pending) return;
  ws__set_status(cr->run, &cr->c->node, cr->worst);
  k_fn k = cr->k;
  void *ud2 = cr->ud;
  ws_node_t *n = &cr->c->node;
  ws_status_t worst = cr->worst;
  free(cr);
  k(ud2, n, worst);
}

/* Runs every action at once; all must pass. A repeated run (cont checks)
** starts from fresh action states: the result shows the latest run. */
static void checks_start(ws_run_t *run, ws_checks_t *c, k_fn k, void *ud) {
  if (is_done(c->node.state.status) && c->kind != WS_CHECKS_CONT) { /* a resumed run */
    report_later(run, &c->node, k, ud);
    return;
  }
  checks_run_t *cr = ws__calloc(1, sizeof *cr);
  cr->run = run;
  cr->c = c;
  cr->k = k;
  cr->ud = ud;
  cr->worst = WS_COMPLETED;
  cr->pending = c->nactions;
  for (size_t i = 0; i < c->nactions; i++) reset_action(c->actions[i]);
  ws__set_status(run, &c->node, WS_RUNNING);
  for (size_t i = 0; i < c->nactions; i++) action_start(run, c->actions[i], checks_action_done, cr);
}

/* ===================================================== continuous checks */

/* Runs a checks object now, then `delay` after each run ends, until stopped
** or a run fails. The owner hears of every run's end (on_end) at once, so a
** failure is acted on when it is known, not at the next dispatch. */
typedef struct cont_loop {
  ws_run_t *run;
  ws_checks_t *c;
  ws__timer_t timer;
  unsigned runs;  /* runs ended so far */
  bool active;    /* started and not stopped */
  bool in_flight;
  bool failed;    /* a run failed: the loop ended */
  void (*on_end)(struct cont_loop *cl);
} cont_loop_t;

static void cont_run(cont_loop_t *cl);

static void cont_run_timer(ws__timer_t *t) {
  cont_loop_t *cl = CONTAINER_OF(t, cont_loop_t, timer);
  if (cl->run->pr->forced) cl->active = false;
  else cont_run(cl);
}

static void cont_done(void *ud, ws_node_t *child, ws_status_t st) {
  WS__UNUSED(child);
  cont_loop_t *cl = ud;
  cl->in_flight = false;
  cl->runs++;
  if (st != WS_COMPLETED) {
    cl->failed = st == WS_FAILED; /* stopped: a forced stop ended the run */
    cl->active = false;
  } else if (cl->active) {
    ws__timer_start(cl->run, &cl->timer, cl->c->delay, cont_run_timer);
  }
  cl->on_end(cl);
}

static void cont_run(cont_loop_t *cl) {
  cl->in_flight = true;
  checks_start(cl->run, cl->c, cont_done, cl);
}

static void cont_start(cont_loop_t *cl) {
  cl->active = true;
  cont_run(cl);
}

/* Stops further runs. True when nothing is in flight (no on_end will come). */
static bool cont_stop(cont_loop_t *cl) {
  cl->active = false;
  ws__timer_stop(cl->run, &cl->timer);
  return !cl->in_flight;
}

/* ================================================================= blocks */

/* What a block or plan runner is waiting for. */
typedef enum wait_kind {
  W_NONE,
  W_DELAY,    /* entrance or exit delay */
  W_CHECKS,   /* `pending` checks runs (the first cont run counts as one) */
  W_CHILDREN, /* sequences of a block, the current block of a plan, batches */
  W_DRAIN     /* the cont run in flight after the work ended */
} wait_kind_t;

typedef enum block_phase {
  B_START,
  B_BYPASS,
  B_PRE,
  B_SEQUENCES,
  B_DRAIN,
  B_POST,
  B_DEFERRED,
  B_EXIT,
  B_END
} block_phase_t;

typedef struct block_run {
  ws_run_t *run;
  ws_block_t *b;
  k_fn k;
  void *ud;
  block_phase_t phase; /* the next phase to enter */
  wait_kind_t waiting;
  size_t pending;
  ws__timer_t delay;
  cont_loop_t cont;
  size_t next_seq, in_flight, failed_seqs;
  bool halted;       /* no new sequences */
  bool halt_actions; /* in-flight sequences stop after their current action */
  bool worked;       /* got past the entrance delay */
  bool bypassed, failed, stopped;
} block_run_t;

static void block_step(block_run_t *br);

static bool over_budget(const ws_block_t *b, size_t failed) {
  if (b->tolerated.percent) return failed * 100 > (uint64_t)b->tolerated.count * b->nsequences;
  return b->tolerated.count >= 0 && failed > (uint64_t)b->tolerated.count;
}

static void block_seq_done(void *ud, ws_node_t *child, ws_status_t st);
static void block_halt(block_run_t *br, bool external);

static void block_dispatch(block_run_t *br) {
  ws_block_t *b = br->b;
  while (!br->halted && br->in_flight < (size_t)b->concurrency && br->next_seq < b->nsequences) {
    ws_sequence_t *s = b->sequences[br->next_seq];
    if (is_done(s->node.state.status)) { /* a resumed run: done before, failures count */
      br->next_seq++;
      if (s->node.state.status == WS_FAILED && over_budget(b, ++br->failed_seqs)) {
        br->failed = true;
        block_halt(br, false);
      }
      continue;
    }
    br->in_flight++;
    seq_start(br->run, b->sequences[br->next_seq++], &br->halt_actions, block_seq_done, br);
  }
  if (br->in_flight == 0 && (br->halted || br->next_seq == b->nsequences)) {
    br->waiting = W_NONE;
    block_step(br);
  }
}

/* Stops admitting work. From outside (plan cont checks, the user), the block
** ends stopped unless only its exit delay was left; its stop mode decides
** whether in-flight sequences finish or stop after their current action. */
static void block_halt(block_run_t *br, bool external) {
  br->halted = true;
  if (br->b->stop == WS_STOP_ACTION) br->halt_actions = true;
  if (external && br->phase <= B_POST) br->stopped = true; /* work was left undone */
  if (br->waiting == W_DELAY) {
    ws__timer_stop(br->run, &br->delay);
    br->waiting = W_NONE;
    block_step(br);
  }
}

static void block_seq_done(void *ud, ws_node_t *child, ws_status_t st) {
  WS__UNUSED(child);
  block_run_t *br = ud;
  br->in_flight--;
  if (st == WS_FAILED && over_budget(br->b, ++br->failed_seqs) && !br->failed) {
    br->failed = true; /* from now on no new sequence starts */
    block_halt(br, false);
  }
  block_dispatch(br);
}

static void block_checks_done(void *ud, ws_node_t *child, ws_status_t st) {
  block_run_t *br = ud;
  ws_checks_t *c = (ws_checks_t *)child;
  if (c->kind == WS_CHECKS_BYPASS) br->bypassed = st == WS_COMPLETED; /* failing: "run it" */
  else if (st == WS_FAILED) br->failed = true; /* stopped (a forced stop) is not a failure */
  if (--br->pending == 0) {
    br->waiting = W_NONE;
    block_step(br);
  }
}

static void block_cont_end(cont_loop_t *cl) {
  block_run_t *br = CONTAINER_OF(cl, block_run_t, cont);
  if (cl->failed && !br->failed) {
    br->failed = true;
    if (br->waiting == W_CHILDREN) block_halt(br, false); /* acted on at once */
  }
  if (br->waiting == W_CHECKS && cl->runs == 1) /* the first run goes with the pre checks */
    block_checks_done(br, &cl->c->node, cl->c->node.state.status);
  else if (br->waiting == W_DRAIN) {
    br->waiting = W_NONE;
    block_step(br);
  }
}

static void block_delay_over(ws__timer_t *t) {
  block_run_t *br = CONTAINER_OF(t, block_run_t, delay);
  br->waiting = W_NONE;
  block_step(br);
}

static bool block_wait_delay(block_run_t *br, double seconds) {
  if (seconds <= 0 || br->halted) return false;
  br->waiting = W_DELAY;
  ws__timer_start(br->run, &br->delay, seconds, block_delay_over);
  return true;
}

static bool block_run_checks(block_run_t *br, ws_checks_t *c) {
  if (!c) return false;
  br->waiting = W_CHECKS;
  br->pending = 1;
  checks_start(br->run, c, block_checks_done, br);
  return true;
}

static void block_finish(block_run_t *br) {
  /* nothing may reach a finished runner: its cont loop is over */
  if (ws__timer_active(&br->cont.timer) || br->cont.in_flight) abort();
  ws_status_t st = br->bypassed ? WS_COMPLETED
                 : br->failed   ? WS_FAILED
                 : br->stopped  ? WS_STOPPED
                                : WS_COMPLETED;
  ws__set_status(br->run, &br->b->node, st);
  k_fn k = br->k;
  void *ud = br->ud;
  ws_node_t *n = &br->b->node;
  free(br);
  k(ud, n, st);
}

static void block_step(block_run_t *br) {
  ws_block_t *b = br->b;
  ws_checks_t *const *ck = b->checks;
  for (;;) {
    /* A forced stop skips to the end, but through the drain: a cont run in
    ** flight (being cancelled) is awaited and its timer stopped. */
    if (br->run->pr->forced && br->phase < B_DRAIN) br->phase = B_DRAIN;
    switch (br->phase++) {
    case B_START: {
      bool resumed = b->node.state.started != 0; /* its entrance delay is behind it */
      ws__set_status(br->run, &b->node, WS_RUNNING);
      if (!resumed && block_wait_delay(br, b->entrance_delay)) return;
      break;
    }
    case B_BYPASS:
      if (br->halted) break;
      br->worked = true;
      if (block_run_checks(br, ck[WS_CHECKS_BYPASS])) return;
      break;
    case B_PRE:
      if (br->bypassed) { /* everything else stays not_started */
        br->phase = B_END;
        break;
      }
      if (br->halted || !(ck[WS_CHECKS_PRE] || ck[WS_CHECKS_CONT])) break;
      br->waiting = W_CHECKS;
      br->pending = (ck[WS_CHECKS_PRE] != NULL) + (ck[WS_CHECKS_CONT] != NULL);
      if (ck[WS_CHECKS_PRE]) checks_start(br->run, ck[WS_CHECKS_PRE], block_checks_done, br);
      if (ck[WS_CHECKS_CONT]) cont_start(&br->cont);
      return;
    case B_SEQUENCES:
      if (br->failed || br->halted) break;
      br->waiting = W_CHILDREN;
      block_dispatch(br);
      return;
    case B_DRAIN:
      if (ck[WS_CHECKS_CONT] && !cont_stop(&br->cont)) {
        br->waiting = W_DRAIN; /* a run in flight is awaited */
        return;
      }
      break;
    case B_POST:
      if (br->failed || br->stopped || br->halted || br->run->pr->forced) break;
      if (block_run_checks(br, ck[WS_CHECKS_POST])) return;
      break;
    case B_DEFERRED:
      if (br->worked && !br->run->pr->forced && block_run_checks(br, ck[WS_CHECKS_DEFERRED]))
        return;
      break;
    case B_EXIT:
      if (!br->failed && !br->stopped && block_wait_delay(br, b->exit_delay)) return;
      break;
    case B_END:
    default:
      block_finish(br);
      return;
    }
  }
}

static block_run_t *block_start(ws_run_t *run, ws_block_t *b, k_fn k, void *ud) {
  block_run_t *br = ws__calloc(1, sizeof *br);
  br->run = run;
  br->b = b;
  br->k = k;
  br->ud = ud;
  br->cont.run = run;
  br->cont.c = b->checks[WS_CHECKS_CONT];
  br->cont.on_end = block_cont_end;
  return br;
}

/* ================================================================== plans */

typedef enum plan_phase {
  P_START,
  P_BYPASS,
  P_PRE,
  P_BLOCKS,
  P_DRAIN,
  P_POST,
  P_DEFERRED_ACTIONS,
  P_DEFERRED_CHECKS,
  P_END
} plan_phase_t;

typedef struct plan_runner {
  plan_run_t *pr;
  plan_phase_t phase;
  wait_kind_t waiting;
  size_t pending;
  cont_loop_t cont;
  size_t next_block;
  block_run_t *cur; /* the block running now */
  bool bypassed;
  /* what has failed so far, for the final reason */
  bool f_pre, f_cont, f_block, f_post, f_deferred_action, f_deferred_check;
} plan_runner_t;

static void plan_step(plan_runner_t *p);

static bool plan_failing(const plan_runner_t *p) {
  return p->f_pre || p->f_cont || p->f_block || p->f_post || p->pr->stopping;
}

static void plan_checks_done(void *ud, ws_node_t *child, ws_status_t st) {
  plan_runner_t *p = ud;
  ws_checks_t *c = (ws_checks_t *)child;
  bool bad = st == WS_FAILED; /* stopped (a forced stop) is not a failure */
  switch (c->kind) {
  case WS_CHECKS_BYPASS: p->bypassed = !bad; break;
  case WS_CHECKS_PRE: p->f_pre |= bad; break;
  case WS_CHECKS_CONT: p->f_cont |= bad; break;
  case WS_CHECKS_POST: p->f_post |= bad; break;
  case WS_CHECKS_DEFERRED: p->f_deferred_check |= bad; break;
  case WS_CHECKS_NKINDS: break;
  }
  if (--p->pending == 0) {
    p->waiting = W_NONE;
    plan_step(p);
  }
}

static void plan_cont_end(cont_loop_t *cl) {
  plan_runner_t *p = CONTAINER_OF(cl, plan_runner_t, cont);
  if (cl->failed && !p->f_cont) {
    p->f_cont = true;
    if (p->cur) block_halt(p->cur, true); /* acted on at once */
  }
  if (p->waiting == W_CHECKS && cl->runs == 1)
    plan_checks_done(p, &cl->c->node, cl->c->node.state.status);
  else if (p->waiting == W_DRAIN) {
    p->waiting = W_NONE;
    plan_step(p);
  }
}

static bool plan_run_checks(plan_runner_t *p, ws_checks_t *c) {
  if (!c) return false;
  p->waiting = W_CHECKS;
  p->pending = 1;
  checks_start(p->pr->run, c, plan_checks_done, p);
  return true;
}

static void plan_block_done(void *ud, ws_node_t *child, ws_status_t st);

/* Starts the next block, or returns false when the blocks are over. */
static bool plan_next_block(plan_runner_t *p) {
  ws_plan_t *plan = p->pr->plan;
  while (p->next_block < plan->nblocks && !plan_failing(p) &&
         is_done(plan->blocks[p->next_block]->node.state.status)) /* a resumed run */
    if (plan->blocks[p->next_block++]->node.state.status == WS_FAILED) p->f_block = true;
  if (p->next_block == plan->nblocks || plan_failing(p)) return false;
  p->waiting = W_CHILDREN;
  p->cur = block_start(p->pr->run, plan->blocks[p->next_block++], plan_block_done, p);
  block_step(p->cur); /* never ends the block before returning */
  return true;
}

static void plan_block_done(void *ud, ws_node_t *child, ws_status_t st) {
  WS__UNUSED(child);
  plan_runner_t *p = ud;
  p->cur = NULL;
  if (st == WS_FAILED) p->f_block = true;
  if (!plan_next_block(p)) {
    p->waiting = W_NONE;
    plan_step(p);
  }
}

static void plan_batch_done(void *ud, ws_node_t *child, ws_status_t st) {
  plan_runner_t *p = ud;
  if (st == WS_FAILED && ((ws_batch_t *)child)->fail_plan) p->f_deferred_action = true;
  if (--p->pending == 0) {
    p->waiting = W_NONE;
    plan_step(p);
  }
}

/* Batches chosen by `when` against how the plan has gone so far (a stop
** counts as not successful) run together; the rest stay not_started. */
static bool plan_run_batches(plan_runner_t *p) {
  ws_plan_t *plan = p->pr->plan;
  bool failing = plan_failing(p);
  p->pending = 0;
  for (size_t i = 0; i < plan->nbatches; i++) {
    ws_batch_t *b = plan->batches[i];
    bool chosen = b->when == WS_WHEN_ALWAYS || (b->when == WS_WHEN_ON_FAILURE) == failing;
    if (chosen && is_done(b->node.state.status)) { /* a resumed run: done before */
      if (b->node.state.status == WS_FAILED && b->fail_plan) p->f_deferred_action = true;
    } else if (chosen) {
      p->pending++;
    }
  }
  if (p->pending == 0) return false;
  p->waiting = W_CHILDREN;
  size_t left = p->pending; /* a batch never ends before seq_start returns */
  for (size_t i = 0; i < plan->nbatches && left; i++) {
    ws_when_t w = plan->batches[i]->when;
    if ((w == WS_WHEN_ALWAYS || (w == WS_WHEN_ON_FAILURE) == failing) &&
        !is_done(plan->batches[i]->node.state.status)) {
      left--;
      seq_start(p->pr->run, plan->batches[i], NULL, plan_batch_done, p);
    }
  }
  return true;
}

/* Status and reason: bypassed -> completed; otherwise the first failure in
** this order names the reason; a user stop with no failure before it -> stopped. */
static void plan_finish(plan_runner_t *p) {
  ws_plan_t *plan = p->pr->plan;
  ws_reason_t r = WS_REASON_NONE;
  if (!p->bypassed) {
    if (p->f_deferred_action) r = WS_REASON_DEFERRED_ACTION;
    else if (p->f_pre) r = WS_REASON_PRE_CHECK;
    else if (p->f_cont) r = WS_REASON_CONT_CHECK;
    else if (p->f_block) r = WS_REASON_BLOCK;
    else if (p->f_post) r = WS_REASON_POST_CHECK;
    else if (p->pr->stopping) r = WS_REASON_STOPPED;
    else if (p->f_deferred_check) r = WS_REASON_DEFERRED_CHECK;
  }
  plan->reason = r;
  ws__set_status(p->pr->run, &plan->node,
                 r == WS_REASON_NONE      ? WS_COMPLETED
                 : r == WS_REASON_STOPPED ? WS_STOPPED
                                          : WS_FAILED);
  ws__run_finished(p->pr->run);
}

static void plan_step(plan_runner_t *p) {
  ws_plan_t *plan = p->pr->plan;
  ws_checks_t *const *ck = plan->checks;
  for (;;) {
    if (p->pr->forced && p->phase < P_DRAIN) p->phase = P_DRAIN; /* see block_step */
    switch (p->phase++) {
    case P_START:
      ws__set_status(p->pr->run, &plan->node, WS_RUNNING);
      break;
    case P_BYPASS:
      if (!p->pr->stopping && plan_run_checks(p, ck[WS_CHECKS_BYPASS])) return;
      break;
    case P_PRE:
      if (p->bypassed) { /* everything else stays not_started */
        p->phase = P_END;
        break;
      }
      if (p->pr->stopping || !(ck[WS_CHECKS_PRE] || ck[WS_CHECKS_CONT])) break;
      p->waiting = W_CHECKS;
      p->pending = (ck[WS_CHECKS_PRE] != NULL) + (ck[WS_CHECKS_CONT] != NULL);
      if (ck[WS_CHECKS_PRE]) checks_start(p->pr->run, ck[WS_CHECKS_PRE], plan_checks_done, p);
      if (ck[WS_CHECKS_CONT]) cont_start(&p->cont);
      return;
    case P_BLOCKS:
      if (plan_next_block(p)) return;
      break;
    case P_DRAIN:
      if (ck[WS_CHECKS_CONT] && !cont_stop(&p->cont)) {
        p->waiting = W_DRAIN;
        return;
      }
      break;
    case P_POST:
      if (!plan_failing(p) && plan_run_checks(p, ck[WS_CHECKS_POST])) return;
      break;
    case P_DEFERRED_ACTIONS: /* not after a forced stop: left for a resume */
      if (!p->pr->forced && plan_run_batches(p)) return;
      break;
    case P_DEFERRED_CHECKS:
      if (!p->pr->forced && plan_run_checks(p, ck[WS_CHECKS_DEFERRED])) return;
      break;
    case P_END:
    default:
      plan_finish(p);
      return;
    }
  }
}

/* ============================================================ run-facing */

void ws__sched_start(ws_run_t *run) {
  plan_run_t *pr = ws__calloc(1, sizeof *pr);
  pr->run = run;
  pr->plan = run->plan;
  if (getrandom(&pr->prng, sizeof pr->prng, 0) != sizeof pr->prng || pr->prng == 0)
    pr->prng = 0x9E3779B97F4A7C15ULL ^ uv_hrtime();
  run->pr = pr;
  plan_runner_t *p = ws__calloc(1, sizeof *p);
  p->pr = pr;
  p->cont.run = run;
  p->cont.c = run->plan->checks[WS_CHECKS_CONT];
  p->cont.on_end = plan_cont_end;
  pr->root = p;
  plan_step(p);
}

void ws__sched_free(ws_run_t *run) {
  if (!run->pr) return;
  free(run->pr->to_start);
  free(run->pr->root);
  free(run->pr);
  run->pr = NULL;
}

/* Applies the stops asked for. Runs as deferred work, never inside the
** caller of ws_run_stop, which may be an event handler deep in the scheduler. */
static void apply_stop(ws__work_t *w) {
  plan_run_t *pr = CONTAINER_OF(w, plan_run_t, stop_work);
  pr->stop_queued = false;
  if (pr->run->finished) return;
  if (pr->want_stop && !pr->stopping) {
    pr->stopping = true;
    if (pr->root->cur) block_halt(pr->root->cur, true);
  }
  if (pr->want_force && !pr->forced) {
    pr->forced = true;
    /* Two passes: first cancel every call in flight (completions come later,
    ** through the deferred queue, so nothing is freed meanwhile); then end the
    ** actions waiting to retry, which ends only each of them. Nothing new
    ** starts once `forced` is set. */
    size_t waiting = 0;
    for (action_run_t *ar = pr->live; ar; ar = ar->next) {
      if (ar->call) action_force_stop(ar);
      else waiting++;
    }
    action_run_t **retrying = ws__calloc(waiting ? waiting : 1, sizeof *retrying);
    size_t n = 0;
    for (action_run_t *ar = pr->live; ar; ar = ar->next)
      if (!ar->call) retrying[n++] = ar;
    for (size_t i = 0; i < n; i++) action_force_stop(retrying[i]);
    free(retrying);
  }
}

int ws_run_stop(ws_run_t *run, bool force) {
  if (!run->started || run->finished) return UV_EINVAL;
  plan_run_t *pr = run->pr;
  pr->want_stop = true;
  pr->want_force |= force;
  if (!pr->stop_queued) {
    pr->stop_queued = true;
    ws__defer(run, &pr->stop_work, apply_stop);
  }
  return 0;
}
