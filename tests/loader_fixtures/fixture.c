/*
** tests/loader_fixtures/fixture.c - small plugin libraries that are wrong in
** one way each, for test_loader. Built once per FIXTURE_* macro (see
** tests/CMakeLists.txt), each as its own shared object.
*/
#include <stdint.h>
#include <stdio.h>
#include <workstream/plugin.h>
#include "fixture.h"

/* Not every variant uses every helper. */
#define FIXTURE_HELPER __attribute__((unused)) static

FIXTURE_HELPER const ws_field_t no_fields[] = {{NULL, NULL}};
FIXTURE_HELPER const ws_type_t empty_record = WS_RECORD(no_fields);

FIXTURE_HELPER int fixture_start(ws_call_t *call) {
  ws_call_succeed(call, NULL);
  return 0;
}

/* It completes within start, so there is never anything to cancel. */
FIXTURE_HELPER void fixture_cancel(ws_call_t *call) { (void)call; }

FIXTURE_HELPER int fixture_init_ok(const ws_plugin_def_t *def, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  char note[128];
  snprintf(note, sizeof note, "init %s", def->name);
  test_loader_note(note);
  return 0;
}

FIXTURE_HELPER int fixture_init_refuses(const ws_plugin_def_t *def, char *err, size_t errlen) {
  char note[128];
  snprintf(note, sizeof note, "init %s", def->name);
  test_loader_note(note);
  snprintf(err, errlen, "needs /opt/fixture");
  return -1;
}

#define FIXTURE_DEF(abi_, name_, init_)                                                      \
  {.abi = (abi_), .name = (name_), .request = &empty_record, .response = &empty_record,      \
   .init = (init_), .start = fixture_start, .cancel = fixture_cancel}

#if defined(FIXTURE_NO_ENTRY)
/* A shared object, but not a plugin. */
int fixture_not_a_plugin(void);
int fixture_not_a_plugin(void) { return 42; }

#elif defined(FIXTURE_BAD_ABI)
/* Built for another ABI: the loader must not even look at the list, so it
** gets a pointer that would crash it. */
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI + 1;
  return (const ws_plugin_def_t *const *)(uintptr_t)1;
}

#elif defined(FIXTURE_NO_ABI)
/* Forgets to report its ABI. */
static const ws_plugin_def_t plugin = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.no_abi", NULL);
static const ws_plugin_def_t *const plugins[] = {&plugin, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  (void)abi;
  return plugins;
}

#elif defined(FIXTURE_DEF_ABI)
/* The entry reports the right ABI, one definition does not. */
static const ws_plugin_def_t good = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.good", fixture_init_ok);
static const ws_plugin_def_t old = FIXTURE_DEF(WS_PLUGIN_ABI - 1, "fixture.old", NULL);
static const ws_plugin_def_t *const plugins[] = {&good, &old, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#elif defined(FIXTURE_EMPTY)
static const ws_plugin_def_t *const plugins[] = {NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#elif defined(FIXTURE_INIT_FAILS)
/* The first plugin's init succeeds, the second's refuses: neither may stay. */
static const ws_plugin_def_t ok = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.ok", fixture_init_ok);
static const ws_plugin_def_t refuses =
    FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.refuses", fixture_init_refuses);
static const ws_plugin_def_t *const plugins[] = {&ok, &refuses, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#elif defined(FIXTURE_BAD_SECOND)
/* The second definition is invalid: no init may run at all. */
static const ws_plugin_def_t ok = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.ok", fixture_init_ok);
static const ws_plugin_def_t bad = FIXTURE_DEF(WS_PLUGIN_ABI, "Bad Name!", fixture_init_ok);
static const ws_plugin_def_t *const plugins[] = {&ok, &bad, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#elif defined(FIXTURE_DEFINED_TWICE)
static const ws_plugin_def_t one = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.twice", fixture_init_ok);
static const ws_plugin_def_t two = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.twice", fixture_init_ok);
static const ws_plugin_def_t *const plugins[] = {&one, &two, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#elif defined(FIXTURE_GOOD)
/* A valid plugin library with two plugins. */
static const ws_plugin_def_t alpha = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.alpha", fixture_init_ok);
static const ws_plugin_def_t beta = FIXTURE_DEF(WS_PLUGIN_ABI, "fixture.beta", NULL);
static const ws_plugin_def_t *const plugins[] = {&alpha, &beta, NULL};
const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return plugins;
}

#else
#error "build with one FIXTURE_* macro defined"
#endif
