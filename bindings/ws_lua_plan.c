/*
** ws_lua_plan.c - a plan table (made by the workstream constructors) into
** the engine's model.
**
** The constructors have already validated every field. A table edited after
** construction is read here with its types and ranges checked (what C needs),
** and ws_plan_resolve checks the rest as it does for any host. Errors name
** the object path and the field.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_lua.h"

typedef struct builder {
  lua_State *L;
  char *err;
  size_t errlen;
  const char *where; /* the object being read, for messages */
  const char *leaf;  /* an action's name: the action is where/leaf (joined for messages only) */
} builder_t;

static const char *where_of(const builder_t *b, char buf[512]) {
  if (!b->leaf) return b->where;
  snprintf(buf, 512, "%s/%s", b->where, b->leaf);
  return buf;
}

static int fail(builder_t *b, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(builder_t *b, const char *field, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(b->err, b->errlen, "%s: %s: ", where_of(b, buf), field);
  if (n >= 0 && (size_t)n < b->errlen) vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Each getter reads t[field] from the table on top of the stack. */

static int get_string(builder_t *b, const char *field, bool required, char **out) {
  lua_State *L = b->L;
  *out = NULL;
  int t = lua_getfield(L, -1, field);
  int rc = 0;
  if (t == LUA_TSTRING) *out = strdup(lua_tostring(L, -1));
  else if (t != LUA_TNIL || required)
    rc = fail(b, field, "expected string, got %s", lua_typename(L, t));
  lua_pop(L, 1);
  return rc;
}

/* t.name (required) and t.descr: both, or neither (-1). */
static int get_name_descr(builder_t *b, char **name, char **descr) {
  *descr = NULL;
  if (get_string(b, "name", true, name)) return -1;
  if (get_string(b, "descr", false, descr)) {
    free(*name);
    *name = NULL;
    return -1;
  }
  return 0;
}

static int get_number(builder_t *b, const char *field, double dflt, double *out) {
  lua_State *L = b->L;
  int t = lua_getfield(L, -1, field);
  int rc = 0;
  if (t == LUA_TNUMBER) *out = lua_tonumber(L, -1);
  else if (t == LUA_TNIL) *out = dflt;
  else rc = fail(b, field, "expected number (seconds), got %s", lua_typename(L, t));
  lua_pop(L, 1);
  return rc;
}

static int get_integer(builder_t *b, const char *field, lua_Integer dflt, lua_Integer *out) {
  lua_State *L = b->L;
  int t = lua_getfield(L, -1, field);
  int rc = 0;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1)) *out = lua_tointeger(L, -1);
  else if (t == LUA_TNIL) *out = dflt;
  else rc = fail(b, field, "expected integer, got %s", luaL_typename(L, -1));
  lua_pop(L, 1);
  return rc;
}

/* Pushes t[field] when it is a table (returns 1), nothing when nil (0), -1 on a wrong type. */
static int push_table(builder_t *b, const char *field, bool required) {
  lua_State *L = b->L;
  int t = lua_getfield(L, -1, field);
  if (t == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  if (t == LUA_TNIL && !required) return 0;
  return fail(b, field, "expected a table, got %s", lua_typename(L, t));
}

static int read_node(builder_t *b, ws_node_t *n) {
  char *key;
  if (get_string(b, "key", false, &key)) return -1;
  if (key) ws_node_set_key(n, key);
  free(key);
  return 0;
}

static int read_retry(builder_t *b, ws_action_t *a) {
  int has = push_table(b, "retry", false);
  if (has <= 0) return has;
  ws_retry_policy_t *p = &a->retry;
  int rc = get_number(b, "initial", 0.1, &p->initial) || get_number(b, "multiplier", 2, &p->multiplier) ||
           get_number(b, "jitter", 0.5, &p->jitter) || get_number(b, "max", 60, &p->max);
  lua_pop(b->L, 1);
  a->has_retry = true;
  return rc ? -1 : 0;
}

/* Adds the action to its owner first, so that a failure part-way leaves
** nothing unowned: the whole tree is freed with the plan. */
typedef void (*add_action_fn)(void *owner, ws_action_t *a);

static int read_action(builder_t *b, void *owner, add_action_fn add) {
  lua_State *L = b->L;
  char *name = NULL, *descr = NULL, *plugin = NULL;
  if (get_string(b, "name", true, &name) || get_string(b, "descr", false, &descr) ||
      get_string(b, "plugin", true, &plugin)) {
    free(name), free(descr), free(plugin);
    return -1;
  }
  ws_action_t *a = ws_action_new(name, descr, plugin, NULL);
  free(name), free(descr), free(plugin);
  add(owner, a);

  lua_getfield(L, -1, "req");
  char why[512];
  json_t *req = ws_lua_tojson(L, -1, "req", why, sizeof why);
  bool bad_req = !req && !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (bad_req) {
    char buf[512];
    snprintf(b->err, b->errlen, "%s: %s", where_of(b, buf), why);
    return -1;
  }
  if (req) {
    json_decref(a->req);
    a->req = req;
  }
  lua_Integer retries;
  if (read_node(b, &a->node) || get_number(b, "timeout", 30, &a->timeout) ||
      get_integer(b, "retries", 0, &retries) || read_retry(b, a))
    return -1;
  if (retries < 0 || retries > 1000000) return fail(b, "retries", "must be within 0..1000000");
  a->retries = (int)retries;
  return 0;
}

/* Reads the list t.actions. */
static int read_actions(builder_t *b, void *owner, add_action_fn add) {
  lua_State *L = b->L;
  if (push_table(b, "actions", true) <= 0) return -1;
  lua_Integer n = luaL_len(L, -1);
  int rc = 0;
  for (lua_Integer i = 1; i <= n && !rc; i++) {
    if (lua_geti(L, -1, i) != LUA_TTABLE) {
      rc = fail(b, "actions", "item %lld is not an action", (long long)i);
    } else {
      /* the name string stays alive in the action's table meanwhile */
      b->leaf = lua_getfield(L, -1, "name") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
      lua_pop(L, 1);
      rc = read_action(b, owner, add);
      b->leaf = NULL;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return rc;
}

static void add_to_sequence(void *s, ws_action_t *a) { ws_sequence_add_action(s, a); }
static void add_to_checks(void *c, ws_action_t *a) { ws_checks_add_action(c, a); }

static const char *const checks_fields[WS_CHECKS_NKINDS] = {
    "bypass_checks", "pre_checks", "cont_checks", "post_checks", "deferred_checks"};

/* Reads the five checks slots; set attaches each to its owner. prefix is the
** owner's path ("" for the plan). */
static int read_checks(builder_t *b, const char *prefix, void *owner,
                       void (*set)(void *, ws_checks_t *)) {
  const char *outer = b->where;
  for (int k = 0; k < WS_CHECKS_NKINDS; k++) {
    int has = push_table(b, checks_fields[k], false);
    if (has < 0) return -1;
    if (!has) continue;
    char where[512];
    snprintf(where, sizeof where, "%s%s%s", prefix, *prefix ? "/" : "", checks_fields[k]);
    b->where = where;
    double delay;
    int rc = get_number(b, "delay", 30, &delay);
    ws_checks_t *c = ws_checks_new((ws_checks_kind_t)k, delay);
    set(owner, c); /* adopted first: freed with its owner on failure */
    if (!rc) rc = read_actions(b, c, add_to_checks);
    b->where = outer;
    lua_pop(b->L, 1);
    if (rc) return -1;
  }
  return 0;
}

static void set_block_checks(void *blk, ws_checks_t *c) { ws_block_set_checks(blk, c); }
static void set_plan_checks(void *p, ws_checks_t *c) { ws_plan_set_checks(p, c); }

static int read_budget(builder_t *b, ws_budget_t *out) {
  lua_State *L = b->L;
  int t = lua_getfield(L, -1, "tolerated_failures");
  int rc = 0;
  out->percent = false;
  out->count = 0;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
    out->count = lua_tointeger(L, -1);
  } else if (t == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || strcmp(end, "%") != 0 || v < 0 || v > 100)
      rc = fail(b, "tolerated_failures", "expected an integer or \"N%%\", got \"%s\"", s);
    out->count = v;
    out->percent = true;
  } else if (t != LUA_TNIL) {
    rc = fail(b, "tolerated_failures", "expected an integer or \"N%%\", got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return rc;
}

static int read_sequence_list(builder_t *b, const char *field, void *owner,
                              int (*read_one)(builder_t *, void *)) {
  lua_State *L = b->L;
  int has = push_table(b, field, strcmp(field, "deferred_actions") != 0);
  if (has <= 0) return has;
  lua_Integer n = luaL_len(L, -1);
  int rc = 0;
  for (lua_Integer i = 1; i <= n && !rc; i++) {
    if (lua_geti(L, -1, i) != LUA_TTABLE)
      rc = fail(b, field, "item %lld is not a table", (long long)i);
    else rc = read_one(b, owner);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return rc;
}

static int with_where(builder_t *b, const char *prefix, char *where, size_t len) {
  lua_getfield(b->L, -1, "name");
  const char *name = lua_isstring(b->L, -1) ? lua_tostring(b->L, -1) : "?";
  snprintf(where, len, "%s%s%s", prefix, *prefix ? "/" : "", name);
  lua_pop(b->L, 1);
  return 0;
}

static int read_sequence(builder_t *b, void *blk) {
  char where[512], *name, *descr;
  const char *outer = b->where;
  with_where(b, outer, where, sizeof where);
  b->where = where;
  int rc = get_name_descr(b, &name, &descr);
  if (!rc) {
    ws_sequence_t *s = ws_sequence_new(name, descr);
    free(name), free(descr);
    ws_block_add_sequence(blk, s);
    rc = read_node(b, &s->node) || read_actions(b, s, add_to_sequence);
  }
  b->where = outer;
  return rc ? -1 : 0;
}

static int read_block(builder_t *b, void *plan) {
  char where[512], *name, *descr, *stop;
  const char *outer = b->where;
  with_where(b, "", where, sizeof where);
  b->where = where;
  int rc = get_name_descr(b, &name, &descr);
  if (rc) {
    b->where = outer;
    return -1;
  }
  ws_block_t *blk = ws_block_new(name, descr);
  free(name), free(descr);
  ws_plan_add_block(plan, blk);
  lua_Integer conc;
  rc = read_node(b, &blk->node) || get_integer(b, "concurrency", 1, &conc) ||
       read_budget(b, &blk->tolerated) ||
       get_number(b, "entrance_delay", 0, &blk->entrance_delay) ||
       get_number(b, "exit_delay", 0, &blk->exit_delay) || get_string(b, "stop", false, &stop);
  if (!rc) {
    if (conc < 1 || conc > 1000000000) rc = fail(b, "concurrency", "must be within 1..1000000000");
    else blk->concurrency = (int)conc;
    if (stop && strcmp(stop, "action") == 0) blk->stop = WS_STOP_ACTION;
    else if (stop && strcmp(stop, "sequence") != 0)
      rc = fail(b, "stop", "expected \"sequence\" or \"action\", got \"%s\"", stop);
    free(stop);
  }
  if (!rc) rc = read_checks(b, where, blk, set_block_checks);
  if (!rc) rc = read_sequence_list(b, "sequences", blk, read_sequence);
  b->where = outer;
  return rc ? -1 : 0;
}

static int read_batch(builder_t *b, void *plan) {
  char where[512], *name, *descr, *when;
  const char *outer = b->where;
  with_where(b, "deferred_actions", where, sizeof where);
  b->where = where;
  int rc = get_name_descr(b, &name, &descr);
  if (rc) {
    b->where = outer;
    return -1;
  }
  rc = get_string(b, "when", false, &when);
  ws_when_t w = WS_WHEN_ON_FAILURE;
  if (!rc && when) {
    if (strcmp(when, "on_success") == 0) w = WS_WHEN_ON_SUCCESS;
    else if (strcmp(when, "always") == 0) w = WS_WHEN_ALWAYS;
    else if (strcmp(when, "on_failure") != 0)
      rc = fail(b, "when", "expected \"on_failure\", \"on_success\" or \"always\", got \"%s\"", when);
  }
  free(when);
  lua_getfield(b->L, -1, "fail_plan");
  bool fail_plan = lua_toboolean(b->L, -1);
  lua_pop(b->L, 1);
  ws_batch_t *batch = ws_batch_new(name, descr, w, fail_plan);
  free(name), free(descr);
  ws_plan_add_batch(plan, batch);
  if (!rc) rc = read_node(b, &batch->node) || read_actions(b, batch, add_to_sequence);
  b->where = outer;
  return rc ? -1 : 0;
}

ws_plan_t *ws_lua_toplan(lua_State *L, int idx, char *err, size_t errlen) {
  builder_t b = {L, err, errlen, "plan", NULL};
  if (!lua_istable(L, idx)) {
    snprintf(err, errlen, "expected a plan, got %s", luaL_typename(L, idx));
    return NULL;
  }
  luaL_checkstack(L, 32, "reading a plan");
  lua_pushvalue(L, idx);
  char *name, *descr, *group;
  if (get_name_descr(&b, &name, &descr)) {
    lua_pop(L, 1);
    return NULL;
  }
  ws_plan_t *p = ws_plan_new(name, descr);
  free(name), free(descr);
  int rc = read_node(&b, &p->node) || get_string(&b, "group", false, &group);
  if (!rc) p->group = group;
  if (!rc) {
    lua_getfield(L, -1, "meta");
    char why[512];
    p->meta = ws_lua_tojson(L, -1, "meta", why, sizeof why);
    if (!p->meta && !lua_isnil(L, -1)) {
      snprintf(err, errlen, "plan: %s", why);
      rc = -1;
    }
    lua_pop(L, 1);
  }
  if (!rc) rc = read_checks(&b, "", p, set_plan_checks);
  if (!rc) rc = read_sequence_list(&b, "blocks", p, read_block);
  if (!rc) rc = read_sequence_list(&b, "deferred_actions", p, read_batch);
  lua_pop(L, 1);
  if (rc) {
    ws_plan_free(p);
    return NULL;
  }
  return p;
}
