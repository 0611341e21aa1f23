/*
** tests/test_loader_host.c - loading a plugin from a host that is a shared
** object opened with RTLD_LOCAL: the situation of the Lua module, which
** `require` opens that way. This program contains no engine at all; the
** engine is in the host module, and the plugin must resolve ws_call_* and the
** types against that module even though it was opened privately.
*/
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>

typedef int (*host_load_fn)(const char *path, const char *expect, char *err, size_t errlen);

static void plugin_loads_into_a_privately_opened_host(void **state) {
  (void)state;
  void *host = dlopen(HOST_MODULE_SO, RTLD_NOW | RTLD_LOCAL);
  if (!host) fail_msg("dlopen host: %s", dlerror());
  host_load_fn load = (host_load_fn)dlsym(host, "host_module_load");
  assert_non_null(load);
  /* the engine is not visible globally before the first load... */
  assert_null(dlsym(RTLD_DEFAULT, "ws_registry_load"));

  char err[1024];
  if (load(EXAMPLE_SO, "example.checksum", err, sizeof err)) fail_msg("%s", err);
  /* ...and the host is not unloaded after, since plugins are bound to it */
  assert_int_equal(dlclose(host), 0);
  assert_non_null(dlsym(RTLD_DEFAULT, "ws_registry_load"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plugin_loads_into_a_privately_opened_host),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
