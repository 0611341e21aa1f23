/*
** plugins/builtins.c - registration of the built-in native plugins.
*/
#include <stdio.h>
#include <string.h>

#include "builtins.h"

/* Every built-in, in registration order. */
static const ws_plugin_def_t *const ws__builtins[] = {
  &ws_plugin_exec,
  &ws_plugin_sleep,
  &ws_plugin_check_exec,
  &ws_plugin_check_tcp,
  &ws_plugin_check_http,
};

int ws_builtins_register(ws_registry_t *r, char *err, size_t errlen) {
  size_t i;

  for (i = 0; i < sizeof ws__builtins / sizeof ws__builtins[0]; i++) {
    const ws_plugin_def_t *def = ws__builtins[i];

    if (ws_registry_add(r, def, err, errlen) != 0) {
      /* Make sure the message says which built-in was refused. */
      if (err != NULL && errlen > 0 && strstr(err, def->name) == NULL) {
        char why[512];

        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "built-in plugin %s: %s", def->name, why);
      }
      return -1;
    }
  }
  return 0;
}
