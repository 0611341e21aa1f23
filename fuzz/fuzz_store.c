/*
** fuzz_store.c - reading stored runs back (engine/ws_store_sqlite.c: get,
** load, list) from a database whose rows hold fuzzed text.
**
** Once per process: a real run of a small plan (checks, blocks, sequences,
** retries, a failure, a deferred batch, a secret) is recorded in a store on
** tmpfs, and its rows are kept aside. For each input the rows are put back,
** then changed by the input, through a second SQLite connection, as another
** program (or a disk) might change them. The input is a list of changes
** separated by NUL bytes, each "<tag><pos><text>":
**   j  a new journal row with data = text     J  journal row #pos's data = text
**   Z  drop journal rows from #pos on (a runner that crashed earlier)
**   a x r s t p i n h k g d e   objects row pos: attempts, extra, req, status,
**      type, parent_id, id, name, path, key, plugin, started, ended = text
**   D  drop objects row pos                   X  copy objects row pos to the end
**   o m R S G T   the run's origin, meta, reason, status, grp, started = text
**   L  a lease held by text until far ahead   u  another run whose id is text
**   U  another run whose id is the run's first 8 characters + text
**   P I  objects row pos: parent_id, id = the id of row text[0] (a byte
**      counted from '0' too: reparenting, duplicate ids)
**   q  the ID given to get and load is text
**   Q  ... is the run's first pos % 37 characters (uppercase when c[1] & 0x40)
** pos is a byte counted from '0' ("a7..." is row 7; modulo the count); 0x80
** and above set the column to NULL.
** Then get, list and load must succeed or fail with a message, never crash;
** a plan that loads is prepared to resume and, if there is work left, run to
** its end (virtual clock, no store), as `wsrun resume` would.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "fuzz_common.h"
#include "builtins.h"
#include "workstream/engine.h"
#include "workstream/store.h"

/* ---------------------------------------------------------- test plugins */

static const ws_type_t t_false = WS_DEFAULT(&ws_t_boolean, "false");
static const ws_type_t t_opt_string = WS_OPTIONAL(&ws_t_string);
static const ws_type_t t_opt_any = WS_OPTIONAL(&ws_t_any);
static const ws_type_t t_secret = WS_SECRET(&ws_t_string);
static const ws_type_t t_opt_secret = WS_OPTIONAL(&t_secret);
static const ws_field_t step_req_fields[] = {
    {"fail", &t_false},      {"permanent", &t_false}, {"log", &t_opt_string},
    {"out", &t_opt_any},     {"secret", &t_opt_secret}, {NULL, NULL}};
static const ws_type_t step_req = WS_RECORD(step_req_fields);
static const ws_field_t step_resp_fields[] = {{"out", &t_opt_any}, {NULL, NULL}};
static const ws_type_t step_resp = WS_RECORD(step_resp_fields);
static const ws_field_t no_fields[] = {{NULL, NULL}};
static const ws_type_t empty_record = WS_RECORD(no_fields);

/* Logs, then succeeds with req.out or fails as req says. */
static int step_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  const char *log = json_string_value(json_object_get(req, "log"));
  if (log) ws_call_log(call, "%s (attempt %d)", log, ws_call_attempt(call));
  if (json_is_true(json_object_get(req, "fail"))) {
    const char *secret = json_string_value(json_object_get(req, "secret"));
    ws_call_fail(call, json_is_true(json_object_get(req, "permanent")), "E1", "failed with %s",
                 secret ? secret : "nothing");
    return 0;
  }
  json_t *out = json_object_get(req, "out");
  json_t *resp = json_object();
  if (out) json_object_set(resp, "out", out);
  ws_call_succeed(call, resp);
  return 0;
}

static int check_start(ws_call_t *call) {
  ws_call_succeed(call, json_object());
  return 0;
}

static void no_cancel(ws_call_t *call) { (void)call; /* every call completes at once */ }

static const ws_plugin_def_t step_plugin = {.abi = WS_PLUGIN_ABI, .name = "fuzz.step",
                                            .request = &step_req, .response = &step_resp,
                                            .start = step_start, .cancel = no_cancel};
static const ws_plugin_def_t check_plugin = {.abi = WS_PLUGIN_ABI, .name = "fuzz.check",
                                             .is_check = 1, .request = &empty_record,
                                             .response = &empty_record,
                                             .start = check_start, .cancel = no_cancel};

/* ------------------------------------------------------------------ plan */

static ws_action_t *action(const char *name, const char *plugin, const char *req, int retries) {
  json_t *r = json_loads(req, 0, NULL);
  if (!r) wsf_fail("bad request in the fixture: %s", req);
  ws_action_t *a = ws_action_new(name, NULL, plugin, r);
  a->retries = retries;
  return a;
}

static ws_checks_t *checks(ws_checks_kind_t kind, double delay, const char *name) {
  ws_checks_t *c = ws_checks_new(kind, delay);
  ws_checks_add_action(c, action(name, "fuzz.check", "{}", 0));
  return c;
}

/* The same plan every time: load needs one that matches the stored run. */
static ws_plan_t *build_plan(const ws_registry_t *reg) {
  ws_plan_t *p = ws_plan_new("fuzz", "a plan for the store fuzzer");
  p->meta = json_pack("{s:s}", "owner", "fuzz");
  ws_plan_set_checks(p, checks(WS_CHECKS_PRE, 5, "ready"));
  ws_plan_set_checks(p, checks(WS_CHECKS_POST, 5, "done"));
  ws_plan_set_checks(p, checks(WS_CHECKS_DEFERRED, 5, "final"));

  ws_block_t *b1 = ws_block_new("b1", NULL);
  b1->concurrency = 2;
  b1->tolerated.count = 1;
  ws_block_set_checks(b1, checks(WS_CHECKS_CONT, 1, "alive"));
  ws_sequence_t *s1 = ws_sequence_new("s1", NULL);
  ws_sequence_add_action(s1, action("a1", "fuzz.step", "{\"log\":\"hello\",\"out\":{\"x\":[1,2.5]}}", 0));
  ws_sequence_add_action(s1, action("a2", "fuzz.step", "{\"fail\":true,\"log\":\"again\"}", 1));
  ws_block_add_sequence(b1, s1);
  ws_sequence_t *s2 = ws_sequence_new("s2", NULL);
  ws_node_set_key(&s2->node, "k2");
  ws_sequence_add_action(s2, action("a3", "ws.sleep", "{\"seconds\":2}", 0));
  ws_block_add_sequence(b1, s2);
  ws_plan_add_block(p, b1);

  ws_block_t *b2 = ws_block_new("b2", NULL);
  ws_sequence_t *s3 = ws_sequence_new("s3", NULL);
  ws_sequence_add_action(s3, action("a4", "fuzz.step", "{\"fail\":true,\"permanent\":true}", 2));
  ws_block_add_sequence(b2, s3);
  ws_plan_add_block(p, b2);

  ws_batch_t *cleanup = ws_batch_new("cleanup", NULL, WS_WHEN_ON_FAILURE, false);
  ws_sequence_add_action(cleanup, action("c1", "fuzz.step", "{\"secret\":\"hunter2-xyz\"}", 0));
  ws_plan_add_batch(p, cleanup);

  char err[512];
  if (ws_plan_resolve(p, reg, err, sizeof err)) wsf_fail("fixture plan: %s", err);
  return p;
}

/* ------------------------------------------------------------- the world */

static struct {
  const char *db; /* wsf_temp_db */
  ws_registry_t *reg;
  ws_store_t *store;
  sqlite3 *raw; /* the other writer */
  char run_id[WS_UUID_STRLEN + 1];
  int nobjs;
} w;

static void sql(const char *text) {
  char *msg = NULL;
  if (sqlite3_exec(w.raw, text, NULL, NULL, &msg) != SQLITE_OK)
    wsf_fail("%s: %s", text, msg ? msg : "?");
}

static void setup(void) {
  char err[1024];
  w.db = wsf_temp_db();
  w.reg = ws_registry_new();
  if (ws_builtins_register(w.reg, err, sizeof err) ||
      ws_registry_add(w.reg, &step_plugin, err, sizeof err) ||
      ws_registry_add(w.reg, &check_plugin, err, sizeof err))
    wsf_fail("registry: %s", err);
  w.store = ws_store_sqlite_open(w.db, err, sizeof err);
  if (!w.store) wsf_fail("open: %s", err);

  ws_plan_t *p = build_plan(w.reg);
  json_t *origin = json_pack("{s:s, s:[s], s:s}", "file", "plan.lua", "args", "a", "cwd", "/");
  if (w.store->ops->create(w.store, p, origin, err, sizeof err)) wsf_fail("create: %s", err);
  json_decref(origin);
  uv_loop_t loop;
  uv_loop_init(&loop);
  ws_run_opts_t opts = {.virtual_clock = true, .store = w.store};
  if (ws_run_plan(&loop, p, w.reg, &opts, err, sizeof err)) wsf_fail("run: %s", err);
  uv_loop_close(&loop);
  if (w.store->ops->flush(w.store, err, sizeof err)) wsf_fail("flush: %s", err);
  memcpy(w.run_id, p->node.id, sizeof w.run_id);
  ws_plan_free(p);

  if (sqlite3_open(w.db, &w.raw) != SQLITE_OK) wsf_fail("raw open");
  sqlite3_busy_timeout(w.raw, 5000);
  sql("ATTACH ':memory:' AS base;"
      "CREATE TABLE base.runs AS SELECT * FROM main.runs;"
      "CREATE TABLE base.objects AS SELECT * FROM main.objects;"
      "CREATE TABLE base.journal AS SELECT * FROM main.journal;");
  sqlite3_stmt *q;
  sqlite3_prepare_v2(w.raw, "SELECT count(*) FROM base.objects", -1, &q, NULL);
  sqlite3_step(q);
  w.nobjs = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
}

/* ---------------------------------------------------------------- changes */

/* Runs one statement with ?1 = text (or NULL), ?2 = the run's id, ?3 = n
** (a statement may use only some of them). */
static void change(const char *text_sql, const uint8_t *text, size_t len, bool null, long n) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(w.raw, text_sql, -1, &q, NULL) != SQLITE_OK)
    wsf_fail("%s: %s", text_sql, sqlite3_errmsg(w.raw));
  if (null) sqlite3_bind_null(q, 1);
  else sqlite3_bind_text(q, 1, (const char *)text, (int)len, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, w.run_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 3, n);
  int rc = sqlite3_step(q);
  /* a constraint (a duplicate id, a NULL where NOT NULL) is the input's business */
  if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
    wsf_fail("%s: %s", text_sql, sqlite3_errmsg(w.raw));
  sqlite3_finalize(q);
}

static const char *object_sql(uint8_t tag) {
  switch (tag) {
#define SET(t, col) \
  case t: return "UPDATE objects SET " col " = ?1 WHERE run_id = ?2 AND pos = ?3";
    SET('a', "attempts") SET('x', "extra") SET('r', "req") SET('s', "status") SET('t', "type")
    SET('p', "parent_id") SET('i', "id") SET('n', "name") SET('h', "path") SET('k', "key")
    SET('g', "plugin") SET('d', "started") SET('e', "ended")
#undef SET
  case 'P':
    return "UPDATE objects SET parent_id = (SELECT id FROM objects WHERE run_id = ?2 AND "
           "pos = ?1) WHERE run_id = ?2 AND pos = ?3";
  case 'I':
    return "UPDATE objects SET id = (SELECT id FROM objects WHERE run_id = ?2 AND pos = ?1) "
           "WHERE run_id = ?2 AND pos = ?3";
  case 'D': return "DELETE FROM objects WHERE run_id = ?2 AND pos = ?3";
  case 'X':
    return "INSERT INTO objects SELECT id, run_id, 1000 + pos, parent_id, type, path, name, "
           "descr, key, plugin, req, status, started, ended, attempts, extra FROM objects "
           "WHERE run_id = ?2 AND pos = ?3";
  default: return NULL;
  }
}

static const char *run_sql(uint8_t tag) {
  switch (tag) {
#define SET(t, col) \
  case t: return "UPDATE runs SET " col " = ?1 WHERE id = ?2";
    SET('o', "origin") SET('m', "meta") SET('R', "reason") SET('S', "status") SET('G', "grp")
    SET('T', "started")
#undef SET
  case 'L': return "UPDATE runs SET lease_owner = ?1, lease_expires = 1e12 WHERE id = ?2";
  case 'u':
    return "INSERT INTO runs (id, status, created) VALUES (?1, 'running', ?3)";
  case 'U':
    return "INSERT INTO runs (id, status, created) VALUES (substr(?2, 1, 8) || ?1, 'failed', ?3)";
  case 'j': return "INSERT INTO journal (run_id, data) VALUES (?2, ?1)";
  case 'J':
    return "UPDATE journal SET data = ?1 WHERE seq = (SELECT seq FROM journal WHERE run_id = ?2 "
           "ORDER BY seq LIMIT 1 OFFSET ?3)";
  case 'Z':
    return "DELETE FROM journal WHERE run_id = ?2 AND seq >= (SELECT seq FROM journal WHERE "
           "run_id = ?2 ORDER BY seq LIMIT 1 OFFSET ?3)";
  default: return NULL;
  }
}

/* Puts the recorded run back, then applies the input's changes. Writes to id
** the ID to look up: the run's, unless the input says otherwise. */
static void apply(wsf_in_t *in, char *id, size_t idlen) {
  snprintf(id, idlen, "%s", w.run_id);
  sql("BEGIN IMMEDIATE;"
      "DELETE FROM main.journal; DELETE FROM main.objects; DELETE FROM main.runs;"
      "INSERT INTO main.runs SELECT * FROM base.runs;"
      "INSERT INTO main.objects SELECT * FROM base.objects;"
      "INSERT INTO main.journal SELECT * FROM base.journal;");
  while (in->n) {
    const uint8_t *c;
    size_t n = wsf_until(in, 0, &c);
    if (n < 2) continue;
    uint8_t tag = c[0], pos = (uint8_t)(c[1] - '0');
    const uint8_t *text = c + 2;
    size_t len = n - 2;
    bool null = c[1] >= 0x80;
    const char *q;
    if (tag == 'q') {
      snprintf(id, idlen, "%.*s", (int)len, (const char *)text);
    } else if (tag == 'Q') {
      snprintf(id, idlen, "%.*s", pos % 37, w.run_id);
      for (char *p = id; (c[1] & 0x40) && *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    } else if (tag == 'P' || tag == 'I') {
      char other[8];
      snprintf(other, sizeof other, "%d", len ? (uint8_t)(text[0] - '0') % w.nobjs : 0);
      change(object_sql(tag), (const uint8_t *)other, strlen(other), false,
             (long)(pos % w.nobjs));
    } else if ((q = object_sql(tag))) {
      change(q, text, len, null, (long)(pos % w.nobjs));
    } else if ((q = run_sql(tag))) {
      change(q, text, len, null, (long)(pos & 0x7f));
    }
  }
  sql("COMMIT");
}

/* ------------------------------------------------------------------ reads */

static bool terminal(ws_status_t st) {
  return st == WS_COMPLETED || st == WS_FAILED || st == WS_STOPPED;
}

static void reads(const char *id) {
  char err[1024];
  ws_store_t *s = w.store;
  json_t *out = NULL;
  err[0] = '\0';
  int rc = s->ops->get(s, id, &out, err, sizeof err);
  if (wsf_verbose()) fprintf(stderr, "get: %s\n", rc ? err : "ok");
  if (rc) {
    if (out || !err[0]) wsf_fail("get failed without a message, or with a value");
  } else {
    char *text = json_dumps(out, JSON_COMPACT);
    if (!text) wsf_fail("get gave a value that cannot be encoded");
    free(text);
    json_decref(out);
  }
  for (size_t limit = 0; limit < 2; limit++) {
    out = NULL;
    if (s->ops->list(s, limit, &out, err, sizeof err) == 0) {
      if (!json_is_array(out)) wsf_fail("list gave no array");
      json_decref(out);
    }
  }

  ws_plan_t *p = build_plan(w.reg);
  err[0] = '\0';
  rc = s->ops->load(s, id, p, err, sizeof err);
  if (wsf_verbose()) fprintf(stderr, "load: %s\n", rc ? err : "ok");
  if (rc) {
    if (!err[0]) wsf_fail("load failed without a message");
  } else if (ws_plan_prepare_resume(p)) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    ws_run_opts_t opts = {.virtual_clock = true};
    rc = ws_run_plan(&loop, p, w.reg, &opts, err, sizeof err);
    if (wsf_verbose())
      fprintf(stderr, "resumed: %s\n", rc ? err : ws_status_name(p->node.state.status));
    if (rc == 0 && !terminal(p->node.state.status))
      wsf_fail("a resumed run ended with the plan %s", ws_status_name(p->node.state.status));
    if (strstr(err, "internal error")) wsf_fail("resuming: %s", err);
    if (uv_loop_close(&loop)) wsf_fail("a resumed run left handles open");
  }
  ws_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!w.store) setup();
  wsf_in_t in = {data, size};
  char id[128];
  apply(&in, id, sizeof id);
  reads(id);
  return 0;
}
