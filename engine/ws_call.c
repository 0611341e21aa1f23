/*
** ws_call.c - one attempt of one plugin: the engine side of plugin.h.
**
** A call completes exactly once. Its result is handed to its owner (the
** scheduler, or the parent call of a sub-call) on a later loop turn, through
** the run's deferred queue, after the response has been checked against the
** plugin's response type.
**
** For the virtual clock a call is "real work" from its start until it
** completes, except while it waits on the engine (ws_call_sleep, a sub-call).
**
** A plugin that breaks the protocol must not break the run: two completions,
** or a completion followed by an error from start, fail the attempt
** permanently (its result is still waiting in the deferred queue then). A
** plugin that does not complete within CANCEL_GRACE of a cancel is abandoned:
** the attempt ends as cancelled and the call object is kept for ever, so that
** a late completion is ignored rather than written to freed memory.
*/
#include <stdio.h>
#include <stdlib.h>
#include "ws_internal.h"

/* Longer than any built-in plugin takes to stop (ws.exec: SIGTERM, SIGKILL 2 s
** later, then at most 2 s for its pipes). */
#define CANCEL_GRACE 5.0

uv_loop_t *ws_call_loop(const ws_call_t *call) { return call->run->loop; }
const json_t *ws_call_request(const ws_call_t *call) { return call->req; }
const ws_plugin_def_t *ws_call_plugin(const ws_call_t *call) { return call->def; }
int ws_call_attempt(const ws_call_t *call) { return call->attempt; }
double ws_call_deadline(const ws_call_t *call) { return call->deadline; }
double ws_call_now(const ws_call_t *call) { return ws_run_now(call->run); }
const char *ws_call_action_id(const ws_call_t *call) { return call->action->node.id; }
const char *ws_call_plan_id(const ws_call_t *call) { return call->run->plan->node.id; }
void *ws_call_data(const ws_call_t *call) { return call->data; }
void ws_call_set_data(ws_call_t *call, void *data) { call->data = data; }

/* The plugin waits on the engine (a sleep, a sub-call) or works again. */
static void wait_enter(ws_call_t *call) {
  if (call->waiting) return;
  call->waiting = true;
  ws__real_end(call->run);
}

static void wait_leave(ws_call_t *call) {
  if (!call->waiting) return;
  call->waiting = false;
  ws__real_begin(call->run);
}

static void call_finish(ws__work_t *w) {
  ws_call_t *call = (ws_call_t *)w; /* work is the first member */
  if (call->resp) {
    char why[512];
    if (ws_type_check(call->def->response, &call->resp, "resp", why, sizeof why)) {
      json_decref(call->resp);
      call->resp = NULL;
      call->err = ws__error_new(true, "bad_response", "plugin \"%s\" returned a bad response: %s",
                                call->def->name, why);
    } else {
      ws__json_share_empty(&call->resp);
    }
  }
  call->done(call, call->done_ud);
}

/* Replaces the result of a completed call that is not delivered yet. */
static void plugin_bug(ws_call_t *call, const char *what) {
  json_decref(call->resp);
  call->resp = NULL;
  ws__error_free(call->err);
  call->err = ws__error_new(true, "plugin_bug", "plugin \"%s\" %s (a plugin bug)",
                            call->def->name, what);
}

/* A second completion is a plugin bug that fails the attempt; one after the
** call was abandoned comes too late to matter (and the run may be gone). */
static bool claim_completion(ws_call_t *call) {
  if (call->abandoned) return false;
  if (call->completed) {
    plugin_bug(call, "completed a call twice");
    return false;
  }
  ws__timer_stop(call->run, &call->grace);
  if (call->sub) { /* a plugin bug: it completed while its sub-call runs */
    call->sub->parent = NULL;
    ws__call_cancel(call->sub);
    call->sub = NULL;
  }
  ws__timer_stop(call->run, &call->wait);
  if (!call->waiting) ws__real_end(call->run);
  call->waiting = false;
  call->completed = true;
  return true;
}

void ws_call_succeed(ws_call_t *call, json_t *resp) {
  if (!claim_completion(call)) {
    json_decref(resp);
    return;
  }
  call->resp = resp ? resp : json_object();
  ws__defer(call->run, &call->work, call_finish);
}

void ws_call_failv(ws_call_t *call, int permanent, const char *code, const char *fmt,
                   va_list ap) {
  if (!claim_completion(call)) return;
  if (fmt) call->err = ws__error_newv(permanent != 0, code, fmt, ap);
  else call->err = ws__error_new(permanent != 0, code, "plugin \"%s\" failed without a message",
                                 call->def->name);
  ws__defer(call->run, &call->work, call_finish);
}

void ws_call_fail(ws_call_t *call, int permanent, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ws_call_failv(call, permanent, code, fmt, ap);
  va_end(ap);
}

static ws_call_t *call_new(ws_run_t *run, ws_action_t *action, const ws_plugin_def_t *def,
                           ws__call_done_fn done, void *ud) {
  ws_call_t *call = ws__calloc(1, sizeof *call);
  call->run = run;
  call->action = action;
  call->def = def;
  call->done = done;
  call->done_ud = ud;
  return call;
}

static void call_begin(ws_call_t *call) {
  ws__real_begin(call->run);
  int rc = call->def->run ? ws__blocking_start(call) : call->def->start(call);
  if (rc < 0 && call->completed)
    plugin_bug(call, "completed a call and then returned an error from start");
  else if (rc < 0)
    ws_call_fail(call, 0, uv_err_name(rc), "plugin \"%s\" could not start: %s", call->def->name,
                 uv_strerror(rc));
}

ws_call_t *ws__call_start(ws_run_t *run, ws_action_t *action, int attempt, double deadline,
                          ws__call_done_fn done, void *ud) {
  ws_call_t *call = call_new(run, action, action->plugin, done, ud);
  call->req = action->req;
  call->attempt = attempt;
  call->deadline = deadline;
  call_begin(call);
  return call;
}

static void wait_over(ws__timer_t *t) {
  ws_call_t *call = (ws_call_t *)(void *)((char *)t - offsetof(ws_call_t, wait));
  wait_leave(call);
  call->wait_cb(call);
}

int ws_call_sleep(ws_call_t *call, double seconds, ws_call_wait_fn cb) {
  if (call->completed) return UV_EINVAL;
  /* Under a virtual clock a plugin polling with zero waits would stop time;
  ** each wait moves it at least a millisecond. */
  if (call->run->opts.virtual_clock && !(seconds >= 0.001)) seconds = 0.001;
  wait_enter(call);
  call->wait_cb = cb;
  ws__timer_start(call->run, &call->wait, seconds, wait_over);
  return 0;
}

void ws_call_log(ws_call_t *call, const char *fmt, ...) {
  if (call->completed || !fmt) return;
  ws_action_t *a = call->action;
  ws_attempt_t *att = &a->attempts[a->nattempts - 1];
  va_list ap;
  va_start(ap, fmt);
  char *raw = ws__utf8_repair(ws__vasprintf(fmt, ap));
  va_end(ap);
  char *line = ws__scrub(a, raw);
  free(raw);
  ws__push((void ***)&att->log, &att->nlog, line);
  if (call->run->opts.on_event) {
    ws_event_t ev = {WS_EV_LOG, &a->node, a->node.state.status, ws_run_now(call->run), att, line};
    call->run->opts.on_event(&ev, call->run->opts.ud);
  }
}

/* ---------------------------------------------------------- cancelling */

static void cancel_ignored(ws__timer_t *t) {
  ws_call_t *call = (ws_call_t *)(void *)((char *)t - offsetof(ws_call_t, grace));
  fprintf(stderr, "workstream: plugin \"%s\" did not complete a call within %gs of its cancel; "
          "the call is abandoned\n", call->def->name, CANCEL_GRACE);
  ws_call_fail(call, 0, "cancelled", "plugin \"%s\" did not complete the call within %gs of its "
               "cancel (a plugin bug)", call->def->name, CANCEL_GRACE);
  call->abandoned = true;
}

/* A cancelled call has CANCEL_GRACE to complete, unless it waits on a
** sub-call: that one is watched, and the wait starts again when it returns. */
static void arm_grace(ws_call_t *call) {
  if (!call->completed && !call->sub)
    ws__timer_start(call->run, &call->grace, CANCEL_GRACE, cancel_ignored);
}

/* ------------------------------------------------------------- sub-calls */

static void sub_done(ws_call_t *sub, void *ud) {
  WS__UNUSED(ud);
  ws_call_t *parent = sub->parent;
  if (!parent) { /* orphaned: nobody reads the result */
    ws__call_free(sub);
    return;
  }
  parent->sub = NULL;
  wait_leave(parent);
  sub->user_done(sub, sub->user_ud);
  if (parent->cancelled) arm_grace(parent); /* it was waiting on the sub-call to end */
}

ws_call_t *ws_call_start_sub(ws_call_t *parent, const ws_plugin_def_t *def, json_t *req,
                             ws_call_fn done, void *ud) {
  ws_call_t *sub = call_new(parent->run, parent->action, def, sub_done, NULL);
  sub->req = req;
  sub->owns_req = true;
  sub->attempt = parent->attempt;
  sub->deadline = parent->deadline;
  sub->parent = parent;
  sub->user_done = done;
  sub->user_ud = ud;
  parent->sub = sub;
  wait_enter(parent);
  call_begin(sub);
  return sub;
}

const json_t *ws_call_response(const ws_call_t *call) { return call->resp; }
const ws_error_t *ws_call_error(const ws_call_t *call) { return call->err; }
void ws_call_cancel(ws_call_t *call) { ws__call_cancel(call); }
void ws_call_release(ws_call_t *call) { ws__call_free(call); }

void ws__call_cancel(ws_call_t *call) {
  if (call->completed || call->cancelled) return;
  call->cancelled = true;
  if (call->job) ws__blocking_cancel(call);
  else call->def->cancel(call); /* required of asynchronous plugins */
  arm_grace(call);
}

void ws__call_free(ws_call_t *call) {
  if (call->abandoned) { /* the plugin may still hold it: keep it, drop what it carried */
    json_decref(call->resp);
    ws__error_free(call->err);
    call->resp = NULL;
    call->err = NULL;
    return;
  }
  if (call->owns_req) json_decref(call->req);
  json_decref(call->resp);
  ws__error_free(call->err);
  free(call);
}
