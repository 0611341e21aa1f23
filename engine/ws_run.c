/*
** ws_run.c - a run: its clock, timers, deferred work and events.
**
** The scheduler (ws_sched.c) decides what happens; this file provides the
** loop-facing machinery it stands on. A run owns four libuv handles: an idle
** handle that drains deferred work (and skips a virtual clock ahead), one timer
** armed for the earliest engine timer, and a prepare/check pair that lets a
** virtual clock count the time the loop waits for real work.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ws_internal.h"
#include "workstream/store.h"

const ws_retry_policy_t ws__default_retry = {0.1, 2.0, 0.5, 60.0};

/* ------------------------------------------------------------------ clock */

double ws_run_now(const ws_run_t *run) {
  if (!run->opts.virtual_clock) return run->epoch0 + (double)(uv_hrtime() - run->hrtime0) / 1e9;
  double flowing = run->polling ? (double)(uv_hrtime() - run->poll_mark) / 1e9 : 0;
  return run->epoch0 + run->vnow + flowing;
}

/* Virtual clock: the loop is about to wait. Real time counts only if it waits
** for real work; the CPU time of callbacks never counts, so a run without real
** work has exact times. */
static void before_poll(uv_prepare_t *h) {
  ws_run_t *run = h->data;
  if (run->real_pending) {
    run->polling = true;
    run->poll_mark = uv_hrtime();
  }
}

static void after_poll(uv_check_t *h) {
  ws_run_t *run = h->data;
  if (run->polling) {
    run->vnow += (double)(uv_hrtime() - run->poll_mark) / 1e9;
    run->polling = false;
  }
}

static void fire_due(ws_run_t *run, double now);

/* Virtual time moves only when nothing can run: no deferred work, no plugin
** doing real work. Then it jumps to the earliest timer. */
static bool may_skip_ahead(const ws_run_t *run) {
  return run->opts.virtual_clock && !run->work_head && run->real_pending == 0 &&
         run->heap_len > 0;
}

static void skip_ahead(ws_run_t *run) {
  double due = run->heap[0]->due - run->epoch0;
  if (due > run->vnow) run->vnow = due;
  fire_due(run, ws_run_now(run));
}

static void rearm(ws_run_t *run);

/* ------------------------------------------------------------ deferred work */

static void idle_cb(uv_idle_t *h) {
  ws_run_t *run = h->data;
  /* Drain what is queued now; work queued meanwhile waits for the next turn,
  ** so I/O callbacks are never starved by a chain of instant completions. */
  ws__work_t *w = run->work_head, *last = run->work_tail;
  run->work_head = run->work_tail = NULL;
  while (w) {
    ws__work_t *next = w->next;
    bool was_last = w == last;
    w->next = NULL;
    w->fn(w);
    if (was_last) break;
    w = next;
  }
  if (may_skip_ahead(run)) skip_ahead(run);
  if (!run->work_head && !may_skip_ahead(run)) uv_idle_stop(&run->idle);
}

void ws__clock_poke(ws_run_t *run) {
  if (may_skip_ahead(run)) uv_idle_start(&run->idle, idle_cb);
}

void ws__real_begin(ws_run_t *run) {
  if (run->real_pending++ == 0 && run->opts.virtual_clock) rearm(run);
}

void ws__real_end(ws_run_t *run) {
  if (--run->real_pending == 0 && run->opts.virtual_clock) rearm(run);
}

void ws__defer(ws_run_t *run, ws__work_t *w, ws__work_fn fn) {
  w->fn = fn;
  w->next = NULL;
  if (run->work_tail) run->work_tail->next = w;
  else run->work_head = w;
  run->work_tail = w;
  uv_idle_start(&run->idle, idle_cb); /* no-op when already started */
}

/* ----------------------------------------------------------------- timers */

static bool timer_before(const ws__timer_t *a, const ws__timer_t *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(ws_run_t *run, size_t i, ws__timer_t *t) {
  run->heap[i] = t;
  t->heap_idx = i + 1;
}

static void sift_up(ws_run_t *run, size_t i) {
  ws__timer_t *t = run->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!timer_before(t, run->heap[parent])) break;
    heap_set(run, i, run->heap[parent]);
    i = parent;
  }
  heap_set(run, i, t);
}

static void sift_down(ws_run_t *run, size_t i) {
  ws__timer_t *t = run->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= run->heap_len) break;
    if (c + 1 < run->heap_len && timer_before(run->heap[c + 1], run->heap[c])) c++;
    if (!timer_before(run->heap[c], t)) break;
    heap_set(run, i, run->heap[c]);
    i = c;
  }
  heap_set(run, i, t);
}

static void heap_remove(ws_run_t *run, ws__timer_t *t) {
  size_t i = t->heap_idx - 1;
  t->heap_idx = 0;
  ws__timer_t *last = run->heap[--run->heap_len];
  if (i == run->heap_len) return;
  heap_set(run, i, last);
  sift_down(run, i);
  sift_up(run, last->heap_idx - 1);
}

static void on_uv_timer(uv_timer_t *h);

/* Points the one libuv timer at the earliest engine timer. A virtual clock
** needs it only while real work is pending; otherwise the idle handle skips
** ahead. */
static void rearm(ws_run_t *run) {
  if (run->opts.virtual_clock && run->real_pending == 0) {
    uv_timer_stop(&run->uv_timer);
    ws__clock_poke(run);
    return;
  }
  if (run->heap_len == 0) {
    uv_timer_stop(&run->uv_timer);
    return;
  }
  double wait = run->heap[0]->due - ws_run_now(run);
  /* a far-off timer is re-armed when the libuv timer fires: no overflow */
  uint64_t ms = wait <= 0 ? 0 : wait > 86400.0 ? 86400000u : (uint64_t)ceil(wait * 1000.0);
  uv_timer_start(&run->uv_timer, on_uv_timer, ms, 0);
}

/* Fires, in time order, every timer due by `now` that was armed before this
** call: one re-armed with no delay waits for the next turn, so it cannot
** starve the loop. */
static void fire_due(ws_run_t *run, double now) {
  uint64_t armed_before = run->timer_seq;
  while (run->heap_len && run->heap[0]->due <= now && run->heap[0]->seq < armed_before) {
    ws__timer_t *t = run->heap[0];
    heap_remove(run, t);
    t->fn(t); /* may start or stop timers */
  }
  rearm(run);
}

static void on_uv_timer(uv_timer_t *h) {
  ws_run_t *run = h->data;
  /* libuv counts whole milliseconds; accept what is due within one. */
  fire_due(run, ws_run_now(run) + 0.001);
}

void ws__timer_start(ws_run_t *run, ws__timer_t *t, double seconds, ws__timer_fn fn) {
  if (t->heap_idx) heap_remove(run, t);
  t->fn = fn;
  t->due = ws_run_now(run) + (seconds > 0 ? seconds : 0);
  t->seq = run->timer_seq++;
  if (run->heap_len == run->heap_cap) {
    run->heap_cap = run->heap_cap ? run->heap_cap * 2 : 16;
    run->heap = ws__realloc(run->heap, run->heap_cap * sizeof *run->heap);
  }
  run->heap[run->heap_len++] = t;
  sift_up(run, run->heap_len - 1);
  if (run->heap[0] == t) rearm(run);
}

void ws__timer_stop(ws_run_t *run, ws__timer_t *t) {
  if (!t->heap_idx) return;
  bool was_first = run->heap[0] == t;
  heap_remove(run, t);
  if (was_first) rearm(run);
}

/* ----------------------------------------------------------------- events */

void ws__emit(ws_run_t *run, ws_event_kind_t kind, ws_node_t *n, const ws_attempt_t *att) {
  if (!run->opts.on_event) return;
  ws_event_t ev = {kind, n, n->state.status, ws_run_now(run), att, NULL};
  run->opts.on_event(&ev, run->opts.ud);
}

/* ----------------------------------------------------------------- store */

static void store_failed(ws_run_t *run, const char *what, const char *why) {
  if (run->store_error) return;
  run->store_error = ws__asprintf("%s: %s", what, why);
  ws_run_stop(run, true); /* nothing more could be recorded: stop now, stay resumable */
}

static void flush_later(ws__work_t *w) {
  ws_run_t *run = (ws_run_t *)((char *)w - offsetof(ws_run_t, flush_work));
  run->flush_queued = false;
  ws__flush(run);
}

/* Notes that n changed; what a loop turn changes is recorded and committed
** together at its end (and before any attempt starts), so nothing stays
** uncommitted while the run waits (a delay, a backoff, a long action). An
** object that changed several times is written once, in its last state. */
void ws__persist(ws_run_t *run, ws_node_t *n) {
  if (!run->opts.store || run->store_error) return;
  if (!n->unsaved) {
    n->unsaved = true;
    ws__push((void ***)&run->unsaved, &run->nunsaved, n);
  }
  run->dirty = true;
  if (!run->flush_queued) {
    run->flush_queued = true;
    ws__defer(run, &run->flush_work, flush_later);
  }
}

bool ws__flush(ws_run_t *run) {
  struct ws_store *s = run->opts.store;
  if (!s || run->store_error) return !run->store_error;
  if (!run->dirty) return true;
  char err[512];
  run->dirty = false;
  for (size_t i = 0; i < run->nunsaved; i++) {
    ws_node_t *n = run->unsaved[i];
    n->unsaved = false;
    if (!run->store_error && s->ops->update(s, n, err, sizeof err))
      store_failed(run, "cannot record the run", err);
  }
  free(run->unsaved); /* ws__push grows from empty again */
  run->unsaved = NULL;
  run->nunsaved = 0;
  if (run->store_error) return false;
  if (s->ops->flush(s, err, sizeof err)) {
    store_failed(run, "cannot commit the run", err);
    return false;
  }
  return true;
}

const char *ws_run_store_error(const ws_run_t *run) { return run->store_error; }

void ws__set_status(ws_run_t *run, ws_node_t *n, ws_status_t st) {
  double now = ws_run_now(run);
  if (st == WS_RUNNING) {
    if (n->state.started == 0 || n->type == WS_OBJ_CHECKS) n->state.started = now;
    n->state.ended = 0;
  } else if (st != WS_NOT_STARTED) {
    if (n->state.started == 0) n->state.started = now;
    n->state.ended = now;
  }
  n->state.status = st;
  ws__persist(run, n);
  ws__emit(run, WS_EV_STATE, n, NULL);
}

/* ---------------------------------------------------------------- lifecycle */

static int check_resolved(ws_node_t *n, void *ud) {
  WS__UNUSED(ud);
  return n->type == WS_OBJ_ACTION && ((ws_action_t *)n)->plugin == NULL;
}

ws_run_t *ws_run_new(uv_loop_t *loop, ws_plan_t *plan, const ws_registry_t *reg,
                     const ws_run_opts_t *opts, char *err, size_t errlen) {
  /* a fresh plan, one prepared to resume (ws_plan_prepare_resume), or one a
  ** retry seeded with completed sequences: never one that ended */
  ws_status_t st = plan->node.state.status;
  if (st != WS_NOT_STARTED && st != WS_RUNNING) {
    snprintf(err, errlen, "plan \"%s\" has already run; clone it for a new run",
             plan->node.name ? plan->node.name : "?");
    return NULL;
  }
  if (ws_plan_walk(plan, check_resolved, NULL)) {
    snprintf(err, errlen, "plan \"%s\" is not resolved against a registry",
             plan->node.name ? plan->node.name : "?");
    return NULL;
  }
  ws_run_t *run = ws__calloc(1, sizeof *run);
  run->loop = loop;
  run->plan = plan;
  run->reg = reg;
  if (opts) run->opts = *opts;
  uv_idle_init(loop, &run->idle);
  run->idle.data = run;
  uv_timer_init(loop, &run->uv_timer);
  run->uv_timer.data = run;
  uv_prepare_init(loop, &run->prepare);
  run->prepare.data = run;
  uv_check_init(loop, &run->check);
  run->check.data = run;
  run->handles_open = 4;
  return run;
}

int ws_run_start(ws_run_t *run, ws_run_done_fn done) {
  if (run->started) return UV_EALREADY;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  run->epoch0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  run->hrtime0 = uv_hrtime();
  run->started = true;
  run->done = done;
  if (run->opts.virtual_clock) {
    uv_prepare_start(&run->prepare, before_poll);
    uv_check_start(&run->check, after_poll);
    uv_unref((uv_handle_t *)&run->prepare); /* they watch the loop, they do not keep it alive */
    uv_unref((uv_handle_t *)&run->check);
  }
  ws__sched_start(run);
  return 0;
}

static void finish_cb(ws__work_t *w) {
  ws_run_t *run = (ws_run_t *)((char *)w - offsetof(ws_run_t, finish_work));
  ws__flush(run);
  run->finished = true;
  if (run->done) run->done(run, run->opts.ud);
}

void ws__run_finished(ws_run_t *run) { ws__defer(run, &run->finish_work, finish_cb); }

static void handle_closed(uv_handle_t *h) {
  ws_run_t *run = h->data;
  if (--run->handles_open == 0) {
    free(run->heap);
    free(run);
  }
}

void ws_run_free(ws_run_t *run) {
  if (!run) return;
  if (run->started && !run->finished) { /* its runners still own callbacks: leak, do not crash */
    fprintf(stderr, "workstream: internal error: a run in flight cannot be freed\n");
    return;
  }
  ws__sched_free(run);
  free(run->store_error);
  run->store_error = NULL;
  for (size_t i = 0; i < run->nunsaved; i++) run->unsaved[i]->unsaved = false;
  free(run->unsaved);
  run->unsaved = NULL;
  uv_close((uv_handle_t *)&run->idle, handle_closed);
  uv_close((uv_handle_t *)&run->uv_timer, handle_closed);
  uv_close((uv_handle_t *)&run->prepare, handle_closed);
  uv_close((uv_handle_t *)&run->check, handle_closed);
}

static void stop_loop(ws_run_t *run, void *ud) {
  WS__UNUSED(ud);
  uv_stop(run->loop);
}

int ws_run_plan(uv_loop_t *loop, ws_plan_t *plan, const ws_registry_t *reg,
                const ws_run_opts_t *opts, char *err, size_t errlen) {
  ws_run_t *run = ws_run_new(loop, plan, reg, opts, err, errlen);
  if (!run) return -1;
  ws_run_start(run, stop_loop);
  while (!run->finished) {
    if (uv_run(loop, UV_RUN_DEFAULT) == 0 && !run->finished) {
      snprintf(err, errlen, "internal error: the loop ran dry before the plan ended");
      return -1; /* the run is left as it is: freeing it could be worse */
    }
  }
  ws_run_free(run);
  uv_run(loop, UV_RUN_DEFAULT); /* close the run's handles, and what plugins still close */
  return 0;
}
