/*
** plugins/sigpipe.h - SIGPIPE set to ignored, for plugins that write to pipes
** and sockets (ws.exec, ws.check.http): a child that stops reading its stdin,
** or a peer that closes a connection, must not kill the engine.
**
** Internal to the built-in plugins (the wsp_ prefix); not part of the engine's API.
*/
#ifndef WORKSTREAM_PLUGINS_SIGPIPE_H
#define WORKSTREAM_PLUGINS_SIGPIPE_H

#include <stddef.h>

/* Ignores SIGPIPE process-wide unless the host already chose a disposition
** (a handler, or SIG_IGN). 0, or -1 with a message in err. */
int wsp_ignore_sigpipe(char *err, size_t errlen);

#endif
