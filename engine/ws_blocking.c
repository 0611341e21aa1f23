/*
** ws_blocking.c - blocking plugins on libuv's thread pool.
**
** The job owns a copy of the request, so the plan may be freed while a
** cancelled job still runs. A cancelled job is detached from its call: the
** call ends at once as cancelled, and the job's late result is freed when it
** comes back to the loop (libuv's after-work callback always runs, and keeps
** the loop alive until then).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"

typedef struct ws__job {
  uv_work_t work;
  ws_call_t *call; /* NULL once detached */
  const ws_plugin_def_t *def;
  json_t *req;
  volatile int cancelled;
  json_t *resp;
  ws_blocking_error_t err;
} ws__job_t;

static void job_run(uv_work_t *w) {
  ws__job_t *job = w->data;
  job->resp = job->def->run(job->def, job->req, &job->cancelled, &job->err);
}

static void job_free(ws__job_t *job) {
  json_decref(job->req);
  json_decref(job->resp);
  free(job);
}

static void job_done(uv_work_t *w, int status) {
  ws__job_t *job = w->data;
  ws_call_t *call = job->call;
  if (!call) { /* detached: nobody waits for this result */
    job_free(job);
    return;
  }
  call->job = NULL;
  if (status == UV_ECANCELED) {
    ws_call_fail(call, 0, "cancelled", "cancelled before it ran");
  } else if (job->resp) {
    ws_call_succeed(call, job->resp);
    job->resp = NULL;
  } else {
    ws_blocking_error_t *e = &job->err;
    e->code[sizeof e->code - 1] = e->msg[sizeof e->msg - 1] = '\0'; /* filled to the brim */
    ws_call_fail(call, e->permanent, e->code[0] ? e->code : NULL, "%s",
                 e->msg[0] ? e->msg : "the plugin failed without a message");
  }
  job_free(job);
}

int ws__blocking_start(ws_call_t *call) {
  ws__job_t *job = ws__calloc(1, sizeof *job);
  job->call = call;
  job->def = call->def;
  job->req = json_deep_copy(call->req);
  job->work.data = job;
  int rc = uv_queue_work(call->run->loop, &job->work, job_run, job_done);
  if (rc < 0) {
    job_free(job);
    return rc;
  }
  call->job = job;
  return 0;
}

void ws__blocking_cancel(ws_call_t *call) {
  ws__job_t *job = call->job;
  job->cancelled = 1;
  if (uv_cancel((uv_req_t *)&job->work) == 0) return; /* not started: job_done says so */
  job->call = NULL; /* running: end the attempt now, drop the late result */
  call->job = NULL;
  ws_call_fail(call, 0, "cancelled", "cancelled");
}
