/*
** ws_lua.h - what the binding's files share: conversions between Lua values
** and the engine's json values and model, and the module's entry point.
*/
#ifndef WS_LUA_H
#define WS_LUA_H

#include <lua.h>
#include <lauxlib.h>
#include "workstream/engine.h"

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

/* The registry of the Lua state (created with the built-ins on first use).
** [-0, +0, e] */
ws_registry_t *ws_lua_registry(lua_State *L);

/* The module: require "workstream.core". [-0, +1, e] */
int luaopen_workstream_core(lua_State *L);

#endif
