/*
** fuzz_journal.c - what the SQLite store writes, it can read back
** (engine/ws_journal.c writes object states and attempts by hand;
** engine/ws_store_sqlite.c reads them with jansson).
**
** Each input records a run of a small plan (checks, a block, a sequence, a
** deferred batch; three actions) whose request, object states, attempts
** (responses of any JSON, strings with NUL bytes or invalid UTF-8, any
** doubles for times) and settings (timeouts, delays, retry policies,
** concurrency, tolerated failures) all come from the input: settings,
** create, states, update every object, flush. Then:
**   - load into the same plan rebuilt must succeed and give back every
**     state and attempt: times to the microsecond between 0 and 4e9 s (0 for
**     what is not finite; an attempt's end only when > 0), exactly otherwise;
**     strings as they were when valid UTF-8 (else valid UTF-8 anyway);
**     responses equal;
**   - get must succeed and show each action's settings as numbers equal to
**     the plan's (null for what is not finite) and all its attempts.
** Values the engine would refuse when resolving (a negative timeout, NaN)
** are set after resolving: the store must still write what it reads. Times
** the clock cannot give (not finite) go only where the journal holds them:
** the plan's own times are also columns that SQLite keeps NOT NULL.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "fuzz_common.h"
#include "workstream/engine.h"
#include "workstream/store.h"

/* ------------------------------------------------------------- plugins */

static const ws_type_t t_opt_any = WS_OPTIONAL(&ws_t_any);
static const ws_type_t t_secret = WS_SECRET(&ws_t_any);
static const ws_type_t t_opt_secret = WS_OPTIONAL(&t_secret);
static const ws_field_t any_fields[] = {{"x", &t_opt_any}, {"s", &t_opt_secret}, {NULL, NULL}};
static const ws_type_t any_record = WS_RECORD(any_fields);
static const ws_field_t no_fields[] = {{NULL, NULL}};
static const ws_type_t empty_record = WS_RECORD(no_fields);

static int never_start(ws_call_t *call) {
  (void)call;
  return -1; /* nothing runs here */
}
static void no_cancel(ws_call_t *call) { (void)call; }

static const ws_plugin_def_t any_plugin = {.abi = WS_PLUGIN_ABI, .name = "fuzz.any",
                                           .request = &any_record, .response = &empty_record,
                                           .start = never_start, .cancel = no_cancel};
static const ws_plugin_def_t check_plugin = {.abi = WS_PLUGIN_ABI, .name = "fuzz.check",
                                             .is_check = 1, .request = &any_record,
                                             .response = &empty_record, .start = never_start,
                                             .cancel = no_cancel};

/* --------------------------------------------------------------- values */

static double gen_double(wsf_in_t *in) {
  static const double nice[] = {0.0, -0.0, 1.0, 0.25, 30.0, 1795763514.988088, 3999999999.9999995,
                                4e9, 1e15, 1e16, 123456789012345678.0, 1e300, -1.5, 5e-324,
                                INFINITY, -INFINITY, NAN, 1e-7};
  uint8_t c = wsf_u8(in);
  if (c < 128) return nice[c % (sizeof nice / sizeof *nice)];
  uint64_t bits = wsf_u64(in);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* A C string of input bytes (no NUL, maybe invalid UTF-8); new. */
static char *gen_cstr(wsf_in_t *in) {
  const uint8_t *s;
  size_t n = wsf_take(in, wsf_u8(in) % 24, &s);
  char *out = malloc(n + 1);
  if (!out) abort();
  size_t j = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i]) out[j++] = (char)s[i];
  out[j] = '\0';
  return out;
}

static json_t *gen_json(wsf_in_t *in, int depth) {
  uint8_t c = wsf_u8(in) % 8;
  if (depth > 6) c %= 6;
  switch (c) {
  case 0: return json_null();
  case 1: return json_boolean(wsf_u8(in) & 1);
  case 2: return json_integer((json_int_t)wsf_u64(in));
  case 3: {
    json_t *v = json_real(gen_double(in)); /* NULL when not finite */
    return v ? v : json_real(0.5);
  }
  case 4: { /* any bytes, NUL included: a command's output may hold them */
    const uint8_t *s;
    size_t n = wsf_take(in, wsf_u8(in) % 16, &s);
    json_t *v = json_stringn((const char *)s, n);
    return v ? v : json_stringn("a\0b", 3);
  }
  case 5: return json_string("");
  case 6: {
    json_t *v = json_array();
    for (size_t n = wsf_u8(in) % 4; n; n--) json_array_append_new(v, gen_json(in, depth + 1));
    return v;
  }
  default: {
    json_t *v = json_object();
    for (size_t n = wsf_u8(in) % 4; n; n--) {
      char *k = gen_cstr(in);
      json_object_set_new(v, k, gen_json(in, depth + 1)); /* refused when not UTF-8 */
      free(k);
    }
    return v;
  }
  }
}

/* ----------------------------------------------------------------- plan */

static ws_action_t *action(const char *name, const char *plugin, const json_t *req) {
  return ws_action_new(name, NULL, plugin, json_deep_copy(req));
}

/* The same plan every time but for the request: load needs the same one. */
static ws_plan_t *build_plan(const ws_registry_t *reg, const json_t *req) {
  ws_plan_t *p = ws_plan_new("journal", NULL);
  ws_checks_t *c = ws_checks_new(WS_CHECKS_PRE, 30);
  ws_checks_add_action(c, action("c", "fuzz.check", req));
  ws_plan_set_checks(p, c);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *s = ws_sequence_new("s", NULL);
  ws_sequence_add_action(s, action("a", "fuzz.any", req));
  ws_block_add_sequence(b, s);
  ws_plan_add_block(p, b);
  ws_batch_t *d = ws_batch_new("d", NULL, WS_WHEN_ALWAYS, false);
  ws_sequence_add_action(d, action("e", "fuzz.any", req));
  ws_plan_add_batch(p, d);
  char err[512];
  if (ws_plan_resolve(p, reg, err, sizeof err)) {
    if (wsf_verbose()) fprintf(stderr, "resolve: %s\n", err);
    ws_plan_free(p);
    return NULL;
  }
  return p;
}

typedef struct nodes {
  ws_node_t *v[16];
  size_t n;
} nodes_t;

static int collect(ws_node_t *n, void *ud) {
  nodes_t *l = ud;
  if (l->n < 16) l->v[l->n++] = n;
  return 0;
}

static void fill_attempts(wsf_in_t *in, ws_action_t *a) {
  a->nattempts = wsf_u8(in) % 4;
  a->attempts = a->nattempts ? calloc(a->nattempts, sizeof *a->attempts) : NULL;
  for (size_t i = 0; i < a->nattempts; i++) {
    ws_attempt_t *at = &a->attempts[i];
    at->started = gen_double(in);
    at->ended = gen_double(in);
    uint8_t flags = wsf_u8(in);
    at->timed_out = flags & 1;
    at->interrupted = flags & 2;
    if (flags & 4) at->resp = gen_json(in, 0);
    if (flags & 8) {
      at->err = calloc(1, sizeof *at->err);
      at->err->msg = gen_cstr(in);
      at->err->code = flags & 16 ? gen_cstr(in) : NULL;
      at->err->permanent = flags & 32;
    }
    at->nlog = (flags >> 6) % 3;
    at->log = at->nlog ? calloc(at->nlog, sizeof *at->log) : NULL;
    for (size_t j = 0; j < at->nlog; j++) at->log[j] = gen_cstr(in);
  }
}

/* Sets the settings of p's objects from the input (recorded by create). */
static void fill_settings(wsf_in_t *in, const nodes_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    ws_node_t *n = l->v[i];
    switch (n->type) {
    case WS_OBJ_ACTION: {
      ws_action_t *a = (ws_action_t *)n;
      a->timeout = gen_double(in);
      a->retries = (int)(int32_t)(wsf_u64(in) >> 32);
      a->has_retry = wsf_u8(in) & 1;
      a->retry = (ws_retry_policy_t){gen_double(in), gen_double(in), gen_double(in), gen_double(in)};
      break;
    }
    case WS_OBJ_BLOCK: {
      ws_block_t *b = (ws_block_t *)n;
      b->concurrency = (int)(int32_t)(wsf_u64(in) >> 32);
      b->tolerated.count = (int64_t)wsf_u64(in);
      b->tolerated.percent = wsf_u8(in) & 1;
      b->entrance_delay = gen_double(in);
      b->exit_delay = gen_double(in);
      b->stop = wsf_u8(in) & 1 ? WS_STOP_ACTION : WS_STOP_SEQUENCE;
      break;
    }
    case WS_OBJ_CHECKS: ((ws_checks_t *)n)->delay = gen_double(in); break;
    case WS_OBJ_BATCH: {
      ws_batch_t *b = (ws_batch_t *)n;
      b->when = (ws_when_t)(wsf_u8(in) % 4);
      b->fail_plan = wsf_u8(in) & 1;
      break;
    }
    default: break;
    }
  }
}

/* Sets every state and attempt of p from the input (recorded by update). */
static void fill_states(wsf_in_t *in, ws_plan_t *p, const nodes_t *l) {
  p->reason = (ws_reason_t)(wsf_u8(in) % 9);
  for (size_t i = 0; i < l->n; i++) {
    ws_node_t *n = l->v[i];
    n->state.status = (ws_status_t)(wsf_u8(in) % 5);
    n->state.started = gen_double(in);
    n->state.ended = gen_double(in);
    if (n->type == WS_OBJ_PLAN) { /* the runs row holds them as REAL NOT NULL */
      if (!isfinite(n->state.started)) n->state.started = 0;
      if (!isfinite(n->state.ended)) n->state.ended = 0;
    }
    if (n->type != WS_OBJ_ACTION) continue;
    ws_action_t *a = (ws_action_t *)n;
    fill_attempts(in, a);
    ws_action_settle(a, n->state.status);
  }
}

/* ---------------------------------------------------------------- checks */

static bool time_back(double wrote, double read) {
  if (!isfinite(wrote)) return read == 0;
  if (wrote >= 0 && wrote < 4e9) return fabs(read - wrote) <= 1e-6; /* to the microsecond */
  return read == wrote;
}

/* What a string must read back as: itself when valid UTF-8. */
static bool string_back(const char *wrote, const char *read) {
  if (!read) return false;
  json_t *valid = json_string(wrote);
  bool same = !valid || strcmp(wrote, read) == 0;
  json_decref(valid);
  json_t *readable = json_string(read);
  bool ok = readable != NULL;
  json_decref(readable);
  return same && ok;
}

static void compare_action(const ws_action_t *w, const ws_action_t *r, const char *name) {
  if (w->nattempts != r->nattempts)
    wsf_fail("%s: %zu attempts written, %zu read", name, w->nattempts, r->nattempts);
  for (size_t i = 0; i < w->nattempts; i++) {
    const ws_attempt_t *a = &w->attempts[i], *b = &r->attempts[i];
    if (!time_back(a->started, b->started))
      wsf_fail("%s[%zu]: started %.17g read as %.17g", name, i, a->started, b->started);
    double ended = a->ended > 0 ? a->ended : 0;
    if (!time_back(ended, b->ended))
      wsf_fail("%s[%zu]: ended %.17g read as %.17g", name, i, a->ended, b->ended);
    if (a->timed_out != b->timed_out || a->interrupted != b->interrupted)
      wsf_fail("%s[%zu]: flags differ", name, i);
    if (!a->resp != !b->resp || (a->resp && !json_equal(a->resp, b->resp))) {
      char *t = a->resp ? json_dumps(a->resp, JSON_ENCODE_ANY) : NULL;
      wsf_fail("%s[%zu]: the response %s did not come back", name, i, t ? t : "(none)");
    }
    if (!a->err != !b->err) wsf_fail("%s[%zu]: the error did not come back", name, i);
    if (a->err && (!string_back(a->err->msg, b->err->msg) ||
                   !a->err->code != !b->err->code ||
                   (a->err->code && !string_back(a->err->code, b->err->code)) ||
                   a->err->permanent != b->err->permanent))
      wsf_fail("%s[%zu]: the error \"%s\" came back as \"%s\"", name, i, a->err->msg,
               b->err->msg);
    if (a->nlog != b->nlog) wsf_fail("%s[%zu]: log lines lost", name, i);
    for (size_t j = 0; j < a->nlog; j++)
      if (!string_back(a->log[j], b->log[j]))
        wsf_fail("%s[%zu]: log line \"%s\" came back as \"%s\"", name, i, a->log[j], b->log[j]);
  }
}

/* A setting shown by get: the same number, or null when not finite. */
static void setting_back(const json_t *o, const char *field, double wrote) {
  const json_t *v = json_object_get(o, field);
  if (!isfinite(wrote)) {
    if (!json_is_null(v)) wsf_fail("%s %.17g is not shown as null", field, wrote);
    return;
  }
  if (!json_is_number(v) || json_number_value(v) != wrote)
    wsf_fail("%s %.17g is shown as %.17g", field, wrote, json_number_value(v));
}

static void check_get(const json_t *run, const ws_plan_t *p) {
  const ws_block_t *b = p->blocks[0];
  const ws_action_t *a = b->sequences[0]->actions[0];
  const json_t *jb = json_array_get(json_object_get(run, "blocks"), 0);
  const json_t *ja = json_array_get(
      json_object_get(json_array_get(json_object_get(jb, "sequences"), 0), "actions"), 0);
  if (!jb || !ja) wsf_fail("get lost the block or the action");
  setting_back(jb, "entrance_delay", b->entrance_delay);
  setting_back(jb, "exit_delay", b->exit_delay);
  setting_back(ja, "timeout", a->timeout);
  if (a->has_retry) {
    const json_t *r = json_object_get(ja, "retry");
    setting_back(r, "initial", a->retry.initial);
    setting_back(r, "multiplier", a->retry.multiplier);
    setting_back(r, "jitter", a->retry.jitter);
    setting_back(r, "max", a->retry.max);
  }
  if (json_integer_value(json_object_get(ja, "retries")) != a->retries)
    wsf_fail("retries %d is not shown", a->retries);
  if (json_array_size(json_object_get(ja, "attempts")) != a->nattempts)
    wsf_fail("get shows %zu attempts of %zu", json_array_size(json_object_get(ja, "attempts")),
             a->nattempts);
}

/* ------------------------------------------------------------------ world */

static struct {
  const char *db; /* wsf_temp_db */
  ws_registry_t *reg;
  ws_store_t *store;
  sqlite3 *raw;
} w;

static void setup(void) {
  char err[1024];
  w.db = wsf_temp_db();
  w.reg = ws_registry_new();
  if (ws_registry_add(w.reg, &any_plugin, err, sizeof err) ||
      ws_registry_add(w.reg, &check_plugin, err, sizeof err))
    wsf_fail("registry: %s", err);
  w.store = ws_store_sqlite_open(w.db, err, sizeof err);
  if (!w.store) wsf_fail("open: %s", err);
  if (sqlite3_open(w.db, &w.raw) != SQLITE_OK) wsf_fail("raw open");
  sqlite3_busy_timeout(w.raw, 5000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!w.store) setup();
  wsf_in_t in = {data, size};
  ws_store_t *s = w.store;
  char err[1024];
  json_t *req = json_object();
  if (wsf_u8(&in) & 1) json_object_set_new(req, "x", gen_json(&in, 0));
  if (wsf_u8(&in) & 1) json_object_set_new(req, "s", gen_json(&in, 0));
  ws_plan_t *p = build_plan(w.reg, req);
  if (!p) {
    json_decref(req);
    return 0;
  }
  nodes_t wrote = {0};
  ws_plan_walk(p, collect, &wrote);
  fill_settings(&in, &wrote);
  if (s->ops->create(s, p, NULL, err, sizeof err)) wsf_fail("create: %s", err);
  fill_states(&in, p, &wrote);
  for (size_t i = 0; i < wrote.n; i++)
    if (s->ops->update(s, wrote.v[i], err, sizeof err)) wsf_fail("update: %s", err);
  if (s->ops->flush(s, err, sizeof err)) wsf_fail("flush: %s", err);

  ws_plan_t *back = build_plan(w.reg, req);
  if (!back) wsf_fail("the plan resolved once only");
  if (s->ops->load(s, p->node.id, back, err, sizeof err)) wsf_fail("load: %s", err);
  nodes_t read = {0};
  ws_plan_walk(back, collect, &read);
  if (back->reason != p->reason) wsf_fail("the plan's reason did not come back");
  for (size_t i = 0; i < wrote.n; i++) {
    const ws_node_t *a = wrote.v[i], *b = read.v[i];
    const char *name = a->name ? a->name : "checks";
    if (a->state.status != b->state.status) wsf_fail("%s: status differs", name);
    if (!time_back(a->state.started, b->state.started) ||
        !time_back(a->state.ended, b->state.ended))
      wsf_fail("%s: times %.17g, %.17g read as %.17g, %.17g", name, a->state.started,
               a->state.ended, b->state.started, b->state.ended);
    if (a->type == WS_OBJ_ACTION)
      compare_action((const ws_action_t *)a, (const ws_action_t *)b, a->name);
  }

  json_t *run = NULL;
  if (s->ops->get(s, p->node.id, &run, err, sizeof err)) wsf_fail("get: %s", err);
  check_get(run, p);

  json_decref(run);
  ws_plan_free(back);
  ws_plan_free(p);
  json_decref(req);
  /* one run at a time in the file */
  if (sqlite3_exec(w.raw, "DELETE FROM journal; DELETE FROM objects; DELETE FROM runs", NULL,
                   NULL, NULL) != SQLITE_OK)
    wsf_fail("clean: %s", sqlite3_errmsg(w.raw));
  return 0;
}
