/*
** fuzz_plan.c - plans made from arbitrary Lua values: the constructors
** (lua/workstream/init.lua, builder.lua) and the C reader of plan tables
** (bindings/ws_lua_plan.c) with ws_plan_resolve.
**
** The value machine (fuzz_common.h) builds values from a vocabulary of field
** names, plugin names, durations and such; extra operations call ws.plan,
** ws.block, ws.sequence, ws.action, ws.checks, ws.batch, ws.clone, ws.walk and
** the builder on them, and read tables as plans. A constructor may refuse
** its argument (its error is caught); nothing may crash. Every table left on
** the stack at the end, constructed or not, edited after construction or
** not, is read with ws_lua_toplan and, when that gives a plan, resolved
** against the default registry and pushed back as a result, as core.check
** does. Nothing is run.
*/
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "fuzz_common.h"
#include "ws_lua.h"

static const char *const words[] = {
    /* fields */
    "name", "descr", "key", "plugin", "req", "timeout", "retries", "retry", "initial",
    "multiplier", "jitter", "max", "actions", "sequences", "blocks", "concurrency",
    "tolerated_failures", "entrance_delay", "exit_delay", "stop", "bypass_checks", "pre_checks",
    "cont_checks", "post_checks", "deferred_checks", "deferred_actions", "when", "fail_plan",
    "delay", "group", "meta",
    /* requests */
    "argv", "env", "cwd", "stdin", "ok_codes", "seconds", "host", "port", "url", "status",
    "contains", "headers", "insecure",
    /* values */
    "ws.exec", "ws.sleep", "ws.check.exec", "ws.check.tcp", "ws.check.http", "nope.plugin",
    "on_failure", "on_success", "always", "sequence", "action", "30s", "250ms", "1m30s", "0s",
    "-1s", "1h", "10%", "100%", "101%", "-1", "", "a", "b", "a/b", "true",
    /* builder methods and checks slots */
    "block", "seq", "deferred", "checks", "up", "plan", "bypass", "pre", "cont", "post",
};

static const char *const constructors[] = {"plan", "block", "sequence", "action",
                                           "checks", "batch", "clone", "builder"};
static const char *const methods[] = {"block", "sequence", "deferred", "action",
                                      "checks", "up", "plan"};
#define COUNT(a) (sizeof a / sizeof *a)

static int ws_ref, walk_ref;

static void push_ws_field(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ws_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

/* Reads the table at idx as a plan, as core.check does. */
static void read_plan(lua_State *L, int idx) {
  char err[2048] = "";
  ws_plan_t *p = ws_lua_toplan(L, idx, err, sizeof err);
  if (!p) {
    if (!err[0]) wsf_fail("ws_lua_toplan failed without a message");
    if (wsf_verbose()) fprintf(stderr, "read: %s\n", err);
    return;
  }
  lua_State *old = ws_lua_enter(L);
  int rc = ws_plan_resolve(p, ws_lua_registry(L), err, sizeof err);
  ws_lua_leave(old);
  if (wsf_verbose()) fprintf(stderr, "resolve: %s\n", rc ? err : "ok");
  if (rc) {
    if (!err[0]) wsf_fail("ws_plan_resolve failed without a message");
  } else {
    ws_lua_pushresult(L, p);
    lua_pop(L, 1);
  }
  ws_plan_free(p);
}

enum { X_CONSTRUCT, X_METHOD, X_WALK, X_READ, X_COUNT };

static void extra(wsf_machine_t *m, int op) {
  lua_State *L = m->L;
  int depth = wsf_machine_depth(m);
  uint8_t b = wsf_u8(m->in);
  if (!depth) return;
  switch (op) {
  case X_CONSTRUCT: /* top = ws.<constructor>(top), unless it raises */
    push_ws_field(L, constructors[b % COUNT(constructors)]);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
      lua_replace(L, -2);
    } else {
      if (wsf_verbose()) fprintf(stderr, "construct: %s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    break;
  case X_METHOD: { /* top = b:<method>(top) on the builder (or anything) at a slot */
    int self = m->base + 1 + wsf_u8(m->in) % depth;
    const char *name = methods[b % COUNT(methods)];
    if (!lua_istable(L, self)) break;
    lua_pushvalue(L, self);
    if (lua_getfield(L, -1, name) != LUA_TFUNCTION) { /* only builders have methods */
      lua_pop(L, 2);
      break;
    }
    lua_insert(L, -2);      /* arg, f, self */
    lua_pushvalue(L, -3);   /* arg, f, self, arg */
    int nargs = 2;
    if (strcmp(name, "checks") == 0) { /* b:checks(which, checks) */
      lua_pushstring(L, wsf_word(m));
      lua_insert(L, -2);
      nargs = 3;
    }
    if (lua_pcall(L, nargs, 1, 0) == LUA_OK) {
      lua_replace(L, -2);
    } else {
      if (wsf_verbose()) fprintf(stderr, "%s: %s\n", name, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    break;
  }
  case X_WALK: /* for node, path in ws.walk(top) do end */
    lua_rawgeti(L, LUA_REGISTRYINDEX, walk_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ws_ref);
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
    break;
  case X_READ:
    if (lua_istable(L, -1)) read_plan(L, lua_gettop(L));
    break;
  }
}

static int body(lua_State *L) {
  wsf_in_t *in = lua_touserdata(L, 1);
  lua_settop(L, 0);
  wsf_machine_t m = {.L = L, .in = in, .words = words, .nwords = COUNT(words),
                     .nextra = X_COUNT, .extra = extra};
  wsf_machine_run(&m);
  for (int i = 1; i <= lua_gettop(L); i++)
    if (lua_istable(L, i)) read_plan(L, i);
  return 0;
}

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = wsf_lua_new();
    lua_getglobal(L, "require");
    lua_pushliteral(L, "workstream");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) wsf_fail("require: %s", lua_tostring(L, -1));
    ws_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (luaL_loadstring(L, "local ws, x = ... for _ in ws.walk(x) do end") != LUA_OK)
      wsf_fail("walk: %s", lua_tostring(L, -1));
    walk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ws_lua_registry(L);
  }
  wsf_in_t in = {data, size};
  wsf_lua_coverage(L, true);
  int rc = wsf_lua_protected(L, body, &in);
  wsf_lua_coverage(L, false);
  if (rc != LUA_OK) wsf_fail("Lua error: %s", lua_tostring(L, -1));
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
