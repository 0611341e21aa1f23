/*
** test_store.c - the SQLite store (workstream/store.h): what a run records
** comes back field for field (get, list, load), a rebuilt plan that differs is
** refused with the path of the difference, secrets never reach the file,
** leases exclude other owners until they expire, and files that are not ours
** are refused with a message naming them.
*/
#define _GNU_SOURCE /* memmem, nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "workstream/store.h"
#include "test_plugins.h"

#define SECRET "hunter2-Very-Secret-47"
#define APPLICATION_ID 0x57534B31

static ws_registry_t *reg;
static char tmpdir[64];

/* ------------------------------------------------ a plugin with a secret */

static const ws_type_t t_password = WS_SECRET(&ws_t_string);
static const ws_type_t t_false = WS_DEFAULT(&ws_t_boolean, "false");
static const ws_field_t login_req_fields[] = {
    {"user", &ws_t_string}, {"password", &t_password}, {"fail", &t_false}, {NULL, NULL}};
static const ws_type_t login_req = WS_RECORD(login_req_fields);
static const ws_field_t login_resp_fields[] = {{"echo", &ws_t_string}, {NULL, NULL}};
static const ws_type_t login_resp = WS_RECORD(login_resp_fields);

/* Echoes its password everywhere it can: the log, the error, the response. */
static int login_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  const char *pw = json_string_value(json_object_get(req, "password"));
  ws_call_log(call, "logging in with %s", pw);
  if (json_is_true(json_object_get(req, "fail")))
    ws_call_fail(call, 1, "auth", "password %s refused", pw);
  else
    ws_call_succeed(call, json_pack("{s:s}", "echo", pw));
  return 0;
}

static void login_cancel(ws_call_t *call) { (void)call; /* completes at once */ }

static const ws_plugin_def_t login_plugin = {.abi = WS_PLUGIN_ABI,
                                             .name = "test.login",
                                             .request = &login_req,
                                             .response = &login_resp,
                                             .start = login_start,
                                             .cancel = login_cancel};

/* ------------------------------------------------------------- fixtures */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  chmod(path, 0700);
  return remove(path);
}

static int setup(void **state) {
  (void)state;
  test_stats_reset();
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ws-store-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static char *in_tmp(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "%s/%s", tmpdir, name);
  return buf;
}

static ws_store_t *open_store(const char *path) {
  char err[1024];
  ws_store_t *s = ws_store_sqlite_open(path, err, sizeof err);
  if (!s) fail_msg("open %s: %s", path, err);
  return s;
}

static void resolve(ws_plan_t *p) {
  char err[1024];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("resolve: %s", err);
}

/* Runs p (resolved) under a virtual clock, recording into s when not NULL. */
static void run_plan(ws_plan_t *p, ws_store_t *s) {
  char err[1024];
  uv_loop_t loop;
  uv_loop_init(&loop);
  ws_run_opts_t opts = {.virtual_clock = true, .store = s};
  if (ws_run_plan(&loop, p, reg, &opts, err, sizeof err)) fail_msg("run: %s", err);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------ the result shape, expected */

/* The same shape as bindings/ws_lua_result.c gives a Lua script. */
static void put_node(json_t *o, const ws_node_t *n) {
  json_object_set_new(o, "type", json_string(ws_objtype_name(n->type)));
  json_object_set_new(o, "id", json_string(n->id));
  if (n->name) json_object_set_new(o, "name", json_string(n->name));
  if (n->descr) json_object_set_new(o, "descr", json_string(n->descr));
  if (n->key) json_object_set_new(o, "key", json_string(n->key));
  json_object_set_new(o, "status", json_string(ws_status_name(n->state.status)));
  if (n->state.started > 0) json_object_set_new(o, "started", json_real(n->state.started));
  if (n->state.ended > 0) json_object_set_new(o, "ended", json_real(n->state.ended));
}

static json_t *error_json(const ws_error_t *e) {
  json_t *o = json_pack("{s:s, s:b}", "msg", e->msg, "permanent", e->permanent);
  if (e->code) json_object_set_new(o, "code", json_string(e->code));
  return o;
}

static json_t *action_json(const ws_action_t *a) {
  json_t *o = json_object();
  put_node(o, &a->node);
  json_object_set_new(o, "plugin", json_string(a->plugin_name));
  json_object_set_new(o, "req", ws_redacted(a->plugin->request, a->req));
  json_object_set_new(o, "timeout", json_real(a->timeout));
  json_object_set_new(o, "retries", json_integer(a->retries));
  if (a->has_retry)
    json_object_set_new(o, "retry",
                        json_pack("{s:f, s:f, s:f, s:f}", "initial", a->retry.initial,
                                  "multiplier", a->retry.multiplier, "jitter", a->retry.jitter,
                                  "max", a->retry.max));
  json_t *atts = json_array();
  for (size_t i = 0; i < a->nattempts; i++) {
    const ws_attempt_t *at = &a->attempts[i];
    json_t *t = json_object();
    if (at->resp) json_object_set(t, "resp", at->resp);
    if (at->err) json_object_set_new(t, "err", error_json(at->err));
    json_object_set_new(t, "started", json_real(at->started));
    if (at->ended > 0) json_object_set_new(t, "ended", json_real(at->ended));
    json_object_set_new(t, "timed_out", json_boolean(at->timed_out));
    if (at->interrupted) json_object_set_new(t, "interrupted", json_true());
    if (at->nlog) {
      json_t *log = json_array();
      for (size_t j = 0; j < at->nlog; j++) json_array_append_new(log, json_string(at->log[j]));
      json_object_set_new(t, "log", log);
    }
    json_array_append_new(atts, t);
  }
  json_object_set_new(o, "attempts", atts);
  if (a->resp) json_object_set(o, "resp", a->resp);
  if (a->err) json_object_set_new(o, "err", error_json(a->err));
  return o;
}

static json_t *actions_json(ws_action_t *const *v, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, action_json(v[i]));
  return arr;
}

static void put_checks(json_t *o, ws_checks_t *const *slots) {
  for (int k = 0; k < WS_CHECKS_NKINDS; k++) {
    const ws_checks_t *c = slots[k];
    if (!c) continue;
    json_t *co = json_object();
    put_node(co, &c->node);
    json_object_set_new(co, "kind", json_string(ws_checks_kind_name(c->kind)));
    json_object_set_new(co, "delay", json_real(c->delay));
    json_object_set_new(co, "actions", actions_json(c->actions, c->nactions));
    char slot[32];
    snprintf(slot, sizeof slot, "%s_checks", ws_checks_kind_name(c->kind));
    json_object_set_new(o, slot, co);
  }
}

static json_t *sequence_json(const ws_sequence_t *s) {
  static const char *const when[] = {"?", "on_success", "on_failure", "always"};
  json_t *o = json_object();
  put_node(o, &s->node);
  if (s->node.type == WS_OBJ_BATCH) {
    json_object_set_new(o, "when", json_string(when[s->when]));
    json_object_set_new(o, "fail_plan", json_boolean(s->fail_plan));
  }
  json_object_set_new(o, "actions", actions_json(s->actions, s->nactions));
  return o;
}

static json_t *result_json(const ws_plan_t *p) {
  json_t *o = json_object();
  put_node(o, &p->node);
  if (p->group) json_object_set_new(o, "group", json_string(p->group));
  if (p->meta) json_object_set(o, "meta", p->meta);
  if (p->reason) json_object_set_new(o, "reason", json_string(ws_reason_name(p->reason)));
  put_checks(o, p->checks);
  json_t *blocks = json_array();
  for (size_t i = 0; i < p->nblocks; i++) {
    const ws_block_t *b = p->blocks[i];
    json_t *bo = json_object();
    put_node(bo, &b->node);
    json_object_set_new(bo, "concurrency", json_integer(b->concurrency));
    if (b->tolerated.percent) {
      char pct[32];
      snprintf(pct, sizeof pct, "%d%%", (int)b->tolerated.count);
      json_object_set_new(bo, "tolerated_failures", json_string(pct));
    } else {
      json_object_set_new(bo, "tolerated_failures", json_integer(b->tolerated.count));
    }
    json_object_set_new(bo, "entrance_delay", json_real(b->entrance_delay));
    json_object_set_new(bo, "exit_delay", json_real(b->exit_delay));
    json_object_set_new(bo, "stop",
                        json_string(b->stop == WS_STOP_ACTION ? "action" : "sequence"));
    put_checks(bo, b->checks);
    json_t *seqs = json_array();
    for (size_t j = 0; j < b->nsequences; j++)
      json_array_append_new(seqs, sequence_json(b->sequences[j]));
    json_object_set_new(bo, "sequences", seqs);
    json_array_append_new(blocks, bo);
  }
  json_object_set_new(o, "blocks", blocks);
  if (p->nbatches) {
    json_t *batches = json_array();
    for (size_t i = 0; i < p->nbatches; i++)
      json_array_append_new(batches, sequence_json(p->batches[i]));
    json_object_set_new(o, "deferred_actions", batches);
  }
  return o;
}

/* json_equal, except that reals (times) need only agree to the microsecond:
** that is what the store keeps. */
static bool json_same(const json_t *a, const json_t *b) {
  if (json_is_real(a) && json_is_real(b))
    return fabs(json_real_value(a) - json_real_value(b)) <= 1e-6;
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!json_same(json_array_get(a, i), json_array_get(b, i))) return false;
    return true;
  }
  if (json_is_object(a) && json_is_object(b)) {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)a, k, v) {
      if (!json_same(v, json_object_get(b, k))) return false;
    }
    return true;
  }
  return json_equal(a, b);
}

static void assert_json_equal(const json_t *got, const json_t *want) {
  if (json_same(got, want)) return;
  char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
  char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
  FILE *f = fopen("/tmp/test_store.got.json", "w");
  if (f) fprintf(f, "%s\n", g), fclose(f);
  f = fopen("/tmp/test_store.want.json", "w");
  if (f) fprintf(f, "%s\n", w), fclose(f);
  free(g);
  free(w);
  fail_msg("json differs: see /tmp/test_store.got.json and /tmp/test_store.want.json");
}

/* ---------------------------------------------------------------- plans */

enum variant {
  SAME = 0,
  RENAMED_ACTION,
  CHANGED_REQUEST,
  CHANGED_SECRET, /* the redacted request stays the same: not a difference */
  EXTRA_SEQUENCE,
  CHANGED_PLUGIN,
  CHANGED_KEY,
  NO_DEFERRED_CHECKS,
  CHECKS_MOVED
};

static ws_action_t *with_descr(ws_action_t *a, const char *descr) {
  free(a->node.descr);
  a->node.descr = strdup(descr);
  return a;
}

static ws_action_t *check(const char *name) {
  char req[128];
  snprintf(req, sizeof req, "{\"name\": \"%s\"}", name);
  return test_action(name, "test.check", req);
}

/* Every kind of object and setting, every status and an attempt of every
** kind: retried, failed for good, timed out, logged, completed. */
static ws_plan_t *rich_plan(enum variant v) {
  ws_plan_t *p = ws_plan_new("rollout", "the rich one");
  p->group = strdup("group-1");
  p->meta = json_pack("{s:s, s:i}", "ticket", "OPS-1", "n", 3);
  ws_node_set_key(&p->node, "rollout-key");

  ws_checks_t *pre = ws_checks_new(v == CHECKS_MOVED ? WS_CHECKS_POST : WS_CHECKS_PRE, 30);
  ws_checks_add_action(pre, check("pc"));
  ws_plan_set_checks(p, pre);
  ws_checks_t *cont = ws_checks_new(WS_CHECKS_CONT, 0.5);
  ws_checks_add_action(cont, check("cc"));
  ws_plan_set_checks(p, cont);
  if (v != CHECKS_MOVED) {
    ws_checks_t *post = ws_checks_new(WS_CHECKS_POST, 30);
    ws_checks_add_action(post, check("ppc")); /* not_started: the plan fails before */
    ws_plan_set_checks(p, post);
  }
  if (v != NO_DEFERRED_CHECKS) {
    ws_checks_t *dc = ws_checks_new(WS_CHECKS_DEFERRED, 30);
    ws_checks_add_action(dc, check("dc"));
    ws_plan_set_checks(p, dc);
  }

  ws_block_t *b1 = ws_block_new("b1", "first");
  b1->concurrency = 2;
  b1->tolerated.count = 50;
  b1->tolerated.percent = true;
  b1->stop = WS_STOP_ACTION;
  b1->entrance_delay = 0.01;
  ws_checks_t *bpc = ws_checks_new(WS_CHECKS_POST, 30);
  ws_checks_add_action(bpc, check("bpc"));
  ws_block_set_checks(b1, bpc);

  ws_sequence_t *s1 = ws_sequence_new("s1", "drain and restart");
  ws_sequence_add_action(s1, with_descr(test_action("drain", "test.work", "{\"name\": \"drain\"}"),
                                        "take it out"));
  ws_action_t *restart =
      test_action(v == RENAMED_ACTION ? "restart2" : "restart", "test.work",
                  v == CHANGED_REQUEST ? "{\"name\": \"restart\", \"fail_times\": 2}"
                                       : "{\"name\": \"restart\", \"fail_times\": 1}");
  if (v == CHANGED_PLUGIN) {
    free(restart->plugin_name);
    restart->plugin_name = strdup("ws.sleep");
    json_decref(restart->req);
    restart->req = json_pack("{s:f}", "seconds", 0.001);
  }
  restart->retries = 2;
  restart->has_retry = true;
  restart->retry = (ws_retry_policy_t){0.01, 2.0, 0.0, 1.0};
  ws_node_set_key(&restart->node, v == CHANGED_KEY ? "other-key" : "s1-restart");
  ws_sequence_add_action(s1, restart);
  ws_block_add_sequence(b1, s1);

  ws_sequence_t *s2 = ws_sequence_new("s2", NULL);
  char req[256];
  snprintf(req, sizeof req, "{\"user\": \"admin\", \"password\": \"%s\"}",
           v == CHANGED_SECRET ? "another-secret" : SECRET);
  ws_sequence_add_action(s2, test_action("login", "test.login", req));
  ws_sequence_add_action(s2, test_action("bad", "test.work",
                                         "{\"name\": \"bad\", \"fail\": true, \"permanent\": true}"));
  ws_sequence_add_action(s2, test_action("never", "test.work", "{\"name\": \"never\"}"));
  ws_block_add_sequence(b1, s2);

  ws_sequence_t *s3 = ws_sequence_new("s3", NULL);
  ws_sequence_add_action(s3, test_action("after", "test.work", "{\"name\": \"after\"}"));
  ws_block_add_sequence(b1, s3);
  if (v == EXTRA_SEQUENCE) {
    ws_sequence_t *s4 = ws_sequence_new("s4", NULL);
    ws_sequence_add_action(s4, test_action("more", "test.work", NULL));
    ws_block_add_sequence(b1, s4);
  }
  ws_plan_add_block(p, b1);

  ws_block_t *b2 = ws_block_new("b2", NULL); /* fails: a timeout, nothing tolerated */
  ws_sequence_t *t1 = ws_sequence_new("t1", NULL);
  ws_action_t *slow = test_action("slow", "test.work", "{\"name\": \"slow\", \"sleep\": 5}");
  slow->timeout = 0.5;
  ws_sequence_add_action(t1, slow);
  ws_block_add_sequence(b2, t1);
  ws_plan_add_block(p, b2);

  ws_batch_t *always = ws_batch_new("cleanup", NULL, WS_WHEN_ALWAYS, false);
  ws_sequence_add_action(always, test_action("clean", "test.work", "{\"name\": \"clean\"}"));
  ws_plan_add_batch(p, always);
  ws_batch_t *onsuccess = ws_batch_new("celebrate", NULL, WS_WHEN_ON_SUCCESS, true);
  ws_sequence_add_action(onsuccess, test_action("party", "test.work", NULL));
  ws_plan_add_batch(p, onsuccess);
  resolve(p);
  return p;
}

static json_t *origin_json(void) {
  return json_pack("{s:s, s:[s, s], s:s}", "file", "plan.lua", "args", "a", "b", "cwd", "/srv");
}

static void create_run(ws_store_t *s, ws_plan_t *p) {
  char err[1024];
  json_t *origin = origin_json();
  if (s->ops->create(s, p, origin, err, sizeof err)) fail_msg("create: %s", err);
  json_decref(origin);
}

static json_t *get_run(ws_store_t *s, const char *id) {
  char err[1024];
  json_t *out = NULL;
  if (s->ops->get(s, id, &out, err, sizeof err)) fail_msg("get %s: %s", id, err);
  assert_non_null(out);
  return out;
}

/* The first action of the first sequence of the first block of result r. */
static json_t *first_action(json_t *r) {
  json_t *b = json_array_get(json_object_get(r, "blocks"), 0);
  json_t *q = json_array_get(json_object_get(b, "sequences"), 0);
  return json_array_get(json_object_get(q, "actions"), 0);
}

/* What get must give for p: its result, plus what only the store knows. */
static void assert_stored(ws_store_t *s, const ws_plan_t *p) {
  json_t *got = get_run(s, p->node.id);
  json_t *created = json_object_get(got, "created");
  assert_true(json_is_real(created));
  assert_true(fabs(json_real_value(created) - (double)time(NULL)) < 600);
  json_object_del(got, "created");
  json_t *want = result_json(p);
  json_object_set_new(want, "origin", origin_json());
  assert_json_equal(got, want);
  json_decref(got);
  json_decref(want);
}

/* ---------------------------------------------------------- raw SQLite */

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

static void raw_exec(const char *path, const char *sql) {
  sqlite3 *db = raw_open(path);
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
  sqlite3_close(db);
}

static long long raw_int(const char *path, const char *sql) {
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  long long v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

static char *raw_text(const char *path, const char *sql) {
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  char *v = NULL;
  if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
    v = strdup((const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

/* The bytes of a file (NULL when absent); *len its size. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  *len = 0;
  if (!f) return NULL;
  size_t cap = 1 << 16;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + *len, 1, cap - *len, f)) > 0) {
    *len += n;
    if (*len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  return buf;
}

static bool file_has(const char *path, const char *needle) {
  size_t len;
  char *buf = slurp(path, &len);
  bool found = buf && memmem(buf, len, needle, strlen(needle)) != NULL;
  free(buf);
  return found;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ---------------------------------------------------------------- tests */

static void a_run_comes_back_field_for_field(void **state) {
  (void)state;
  char path[256], err[1024];
  in_tmp(path, sizeof path, "deep/er/runs.db"); /* missing directories are made */
  ws_store_t *s = open_store(path);
  char dir[256];
  struct stat st;
  assert_int_equal(stat(in_tmp(dir, sizeof dir, "deep/er"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);

  ws_plan_t *p = rich_plan(SAME);
  create_run(s, p);
  /* create is durable at once: another connection sees every object */
  size_t nobj;
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM objects WHERE run_id = '%s'", p->node.id);
  nobj = (size_t)raw_int(path, sql);
  assert_int_equal(nobj, 28);
  assert_stored(s, p); /* all not_started */

  run_plan(p, s);
  assert_int_equal(p->node.state.status, WS_FAILED);
  assert_int_equal(p->reason, WS_REASON_BLOCK);
  ws_action_t *restart = p->blocks[0]->sequences[0]->actions[1];
  assert_int_equal(restart->nattempts, 2);
  ws_action_t *login = p->blocks[0]->sequences[1]->actions[0];
  assert_int_equal(login->attempts[0].nlog, 1);
  ws_action_t *slow = p->blocks[1]->sequences[0]->actions[0];
  assert_true(slow->attempts[0].timed_out);
  assert_int_equal(p->batches[1]->node.state.status, WS_NOT_STARTED);
  if (s->ops->flush(s, err, sizeof err)) fail_msg("flush: %s", err);
  assert_stored(s, p);

  /* another connection, another time */
  s->ops->close(s);
  s = open_store(path);
  assert_stored(s, p);
  json_t *runs = NULL;
  if (s->ops->list(s, 0, &runs, err, sizeof err)) fail_msg("list: %s", err);
  json_t *want = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:f, s:f}]", "id", p->node.id, "group",
                           "group-1", "name", "rollout", "status", "failed", "reason", "block",
                           "started", p->node.state.started, "ended", p->node.state.ended);
  assert_json_equal(runs, want);
  json_decref(runs);
  json_decref(want);

  /* a plan rebuilt from the same source takes the stored states and IDs */
  ws_plan_t *q = rich_plan(SAME);
  assert_string_not_equal(q->node.id, p->node.id);
  if (s->ops->load(s, p->node.id, q, err, sizeof err)) fail_msg("load: %s", err);
  json_t *jp = result_json(p), *jq = result_json(q);
  assert_json_equal(jq, jp);
  json_decref(jp);
  json_decref(jq);
  assert_int_equal(q->reason, WS_REASON_BLOCK);
  ws_action_t *qr = q->blocks[0]->sequences[0]->actions[1];
  assert_ptr_equal(qr->resp, qr->attempts[1].resp);
  assert_null(qr->err);
  ws_action_t *qbad = q->blocks[0]->sequences[1]->actions[1];
  assert_ptr_equal(qbad->err, qbad->attempts[0].err);
  assert_null(qbad->resp);
  assert_string_equal(qbad->err->code, "test");
  assert_true(qbad->err->permanent);

  ws_plan_free(q);
  ws_plan_free(p);
  s->ops->close(s);
}

static void a_rebuilt_plan_that_differs_is_refused(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "runs.db"));
  ws_plan_t *p = rich_plan(SAME);
  create_run(s, p);
  run_plan(p, s);

  static const struct {
    enum variant v;
    const char *want;
  } cases[] = {
      {RENAMED_ACTION, "b1/s1/restart2: the name differs (was \"restart\", now \"restart2\")"},
      {CHANGED_REQUEST, "b1/s1/restart: the request differs (was {\"bad_response\":false,"
                        "\"fail\":false,\"fail_times\":1,"},
      {EXTRA_SEQUENCE, "b1/s4: the plan has a sequence here, where the stored run has b1/"
                       "post_checks (a checks)"},
      {CHANGED_PLUGIN, "b1/s1/restart: the plugin differs (was \"test.work\", now \"ws.sleep\")"},
      {CHANGED_KEY, "b1/s1/restart: the key differs (was \"s1-restart\", now \"other-key\")"},
      {NO_DEFERRED_CHECKS, "deferred_checks: the stored run has this checks, the plan does not"},
      {CHECKS_MOVED, "cont_checks: the plan has a checks here, where the stored run has "
                     "pre_checks (a checks)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ws_plan_t *q = rich_plan(cases[i].v);
    char before[WS_UUID_STRLEN + 1];
    memcpy(before, q->node.id, sizeof before);
    assert_int_equal(s->ops->load(s, p->node.id, q, err, sizeof err), -1);
    test_assert_contains(err, path);
    test_assert_contains(err, "does not match the plan");
    test_assert_contains(err, cases[i].want);
    assert_null(strstr(err, SECRET));
    /* nothing of it was taken */
    assert_string_equal(q->node.id, before);
    assert_int_equal(q->node.state.status, WS_NOT_STARTED);
    ws_plan_free(q);
  }

  /* a different secret is not a difference: only redacted requests are compared */
  ws_plan_t *q = rich_plan(CHANGED_SECRET);
  if (s->ops->load(s, p->node.id, q, err, sizeof err)) fail_msg("load: %s", err);
  ws_plan_free(q);

  /* an unresolved plan cannot be compared, nor recorded */
  q = ws_plan_new("rollout", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *sq = ws_sequence_new("s", NULL);
  ws_sequence_add_action(sq, test_action("a", "test.work", NULL));
  ws_block_add_sequence(b, sq);
  ws_plan_add_block(q, b);
  assert_int_equal(s->ops->create(s, q, NULL, err, sizeof err), -1);
  test_assert_contains(err, "b: the plan is not resolved");
  json_t *runs = NULL;
  assert_int_equal(s->ops->list(s, 0, &runs, err, sizeof err), 0);
  assert_int_equal(json_array_size(runs), 1); /* nothing of it stayed */
  json_decref(runs);
  ws_plan_free(q);

  ws_plan_free(p);
  s->ops->close(s);
}

static void secrets_never_reach_the_file(void **state) {
  (void)state;
  char path[256], wal[300], err[1024];
  in_tmp(path, sizeof path, "runs.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  ws_store_t *s = open_store(path);
  ws_plan_t *p = ws_plan_new("secretive", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  b->tolerated.count = -1;
  char req[256];
  for (int i = 0; i < 2; i++) {
    ws_sequence_t *sq = ws_sequence_new(i ? "bad" : "good", NULL);
    snprintf(req, sizeof req, "{\"user\": \"admin\", \"password\": \"%s\", \"fail\": %s}", SECRET,
             i ? "true" : "false");
    ws_sequence_add_action(sq, test_action("login", "test.login", req));
    ws_block_add_sequence(b, sq);
  }
  ws_plan_add_block(p, b);
  resolve(p);
  create_run(s, p);
  run_plan(p, s);
  if (s->ops->flush(s, err, sizeof err)) fail_msg("flush: %s", err);

  /* the plugin echoed it everywhere; the engine scrubbed it */
  ws_action_t *good = b->sequences[0]->actions[0], *bad = b->sequences[1]->actions[0];
  assert_int_equal(good->node.state.status, WS_COMPLETED);
  assert_int_equal(bad->node.state.status, WS_FAILED);
  test_assert_contains(bad->err->msg, "***");
  assert_true(exists(wal));
  assert_false(file_has(path, SECRET));
  assert_false(file_has(wal, SECRET));
  assert_true(file_has(path, "<redacted>") || file_has(wal, "<redacted>"));
  assert_true(file_has(path, "logging in with ***") || file_has(wal, "logging in with ***"));

  json_t *got = get_run(s, p->node.id);
  char *text = json_dumps(got, 0);
  assert_null(strstr(text, SECRET));
  test_assert_contains(text, "password ***");
  free(text);
  json_decref(got);
  s->ops->close(s);
  assert_false(file_has(path, SECRET)); /* checkpointed */
  ws_plan_free(p);
}

static void leases_exclude_other_owners_until_they_expire(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "runs.db"));
  ws_plan_t *p = rich_plan(SAME);
  create_run(s, p);
  const char *id = p->node.id;

  assert_int_equal(s->ops->lease(s, id, "alice", 60, err, sizeof err), 0);
  assert_int_equal(s->ops->lease(s, id, "bob", 60, err, sizeof err), -1);
  test_assert_contains(err, path);
  test_assert_contains(err, "is being run by alice (lease until 20");
  test_assert_contains(err, "Z)");
  test_assert_contains(err, id);
  assert_int_equal(s->ops->lease(s, id, "alice", 120, err, sizeof err), 0); /* renewed */
  json_t *got = get_run(s, id);
  json_t *lease = json_object_get(got, "lease");
  assert_string_equal(json_string_value(json_object_get(lease, "owner")), "alice");
  assert_true(json_real_value(json_object_get(lease, "expires")) > (double)time(NULL) + 100);
  json_decref(got);

  /* another store (another process) sees it too */
  ws_store_t *s2 = open_store(path);
  assert_int_equal(s2->ops->lease(s2, id, "bob", 60, err, sizeof err), -1);
  test_assert_contains(err, "alice");

  assert_int_equal(s->ops->release(s, id, "bob", err, sizeof err), 0); /* not his: no-op */
  assert_int_equal(s2->ops->lease(s2, id, "bob", 60, err, sizeof err), -1);
  assert_int_equal(s->ops->release(s, id, "alice", err, sizeof err), 0);
  got = get_run(s, id);
  assert_null(json_object_get(got, "lease"));
  json_decref(got);

  /* expiry */
  assert_int_equal(s2->ops->lease(s2, id, "bob", 0.01, err, sizeof err), 0);
  assert_int_equal(s->ops->lease(s, id, "alice", 60, err, sizeof err), -1);
  usleep(30 * 1000);
  got = get_run(s, id);
  assert_null(json_object_get(got, "lease")); /* expired: not held */
  json_decref(got);
  assert_int_equal(s->ops->lease(s, id, "alice", 60, err, sizeof err), 0);
  assert_int_equal(s2->ops->lease(s2, id, "bob", 60, err, sizeof err), -1);

  /* bad calls */
  assert_int_equal(s->ops->lease(s, "0000000000-nope", "alice", 60, err, sizeof err), -1);
  test_assert_contains(err, "no run 0000000000-nope");
  assert_int_equal(s->ops->lease(s, id, "alice", 0, err, sizeof err), -1);
  assert_int_equal(s->ops->lease(s, id, "", 60, err, sizeof err), -1);

  s2->ops->close(s2);
  s->ops->close(s);
  ws_plan_free(p);
}

static void ids_and_prefixes(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "runs.db"));
  ws_plan_t *p1 = rich_plan(SAME), *p2 = rich_plan(SAME);
  create_run(s, p1);
  create_run(s, p2);
  json_t *out = NULL;

  /* the first 8 characters are the same for runs made within a minute */
  char prefix[40];
  snprintf(prefix, sizeof prefix, "%.8s", p1->node.id);
  assert_int_equal(s->ops->get(s, prefix, &out, err, sizeof err), -1);
  assert_null(out);
  test_assert_contains(err, "is ambiguous");
  test_assert_contains(err, p1->node.id);
  test_assert_contains(err, p2->node.id);

  /* an unambiguous prefix, in capitals too */
  size_t k = 0;
  while (p1->node.id[k] == p2->node.id[k]) k++;
  snprintf(prefix, sizeof prefix, "%.*s", (int)(k + 1 < 8 ? 8 : k + 1), p2->node.id);
  for (char *c = prefix; *c; c++) *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
  out = get_run(s, prefix);
  assert_string_equal(json_string_value(json_object_get(out, "id")), p2->node.id);
  json_decref(out);
  out = NULL;

  assert_int_equal(s->ops->get(s, "0123", &out, err, sizeof err), -1);
  test_assert_contains(err, "at least its first 8 characters");
  assert_int_equal(s->ops->get(s, "ffffffff-ffff", &out, err, sizeof err), -1);
  test_assert_contains(err, "no run ffffffff-ffff");
  assert_int_equal(s->ops->get(s, "x'; DROP TABLE runs; --", &out, err, sizeof err), -1);
  assert_null(out);

  /* newest first, limited */
  json_t *runs = NULL;
  assert_int_equal(s->ops->list(s, 1, &runs, err, sizeof err), 0);
  assert_int_equal(json_array_size(runs), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "id")),
                      p2->node.id);
  json_decref(runs);
  assert_int_equal(s->ops->list(s, 0, &runs, err, sizeof err), 0);
  assert_int_equal(json_array_size(runs), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 1), "id")),
                      p1->node.id);
  assert_null(json_object_get(json_array_get(runs, 1), "started")); /* not yet */
  json_decref(runs);

  /* a run is created once; an object of no stored run cannot be recorded */
  assert_int_equal(s->ops->create(s, p1, NULL, err, sizeof err), -1);
  test_assert_contains(err, "is already stored");
  ws_plan_t *p3 = rich_plan(SAME);
  assert_int_equal(s->ops->update(s, &p3->node, err, sizeof err), 0); /* kept until flush */
  assert_int_equal(s->ops->flush(s, err, sizeof err), -1);
  test_assert_contains(err, "is not stored (create its run first)");
  create_run(s, p3); /* the group that could not be written was dropped */
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);
  ws_plan_free(p3);

  s->ops->close(s);
  ws_plan_free(p1);
  ws_plan_free(p2);
}

static void updates_are_grouped_until_flush(void **state) {
  (void)state;
  char path[256], err[1024], sql[256];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "runs.db"));
  ws_plan_t *p = rich_plan(SAME);
  create_run(s, p);
  ws_action_t *a = p->blocks[0]->sequences[0]->actions[0];

  a->node.state.status = WS_RUNNING;
  a->node.state.started = 1000.5;
  assert_int_equal(s->ops->update(s, &a->node, err, sizeof err), 0);
  p->node.state.status = WS_RUNNING;
  assert_int_equal(s->ops->update(s, &p->node, err, sizeof err), 0);
  /* another store (another process) sees nothing yet, and may write meanwhile:
  ** no lock is held between calls */
  ws_store_t *s2 = open_store(path);
  json_t *got = get_run(s2, p->node.id);
  assert_string_equal(json_string_value(json_object_get(first_action(got), "status")),
                      "not_started");
  assert_string_equal(json_string_value(json_object_get(got, "status")), "not_started");
  json_decref(got);
  ws_plan_t *p2 = rich_plan(SAME);
  create_run(s2, p2);
  ws_plan_free(p2);

  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);
  got = get_run(s2, p->node.id);
  assert_string_equal(json_string_value(json_object_get(first_action(got), "status")),
                      "running");
  json_decref(got);
  snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE id = '%s'", p->node.id);
  char *st = raw_text(path, sql);
  assert_string_equal(st, "running");
  free(st);
  /* one journal row per flush of a run, whatever the number of objects */
  snprintf(sql, sizeof sql, "SELECT count(*) FROM journal WHERE run_id = '%s'", p->node.id);
  assert_int_equal(raw_int(path, sql), 1);
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0); /* nothing to do */
  assert_int_equal(raw_int(path, sql), 1);
  s2->ops->close(s2);

  /* the last update of an object wins; close commits what is pending */
  a->node.state.status = WS_COMPLETED;
  a->node.state.ended = 1001.25;
  assert_int_equal(s->ops->update(s, &a->node, err, sizeof err), 0);
  s->ops->close(s);
  s = open_store(path);
  got = get_run(s, p->node.id);
  json_t *ga = first_action(got);
  assert_string_equal(json_string_value(json_object_get(ga, "status")), "completed");
  assert_true(json_real_value(json_object_get(ga, "started")) == 1000.5);
  assert_true(json_real_value(json_object_get(ga, "ended")) == 1001.25);
  json_decref(got);
  s->ops->close(s);
  ws_plan_free(p);
}

static void two_stores_on_one_file(void **state) {
  (void)state;
  char path[256], err[1024];
  in_tmp(path, sizeof path, "shared.db");
  ws_store_t *a = open_store(path), *b = open_store(path);
  ws_plan_t *pa = rich_plan(SAME), *pb = rich_plan(SAME);
  create_run(a, pa);
  create_run(b, pb);
  ws_node_t *na[64], *nb[64];
  size_t n = 0;
  /* the same plans: update their objects in turn, each store its own run */
  ws_action_t *acts_a[] = {pa->blocks[0]->sequences[0]->actions[0],
                           pa->blocks[0]->sequences[0]->actions[1],
                           pa->blocks[0]->sequences[2]->actions[0]};
  ws_action_t *acts_b[] = {pb->blocks[0]->sequences[0]->actions[0],
                           pb->blocks[0]->sequences[0]->actions[1],
                           pb->blocks[0]->sequences[2]->actions[0]};
  for (size_t i = 0; i < 3; i++) {
    na[n] = &acts_a[i]->node;
    nb[n++] = &acts_b[i]->node;
  }
  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < n; i++) {
      na[i]->state.status = round % 2 ? WS_COMPLETED : WS_RUNNING;
      na[i]->state.started = 100 + round;
      nb[i]->state.status = round % 2 ? WS_FAILED : WS_RUNNING;
      nb[i]->state.started = 200 + round;
      assert_int_equal(a->ops->update(a, na[i], err, sizeof err), 0);
      assert_int_equal(b->ops->update(b, nb[i], err, sizeof err), 0);
    }
    if (a->ops->flush(a, err, sizeof err)) fail_msg("flush a: %s", err);
    if (b->ops->flush(b, err, sizeof err)) fail_msg("flush b: %s", err);
  }
  /* each sees the other's */
  json_t *ga = get_run(b, pa->node.id), *gb = get_run(a, pb->node.id);
  json_t *want_a = result_json(pa), *want_b = result_json(pb);
  json_object_del(ga, "created");
  json_object_del(gb, "created");
  json_object_del(ga, "origin");
  json_object_del(gb, "origin");
  assert_json_equal(ga, want_a);
  assert_json_equal(gb, want_b);
  json_decref(ga);
  json_decref(gb);
  json_decref(want_a);
  json_decref(want_b);
  json_t *runs = NULL;
  assert_int_equal(a->ops->list(a, 0, &runs, err, sizeof err), 0);
  assert_int_equal(json_array_size(runs), 2);
  json_decref(runs);
  a->ops->close(a);
  b->ops->close(b);
  ws_plan_free(pa);
  ws_plan_free(pb);
}

/* A runner dies during an attempt; the run is loaded back and resumed. */
static void a_crashed_run_resumes_from_the_store(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "runs.db"));
  ws_plan_t *p = ws_plan_new("resumable", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *sq = ws_sequence_new("s", NULL);
  ws_sequence_add_action(sq, test_action("one", "test.work", "{\"name\": \"one\"}"));
  ws_sequence_add_action(sq, test_action("two", "test.work", "{\"name\": \"two\"}"));
  ws_block_add_sequence(b, sq);
  ws_plan_add_block(p, b);
  resolve(p);
  create_run(s, p);
  /* as the runner recorded it: one done, two in flight */
  ws_node_t *running[] = {&p->node, &b->node, &sq->node};
  for (size_t i = 0; i < 3; i++) {
    running[i]->state = (ws_state_t){WS_RUNNING, 10, 0};
    assert_int_equal(s->ops->update(s, running[i], err, sizeof err), 0);
  }
  ws_action_t *one = sq->actions[0], *two = sq->actions[1];
  one->node.state = (ws_state_t){WS_COMPLETED, 10, 11};
  one->attempts = calloc(1, sizeof *one->attempts);
  one->nattempts = 1;
  one->attempts[0] = (ws_attempt_t){.resp = json_pack("{s:s, s:i}", "name", "one", "attempt", 1),
                                    .started = 10,
                                    .ended = 11};
  two->node.state = (ws_state_t){WS_RUNNING, 11, 0};
  two->attempts = calloc(1, sizeof *two->attempts);
  two->nattempts = 1;
  two->attempts[0] = (ws_attempt_t){.started = 11};
  assert_int_equal(s->ops->update(s, &one->node, err, sizeof err), 0);
  assert_int_equal(s->ops->update(s, &two->node, err, sizeof err), 0);
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);
  s->ops->close(s); /* the runner is gone */

  s = open_store(path);
  ws_plan_t *q = ws_plan_new("resumable", NULL);
  ws_block_t *qb = ws_block_new("b", NULL);
  ws_sequence_t *qs = ws_sequence_new("s", NULL);
  ws_sequence_add_action(qs, test_action("one", "test.work", "{\"name\": \"one\"}"));
  ws_sequence_add_action(qs, test_action("two", "test.work", "{\"name\": \"two\"}"));
  ws_block_add_sequence(qb, qs);
  ws_plan_add_block(q, qb);
  resolve(q);
  assert_int_equal(s->ops->lease(s, p->node.id, "me", 60, err, sizeof err), 0);
  if (s->ops->load(s, p->node.id, q, err, sizeof err)) fail_msg("load: %s", err);
  assert_int_equal(qs->actions[1]->nattempts, 1);
  assert_true(ws_plan_prepare_resume(q));
  run_plan(q, s);
  assert_int_equal(q->node.state.status, WS_COMPLETED);
  assert_int_equal(test_stats.calls, 1); /* only "two" ran again */
  assert_int_equal(s->ops->release(s, p->node.id, "me", err, sizeof err), 0);

  json_t *got = get_run(s, p->node.id);
  json_object_del(got, "created");
  json_object_del(got, "origin");
  json_t *want = result_json(q);
  assert_json_equal(got, want);
  json_t *atts = json_object_get(
      json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(
                                                                        json_object_get(got, "blocks"), 0),
                                                                    "sequences"),
                                                    0),
                                     "actions"),
                     1),
      "attempts");
  assert_int_equal(json_array_size(atts), 2);
  assert_true(json_is_true(json_object_get(json_array_get(atts, 0), "interrupted")));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(json_array_get(atts, 0), "err"), "code")),
      "interrupted");
  assert_non_null(json_object_get(json_array_get(atts, 1), "resp"));
  json_decref(got);
  json_decref(want);
  s->ops->close(s);
  ws_plan_free(q);
  ws_plan_free(p);
}

static void files_that_are_not_ours_are_refused(void **state) {
  (void)state;
  char path[256], err[1024];

  /* a directory */
  in_tmp(path, sizeof path, "dir.db");
  assert_int_equal(mkdir(path, 0700), 0);
  assert_null(ws_store_sqlite_open(path, err, sizeof err));
  test_assert_contains(err, path);
  test_assert_contains(err, "is a directory");

  /* a file where a directory should be */
  char file[256];
  in_tmp(file, sizeof file, "plain");
  FILE *f = fopen(file, "w");
  fputs("just text\n", f);
  fclose(f);
  in_tmp(path, sizeof path, "plain/sub/runs.db");
  assert_null(ws_store_sqlite_open(path, err, sizeof err));
  test_assert_contains(err, path);
  test_assert_contains(err, "is not a directory");

  /* a text file */
  in_tmp(path, sizeof path, "notes.txt");
  f = fopen(path, "w");
  for (int i = 0; i < 100; i++) fputs("these are my notes, not a database\n", f);
  fclose(f);
  size_t len0, len1;
  char *before = slurp(path, &len0);
  assert_null(ws_store_sqlite_open(path, err, sizeof err));
  test_assert_contains(err, path);
  test_assert_contains(err, "file is not a database");
  char *after = slurp(path, &len1);
  assert_true(len0 == len1 && memcmp(before, after, len0) == 0); /* untouched */
  free(before);
  free(after);

  /* another application's SQLite file */
  in_tmp(path, sizeof path, "other.db");
  raw_exec(path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)");
  before = slurp(path, &len0);
  assert_null(ws_store_sqlite_open(path, err, sizeof err));
  test_assert_contains(err, path);
  test_assert_contains(err, "is not a Workstream database");
  after = slurp(path, &len1);
  assert_true(len0 == len1 && memcmp(before, after, len0) == 0);
  free(before);
  free(after);
  char *mode = raw_text(path, "PRAGMA journal_mode");
  assert_string_equal(mode, "delete"); /* not switched to WAL */
  free(mode);

  /* ours, from a newer version */
  in_tmp(path, sizeof path, "newer.db");
  char sql[256];
  snprintf(sql, sizeof sql,
           "PRAGMA application_id = %d; PRAGMA user_version = 99; CREATE TABLE future (x)",
           APPLICATION_ID);
  raw_exec(path, sql);
  assert_null(ws_store_sqlite_open(path, err, sizeof err));
  test_assert_contains(err, path);
  test_assert_contains(err, "was written by a newer version of Workstream (schema 99, this one "
                            "knows 2)");

  /* a place where no file can be made */
  assert_null(ws_store_sqlite_open("/proc/ws-store-test.db", err, sizeof err));
  test_assert_contains(err, "/proc/ws-store-test.db: ");

  /* a read-only file (root writes anyway: then there is nothing to see) */
  in_tmp(path, sizeof path, "ro.db");
  ws_store_t *s = open_store(path);
  s->ops->close(s);
  assert_int_equal(chmod(path, 0400), 0);
  if (geteuid() != 0) {
    assert_null(ws_store_sqlite_open(path, err, sizeof err));
    test_assert_contains(err, path);
    test_assert_contains(err, "read-only");
  } else {
    fprintf(stderr, "  (as root: a read-only file is writable, not checked)\n");
  }

  assert_null(ws_store_sqlite_open("", err, sizeof err));
}

static void a_new_file_gets_our_schema(void **state) {
  (void)state;
  char path[256];
  in_tmp(path, sizeof path, "empty.db");
  FILE *f = fopen(path, "w"); /* an empty file is an empty database */
  fclose(f);
  ws_store_t *s = open_store(path);
  s->ops->close(s);
  assert_int_equal(raw_int(path, "PRAGMA application_id"), APPLICATION_ID);
  assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);
  char *mode = raw_text(path, "PRAGMA journal_mode");
  assert_string_equal(mode, "wal");
  free(mode);
  assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('runs', 'objects', 'journal')"),
                   3);
  /* again: nothing to migrate */
  s = open_store(path);
  s->ops->close(s);
  assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);
}

/* Whatever bytes a plugin's error or log holds, what is stored reads back:
** escaped, each byte of invalid UTF-8 replaced by U+FFFD. */
static void any_text_is_stored_readably(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "text.db"));
  ws_plan_t *p = ws_plan_new("text", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *sq = ws_sequence_new("s", NULL);
  ws_sequence_add_action(sq, test_action("one", "test.work", "{\"name\": \"one\"}"));
  ws_block_add_sequence(b, sq);
  ws_plan_add_block(p, b);
  resolve(p);
  create_run(s, p);
  ws_action_t *a = sq->actions[0];
  a->node.state = (ws_state_t){WS_FAILED, 1000.000001, 1000.25};
  a->attempts = calloc(1, sizeof *a->attempts);
  a->nattempts = 1;
  ws_attempt_t *at = &a->attempts[0];
  *at = (ws_attempt_t){.started = 1000.000001, .ended = 1000.25};
  at->err = calloc(1, sizeof *at->err);
  at->err->msg = strdup("bad \xff\xfe byte, \"quote\" \\ tab\t nl\n ctl\x1f \xc3\xa9 \xe2\x82\xac");
  at->err->code = strdup("E\x01");
  at->log = calloc(1, sizeof *at->log);
  at->log[0] = strdup("half a char: \xe2\x82");
  at->nlog = 1;
  assert_int_equal(s->ops->update(s, &a->node, err, sizeof err), 0);
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);

  json_t *got = get_run(s, p->node.id);
  json_t *ga = first_action(got);
  json_t *e = json_object_get(ga, "err");
  assert_string_equal(json_string_value(json_object_get(e, "msg")),
                      "bad \xef\xbf\xbd\xef\xbf\xbd byte, \"quote\" \\ tab\t nl\n ctl\x1f "
                      "\xc3\xa9 \xe2\x82\xac");
  assert_string_equal(json_string_value(json_object_get(e, "code")), "E\x01");
  json_t *att = json_array_get(json_object_get(ga, "attempts"), 0);
  assert_true(json_real_value(json_object_get(att, "started")) == 1000.000001);
  assert_true(json_real_value(json_object_get(ga, "ended")) == 1000.25);
  assert_string_equal(json_string_value(json_array_get(json_object_get(att, "log"), 0)),
                      "half a char: \xef\xbf\xbd\xef\xbf\xbd"); /* one per byte */
  json_decref(got);
  s->ops->close(s);
  ws_plan_free(p);
}

/* A string may hold NUL bytes (a command's output, a request written in
** Lua): stored as \u0000, it reads back, and the run still loads. */
static ws_plan_t *nul_plan(void) {
  ws_plan_t *p = ws_plan_new("nul", NULL);
  ws_block_t *b = ws_block_new("b", NULL);
  ws_sequence_t *sq = ws_sequence_new("s", NULL);
  json_t *req = json_object();
  json_object_set_new(req, "name", json_stringn("o\0e", 3));
  ws_sequence_add_action(sq, ws_action_new("one", NULL, "test.work", req));
  ws_block_add_sequence(b, sq);
  ws_plan_add_block(p, b);
  resolve(p);
  return p;
}

static void nul_bytes_read_back(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "nul.db"));
  ws_plan_t *p = nul_plan();
  create_run(s, p);
  ws_action_t *a = p->blocks[0]->sequences[0]->actions[0];
  a->node.state = (ws_state_t){WS_COMPLETED, 1000, 1001};
  a->attempts = calloc(1, sizeof *a->attempts);
  a->nattempts = 1;
  a->attempts[0] = (ws_attempt_t){.started = 1000, .ended = 1001};
  a->attempts[0].resp = json_pack("{s:o}", "name", json_stringn("a\0b", 3));
  assert_int_equal(s->ops->update(s, &a->node, err, sizeof err), 0);
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);

  json_t *got = get_run(s, p->node.id);
  json_t *ga = first_action(got);
  assert_true(json_equal(json_object_get(ga, "req"), a->req));
  assert_true(json_equal(json_object_get(ga, "resp"), a->attempts[0].resp));
  json_decref(got);

  ws_plan_t *back = nul_plan();
  if (s->ops->load(s, p->node.id, back, err, sizeof err)) fail_msg("load: %s", err);
  ws_action_t *b = back->blocks[0]->sequences[0]->actions[0];
  assert_int_equal(b->nattempts, 1);
  assert_true(json_equal(b->attempts[0].resp, a->attempts[0].resp));
  s->ops->close(s);
  ws_plan_free(back);
  ws_plan_free(p);
}

/* A file of schema 1 (no journal; states updated in the objects rows) gets
** the journal, and its runs read as they were. */
static void a_version_1_file_is_migrated(void **state) {
  (void)state;
  char path[256], err[1024];
  ws_store_t *s = open_store(in_tmp(path, sizeof path, "v1.db"));
  ws_plan_t *p = rich_plan(SAME);
  create_run(s, p);
  s->ops->close(s);
  /* make it a version 1 file holding a finished action, as version 1 wrote it */
  ws_action_t *a = p->blocks[0]->sequences[0]->actions[0];
  char sql[512];
  snprintf(sql, sizeof sql,
           "DROP TABLE journal; PRAGMA user_version = 1; UPDATE objects SET status = "
           "'completed', started = 1000.5, ended = 1001.25, attempts = '[{\"started\": 1000.5, "
           "\"ended\": 1001.25, \"timed_out\": false, \"resp\": {\"n\": 1}}]' WHERE id = '%s'",
           a->node.id);
  raw_exec(path, sql);

  s = open_store(path);
  assert_int_equal(raw_int(path, "PRAGMA user_version"), 2);
  json_t *got = get_run(s, p->node.id);
  json_t *ga = first_action(got);
  assert_string_equal(json_string_value(json_object_get(ga, "status")), "completed");
  assert_true(json_real_value(json_object_get(ga, "ended")) == 1001.25);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(ga, "resp"), "n")), 1);
  json_decref(got);
  /* and it goes on from there, through the journal */
  a->node.state.status = WS_FAILED;
  assert_int_equal(s->ops->update(s, &a->node, err, sizeof err), 0);
  assert_int_equal(s->ops->flush(s, err, sizeof err), 0);
  got = get_run(s, p->node.id);
  assert_string_equal(json_string_value(json_object_get(first_action(got), "status")), "failed");
  json_decref(got);
  s->ops->close(s);
  ws_plan_free(p);
}

static void the_default_path(void **state) {
  (void)state;
  char buf[512];
  char *xdg = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
  char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

  setenv("XDG_STATE_HOME", "/var/state", 1);
  assert_string_equal(ws_store_default_path(buf, sizeof buf), "/var/state/workstream/runs.db");
  setenv("XDG_STATE_HOME", "relative/state", 1); /* not absolute: ignored */
  setenv("HOME", "/home/op", 1);
  assert_string_equal(ws_store_default_path(buf, sizeof buf),
                      "/home/op/.local/state/workstream/runs.db");
  unsetenv("XDG_STATE_HOME");
  assert_string_equal(ws_store_default_path(buf, sizeof buf),
                      "/home/op/.local/state/workstream/runs.db");
  char small[16];
  assert_string_equal(ws_store_default_path(small, sizeof small), ""); /* never truncated */

  if (xdg) setenv("XDG_STATE_HOME", xdg, 1);
  else unsetenv("XDG_STATE_HOME");
  if (home) setenv("HOME", home, 1);
  else unsetenv("HOME");
  free(xdg);
  free(home);
}

int main(void) {
  reg = test_registry();
  char err[256];
  if (ws_registry_add(reg, &login_plugin, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_run_comes_back_field_for_field, setup, teardown),
      cmocka_unit_test_setup_teardown(a_rebuilt_plan_that_differs_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(secrets_never_reach_the_file, setup, teardown),
      cmocka_unit_test_setup_teardown(leases_exclude_other_owners_until_they_expire, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(ids_and_prefixes, setup, teardown),
      cmocka_unit_test_setup_teardown(updates_are_grouped_until_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(two_stores_on_one_file, setup, teardown),
      cmocka_unit_test_setup_teardown(a_crashed_run_resumes_from_the_store, setup, teardown),
      cmocka_unit_test_setup_teardown(files_that_are_not_ours_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(a_new_file_gets_our_schema, setup, teardown),
      cmocka_unit_test_setup_teardown(a_version_1_file_is_migrated, setup, teardown),
      cmocka_unit_test_setup_teardown(any_text_is_stored_readably, setup, teardown),
      cmocka_unit_test_setup_teardown(nul_bytes_read_back, setup, teardown),
      cmocka_unit_test(the_default_path),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  ws_registry_free(reg);
  return rc;
}
