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
*/
#include <stdio.h>
#include <stdlib.h>
#include "ws_internal.h"

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

/* A second completion is a plugin bug; the first result stands. */
static bool claim_completion(ws_call_t *call) {
  if (call->completed) {
    fprintf(stderr, "workstream: plugin \"%s\" completed a call twice; ignoring the second\n",
            call->def->name);
    return false;
  }
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
  call->err = ws__error_newv(permanent != 0, code, fmt, ap);
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
  if (rc < 0 && !call->completed)
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
  if (call->completed) return;
  ws_action_t *a = call->action;
  ws_attempt_t *att = &a->attempts[a->nattempts - 1];
  va_list ap;
  va_start(ap, fmt);
  char *raw = ws__vasprintf(fmt, ap);
  va_end(ap);
  char *line = ws__scrub(a, raw);
  free(raw);
  ws__push((void ***)&att->log, &att->nlog, line);
  if (call->run->opts.on_event) {
    ws_event_t ev = {WS_EV_LOG, &a->node, a->node.state.status, ws_run_now(call->run), att, line};
    call->run->opts.on_event(&ev, call->run->opts.ud);
  }
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
}

void ws__call_free(ws_call_t *call) {
  if (call->owns_req) json_decref(call->req);
  json_decref(call->resp);
  ws__error_free(call->err);
  free(call);
}
