/*
** tests/loader_fixtures/host_module.c - a plugin host that is itself a shared
** object opened with RTLD_LOCAL, as the Lua module (workstream/core.so) is
** when `require` loads it. The engine is linked into it, and the plugins it
** loads must still find ws_call_* in it (see export_engine in ws_loader.c).
*/
#include <stddef.h>
#include <stdio.h>
#include "workstream/engine.h"

int host_module_load(const char *path, const char *expect, char *err, size_t errlen);

/* Loads path into a new registry and checks that it defines `expect`. */
int host_module_load(const char *path, const char *expect, char *err, size_t errlen) {
  ws_registry_t *reg = ws_registry_new();
  int rc = ws_registry_load(reg, path, err, errlen);
  if (rc == 0 && !ws_registry_find(reg, expect)) {
    snprintf(err, errlen, "%s: loaded, but defines no \"%s\"", path, expect);
    rc = -1;
  }
  ws_registry_free(reg);
  return rc;
}
