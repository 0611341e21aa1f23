/*
** ws_lua_core.c - the Lua module `workstream.core`: the C half of the Lua API.
**
** The pure-Lua module (lua/workstream/init.lua) validates and builds plans;
** this module checks requests against plugin types, runs plans on a libuv
** loop of their own, and returns results as plain tables.
**
** A registry argument may be nil: the default registry (built-ins and the
** plugins registered with ws.plugin).
**
**   core.new_registry()                   -> registry (with the built-ins) [-0, +1, e]
**   core.is_registry(v)                   -> boolean            [-1, +1, -]
**   core.load_plugin(path, reg?)          (an external .so)     [-2, +0, e]
**   core.unregister(name, reg)            -> removed (not the default registry) [-2, +1, v]
**   core.check_request(plugin, req, reg?) -> req' | nil, msg    [-3, +1|2, m]
**   core.plugin_info(name, reg?)          -> info | nil         [-2, +1, m]
**   core.plugins(reg?)                    -> { info... }        [-1, +1, m]
**   core.run(plan, opts)                  -> result             [-2, +1, e]
**   core.check(plan, reg?)                -> the plan, not run  [-2, +1, e]
**     opts: on_event, on_tick (+ tick_interval, real seconds), signals, clock
**     ("virtual"), registry, store, origin, resume, retry_of
**   core.stop(force)                 -> boolean             [-1, +1, -]
**   core.uuid7()                     -> string              [-0, +1, m]
*/
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "builtins.h"
#include "ws_lua.h"

#define CURRENT_RUN_KEY "workstream.current_run"

static const ws_plugin_def_t *find_plugin(lua_State *L, int reg_idx, const char *name) {
  return ws_registry_find(ws_lua_toregistry(L, reg_idx), name);
}

static void push_plugin_info(lua_State *L, const ws_plugin_def_t *def) {
  char buf[2048];
  lua_createtable(L, 0, 6);
  lua_pushstring(L, def->name);
  lua_setfield(L, -2, "name");
  if (def->descr) {
    lua_pushstring(L, def->descr);
    lua_setfield(L, -2, "descr");
  }
  lua_pushboolean(L, def->is_check);
  lua_setfield(L, -2, "is_check");
  lua_pushstring(L, ws_type_describe(def->request, buf, sizeof buf));
  lua_setfield(L, -2, "request");
  lua_pushstring(L, ws_type_describe(def->response, buf, sizeof buf));
  lua_setfield(L, -2, "response");
}

/* ------------------------------------------------------------ the functions */

static int l_check_request(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const ws_plugin_def_t *def = find_plugin(L, 3, name);
  if (!def) {
    lua_pushnil(L);
    lua_pushfstring(L, "unknown plugin \"%s\" (wsrun plugins lists the registered ones)", name);
    return 2;
  }
  char err[1024];
  json_t *req = ws_lua_checked_request(L, 2, def, err, sizeof err);
  if (!req) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  ws_lua_pushjson(L, req);
  json_decref(req);
  return 1;
}

json_t *ws_lua_checked_request(lua_State *L, int idx, const ws_plugin_def_t *def, char *err,
                               size_t errlen) {
  json_t *req = ws_lua_tojson(L, idx, "req", err, errlen);
  if (!req && !lua_isnoneornil(L, idx)) return NULL;
  if (!req) req = json_object();
  lua_State *old = ws_lua_enter(L);
  int rc = ws_request_check(def, &req, "req", err, errlen);
  ws_lua_leave(old);
  if (rc) {
    json_decref(req);
    return NULL;
  }
  return req;
}

static int l_plugin_info(lua_State *L) {
  const ws_plugin_def_t *def = find_plugin(L, 2, luaL_checkstring(L, 1));
  if (!def) return lua_pushnil(L), 1;
  push_plugin_info(L, def);
  return 1;
}

static int l_plugins(lua_State *L) {
  ws_registry_t *r = ws_lua_toregistry(L, 1);
  size_t n = ws_registry_count(r);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_plugin_info(L, ws_registry_at(r, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int l_uuid7(lua_State *L) {
  char id[WS_UUID_STRLEN + 1];
  ws_uuid7(id);
  lua_pushstring(L, id);
  return 1;
}

/* ---------------------------------------------------------------------- run */

typedef struct lua_run {
  lua_State *L;
  ws_run_t *run;
  int on_event;      /* registry ref, or LUA_NOREF */
  int on_tick;       /* registry ref, or LUA_NOREF: called every tick_interval (real time) */
  uv_timer_t tick;
  bool ticking;
  char *event_error; /* the first error raised by on_event */
  bool use_signals;
  int signals_seen;
  uv_signal_t sig[2];
} lua_run_t;

/* Calls on_event with the event table on top of the stack (popped). */
static void deliver(lua_run_t *lr) {
  lua_State *L = lr->L;
  if (lr->on_event == LUA_NOREF || lr->event_error) {
    lua_pop(L, 1);
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, lr->on_event);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    char msg[1024];
    ws_lua_errmsg(L, -1, msg, sizeof msg);
    lr->event_error = strdup(msg);
    lua_pop(L, 1);
    ws_run_stop(lr->run, false); /* nobody is watching any more: stop gracefully */
  }
}

static void on_event(const ws_event_t *ev, void *ud) {
  lua_run_t *lr = ud;
  if (lr->on_event == LUA_NOREF) return;
  ws_lua_pushevent(lr->L, ev);
  deliver(lr);
}

/* A progress display redraws on a timer too, to show elapsed times. */
static void on_tick(uv_timer_t *t) {
  lua_run_t *lr = t->data;
  if (lr->event_error) return;
  lua_State *L = lr->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lr->on_tick);
  lua_pushnumber(L, ws_run_now(lr->run));
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    char msg[1024];
    ws_lua_errmsg(L, -1, msg, sizeof msg);
    lr->event_error = strdup(msg);
    lua_pop(L, 1);
    ws_run_stop(lr->run, false);
  }
}

/* First SIGINT/SIGTERM: graceful stop. Second: cancel running actions. */
static void on_signal(uv_signal_t *h, int signum) {
  lua_run_t *lr = h->data;
  bool force = ++lr->signals_seen > 1;
  if (lr->on_event != LUA_NOREF) {
    lua_State *L = lr->L;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, "stop");
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, force);
    lua_setfield(L, -2, "force");
    lua_pushstring(L, signum == SIGINT ? "SIGINT" : "SIGTERM");
    lua_setfield(L, -2, "signal");
    deliver(lr);
  }
  ws_run_stop(lr->run, force);
}

static void run_done(ws_run_t *run, void *ud) {
  lua_run_t *lr = ud;
  (void)run;
  if (lr->use_signals)
    for (int i = 0; i < 2; i++) uv_signal_stop(&lr->sig[i]);
  if (lr->ticking) uv_timer_stop(&lr->tick);
}

static void close_noop(uv_handle_t *h) { (void)h; }

/* The plan table at index 1, read into C and resolved against reg (new,
** the caller frees it); raises "invalid plan: ..." instead. */
static ws_plan_t *resolved_plan(lua_State *L, ws_registry_t *reg) {
  char err[2048] = "";
  ws_plan_t *plan = ws_lua_toplan(L, 1, err, sizeof err);
  if (!plan) {
    luaL_error(L, "invalid plan: %s", err);
    return NULL;
  }
  lua_State *old = ws_lua_enter(L);
  int rc = ws_plan_resolve(plan, reg, err, sizeof err);
  ws_lua_leave(old);
  if (rc) {
    ws_plan_free(plan);
    luaL_error(L, "invalid plan: %s", err);
    return NULL;
  }
  return plan;
}

static int l_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  bool has_opts = !lua_isnoneornil(L, 2);
  if (has_opts) luaL_checktype(L, 2, LUA_TTABLE);

  lua_getfield(L, LUA_REGISTRYINDEX, CURRENT_RUN_KEY);
  bool nested = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (nested) return luaL_error(L, "a plan is already running in this Lua state; runs do not nest");

  ws_registry_t *reg = ws_lua_registry(L);
  if (has_opts) {
    lua_getfield(L, 2, "registry");
    reg = ws_lua_toregistry(L, -1);
    lua_pop(L, 1); /* opts keeps it alive */
  }
  ws_plan_t *plan = resolved_plan(L, reg);
  char err[2048] = "";
  lua_State *old;

  lua_run_t *lr = calloc(1, sizeof *lr);
  uv_loop_t *loop = malloc(sizeof *loop);
  if (!lr || !loop || uv_loop_init(loop) != 0) {
    free(lr), free(loop);
    ws_plan_free(plan);
    return luaL_error(L, "cannot create an event loop");
  }
  lr->L = L;
  lr->on_event = LUA_NOREF;
  lr->on_tick = LUA_NOREF;
  double tick_interval = 0.25;
  bool virtual_clock = false;
  if (has_opts) {
    if (lua_getfield(L, 2, "on_event") == LUA_TFUNCTION) lr->on_event = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    if (lua_getfield(L, 2, "on_tick") == LUA_TFUNCTION) lr->on_tick = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    if (lua_getfield(L, 2, "tick_interval") == LUA_TNUMBER && lua_tonumber(L, -1) > 0.01)
      tick_interval = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "signals");
    lr->use_signals = lua_toboolean(L, -1);
    lua_getfield(L, 2, "clock");
    virtual_clock = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "virtual") == 0;
    lua_pop(L, 2);
  }

  ws_lua_session_t *ss = calloc(1, sizeof *ss);
  if (!ss) {
    free(lr);
    uv_loop_close(loop);
    free(loop);
    ws_plan_free(plan);
    return luaL_error(L, "out of memory");
  }
  int stored = has_opts ? ws_lua_session_begin(L, 1, 2, plan, reg, ss) : 0;
  ws_run_opts_t opts = {on_event, lr, virtual_clock, ss->store};
  if (stored) snprintf(err, sizeof err, "%s%s", ss->refused ? "refused: " : "storage: ", ss->err);
  else lr->run = ws_run_new(loop, plan, reg, &opts, err, sizeof err);
  if (lr->run) {
    ws_lua_session_watch(ss, loop);
    if (lr->on_tick != LUA_NOREF) {
      uv_timer_init(loop, &lr->tick);
      lr->tick.data = lr;
      uint64_t ms = (uint64_t)(tick_interval * 1000);
      uv_timer_start(&lr->tick, on_tick, ms, ms);
      uv_unref((uv_handle_t *)&lr->tick); /* it never keeps the run alive */
      lr->ticking = true;
    }
    lua_pushlightuserdata(L, lr);
    lua_setfield(L, LUA_REGISTRYINDEX, CURRENT_RUN_KEY);
    ws_lua_set_run_registry(L, reg);
    if (lr->use_signals) {
      int signums[2] = {SIGINT, SIGTERM};
      for (int i = 0; i < 2; i++) {
        uv_signal_init(loop, &lr->sig[i]);
        lr->sig[i].data = lr;
        uv_signal_start(&lr->sig[i], on_signal, signums[i]);
      }
    }
    ws_lua_plugins_begin_run(L, plan);
    old = ws_lua_enter(L);
    ws_run_start(lr->run, run_done);
    uv_run(loop, UV_RUN_DEFAULT);
    ws_lua_leave(old);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CURRENT_RUN_KEY);
    ws_lua_set_run_registry(L, NULL);
    if (lr->use_signals)
      for (int i = 0; i < 2; i++) uv_close((uv_handle_t *)&lr->sig[i], close_noop);
    ws_lua_session_unwatch(ss);
    if (lr->ticking) uv_close((uv_handle_t *)&lr->tick, close_noop);
    const char *store_error = ws_run_store_error(lr->run);
    if (store_error) snprintf(err, sizeof err, "storage: %s (the run stopped; it can be resumed "
                              "once storage works)", store_error);
    ws_run_free(lr->run);
    uv_run(loop, UV_RUN_DEFAULT);
    ws_lua_plugins_end_run(L);
  }
  ws_lua_session_end(ss);
  free(ss);
  int closed = uv_loop_close(loop);
  if (closed == 0) free(loop); /* else a plugin leaked a handle: leak the loop, not crash */
  luaL_unref(L, LUA_REGISTRYINDEX, lr->on_event);
  luaL_unref(L, LUA_REGISTRYINDEX, lr->on_tick);
  char *event_error = lr->event_error;
  bool ran = lr->run != NULL;
  free(lr);

  if (!ran || strncmp(err, "storage: ", 9) == 0 || strncmp(err, "refused: ", 9) == 0) {
    ws_plan_free(plan);
    return luaL_error(L, "%s", err);
  }
  if (event_error) {
    ws_plan_free(plan);
    lua_pushfstring(L, "on_event handler failed: %s", event_error);
    free(event_error);
    return lua_error(L);
  }
  ws_lua_pushresult(L, plan);
  ws_plan_free(plan);
  return 1;
}

/* core.check(plan, registry?) -> the plan as a result, not run (requests
** redacted): what `wsrun --check` prints. Raises "invalid plan: ..." */
static int l_check(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  ws_registry_t *reg = ws_lua_toregistry(L, 2);
  ws_plan_t *plan = resolved_plan(L, reg);
  ws_lua_pushresult(L, plan);
  ws_plan_free(plan);
  return 1;
}

static int l_stop(lua_State *L) {
  bool force = lua_toboolean(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, CURRENT_RUN_KEY);
  lua_run_t *lr = lua_touserdata(L, -1);
  lua_pop(L, 1);
  lua_pushboolean(L, lr && ws_run_stop(lr->run, force) == 0);
  return 1;
}

/* core.json(v, pretty?) -> text: for --json output (jansson, not a Lua encoder). */
static int l_json(lua_State *L) {
  char err[512];
  json_t *v = ws_lua_tojson(L, 1, "value", err, sizeof err);
  if (!v && !lua_isnoneornil(L, 1)) return luaL_error(L, "%s", err);
  char *text = json_dumps(v ? v : json_null(), JSON_ENCODE_ANY | JSON_SORT_KEYS |
                          (lua_toboolean(L, 2) ? JSON_INDENT(2) : JSON_COMPACT));
  json_decref(v);
  lua_pushstring(L, text ? text : "null");
  free(text);
  return 1;
}

/* core.cwd(), core.chdir(path), core.realpath(path): what resume needs to
** evaluate a plan file where it first ran. */
static int l_cwd(lua_State *L) {
  char buf[4096];
  size_t len = sizeof buf;
  int rc = uv_cwd(buf, &len);
  if (rc) return luaL_error(L, "cannot read the working directory: %s", uv_strerror(rc));
  lua_pushlstring(L, buf, len);
  return 1;
}

static int l_chdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int rc = uv_chdir(path);
  if (rc) return luaL_error(L, "cannot change directory to %s: %s", path, uv_strerror(rc));
  return 0;
}

static int l_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  uv_fs_t req;
  int rc = uv_fs_realpath(NULL, &req, path, NULL);
  if (rc < 0) {
    uv_fs_req_cleanup(&req);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, uv_strerror(rc));
    return 2;
  }
  lua_pushstring(L, req.ptr);
  uv_fs_req_cleanup(&req);
  return 1;
}

/* core.isatty(fd) -> boolean; core.term_width() -> columns of stdout, or nil. */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, uv_guess_handle((int)luaL_optinteger(L, 1, 1)) == UV_TTY);
  return 1;
}

static int l_term_width(lua_State *L) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) lua_pushinteger(L, ws.ws_col);
  else lua_pushnil(L);
  return 1;
}

static const luaL_Reg functions[] = {
    {"json", l_json},
    {"isatty", l_isatty},
    {"term_width", l_term_width},
    {"cwd", l_cwd},
    {"chdir", l_chdir},
    {"realpath", l_realpath},
    {"new_registry", ws_lua_new_registry},
    {"is_registry", ws_lua_is_registry},
    {"load_plugin", ws_lua_load_plugin},
    {"unregister", ws_lua_unregister},
    {"check_request", l_check_request},
    {"plugin_info", l_plugin_info},
    {"plugins", l_plugins},
    {"run", l_run},
    {"check", l_check},
    {"stop", l_stop},
    {"uuid7", l_uuid7},
    {NULL, NULL},
};

int luaopen_workstream_core(lua_State *L) {
  ws_lua_registry(L);
  luaL_newlib(L, functions);
  ws_lua_open_plugins(L);
  ws_lua_open_store(L);
  lua_pushinteger(L, WS_PLUGIN_ABI);
  lua_setfield(L, -2, "plugin_abi");
  return 1;
}
