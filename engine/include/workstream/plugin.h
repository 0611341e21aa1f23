/*
** workstream/plugin.h - the public interface for native (C) plugins.
**
** A plugin is a ws_plugin_def_t: a name, whether it is a check, its request and
** response types (workstream/types.h), an optional retry policy, and a start
** function that begins one attempt ("a call") on the engine's libuv loop.
**
** The call protocol follows libuv's rules for requests:
**   - start(call) returning 0 means the call is in flight: the plugin must
**     complete it exactly once, with ws_call_succeed or ws_call_fail. It may do
**     so before start returns; the engine defers the completion to a later
**     loop turn, so completion never re-enters the plugin.
**   - start(call) returning a negative error (a UV_E* code) means the call
**     never started: the plugin must not complete it.
**   - cancel(call) asks an in-flight call to stop (timeout, forced stop). The
**     plugin still completes the call, promptly; the engine records it as
**     cancelled whatever it reports. Every asynchronous plugin has cancel.
**     A call not completed 5 s after its cancel is abandoned: the engine goes
**     on without it (and ignores a later completion).
**   - Breaking these rules (completing twice, completing and then returning
**     an error from start) fails the attempt permanently, as a plugin bug.
**
** A plugin that must block (a synchronous library, heavy CPU work) sets
** `run` instead of start/cancel: the engine calls it on libuv's thread pool.
**
** Ownership: the request is borrowed and valid until the call completes; the
** plugin never frees it. A response passed to ws_call_succeed is stolen. The
** call object belongs to the engine; it is invalid after completion.
*/
#ifndef WORKSTREAM_PLUGIN_H
#define WORKSTREAM_PLUGIN_H

#include <stdarg.h>
#include <uv.h>
#include <jansson.h>
#include "workstream/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever ws_plugin_def_t or the call API changes incompatibly. */
#define WS_PLUGIN_ABI 1

typedef struct ws_call ws_call_t;

/* Backoff between attempts, in seconds. jitter is a fraction: 0.5 = +/-50 %. */
typedef struct ws_retry_policy {
  double initial;
  double multiplier;
  double jitter;
  double max;
} ws_retry_policy_t;

typedef struct ws_plugin_def ws_plugin_def_t;

/* Where a blocking run reports its error. */
typedef struct ws_blocking_error {
  int permanent;  /* stop retrying */
  char code[64];  /* optional, "" when none */
  char msg[1024];
} ws_blocking_error_t;

struct ws_plugin_def {
  int abi;                        /* WS_PLUGIN_ABI */
  const char *name;               /* namespaced: "acme.deploy" */
  const char *descr;
  int is_check;                   /* check plugins run only in checks */
  const ws_type_t *request;       /* a WS_T_RECORD */
  const ws_type_t *response;      /* a WS_T_RECORD */
  const ws_retry_policy_t *retry; /* NULL: the engine's default */

  /* Optional: refuse to load when the environment is unfit. 0 or -1 + err. */
  int (*init)(const ws_plugin_def_t *def, char *err, size_t errlen);
  /* Optional: semantic checks beyond types, on a type-checked request. */
  int (*validate)(const ws_plugin_def_t *def, const json_t *req, char *err, size_t errlen);
  /* Asynchronous style: begin one attempt (see the protocol above) ... */
  int (*start)(ws_call_t *call);
  /* ... and ask it to stop (required with start). */
  void (*cancel)(ws_call_t *call);

  /* Blocking style, instead of start/cancel: runs one attempt on a thread of
  ** libuv's pool, on its own copy of the request (freed by the engine). It
  ** must not touch the loop nor call any ws_call_* function. It returns the
  ** response (the engine takes it), or NULL after filling *err.
  ** *cancelled becomes nonzero when the attempt times out or the run is
  ** stopped: the attempt has then already ended as cancelled, so return soon;
  ** what is returned after that is discarded (and freed). */
  json_t *(*run)(const ws_plugin_def_t *def, const json_t *req, const volatile int *cancelled,
                 ws_blocking_error_t *err);

  void *ud;                       /* the plugin's own, never touched by the engine */
};

/* --- for use inside start/cancel and until completion --- */

uv_loop_t *ws_call_loop(const ws_call_t *call);
const json_t *ws_call_request(const ws_call_t *call);  /* borrowed */
const ws_plugin_def_t *ws_call_plugin(const ws_call_t *call);
int ws_call_attempt(const ws_call_t *call);            /* 1 for the first attempt */
double ws_call_deadline(const ws_call_t *call);        /* engine clock, epoch seconds */
double ws_call_now(const ws_call_t *call);             /* engine clock, epoch seconds */
const char *ws_call_action_id(const ws_call_t *call);  /* UUID text */
const char *ws_call_plan_id(const ws_call_t *call);
void *ws_call_data(const ws_call_t *call);             /* the plugin's per-call slot */
void ws_call_set_data(ws_call_t *call, void *data);

/* Waits `seconds` on the engine's clock, then calls cb (on the loop). Under a
** virtual clock the wait costs no real time (and lasts at least 1 ms). One wait per call at a time
** (a new one replaces the old); completing the call drops a pending wait.
** A plugin that waits this way should implement cancel. Returns 0. */
typedef void (*ws_call_wait_fn)(ws_call_t *call);
int ws_call_sleep(ws_call_t *call, double seconds, ws_call_wait_fn cb);

/* Adds a line to the attempt's log (kept in the result, sent as an event). */
void ws_call_log(ws_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Completes the call with a response (stolen; it is type-checked by the engine). */
void ws_call_succeed(ws_call_t *call, json_t *resp);
/* Completes the call with an error. code may be NULL. A permanent error stops
** retries. The code "timeout" records the attempt as timed out. */
void ws_call_fail(ws_call_t *call, int permanent, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ws_call_failv(ws_call_t *call, int permanent, const char *code, const char *fmt,
                   va_list ap);

/* --- external plugins (shared objects loaded at run time) ---
**
** Every external plugin exports this one function. It writes the ABI it was
** built for (WS_PLUGIN_ABI) to *abi and returns a NULL-terminated array of
** definitions. The engine calls it when loading the file and reads the array
** only when *abi matches its own ABI.
**
** Ownership: the library owns the array and the definitions, static data that
** lives as long as the library is loaded; the engine never frees or changes
** them. A successfully loaded library is never unloaded (registries and plans
** keep pointers into it); a failed load unloads it.
**
** The library must not link the engine: ws_call_* and the types above come
** from the host process (wsrun, or the Lua module) when the library is
** loaded. Build it against `pkg-config workstream-plugin`. For example:
**
**   static const ws_plugin_def_t *const plugins[] = {&my_plugin, NULL};
**   const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
**     *abi = WS_PLUGIN_ABI;
**     return plugins;
**   }
**
** The declaration below exports the function even when the library is built
** with -fvisibility=hidden (recommended: nothing else of it needs exporting). */
#define WS_PLUGIN_ENTRY ws_plugin_entry
#define WS_PLUGIN_ENTRY_SYMBOL "ws_plugin_entry"
typedef const ws_plugin_def_t *const *(*ws_plugin_entry_fn)(int *abi);
__attribute__((visibility("default"))) const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi);

#ifdef __cplusplus
}
#endif
#endif
