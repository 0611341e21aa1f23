/*
** plugins/check_exec.c - the built-in check "ws.check.exec": passes when a
** command exits with an accepted code (by default 0).
**
** It is ws.exec run as a check: the same request, response, validation and
** errors (see exec.c), the same implementation. Only the definition differs
** (is_check = 1), because the engine lets check plugins run only in checks
** and other plugins only in sequences and batches.
**
** The implementation is reached through ws_plugin_exec's public definition.
** The request and response types are ws.exec's own objects, shared through
** exec.h (a static initialiser cannot read them from another definition).
*/
#include <stddef.h>

#include "builtins.h"
#include "exec.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

/* ------------------------------------- the implementation is ws.exec's */

static int cexec_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  (void)def;
  return ws_plugin_exec.init ? ws_plugin_exec.init(&ws_plugin_exec, err, errlen) : 0;
}

static int cexec_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                          size_t errlen) {
  (void)def;
  return ws_plugin_exec.validate ? ws_plugin_exec.validate(&ws_plugin_exec, req, err, errlen) : 0;
}

/* The call's per-call slot, loop and request are all ws.exec needs. */
static int cexec_start(ws_call_t *call) { return ws_plugin_exec.start(call); }

static void cexec_cancel(ws_call_t *call) {
  if (ws_plugin_exec.cancel != NULL)
    ws_plugin_exec.cancel(call);
}

const ws_plugin_def_t ws_plugin_check_exec = {
  .abi = WS_PLUGIN_ABI,
  .name = "ws.check.exec",
  .descr = "Passes when a command exits with an accepted code (ok_codes, default {0}); "
           "ws.exec as a check",
  .is_check = 1,
  .request = &ws__exec_request_type,
  .response = &ws__exec_response_type,
  .retry = NULL,
  .init = cexec_init,
  .validate = cexec_validate,
  .start = cexec_start,
  .cancel = cexec_cancel,
  .ud = NULL,
};
