/*
** ws_internal.h - what the engine's files share and nobody else sees.
*/
#ifndef WS_INTERNAL_H
#define WS_INTERNAL_H

#include <stdarg.h>
#include "workstream/engine.h"

#define WS__UNUSED(x) ((void)(x))

/* ------------------------------------------------------------- memory */

void *ws__malloc(size_t n);           /* aborts when out of memory */
void *ws__calloc(size_t n, size_t m); /* aborts when out of memory */
void *ws__realloc(void *p, size_t n); /* aborts when out of memory */
char *ws__strdup(const char *s);      /* NULL stays NULL */
char *ws__vasprintf(const char *fmt, va_list ap);
char *ws__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* UTF-8 (ws_utf8.c): whether s[0..n) is valid, and a repair in place that
** turns each byte of an invalid sequence into '?' (returns s; NULL stays NULL). */
/* The length of the valid UTF-8 sequence that starts s[0..n), or 0 when it is not one. */
size_t ws__utf8_seq_len(const unsigned char *s, size_t n);
bool ws__utf8_valid(const char *s, size_t n);
char *ws__utf8_repair(char *s);
/* Secrets (ws_secrets.c): collected when an action is resolved, scrubbed out
** of what its plugin produces. scrub returns a new string. */
void ws__collect_secrets(ws_action_t *a);
char *ws__scrub(const ws_action_t *a, const char *text);
void ws__scrub_json(const ws_action_t *a, json_t *v);

/* Frees an action's attempts and forgets its result. */
void ws__attempts_clear(ws_action_t *a);
/* Appends p to a growable array of pointers. */
void ws__push(void ***arr, size_t *n, void *p);

/* A new reference to one shared, empty json object, for the empty requests
** and responses of checked calls (most are {}: 200 bytes each otherwise).
** Never changed: only values that have passed their type check (which may
** add defaults) are swapped for it, by ws__json_share_empty. */
json_t *ws__json_empty(void);
/* If *v is an empty object, makes it the shared one; unshare gives the
** shared one back for a new empty object, before a check may fill it in. */
void ws__json_share_empty(json_t **v);
void ws__json_unshare_empty(json_t **v);

ws_error_t *ws__error_new(bool permanent, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ws_error_t *ws__error_newv(bool permanent, const char *code, const char *fmt, va_list ap);
void ws__error_free(ws_error_t *e);

/* ------------------------------------------------------ deferred work */

/* A unit of work queued on the run and executed on a later loop turn, in FIFO
** order. Completions go through here so that they never re-enter their
** caller and a chain of instant completions never deepens the C stack. */
typedef struct ws__work ws__work_t;
typedef void (*ws__work_fn)(ws__work_t *w);
struct ws__work {
  ws__work_t *next;
  ws__work_fn fn;
};

void ws__defer(ws_run_t *run, ws__work_t *w, ws__work_fn fn);

/* -------------------------------------------------------------- timers */

/* Engine timers run on the run's clock. They are plain structs owned by the
** caller (no libuv handle each): the run keeps them in one min-heap and arms
** a single uv_timer_t for the earliest, which is also what lets a virtual
** clock jump straight to the next due time. */
typedef struct ws__timer ws__timer_t;
typedef void (*ws__timer_fn)(ws__timer_t *t);
struct ws__timer {
  ws__timer_fn fn;
  double due;      /* run clock */
  uint64_t seq;    /* FIFO order among equal due times */
  size_t heap_idx; /* position + 1 in the heap, 0 when inactive */
};

/* Arms t to fire once after `seconds` (>= 0). Re-arming an active timer moves it. */
void ws__timer_start(ws_run_t *run, ws__timer_t *t, double seconds, ws__timer_fn fn);
void ws__timer_stop(ws_run_t *run, ws__timer_t *t); /* no-op when inactive */
static inline bool ws__timer_active(const ws__timer_t *t) { return t->heap_idx != 0; }

/* --------------------------------------------------------------- calls */

typedef void (*ws__call_done_fn)(ws_call_t *call, void *ud);

struct ws_call {
  ws__work_t work;
  ws_run_t *run;
  ws_action_t *action; /* the action of this attempt (a sub-call's too) */
  const ws_plugin_def_t *def;
  json_t *req;
  bool owns_req;       /* sub-calls own their request */
  bool waiting;        /* the plugin waits on the engine: not real work */
  ws_call_t *parent;   /* of a sub-call */
  ws_call_t *sub;      /* the sub-call in flight */
  ws_call_fn user_done; /* a sub-call's owner */
  void *user_ud;
  int attempt;
  double deadline;
  void *data;              /* the plugin's */
  bool completed;          /* ws_call_succeed/fail has run */
  bool cancelled;          /* the engine asked it to stop */
  json_t *resp;            /* result, owned until taken */
  ws_error_t *err;         /* result, owned until taken */
  ws__call_done_fn done;
  void *done_ud;
  ws__timer_t wait;        /* ws_call_sleep */
  ws_call_wait_fn wait_cb;
  ws__timer_t grace;       /* from a cancel to giving up on the plugin */
  bool abandoned;          /* the plugin ignored its cancel: the engine went on without it */
  struct ws__job *job;     /* a blocking plugin's run on the thread pool */
};

/* Blocking plugins (ws_blocking.c). */
int ws__blocking_start(ws_call_t *call);
void ws__blocking_cancel(ws_call_t *call);


/* Starts one attempt of action's plugin. done runs on a later loop turn with
** the result in call->resp / call->err (after the response type check); it
** takes what it keeps from them, then calls ws__call_free. Never fails: a
** plugin that refuses to start yields a failed result the same way. */
ws_call_t *ws__call_start(ws_run_t *run, ws_action_t *action, int attempt, double deadline,
                          ws__call_done_fn done, void *ud);
/* Asks the plugin to stop; the result still arrives through done. */
void ws__call_cancel(ws_call_t *call);
void ws__call_free(ws_call_t *call);

/* ---------------------------------------------------------------- runs */

struct ws__plan_run;

struct ws_run {
  uv_loop_t *loop;
  ws_plan_t *plan;
  const ws_registry_t *reg;
  ws_run_opts_t opts;
  ws_run_done_fn done;
  bool started, finished;

  /* deferred work */
  ws__work_t *work_head, *work_tail;
  uv_idle_t idle;
  ws__work_t finish_work;

  /* clock: wall time at start, then monotonic offsets (no jumps backwards);
  ** a virtual clock adds only the time it skipped (vnow) */
  double epoch0;
  uint64_t hrtime0;
  double vnow;          /* virtual: seconds since epoch0 */
  size_t real_pending;  /* calls doing real work: in flight and not in ws_call_sleep */
  uint64_t poll_mark;   /* virtual: uv_hrtime when the loop began to wait for real work */
  bool polling;         /* virtual: the loop is waiting (or in its I/O callbacks) */
  uv_prepare_t prepare; /* virtual: brackets the loop's waits, to let real time */
  uv_check_t check;     /*   flow while real work is pending, and only then */

  /* timers */
  ws__timer_t **heap;
  size_t heap_len, heap_cap;
  uint64_t timer_seq;
  uv_timer_t uv_timer;

  int handles_open; /* libuv handles still to close before free */
  char *store_error; /* the first storage error: the run was stopped */
  bool dirty;        /* updates not yet flushed */
  bool flush_queued;
  ws__work_t flush_work;
  ws_node_t **unsaved; /* objects changed since the last flush, each once */
  size_t nunsaved;
  bool free_pending;

  struct ws__plan_run *pr; /* the scheduler's state */
};

/* Sets n's status, stamps started/ended (a resumed object keeps its start),
** records it in the store and emits the state event. */
void ws__set_status(ws_run_t *run, ws_node_t *n, ws_status_t st);
/* Records n's state (with an action's attempts) in the store, if any. */
void ws__persist(ws_run_t *run, ws_node_t *n);
/* Commits what was recorded. false after a storage error. */
bool ws__flush(ws_run_t *run);
void ws__emit(ws_run_t *run, ws_event_kind_t kind, ws_node_t *n, const ws_attempt_t *att);
/* Called by the scheduler when the plan has ended: fires done on a later turn. */
void ws__run_finished(ws_run_t *run);
/* Under a virtual clock: makes sure the loop checks whether it may skip ahead. */
void ws__clock_poke(ws_run_t *run);
/* A call starts or stops doing real work (it is not waiting on the engine).
** Under a virtual clock, time flows at the real rate only while the loop waits
** for real work, and skips ahead to the next timer when none is pending. */
void ws__real_begin(ws_run_t *run);
void ws__real_end(ws_run_t *run);

/* The scheduler (ws_sched.c). */
void ws__sched_start(ws_run_t *run);
void ws__sched_free(ws_run_t *run);

/* The registry (ws_registry.c). Registers defs[0..n) all or none: every
** definition is checked (as by ws_registry_add, and that no name appears twice
** among them) before any init runs, and nothing is inserted until every init
** has succeeded. 0, or -1 with a message in err. */
int ws__registry_add_all(ws_registry_t *r, const ws_plugin_def_t *const *defs, size_t n,
                         char *err, size_t errlen);

/* The default backoff policy: 100 ms, x2, +/-50 %, 60 s max. */
extern const ws_retry_policy_t ws__default_retry;

#endif
