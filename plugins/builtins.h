/*
** plugins/builtins.h - the native plugins that ship with Workstream.
**
** Hosts (the Lua binding, wsrun, C tests) call ws_builtins_register once on a
** fresh registry; the definitions are static data that outlive any registry.
*/
#ifndef WORKSTREAM_BUILTINS_H
#define WORKSTREAM_BUILTINS_H

#include <stddef.h>
#include "workstream/engine.h"
#include "workstream/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every built-in plugin in r (via ws_registry_add).
** Returns 0, or -1 with a message in err (the first plugin that was refused). */
int ws_builtins_register(ws_registry_t *r, char *err, size_t errlen);

/* "ws.exec": runs a command (argv, env, cwd, stdin, accepted exit codes) on the
** loop and returns its exit status and its size-capped stdout and stderr. */
extern const ws_plugin_def_t ws_plugin_exec;

/* "ws.sleep": waits req.seconds on the engine's clock (free under a virtual clock). */
extern const ws_plugin_def_t ws_plugin_sleep;

/* "ws.check.exec" (check): ws.exec as a check; passes when the command exits with an ok code. */
extern const ws_plugin_def_t ws_plugin_check_exec;

/* "ws.check.tcp" (check): passes when a TCP connection to host:port is established. */
extern const ws_plugin_def_t ws_plugin_check_tcp;

/* "ws.check.http" (check): passes when a GET of url gives the expected status (and body text).
** Only its definition is built in; its libcurl transfers are a module,
** ws_check_http.so, loaded by the first attempt (check_http.c says where it
** is looked for). Like an external plugin, the module takes the engine from
** the host, which must export it (ws_plugin_host in engine/CMakeLists.txt). */
extern const ws_plugin_def_t ws_plugin_check_http;

#ifdef __cplusplus
}
#endif
#endif
