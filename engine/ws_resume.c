/*
** ws_resume.c - a plan loaded from a store, made ready to run again.
**
** The states say how far the last runner got. Completed work stays done; what
** was in flight when it stopped runs again (at least once: plugins should be
** idempotent), its lost attempt kept and marked interrupted; what a stop left
** undone goes on. The scheduler then skips what is done (ws_sched.c).
*/
#include "ws_internal.h"

static void interrupt_last_attempt(ws_action_t *a) {
  if (!a->nattempts) return;
  ws_attempt_t *at = &a->attempts[a->nattempts - 1];
  if (at->ended != 0 || at->err || at->resp) return; /* it had finished */
  at->ended = at->started;
  at->interrupted = true;
  at->err = ws__error_new(false, "interrupted",
                          "interrupted: the runner stopped during this attempt; it runs again");
}

static int prepare(ws_node_t *n, void *ud) {
  (void)ud;
  ws_state_t *st = &n->state;
  if (st->status != WS_RUNNING && st->status != WS_STOPPED) return 0;
  switch (n->type) {
  case WS_OBJ_ACTION: {
    ws_action_t *a = (ws_action_t *)n;
    interrupt_last_attempt(a);
    a->resp = NULL;
    a->err = NULL;
    st->status = WS_NOT_STARTED; /* runs again; keeps its attempts and start */
    st->ended = 0;
    break;
  }
  case WS_OBJ_CHECKS:
    st->status = WS_NOT_STARTED; /* checks run again whole */
    st->ended = 0;
    break;
  default:
    st->status = WS_RUNNING; /* goes on from where it was */
    st->ended = 0;
    break;
  }
  return 0;
}

bool ws_plan_prepare_resume(ws_plan_t *p) {
  ws_status_t st = p->node.state.status;
  if (st == WS_COMPLETED || st == WS_FAILED) return false;
  if (st == WS_NOT_STARTED) return true; /* it never began: an ordinary first run */
  ws_plan_walk(p, prepare, NULL);
  p->reason = WS_REASON_NONE;
  return true;
}
