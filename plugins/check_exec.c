/*
** plugins/check_exec.c - the built-in check "ws.check.exec": passes when a
** command exits with an accepted code (by default 0).
**
** It is ws.exec run as a check: the same request, response, validation and
** errors (see exec.c), the same implementation. Only the definition differs
** (is_check = 1), because the engine lets check plugins run only in checks
** and other plugins only in sequences and batches.
**
** The implementation is reached through ws_plugin_exec's public definition,
** so exec.c needs no change. The request and response types are declared
** again here because a static initialiser cannot read them from another
** definition; tests/test_checks.c asserts that they stay identical to
** ws.exec's, field by field.
*/
#include <stddef.h>

#include "builtins.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

/* ------------------------------------------- the types (same as ws.exec) */

static const ws_type_t cexec_t_argv = WS_LIST(&ws_t_string);
static const ws_type_t cexec_t_env_map = WS_MAP(&ws_t_string);
static const ws_type_t cexec_t_env = WS_OPTIONAL(&cexec_t_env_map);
static const ws_type_t cexec_t_opt_string = WS_OPTIONAL(&ws_t_string);
static const ws_type_t cexec_t_int_list = WS_LIST(&ws_t_integer);
static const ws_type_t cexec_t_ok_codes = WS_DEFAULT(&cexec_t_int_list, "[0]");

static const ws_field_t cexec_request_fields[] = {
  { "argv", &cexec_t_argv },
  { "env", &cexec_t_env },
  { "cwd", &cexec_t_opt_string },
  { "stdin", &cexec_t_opt_string },
  { "ok_codes", &cexec_t_ok_codes },
  { NULL, NULL },
};
static const ws_type_t cexec_request_type = WS_RECORD(cexec_request_fields);

static const ws_field_t cexec_response_fields[] = {
  { "code", &ws_t_integer },
  { "signal", &ws_t_integer },
  { "stdout", &ws_t_string },
  { "stderr", &ws_t_string },
  { "stdout_truncated", &ws_t_boolean },
  { "stderr_truncated", &ws_t_boolean },
  { "duration", &ws_t_number },
  { NULL, NULL },
};
static const ws_type_t cexec_response_type = WS_RECORD(cexec_response_fields);

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
  .request = &cexec_request_type,
  .response = &cexec_response_type,
  .retry = NULL,
  .init = cexec_init,
  .validate = cexec_validate,
  .start = cexec_start,
  .cancel = cexec_cancel,
  .ud = NULL,
};
