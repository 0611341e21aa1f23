/*
** plugins/exec.h - what ws.exec shares with ws.check.exec (check_exec.c),
** which is ws.exec run as a check: the same request and response types.
**
** Internal to the built-in plugins; not part of the engine's API.
*/
#ifndef WORKSTREAM_PLUGINS_EXEC_H
#define WORKSTREAM_PLUGINS_EXEC_H

#include "workstream/types.h"

/* ws.exec's request: { argv, env?, cwd?, stdin?, ok_codes = {0} } (see exec.c). */
extern const ws_type_t ws__exec_request_type;

/* ws.exec's response: { code, signal, stdout, stderr, stdout_truncated,
** stderr_truncated, duration } (see exec.c). */
extern const ws_type_t ws__exec_response_type;

#endif
