/*
** workstream/engine.h - the plan model, the plugin registry and runs.
**
** The engine knows nothing of Lua. A host (the Lua binding, a C test) builds a
** plan with the constructors below, starts a run on a libuv loop, observes its
** events and reads the resulting states from the same objects.
**
** Ownership: a plan owns everything below it. Strings passed to constructors
** are copied; json_t values passed in are stolen. ws_plan_free releases the
** whole tree. A run borrows its plan and registry; both must outlive it.
*/
#ifndef WORKSTREAM_ENGINE_H
#define WORKSTREAM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <jansson.h>
#include "workstream/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ model */

typedef enum ws_status {
  WS_NOT_STARTED = 0,
  WS_RUNNING,
  WS_COMPLETED,
  WS_FAILED,
  WS_STOPPED
} ws_status_t;

typedef enum ws_reason {
  WS_REASON_NONE = 0,
  WS_REASON_PRE_CHECK,
  WS_REASON_CONT_CHECK,
  WS_REASON_BLOCK,
  WS_REASON_POST_CHECK,
  WS_REASON_DEFERRED_CHECK,
  WS_REASON_DEFERRED_ACTION,
  WS_REASON_STOPPED,
  WS_REASON_EXCEED_RECOVERY
} ws_reason_t;

typedef enum ws_objtype {
  WS_OBJ_PLAN = 1,
  WS_OBJ_CHECKS,
  WS_OBJ_BLOCK,
  WS_OBJ_SEQUENCE,
  WS_OBJ_BATCH,
  WS_OBJ_ACTION
} ws_objtype_t;

/* The five checks slots of a plan or block, in the order they are walked. */
typedef enum ws_checks_kind {
  WS_CHECKS_BYPASS = 0,
  WS_CHECKS_PRE,
  WS_CHECKS_CONT,
  WS_CHECKS_POST,
  WS_CHECKS_DEFERRED,
  WS_CHECKS_NKINDS
} ws_checks_kind_t;

typedef enum ws_when { WS_WHEN_ON_SUCCESS = 1, WS_WHEN_ON_FAILURE, WS_WHEN_ALWAYS } ws_when_t;

typedef enum ws_stop_mode { WS_STOP_SEQUENCE = 0, WS_STOP_ACTION } ws_stop_mode_t;

#define WS_UUID_STRLEN 36

typedef struct ws_state {
  ws_status_t status;
  double started; /* epoch seconds on the run's clock; 0 = not yet */
  double ended;
} ws_state_t;

/* Common head of every object; the `type` says which struct it starts. */
typedef struct ws_node ws_node_t;
struct ws_node {
  ws_objtype_t type;
  char id[WS_UUID_STRLEN + 1]; /* UUIDv7, assigned on creation */
  char *name;                  /* NULL for checks */
  char *descr;                 /* may be NULL */
  char *key;                   /* may be NULL; unique in a plan */
  ws_node_t *parent;
  ws_state_t state;
  uint32_t pos; /* index in ws_plan_walk order, set by ws_plan_resolve (stores name objects by it) */
  bool unsaved; /* the engine's: changed since the store last recorded it */
};

/* A plugin's error, as recorded: the plugin's own message. */
typedef struct ws_error {
  char *msg;
  char *code; /* may be NULL */
  bool permanent;
} ws_error_t;

typedef struct ws_attempt {
  json_t *resp;    /* on success (owned) */
  ws_error_t *err; /* on failure (owned) */
  double started, ended;
  bool timed_out;
  bool interrupted; /* the runner stopped (a crash) during it; it does not count as a retry */
  char **log;      /* lines the plugin logged (owned) */
  size_t nlog;
} ws_attempt_t;

typedef struct ws_action {
  ws_node_t node;
  char *plugin_name;
  const ws_plugin_def_t *plugin; /* resolved by ws_plan_resolve */
  json_t *req;                   /* owned, type-checked */
  double timeout;                /* seconds per attempt, > 0 */
  int retries;                   /* extra attempts, >= 0 */
  bool has_retry;                /* retry overrides the plugin's policy */
  ws_retry_policy_t retry;
  ws_attempt_t *attempts;
  size_t nattempts;
  json_t *resp;    /* the successful response (borrowed from the last attempt) */
  ws_error_t *err; /* the last error when failed (borrowed from the last attempt) */
  char **secrets;  /* the request's secret values, scrubbed from plugin output */
  size_t nsecrets;
} ws_action_t;

typedef struct ws_checks {
  ws_node_t node;
  ws_checks_kind_t kind;
  double delay; /* cont checks: seconds between runs */
  ws_action_t **actions;
  size_t nactions;
} ws_checks_t;

typedef struct ws_sequence {
  ws_node_t node; /* WS_OBJ_SEQUENCE or WS_OBJ_BATCH */
  ws_action_t **actions;
  size_t nactions;
  /* batches only */
  ws_when_t when;
  bool fail_plan;
} ws_sequence_t;

typedef ws_sequence_t ws_batch_t;

/* tolerated_failures: a count, -1 for unlimited, or a percentage of sequences. */
typedef struct ws_budget {
  int64_t count;
  bool percent;
} ws_budget_t;

typedef struct ws_block {
  ws_node_t node;
  ws_checks_t *checks[WS_CHECKS_NKINDS];
  int concurrency;
  ws_budget_t tolerated;
  double entrance_delay, exit_delay;
  ws_stop_mode_t stop;
  ws_sequence_t **sequences;
  size_t nsequences;
} ws_block_t;

typedef struct ws_plan {
  ws_node_t node;
  char *group;
  json_t *meta; /* owned, opaque */
  ws_checks_t *checks[WS_CHECKS_NKINDS];
  ws_block_t **blocks;
  size_t nblocks;
  ws_batch_t **batches; /* deferred actions */
  size_t nbatches;
  ws_reason_t reason;
} ws_plan_t;

/* Constructors. Each returns NULL only when out of memory. */
ws_plan_t *ws_plan_new(const char *name, const char *descr);
ws_block_t *ws_block_new(const char *name, const char *descr);
ws_sequence_t *ws_sequence_new(const char *name, const char *descr);
ws_batch_t *ws_batch_new(const char *name, const char *descr, ws_when_t when, bool fail_plan);
ws_checks_t *ws_checks_new(ws_checks_kind_t kind, double delay);
/* req is stolen (NULL means an empty object). */
ws_action_t *ws_action_new(const char *name, const char *descr, const char *plugin,
                           json_t *req);

/* Adders: the parent takes ownership of the child. They return 0 (the engine
** aborts when out of memory). A slot setter replaces (and frees) what was there. */
int ws_plan_add_block(ws_plan_t *p, ws_block_t *b);
int ws_plan_add_batch(ws_plan_t *p, ws_batch_t *b);
void ws_plan_set_checks(ws_plan_t *p, ws_checks_t *c);   /* slot = c->kind */
int ws_block_add_sequence(ws_block_t *b, ws_sequence_t *s);
void ws_block_set_checks(ws_block_t *b, ws_checks_t *c); /* slot = c->kind */
int ws_sequence_add_action(ws_sequence_t *s, ws_action_t *a);
int ws_checks_add_action(ws_checks_t *c, ws_action_t *a);
int ws_node_set_key(ws_node_t *n, const char *key);

void ws_plan_free(ws_plan_t *p);

/* Points a->resp / a->err at what its last attempt says for status st: the
** response when completed, the plugin's error when failed or stopped. */
void ws_action_settle(ws_action_t *a, ws_status_t st);

/* Walks every object in the documented order (plan, its checks, blocks with
** their checks and sequences, deferred batches), parents before children.
** Stops early and returns fn's value when fn returns nonzero. */
typedef int (*ws_walk_fn)(ws_node_t *n, void *ud);
int ws_plan_walk(ws_plan_t *p, ws_walk_fn fn, void *ud);

/* "block/sequence/action" by names; checks appear as "pre_checks" etc.
** Writes at most len bytes; returns buf. */
char *ws_node_path(const ws_node_t *n, char *buf, size_t len);

const char *ws_status_name(ws_status_t s);
const char *ws_reason_name(ws_reason_t r);
const char *ws_objtype_name(ws_objtype_t t);
const char *ws_checks_kind_name(ws_checks_kind_t k); /* "bypass", "pre", ... */

/* Writes a new UUIDv7 (36 chars + NUL). Monotonic within a process. */
void ws_uuid7(char out[WS_UUID_STRLEN + 1]);

/* --------------------------------------------------------------- registry */

typedef struct ws_registry ws_registry_t;

ws_registry_t *ws_registry_new(void);
void ws_registry_free(ws_registry_t *r);
/* Registers a borrowed definition (it must outlive the registry). Checks the
** ABI, the name, the types and the retry policy, then runs init.
** 0, or -1 with a message in err. */
int ws_registry_add(ws_registry_t *r, const ws_plugin_def_t *def, char *err, size_t errlen);
const ws_plugin_def_t *ws_registry_find(const ws_registry_t *r, const char *name);
/* Forgets a plugin (its definition stays the owner's). 0, or -1 when absent.
** Plans already resolved against r keep pointing at the definition. */
int ws_registry_remove(ws_registry_t *r, const char *name);
size_t ws_registry_count(const ws_registry_t *r);
const ws_plugin_def_t *ws_registry_at(const ws_registry_t *r, size_t i); /* by name order */

/* Loads an external plugin library (see WS_PLUGIN_ENTRY in plugin.h) and
** registers every plugin it defines, all or none: each definition is checked
** as by ws_registry_add (and no name may appear twice) before any init runs,
** and nothing is registered unless every init succeeds. On failure the
** library is unloaded; on success it stays loaded for the life of the process.
** A path without a '/' names a file in the current directory (dlopen's own
** library search is not used). Plugins take the engine's symbols from the
** host: an executable must link the whole engine and export it (CMake:
** ws_plugin_host in engine/CMakeLists.txt); a shared object containing the
** engine (the Lua module) is made global on the first load.
** 0, or -1 with a message in err that starts with the path. */
int ws_registry_load(ws_registry_t *r, const char *path, char *err, size_t errlen);

/* Opens a plugin library as ws_registry_load does (same checks of the entry
** point and the ABI, same symbol resolution against the host) and returns its
** definition named `name`, without registering it or running its init: for a
** host that loads the implementation of a plugin only when it is first used
** (ws.check.http and libcurl). The library stays loaded for the life of the
** process; it is unloaded again when it does not define `name`.
** The definition, or NULL with a message in err that starts with the path. */
const ws_plugin_def_t *ws_plugin_open(const char *path, const char *name, char *err,
                                      size_t errlen);

/* Loads, with ws_registry_load, every "*.so" file (not hidden) in each
** directory of a colon-separated search path such as WS_PLUGIN_PATH: the
** directories in the order given, the files of each in byte order of their
** names. Empty entries, missing directories and a directory listed twice are
** skipped. Stops at the first file that fails to load (files loaded before it
** stay registered). 0, or -1 with a message naming the file or directory. */
int ws_registry_load_path(ws_registry_t *r, const char *search_path, char *err, size_t errlen);

/* Type-checks and validates a request for a plugin, in place (defaults are
** filled). root names the path prefix ("req"). 0, or -1 with a message. */
int ws_request_check(const ws_plugin_def_t *def, json_t **req, const char *root, char *err,
                     size_t errlen);

/* A copy of v (new reference) in which the values that type t marks secret
** are replaced by "<redacted>": what may be shown, stored or reported. */
json_t *ws_redacted(const ws_type_t *t, const json_t *v);

/* Resolves every action's plugin and checks every request and the rules that
** span the plan (check plugins only in checks, unique keys). 0, or -1 with a
** message naming the object path. */
int ws_plan_resolve(ws_plan_t *p, const ws_registry_t *r, char *err, size_t errlen);

/* ------------------------------------------------------------------- runs */

typedef enum ws_event_kind {
  WS_EV_STATE = 1, /* an object changed status */
  WS_EV_ATTEMPT,   /* an action attempt ended (node is the action) */
  WS_EV_LOG        /* a plugin logged a line (node is the action) */
} ws_event_kind_t;

typedef struct ws_event {
  ws_event_kind_t kind;
  ws_node_t *node;
  ws_status_t status;
  double time;
  const ws_attempt_t *attempt; /* WS_EV_ATTEMPT, WS_EV_LOG */
  const char *msg;             /* WS_EV_LOG */
} ws_event_t;

/* Event handlers run inside the scheduler: they may read the model and call
** ws_run_stop, nothing else of the run. */
typedef void (*ws_event_fn)(const ws_event_t *ev, void *ud);

typedef struct ws_run ws_run_t;
typedef void (*ws_run_done_fn)(ws_run_t *run, void *ud);
struct ws_store; /* workstream/store.h */

typedef struct ws_run_opts {
  ws_event_fn on_event; /* may be NULL */
  void *ud;             /* passed to on_event and done */
  /* Virtual clock: engine time (delays, backoff, timeouts, cont checks,
  ** ws_call_sleep) jumps to the next timer whenever nothing else can run and
  ** no plugin does real work, so hours of waiting take no real time and the
  ** recorded times are exact. Real work (a process) still takes real time. */
  bool virtual_clock;
  /* Where every state change is recorded (NULL: nowhere). The run must have
  ** been created in it (ops->create). Changes are committed in groups, and
  ** always before an attempt starts, so a crash loses at most the outcome of
  ** the attempts in flight. A storage error stops the run (forced): see
  ** ws_run_store_error. */
  struct ws_store *store;
} ws_run_opts_t;

/* Creates a run of a resolved plan (see ws_plan_resolve) on loop. A plan runs
** once: a plan that is not entirely not_started is refused (NULL, message). */
ws_run_t *ws_run_new(uv_loop_t *loop, ws_plan_t *plan, const ws_registry_t *reg,
                     const ws_run_opts_t *opts, char *err, size_t errlen);
/* Starts it. done runs once, on the loop, when the plan has ended. Returns 0,
** or a negative UV error (then done never runs). */
int ws_run_start(ws_run_t *run, ws_run_done_fn done);
/* Stops a run. Graceful (force false): no new sequence or action starts;
** running actions finish, each block's stop mode applies, deferred actions
** and deferred checks still run, the plan ends stopped. Forced: also cancels
** the running actions and starts nothing more (deferred actions left
** not_started). The stop takes effect on the next loop turn, so it is safe
** to call from an event handler. 0, or UV_EINVAL when the run is not in flight. */
int ws_run_stop(ws_run_t *run, bool force);
/* Frees a run that is not in flight (never started, or done has run). The
** run's loop handles are closed; run the loop once more to finish closing. */
void ws_run_free(ws_run_t *run);

/* Convenience for hosts and tests: new + start + uv_run until done + free,
** then uv_run again until the loop is idle (the run's handles close), so any
** other referenced handle of the host on this loop must be closed or
** unreferenced first. Returns 0 when the plan ran (whatever its status), -1
** with a message. */
int ws_run_plan(uv_loop_t *loop, ws_plan_t *plan, const ws_registry_t *reg,
                const ws_run_opts_t *opts, char *err, size_t errlen);

double ws_run_now(const ws_run_t *run);

/* The first storage error of the run, or NULL. */
const char *ws_run_store_error(const ws_run_t *run);

/* Prepares a plan whose states were loaded from a store (ops->load) to run
** again: the attempt in flight when its runner stopped is recorded as
** interrupted and the action will run again (at least once, then); checks
** in flight run again whole; what was stopped continues. Completed work is
** never redone. Returns false when the plan has nothing left to do: it
** completed or failed (a failed run is retried as a new run, not resumed). */
bool ws_plan_prepare_resume(ws_plan_t *p);

/* -------------------------------------------------------------- sub-calls */

/* For hosts that run plugins written in another language (the Lua binding):
** a plugin's call may call another plugin. */
typedef void (*ws_call_fn)(ws_call_t *call, void *ud);

/* Starts plugin def with req (stolen; already checked with ws_request_check)
** as a sub-call of parent: same action, attempt and deadline. The parent
** waits on the engine meanwhile (a virtual clock may skip ahead). done runs
** once, on a later loop turn, with the result readable through
** ws_call_response/ws_call_error; then release the sub-call. Never fails: a
** plugin that refuses to start gives a failed result the same way. */
ws_call_t *ws_call_start_sub(ws_call_t *parent, const ws_plugin_def_t *def, json_t *req,
                             ws_call_fn done, void *ud);
const json_t *ws_call_response(const ws_call_t *call); /* borrowed; NULL on failure */
const ws_error_t *ws_call_error(const ws_call_t *call); /* borrowed; NULL on success */
/* Asks a sub-call in flight to stop; done still runs. */
void ws_call_cancel(ws_call_t *call);
/* Frees a sub-call whose done has run. */
void ws_call_release(ws_call_t *call);

#ifdef __cplusplus
}
#endif
#endif
