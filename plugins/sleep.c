/*
** plugins/sleep.c - "ws.sleep": waits, on the engine's clock.
**
** Useful between steps (let a service settle) and in tests: under a virtual
** clock an hour of sleep costs no real time.
*/
#include <math.h>
#include <stdio.h>
#include "builtins.h"

static const ws_field_t sleep_request_fields[] = {
    {"seconds", &ws_t_number},
    {NULL, NULL},
};
static const ws_type_t sleep_request = WS_RECORD(sleep_request_fields);

static const ws_field_t sleep_response_fields[] = {
    {"slept", &ws_t_number},
    {NULL, NULL},
};
static const ws_type_t sleep_response = WS_RECORD(sleep_response_fields);

static int sleep_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                          size_t errlen) {
  (void)def;
  double s = json_number_value(json_object_get(req, "seconds"));
  if (!isfinite(s) || s < 0) {
    snprintf(err, errlen, "req.seconds: must be a finite number >= 0, got %g", s);
    return -1;
  }
  return 0;
}

static void sleep_over(ws_call_t *call) {
  double seconds = json_number_value(json_object_get(ws_call_request(call), "seconds"));
  ws_call_succeed(call, json_pack("{s:f}", "slept", seconds));
}

static int sleep_start(ws_call_t *call) {
  return ws_call_sleep(call, json_number_value(json_object_get(ws_call_request(call), "seconds")),
                       sleep_over);
}

static void sleep_cancel(ws_call_t *call) { ws_call_fail(call, 0, "cancelled", "sleep cancelled"); }

const ws_plugin_def_t ws_plugin_sleep = {
    .abi = WS_PLUGIN_ABI,
    .name = "ws.sleep",
    .descr = "waits for req.seconds on the engine's clock",
    .request = &sleep_request,
    .response = &sleep_response,
    .validate = sleep_validate,
    .start = sleep_start,
    .cancel = sleep_cancel,
};
