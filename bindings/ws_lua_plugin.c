/*
** ws_lua_plugin.c - plugins written in Lua.
**
** A Lua plugin is an ordinary ws_plugin_def_t whose start function runs the
** plugin's execute(ctx, req) in a coroutine of its own, one per attempt, on
** the engine's loop. The coroutine yields only through the engine's
** primitives (ws.sleep, ws.call, and ws.exec built on ws.call); each sets up
** one pending operation, whose completion resumes the coroutine. However an
** attempt ends (return, error, timeout, stop), its coroutine is closed at that
** moment, so its <close> variables run then; a thread that ended cleanly is then
** kept in a pool for a later attempt (see "coroutine pool").
**
**   core.register_plugin(spec, registry?)  [-2, +0, e]
**     spec.like = "name": take the types, check flag and retry policy of that
**     plugin in the default registry (a fake that keeps the real one's types)
**   core.sleep(seconds)           [-1, +0, e] (yields)
**   core.call(plugin, req)        [-2, +1, e] (yields)
**   core.log(msg)                 [-1, +0, e]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_lua.h"

#define ERROR_MT_KEY "workstream.error" /* the metatable of error tables (ws.permanent) */

/* A Lua function running longer than this without yielding, past its
** deadline, is stopped by the instruction-count hook. */
#define HOOK_COUNT 1000
/* How long <close> handlers may run when an attempt ends (real seconds). */
#define CLOSE_BUDGET 1.0

/* The thread in which binding code is running now: Lua callbacks made from C
** (init, validate, a coroutine's creation) run on it. */
static lua_State *current;

lua_State *ws_lua_enter(lua_State *L) {
  lua_State *old = current;
  current = L;
  return old;
}

void ws_lua_leave(lua_State *old) { current = old; }

/* -------------------------------------------------------------- plugins */

typedef struct co_pool co_pool_t;

typedef struct lua_plugin {
  ws_plugin_def_t def;
  ws_retry_policy_t retry;
  ws_arena_t arena;
  int execute, validate, init; /* registry refs (LUA_NOREF when absent) */
  co_pool_t *pool;             /* the coroutine pool of its Lua state */
} lua_plugin_t;

static int plugin_gc(lua_State *L) {
  lua_plugin_t *lp = lua_touserdata(L, 1);
  ws_arena_free(&lp->arena);
  return 0;
}

/* Calls the function `ref` with the json value (or nothing) in protected
** mode on the current thread. 0, or -1 with the error message in err. */
static int call_hook(int ref, const json_t *arg, char *err, size_t errlen) {
  lua_State *L = current;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  int nargs = 0;
  if (arg) {
    ws_lua_pushjson(L, arg);
    nargs = 1;
  }
  if (lua_pcall(L, nargs, 0, 0) == LUA_OK) return 0;
  ws_lua_errmsg(L, -1, err, errlen);
  lua_pop(L, 1);
  return -1;
}

static int plugin_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  const lua_plugin_t *lp = def->ud;
  return call_hook(lp->init, NULL, err, errlen);
}

static int plugin_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                           size_t errlen) {
  const lua_plugin_t *lp = def->ud;
  return call_hook(lp->validate, req, err, errlen);
}

/* ---------------------------------------------------------------- attempts */

typedef enum pending { P_NONE, P_SLEEP, P_CALL } pending_t;

typedef struct attempt {
  ws_call_t *call;
  lua_plugin_t *lp;
  lua_State *co;
  int co_ref;
  pending_t pending;
  ws_call_t *sub;      /* P_CALL */
  bool cancelling;     /* cancelled while a sub-call runs: end when it returns */
  uint64_t slice_start; /* uv_hrtime when the coroutine was last resumed */
  double slice_limit;   /* the time its attempt had left then (seconds) */
  bool overran;        /* the count hook found it running past its timeout */
  bool closing;        /* its <close> handlers are running */
} attempt_t;

static attempt_t **attempt_slot(lua_State *co) { return (attempt_t **)lua_getextraspace(co); }

/* The attempt whose coroutine is co, or NULL outside a plugin's coroutine. */
static attempt_t *attempt_of(lua_State *co) { return *attempt_slot(co); }

/* What an error object says, read without metamethods (they could raise
** again, out of the engine): a ws.permanent table keeps its flag and code. */
typedef struct failure {
  char msg[2048];
  char code[128];
  int permanent;
} failure_t;

static void read_failure(lua_State *L, int idx, failure_t *f) {
  idx = lua_absindex(L, idx);
  f->permanent = 0;
  f->code[0] = '\0';
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_pushliteral(L, "permanent");
    lua_rawget(L, idx);
    f->permanent = lua_toboolean(L, -1);
    lua_pushliteral(L, "code");
    lua_rawget(L, idx);
    if (lua_type(L, -1) == LUA_TSTRING) snprintf(f->code, sizeof f->code, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
  }
  ws_lua_errmsg(L, idx, f->msg, sizeof f->msg);
}

static void resume(attempt_t *a, int nargs);

static void overrun_hook(lua_State *co, lua_Debug *ar) {
  (void)ar;
  attempt_t *a = attempt_of(co);
  if (!a) return;
  double ran = (double)(uv_hrtime() - a->slice_start) / 1e9;
  double limit = a->closing ? CLOSE_BUDGET : a->slice_limit;
  if (!a->overran && ran <= limit) return;
  if (!a->overran) {
    a->overran = true;
    lua_sethook(co, overrun_hook, LUA_MASKCOUNT, 1); /* from now on, every instruction */
  }
  char msg[256];
  snprintf(msg, sizeof msg, "plugin \"%s\" ran for %.1fs without yielding, past its timeout",
           a->lp->def.name, ran);
  luaL_error(co, "%s", msg);
}

/* ------------------------------------------------------- coroutine pool */

/* The threads of finished attempts, kept for later attempts instead of a new
** thread each: a thread is most of an attempt's garbage, and garbage drives the
** collector through the whole live heap (mostly the plan). One pool per Lua
** state (a userdata in its registry); each thread keeps its registry ref for
** life, so taking and returning one touch no Lua table. A thread is made only
** when none is idle, so the pool never holds more than the most attempts that
** ran at once; ws_lua_plugins_end_run empties it after each run.
**
** The pool also sets the collector for a run of many Lua-plugin actions.
** Their attempts' garbage (ctx, request, response: ~0.4 KB each) drives
** incremental cycles, and each cycle marks and sweeps the whole heap, mostly
** the plan; in generational mode a collection sees only the young objects.
** Switching costs one full collection, so only a plan with GEN_MIN_ACTIONS such
** actions switches (small runs and native plugins never pay it), at its start
** and only from incremental mode with the collector running; the run's end
** switches back. */
typedef struct pooled {
  lua_State *co;
  int ref;
} pooled_t;

struct co_pool {
  pooled_t *idle;
  size_t n, cap;
  bool gen; /* this run switched the collector to generational */
};

/* Lua-plugin actions a plan needs for its run to be generational. */
#define GEN_MIN_ACTIONS 1000

static const char pool_key; /* its address is the registry key of the pool */

static int pool_gc(lua_State *L) {
  co_pool_t *p = lua_touserdata(L, 1);
  free(p->idle);
  p->idle = NULL;
  p->n = p->cap = 0;
  return 0;
}

/* The pool of L's state, made on first use. [-0, +0, m] */
static co_pool_t *pool_of(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pool_key) == LUA_TUSERDATA) {
    co_pool_t *p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p;
  }
  lua_pop(L, 1);
  co_pool_t *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pool_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &pool_key);
  return p;
}

/* A thread for a new attempt: an idle one, or a new one (made on L) with the
** overrun hook. */
static lua_State *take_coroutine(co_pool_t *p, lua_State *L, int *ref) {
  if (p->n > 0) {
    pooled_t t = p->idle[--p->n];
    *ref = t.ref;
    return t.co;
  }
  lua_State *co = lua_newthread(L);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  *attempt_slot(co) = NULL; /* a copy of the main thread's */
  lua_sethook(co, overrun_hook, LUA_MASKCOUNT, HOOK_COUNT);
  return co;
}

/* Whether the thread of an attempt that ended this way starts the next one as
** new. The reset (ws_lua_closethread) unwinds the stack, closes upvalues and
** marks the thread runnable, but two things it keeps are only sound after a
** clean ending: a thread cut short inside xpcall keeps that message handler
** (a stack slot) as its error function, and an error raised by a hook leaves
** hooks disabled on the thread, which would also disable the overrun hook. So:
** a return, or an error that was not the overrun (nor a hook the plugin set). */
static bool reusable(const attempt_t *a, int status) {
  if (a->overran) return false;
  if (status == LUA_OK) return true;
  return status == LUA_ERRRUN && lua_gethook(a->co) == overrun_hook &&
         lua_gethookmask(a->co) == LUA_MASKCOUNT && lua_gethookcount(a->co) == HOOK_COUNT;
}

/* Keeps a closed thread for a later attempt, or lets it go. */
static void give_back(co_pool_t *p, lua_State *co, int ref, bool keep) {
  if (keep && p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 16;
    pooled_t *idle = realloc(p->idle, cap * sizeof *idle);
    if (idle) {
      p->idle = idle;
      p->cap = cap;
    } else {
      keep = false;
    }
  }
  if (!keep) {
    lua_sethook(co, NULL, 0, 0);
    luaL_unref(current, LUA_REGISTRYINDEX, ref);
    return;
  }
  /* the plugin may have changed the hook (debug.sethook), and its count restarts */
  lua_sethook(co, overrun_hook, LUA_MASKCOUNT, HOOK_COUNT);
  p->idle[p->n++] = (pooled_t){co, ref};
}

static int plugin_start(ws_call_t *call);

static int count_lua_actions(ws_node_t *n, void *ud) {
  size_t *count = ud;
  const ws_action_t *a = (const ws_action_t *)n;
  if (n->type == WS_OBJ_ACTION && a->plugin && a->plugin->start == plugin_start) ++*count;
  return *count >= GEN_MIN_ACTIONS;
}

void ws_lua_plugins_begin_run(lua_State *L, ws_plan_t *plan) {
  co_pool_t *p = pool_of(L);
  size_t count = 0;
  ws_plan_walk(plan, count_lua_actions, &count);
  /* not when the user stopped the collector or chose generational mode */
  if (count >= GEN_MIN_ACTIONS && lua_gc(L, LUA_GCISRUNNING))
    p->gen = lua_gc(L, LUA_GCGEN, 0, 0) == LUA_GCINC;
}

void ws_lua_plugins_end_run(lua_State *L) {
  co_pool_t *p = pool_of(L);
  for (size_t i = 0; i < p->n; i++) {
    lua_sethook(p->idle[i].co, NULL, 0, 0);
    luaL_unref(L, LUA_REGISTRYINDEX, p->idle[i].ref);
  }
  free(p->idle);
  p->idle = NULL;
  p->n = p->cap = 0;
  if (p->gen) lua_gc(L, LUA_GCINC, 0, 0, 0); /* zeros: the user's parameters stay */
  p->gen = false;
}

/* ---------------------------------------------------------------- attempts */

/* Closes the coroutine now, so its pending <close> variables run at this
** moment (within CLOSE_BUDGET, enforced by the count hook); an error they
** raise goes to the attempt's log, which is why this runs before the call is
** completed. A dead coroutine has nothing left to close: Lua 5.4.4 would only
** repeat the error that killed it. status is how the coroutine stopped: what
** lua_resume returned, or LUA_YIELD when it is cut short while suspended.
** Then the thread goes back to the pool or is released. */
static void close_coroutine(attempt_t *a, int status) {
  lua_State *co = a->co;
  a->closing = true;
  a->slice_start = uv_hrtime();
  int closed = ws_lua_closethread(co, current);
  if (status == LUA_YIELD && closed != LUA_OK) {
    char why[512];
    ws_lua_errmsg(co, -1, why, sizeof why);
    ws_call_log(a->call, "error in a <close> handler: %s", why);
  }
  lua_settop(co, 0); /* the error object the reset leaves */
  *attempt_slot(co) = NULL;
  give_back(a->lp->pool, co, a->co_ref, reusable(a, status));
}

/* Frees an attempt whose coroutine is closed and whose call is completed. */
static void attempt_free(attempt_t *a) { free(a); }

/* Resumes the coroutine with nargs values on its stack and acts on how it
** stops: waiting on the engine, or done (returned or raised). */
static void resume(attempt_t *a, int nargs) {
  lua_State *co = a->co;
  int nres;
  a->slice_start = uv_hrtime();
  /* measured now: on the real clock, "now" moves on while the slice runs */
  a->slice_limit = ws_call_deadline(a->call) - ws_call_now(a->call);
  lua_State *old = ws_lua_enter(co);
  int status = lua_resume(co, old, nargs, &nres);
  ws_lua_leave(old);
  if (status == LUA_YIELD && a->pending != P_NONE) {
    lua_pop(co, nres); /* waiting on the engine */
    return;
  }
  /* The attempt is over: read its outcome, close the coroutine, then complete. */
  json_t *resp = NULL;
  failure_t f;
  bool ok = false;
  if (status == LUA_YIELD) {
    lua_pop(co, nres);
    f.permanent = 1;
    snprintf(f.code, sizeof f.code, "bad_yield");
    snprintf(f.msg, sizeof f.msg, "plugin \"%s\" yielded outside ws.sleep, ws.call and ws.exec; "
             "it cannot be resumed", a->lp->def.name);
  } else if (status == LUA_OK) {
    char why[1024];
    resp = nres > 0 ? ws_lua_tojson(co, -nres, "resp", why, sizeof why) : NULL;
    ok = resp || nres == 0 || lua_isnil(co, -nres);
    if (!ok) {
      f.permanent = 1;
      snprintf(f.code, sizeof f.code, "bad_response");
      snprintf(f.msg, sizeof f.msg, "plugin \"%s\" returned a bad response: %s", a->lp->def.name,
               why);
    }
    lua_pop(co, nres);
  } else {
    read_failure(co, -1, &f);
    if (a->overran) snprintf(f.code, sizeof f.code, "timeout");
  }
  close_coroutine(a, status);
  if (ok) ws_call_succeed(a->call, resp);
  else ws_call_fail(a->call, f.permanent, f.code[0] ? f.code : NULL, "%s", f.msg);
  attempt_free(a);
}

static int l_log(lua_State *L);

static int plugin_start(ws_call_t *call) {
  lua_plugin_t *lp = (lua_plugin_t *)ws_call_plugin(call)->ud;
  attempt_t *a = calloc(1, sizeof *a);
  if (!a) return UV_ENOMEM;
  a->call = call;
  a->lp = lp;
  a->co = take_coroutine(lp->pool, current, &a->co_ref);
  ws_call_set_data(call, a);

  /* A fresh ctx each time, not one refilled: a plugin may keep its ctx (or
  ** change it) past the attempt. */
  lua_State *co = a->co;
  lua_rawgeti(co, LUA_REGISTRYINDEX, lp->execute);
  lua_createtable(co, 0, 5);
  lua_pushstring(co, ws_call_plan_id(call));
  lua_setfield(co, -2, "plan_id");
  lua_pushstring(co, ws_call_action_id(call));
  lua_setfield(co, -2, "action_id");
  lua_pushinteger(co, ws_call_attempt(call));
  lua_setfield(co, -2, "attempt");
  lua_pushnumber(co, ws_call_deadline(call));
  lua_setfield(co, -2, "deadline");
  lua_pushcfunction(co, l_log);
  lua_setfield(co, -2, "log");
  ws_lua_pushjson(co, ws_call_request(call));
  *attempt_slot(co) = a;
  resume(a, 2);
  return 0;
}

static void plugin_cancel(ws_call_t *call) {
  attempt_t *a = ws_call_data(call);
  if (!a) return;
  if (a->pending == P_CALL) { /* end once the sub-call has returned */
    a->cancelling = true;
    ws_call_cancel(a->sub);
    return;
  }
  close_coroutine(a, LUA_YIELD);
  ws_call_fail(call, 0, "cancelled", "cancelled");
  attempt_free(a);
}

/* ---------------------------------------------------------- primitives */

static attempt_t *check_attempt(lua_State *L, const char *fn) {
  attempt_t *a = attempt_of(L);
  if (!a || !lua_isyieldable(L))
    luaL_error(L, "%s can only be called by a plugin's execute, where it can yield "
               "(not in a metamethod, an iterator or a __gc handler)", fn);
  return a;
}

static void wake(ws_call_t *call) {
  attempt_t *a = ws_call_data(call);
  a->pending = P_NONE;
  resume(a, 0);
}

static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s >= 0, 1, "must be >= 0");
  attempt_t *a = check_attempt(L, "ws.sleep");
  a->pending = P_SLEEP;
  ws_call_sleep(a->call, s, wake);
  return lua_yield(L, 0);
}

/* After ws.call's yield: the resume pushed (true, resp) or (false, err). */
static int call_continue(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (lua_toboolean(L, -2)) return 1;
  return lua_error(L);
}

static void sub_returned(ws_call_t *sub, void *ud) {
  attempt_t *a = ud;
  a->pending = P_NONE;
  a->sub = NULL;
  if (a->cancelling) {
    ws_call_release(sub);
    close_coroutine(a, LUA_YIELD);
    ws_call_fail(a->call, 0, "cancelled", "cancelled");
    attempt_free(a);
    return;
  }
  const ws_error_t *err = ws_call_error(sub);
  lua_pushboolean(a->co, err == NULL);
  if (err) ws_lua_pusherror(a->co, err);
  else ws_lua_pushjson(a->co, ws_call_response(sub));
  if (err) { /* the error carries the permanent marker, so `error(e)` keeps it */
    lua_getfield(a->co, LUA_REGISTRYINDEX, ERROR_MT_KEY);
    lua_setmetatable(a->co, -2);
  }
  ws_call_release(sub);
  resume(a, 2);
}

static int l_call(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  attempt_t *a = check_attempt(L, "ws.call");
  const ws_plugin_def_t *def = ws_registry_find(ws_lua_run_registry(L), name);
  if (!def) return luaL_error(L, "ws.call: unknown plugin \"%s\"", name);
  char err[1024];
  json_t *req = ws_lua_checked_request(L, 2, def, err, sizeof err);
  if (!req) return luaL_error(L, "ws.call(\"%s\"): %s", name, err);
  a->pending = P_CALL;
  lua_State *old = ws_lua_enter(L);
  a->sub = ws_call_start_sub(a->call, def, req, sub_returned, a);
  ws_lua_leave(old);
  return lua_yieldk(L, 0, 0, call_continue);
}

static int l_log(lua_State *L) {
  attempt_t *a = attempt_of(L);
  if (!a) return luaL_error(L, "ctx.log can only be called by a plugin's execute");
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, ' ');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  ws_call_log(a->call, "%s", lua_tostring(L, -1));
  return 0;
}

/* An error table shows as its message (what error() prints when uncaught). */
static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "msg");
  if (!lua_isstring(L, -1)) lua_pushliteral(L, "error");
  return 1;
}

/* ---------------------------------------------------------- registration */

static void read_policy(lua_State *L, int idx, ws_retry_policy_t *p) {
  const char *names[] = {"initial", "multiplier", "jitter", "max"};
  double *slots[] = {&p->initial, &p->multiplier, &p->jitter, &p->max};
  for (int i = 0; i < 4; i++) {
    lua_getfield(L, idx, names[i]);
    *slots[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
}

static int ref_function(lua_State *L, int spec, const char *field, bool required) {
  int t = lua_getfield(L, spec, field);
  if (t == LUA_TFUNCTION) return luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  if (t != LUA_TNIL || required) luaL_error(L, "plugin spec: %s: expected a function", field);
  return LUA_NOREF;
}

static const ws_type_t *read_type(lua_State *L, int spec, const char *field, ws_arena_t *arena) {
  char err[1024];
  lua_getfield(L, spec, field);
  const ws_type_t *t = ws_lua_totype(L, -1, arena, field, err, sizeof err);
  lua_pop(L, 1);
  if (!t) luaL_error(L, "%s", err);
  return t;
}

static int l_register_plugin(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2); /* the registry, or nil: the default one */
  ws_lua_toregistry(L, 2);
  lua_plugin_t *lp = lua_newuserdatauv(L, sizeof *lp, 0);
  memset(lp, 0, sizeof *lp);
  lp->execute = lp->validate = lp->init = LUA_NOREF;
  lp->pool = pool_of(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, plugin_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);

  ws_plugin_def_t *def = &lp->def;
  def->abi = WS_PLUGIN_ABI;
  lua_getfield(L, 1, "name");
  def->name = ws_arena_strdup(&lp->arena, luaL_checkstring(L, -1));
  lua_getfield(L, 1, "descr");
  def->descr = lua_isstring(L, -1) ? ws_arena_strdup(&lp->arena, lua_tostring(L, -1)) : NULL;
  lua_getfield(L, 1, "check");
  def->is_check = lua_toboolean(L, -1);
  lua_pop(L, 3);
  if (lua_getfield(L, 1, "like") == LUA_TSTRING) {
    const ws_plugin_def_t *real = ws_registry_find(ws_lua_registry(L), lua_tostring(L, -1));
    if (!real) return luaL_error(L, "plugin \"%s\": no plugin \"%s\" to take the types of",
                                 def->name, lua_tostring(L, -1));
    def->request = real->request; /* borrowed: the default registry outlives this one */
    def->response = real->response;
    def->is_check = real->is_check;
    if (real->retry) {
      lp->retry = *real->retry;
      def->retry = &lp->retry;
    }
  } else {
    def->request = read_type(L, 1, "request", &lp->arena);
    def->response = read_type(L, 1, "response", &lp->arena);
    if (lua_getfield(L, 1, "retry") == LUA_TTABLE) {
      read_policy(L, lua_gettop(L), &lp->retry);
      def->retry = &lp->retry;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lp->execute = ref_function(L, 1, "execute", true);
  lp->validate = ref_function(L, 1, "validate", false);
  lp->init = ref_function(L, 1, "init", false);
  def->start = plugin_start;
  def->cancel = plugin_cancel;
  def->init = lp->init != LUA_NOREF ? plugin_init : NULL;
  def->validate = lp->validate != LUA_NOREF ? plugin_validate : NULL;
  def->ud = lp;

  char err[1024];
  lua_State *old = ws_lua_enter(L);
  int rc = ws_registry_add(ws_lua_toregistry(L, 2), def, err, sizeof err);
  ws_lua_leave(old);
  if (rc) return luaL_error(L, "%s", err);
  ws_lua_registry_keep(L, 2, -1); /* it lives as long as its registry */
  lua_pop(L, 1);
  return 0;
}

static const luaL_Reg functions[] = {
    {"register_plugin", l_register_plugin},
    {"sleep", l_sleep},
    {"call", l_call},
    {NULL, NULL},
};

void ws_lua_open_plugins(lua_State *L) {
  /* A new thread's extra space is a copy of the main thread's, which Lua
  ** leaves uninitialised: clear it (and this thread's; no attempt runs yet),
  ** so that a coroutine a plugin makes itself is not taken for an attempt. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  *attempt_slot(lua_tothread(L, -1)) = NULL;
  lua_pop(L, 1);
  *attempt_slot(L) = NULL;
  luaL_setfuncs(L, functions, 0);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, ERROR_MT_KEY);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setfield(L, -2, "error_mt");
}
