/*
** ws_lua.h - what the binding's files share: conversions between Lua values
** and the engine's json values and model, and the module's entry point.
*/
#ifndef WS_LUA_H
#define WS_LUA_H

#include <lua.h>
#include <lauxlib.h>
#include "workstream/engine.h"
#include "workstream/store.h"

/* Lua 5.4.4 (Debian 12) has lua_resetthread; 5.4.6 renamed it lua_closethread. */
#if LUA_VERSION_RELEASE_NUM >= 50406
#define ws_lua_closethread(L, from) lua_closethread((L), (from))
#else
#define ws_lua_closethread(L, from) ((void)(from), lua_resetthread(L))
#endif

/* Converts the value at idx to json. nil gives NULL with no error.
** Returns NULL with a message "<path>: <problem>" in err on failure; path
** starts with root. [-0, +0, m] */
json_t *ws_lua_tojson(lua_State *L, int idx, const char *root, char *err, size_t errlen);

/* Pushes v as a Lua value (objects and arrays become tables; NULL and json
** null become nil). [-0, +1, m] */
void ws_lua_pushjson(lua_State *L, const json_t *v);

/* The request at idx (nil: {}) converted and checked against def, defaults
** filled in (a new reference), or NULL with a message "req...: ..." in err.
** [-0, +0, m] */
json_t *ws_lua_checked_request(lua_State *L, int idx, const ws_plugin_def_t *def, char *err,
                               size_t errlen);

/* Builds a plan from the table at idx (as made by the workstream constructors).
** Returns NULL with a message naming the object path on a malformed table.
** [-0, +0, m] */
ws_plan_t *ws_lua_toplan(lua_State *L, int idx, char *err, size_t errlen);

/* Pushes the result table of a plan: plain tables, as DESIGN.md describes.
** [-0, +1, m] */
void ws_lua_pushresult(lua_State *L, const ws_plan_t *plan);

/* Pushes an event table {type, object, path, status, time, id, name, ...}.
** [-0, +1, m] */
void ws_lua_pushevent(lua_State *L, const ws_event_t *ev);

/* Pushes an error table {msg, permanent, code?}. [-0, +1, m] */
void ws_lua_pusherror(lua_State *L, const ws_error_t *e);

/* The default registry of the Lua state (created with the built-ins on first
** use). [-0, +0, e] */
ws_registry_t *ws_lua_registry(lua_State *L);
/* The registry value at idx, or the default one when it is nil or absent. [-0, +0, v] */
ws_registry_t *ws_lua_toregistry(lua_State *L, int idx);
/* core.new_registry(): a new registry with the built-ins. [-0, +1, e] */
int ws_lua_new_registry(lua_State *L);
/* core.is_registry(v) -> boolean. [-1, +1, -] */
int ws_lua_is_registry(lua_State *L);
/* core.unregister(name, reg) -> removed: not the default registry. [-2, +1, v] */
int ws_lua_unregister(lua_State *L);
/* core.load_plugin(path, reg?): loads an external plugin. [-2, +0, e] */
int ws_lua_load_plugin(lua_State *L);
/* Keeps the value at value_idx alive as long as the registry at reg_idx (nil:
** the default one). [-0, +0, m] */
void ws_lua_registry_keep(lua_State *L, int reg_idx, int value_idx);
/* The registry of the run in progress (ws.call uses it), or the default one. */
void ws_lua_set_run_registry(lua_State *L, ws_registry_t *r);
ws_registry_t *ws_lua_run_registry(lua_State *L);

/* The module: require "workstream.core". [-0, +1, e] */
int luaopen_workstream_core(lua_State *L);

/* Adds the Lua-plugin functions to the module table on top. [-0, +0, e] */
void ws_lua_open_plugins(lua_State *L);
/* Around the run of a resolved plan: begin sets the collector for its Lua
** plugins' attempts; end releases the coroutines they left for reuse and
** gives the collector back its mode. [-0, +0, m] */
void ws_lua_plugins_begin_run(lua_State *L, ws_plan_t *plan);
void ws_lua_plugins_end_run(lua_State *L);
/* Adds the store functions (list, get, default path). [-0, +0, e] */
void ws_lua_open_store(lua_State *L);

/* A run recorded in a store (ws_lua_store.c). */
typedef struct ws_lua_session {
  ws_store_t *store; /* NULL: the run is kept in memory only */
  char id[64];
  char owner[128];
  bool leased, renewing;
  bool refused; /* err is a refusal (nothing to resume, leased elsewhere), not a storage failure */
  uv_timer_t renew;
  char err[1024];
} ws_lua_session_t;

/* From the options table at `opts` (store = path; resume = id; retry_of = id;
** origin = how to rebuild the plan), prepares the store for running plan
** (resolved against reg; its table is at plan_idx): loads a run to resume, or
** records a new one (seeded with what completed in the run it retries), and
** takes its lease. 0, or -1 with ss->err. Call ws_lua_session_end either way.
** [-0, +0, m] */
int ws_lua_session_begin(lua_State *L, int plan_idx, int opts, ws_plan_t *plan,
                         const ws_registry_t *reg, ws_lua_session_t *ss);
/* Renews the lease on the run's loop until unwatch (which closes a handle:
** run the loop once more). */
void ws_lua_session_watch(ws_lua_session_t *ss, uv_loop_t *loop);
void ws_lua_session_unwatch(ws_lua_session_t *ss);
/* Releases the lease and closes the store. */
void ws_lua_session_end(ws_lua_session_t *ss);

/* The thread running binding code now: Lua callbacks made from C (a plugin's
** init and validate, an attempt's coroutine) run on it. enter returns the
** previous one, for leave. */
lua_State *ws_lua_enter(lua_State *L);
void ws_lua_leave(lua_State *old);

/* A readable message from the error object at idx (a string, a table with
** msg, nil, anything). [-0, +0, m] */
void ws_lua_errmsg(lua_State *L, int idx, char *buf, size_t len);

/* Memory that lives as long as a Lua plugin: its name and types. */
typedef struct ws_arena {
  void **ptrs;
  size_t n;
} ws_arena_t;
void *ws_arena_alloc(ws_arena_t *a, size_t n); /* zeroed; aborts when out of memory */
char *ws_arena_strdup(ws_arena_t *a, const char *s);
void ws_arena_free(ws_arena_t *a);

/* Builds the engine type of the workstream.types value at idx, in arena.
** NULL with "<where>: <problem>" in err. [-0, +0, m] */
const ws_type_t *ws_lua_totype(lua_State *L, int idx, ws_arena_t *arena, const char *where,
                               char *err, size_t errlen);

#endif
