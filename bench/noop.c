/*
** bench/noop.c - "bench.noop": a native plugin that does nothing, for the
** benchmarks (bench/run.sh). Empty request and response records; start
** completes the call at once (the engine defers the completion to a later loop
** turn); cancel has nothing to stop. Built as an external MODULE, the way
** plugins/example is, by bench/CMakeLists.txt (not part of the main build).
*/
#include <stddef.h>

#include <jansson.h>
#include <uv.h>
#include <workstream/plugin.h>

static const ws_field_t noop_fields[] = {{NULL, NULL}};
static const ws_type_t noop_record = WS_RECORD(noop_fields);

static int noop_start(ws_call_t *call) {
  ws_call_succeed(call, NULL);
  return 0;
}

static void noop_cancel(ws_call_t *call) { (void)call; }

static const ws_plugin_def_t noop = {
    .abi = WS_PLUGIN_ABI,
    .name = "bench.noop",
    .descr = "does nothing, at once (benchmarks)",
    .request = &noop_record,
    .response = &noop_record,
    .start = noop_start,
    .cancel = noop_cancel,
};

static const ws_plugin_def_t *const noop_defs[] = {&noop, NULL};

const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return noop_defs;
}
