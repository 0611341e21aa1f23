/*
** tests/bad_input/bad_plugin.c - an external plugin library whose plugins
** break the call protocol of workstream/plugin.h, each in one way, for the
** bad input catalogue (cases.lua). Built like any external plugin: only
** plugin.h, libuv and jansson, no engine.
**
** Every plugin takes an empty request and answers record{out = optional(string)}.
*/
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <uv.h>
#include <workstream/plugin.h>

static const ws_field_t no_fields[] = {{NULL, NULL}};
static const ws_type_t empty_request = WS_RECORD(no_fields);
static const ws_type_t optional_string = WS_OPTIONAL(&ws_t_string);
static const ws_field_t response_fields[] = {{"out", &optional_string}, {NULL, NULL}};
static const ws_type_t response = WS_RECORD(response_fields);

/* ------------------------------------------------- completes twice */

/* Succeeds and then fails, both before start returns. */
static int twice_start(ws_call_t *call) {
  ws_call_succeed(call, json_pack("{s:s}", "out", "first"));
  ws_call_fail(call, 1, NULL, "second completion");
  return 0;
}

/* Completes from a timer callback, twice in a row. */
typedef struct later {
  uv_timer_t timer;
  ws_call_t *call;
} later_t;

static void later_closed(uv_handle_t *h) { free(h->data); }

static void twice_later_fire(uv_timer_t *t) {
  later_t *l = t->data;
  ws_call_t *call = l->call;
  l->call = NULL;
  uv_close((uv_handle_t *)&l->timer, later_closed);
  ws_call_fail(call, 0, NULL, "first completion");
  ws_call_succeed(call, NULL);
}

static int twice_later_start(ws_call_t *call) {
  later_t *l = calloc(1, sizeof *l);
  if (!l) return UV_ENOMEM;
  l->call = call;
  l->timer.data = l;
  uv_timer_init(ws_call_loop(call), &l->timer);
  uv_timer_start(&l->timer, twice_later_fire, 1, 0);
  ws_call_set_data(call, l);
  return 0;
}

static void twice_later_cancel(ws_call_t *call) {
  later_t *l = ws_call_data(call);
  if (!l || !l->call) return;
  l->call = NULL;
  uv_close((uv_handle_t *)&l->timer, later_closed);
  ws_call_fail(call, 0, "cancelled", "cancelled");
}

/* Completes within start, and then says that it never started. */
static int fail_after_complete_start(ws_call_t *call) {
  ws_call_succeed(call, NULL);
  return UV_EIO;
}

/* --------------------------------------------- NULL and garbage results */

static int null_message_start(ws_call_t *call) {
  const char *volatile no_format = NULL; /* hidden from -Wformat */
  ws_call_fail(call, 0, NULL, no_format);
  return 0;
}

static int array_response_start(ws_call_t *call) {
  ws_call_succeed(call, json_pack("[i,i,i]", 1, 2, 3));
  return 0;
}

static int string_response_start(ws_call_t *call) {
  ws_call_succeed(call, json_string("not an object"));
  return 0;
}

static int wrong_field_start(ws_call_t *call) {
  ws_call_succeed(call, json_pack("{s:i}", "out", 42));
  return 0;
}

static int unknown_field_start(ws_call_t *call) {
  ws_call_succeed(call, json_pack("{s:s}", "surprise", "x"));
  return 0;
}

/* A string that is not UTF-8, which jansson only builds when told not to check. */
static int bad_utf8_start(ws_call_t *call) {
  json_t *resp = json_object();
  json_object_set_new(resp, "out", json_stringn_nocheck("\xff\xfe\xc3", 3));
  ws_call_succeed(call, resp);
  return 0;
}

/* A huge error message (1 MiB) that is also not UTF-8 at its end. */
static int huge_error_start(ws_call_t *call) {
  size_t n = 1 << 20;
  char *msg = malloc(n + 2);
  if (!msg) return UV_ENOMEM;
  memset(msg, 'e', n);
  msg[n] = '\xff';
  msg[n + 1] = '\0';
  ws_call_fail(call, 1, "\xfe\xff", "%s", msg);
  free(msg);
  return 0;
}

/* start returns something that is neither 0 nor a negative error, and never
** completes; its cancel completes, as it must. */
static int positive_rc_start(ws_call_t *call) {
  (void)call;
  return 7;
}

static void cancel_completes(ws_call_t *call) { ws_call_fail(call, 0, "cancelled", "cancelled"); }

/* Never completes, not even when cancelled; it keeps the call, as a plugin
** waiting for something that never comes would. */
static ws_call_t *deaf_call;

static int deaf_start(ws_call_t *call) {
  deaf_call = call;
  return 0;
}

static void deaf_cancel(ws_call_t *call) { (void)call; }

/* ----------------------------------------------------- blocking style */

static json_t *blocking_garbage_run(const ws_plugin_def_t *def, const json_t *req,
                                    const volatile int *cancelled, ws_blocking_error_t *err) {
  (void)def, (void)req, (void)cancelled, (void)err;
  return json_integer(12);
}

/* Fails without saying why: *err stays as the engine gave it. */
static json_t *blocking_silent_run(const ws_plugin_def_t *def, const json_t *req,
                                   const volatile int *cancelled, ws_blocking_error_t *err) {
  (void)def, (void)req, (void)cancelled, (void)err;
  return NULL;
}

/* Fills the error buffers to the last byte, without terminating them. */
static json_t *blocking_unterminated_run(const ws_plugin_def_t *def, const json_t *req,
                                         const volatile int *cancelled,
                                         ws_blocking_error_t *err) {
  (void)def, (void)req, (void)cancelled;
  err->permanent = 1;
  memset(err->code, 'c', sizeof err->code);
  memset(err->msg, 'm', sizeof err->msg);
  return NULL;
}

/* -------------------------------------------------------- the library */

#define ASYNC(name_, start_, cancel_)                                                         \
  {.abi = WS_PLUGIN_ABI, .name = (name_), .request = &empty_request, .response = &response,  \
   .start = (start_), .cancel = (cancel_)}
#define BLOCKING(name_, run_)                                                                 \
  {.abi = WS_PLUGIN_ABI, .name = (name_), .request = &empty_request, .response = &response,  \
   .run = (run_)}

static const ws_plugin_def_t plugins_defs[] = {
    ASYNC("bad.twice", twice_start, cancel_completes),
    ASYNC("bad.twice_later", twice_later_start, twice_later_cancel),
    ASYNC("bad.fail_after_complete", fail_after_complete_start, cancel_completes),
    ASYNC("bad.null_message", null_message_start, cancel_completes),
    ASYNC("bad.array_response", array_response_start, cancel_completes),
    ASYNC("bad.string_response", string_response_start, cancel_completes),
    ASYNC("bad.wrong_field", wrong_field_start, cancel_completes),
    ASYNC("bad.unknown_field", unknown_field_start, cancel_completes),
    ASYNC("bad.bad_utf8", bad_utf8_start, cancel_completes),
    ASYNC("bad.huge_error", huge_error_start, cancel_completes),
    ASYNC("bad.positive_rc", positive_rc_start, cancel_completes),
    ASYNC("bad.deaf", deaf_start, deaf_cancel),
    BLOCKING("bad.blocking_garbage", blocking_garbage_run),
    BLOCKING("bad.blocking_silent", blocking_silent_run),
    BLOCKING("bad.blocking_unterminated", blocking_unterminated_run),
    {.abi = WS_PLUGIN_ABI, .name = "bad.check", .is_check = 1, .request = &empty_request,
     .response = &response, .start = twice_start, .cancel = cancel_completes},
};

#define NPLUGINS (sizeof plugins_defs / sizeof plugins_defs[0])
static const ws_plugin_def_t *plugins[NPLUGINS + 1];

const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  for (size_t i = 0; i < NPLUGINS; i++) plugins[i] = &plugins_defs[i];
  return plugins;
}
