/*
** ws_lua_registry.c - plugin registries as Lua values.
**
** The default registry (built-ins, and what ws.plugin registers) lives as
** long as the Lua state; more can be made (testing fakes). A registry value
** keeps the Lua plugins registered in it alive (its user value), since the
** engine's registry only borrows their definitions.
*/
#include <stdio.h>
#include <stdlib.h>
#include "builtins.h"
#include "ws_lua.h"

#define REGISTRY_MT "workstream.registry"
#define DEFAULT_KEY "workstream.default_registry"
#define RUN_REGISTRY_KEY "workstream.run_registry"

typedef struct registry_box {
  ws_registry_t *r;
} registry_box_t;

static int registry_gc(lua_State *L) {
  registry_box_t *box = luaL_checkudata(L, 1, REGISTRY_MT);
  ws_registry_free(box->r);
  box->r = NULL;
  return 0;
}

static int registry_tostring(lua_State *L) {
  registry_box_t *box = luaL_checkudata(L, 1, REGISTRY_MT);
  lua_pushfstring(L, "workstream registry (%d plugins)", box->r ? (int)ws_registry_count(box->r) : 0);
  return 1;
}

/* Pushes a new registry with the built-ins. */
static registry_box_t *push_new(lua_State *L) {
  registry_box_t *box = lua_newuserdatauv(L, sizeof *box, 1);
  box->r = NULL;
  if (luaL_newmetatable(L, REGISTRY_MT)) {
    lua_pushcfunction(L, registry_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, registry_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  lua_newtable(L); /* the Lua plugins it keeps alive */
  lua_setiuservalue(L, -2, 1);
  box->r = ws_registry_new();
  char err[512];
  if (ws_builtins_register(box->r, err, sizeof err))
    luaL_error(L, "cannot register the built-in plugins: %s", err);
  return box;
}

int ws_lua_is_registry(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, REGISTRY_MT) != NULL);
  return 1;
}

int ws_lua_new_registry(lua_State *L) {
  push_new(L);
  return 1;
}

ws_registry_t *ws_lua_registry(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, DEFAULT_KEY) == LUA_TUSERDATA) {
    registry_box_t *box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return box->r;
  }
  lua_pop(L, 1);
  registry_box_t *box = push_new(L);
  lua_setfield(L, LUA_REGISTRYINDEX, DEFAULT_KEY);
  /* The plugins of WS_PLUGIN_PATH join the built-ins in the default registry. */
  const char *search = getenv("WS_PLUGIN_PATH");
  char err[1024];
  if (search && *search && ws_registry_load_path(box->r, search, err, sizeof err))
    luaL_error(L, "WS_PLUGIN_PATH: %s", err);
  return box->r;
}

ws_registry_t *ws_lua_toregistry(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return ws_lua_registry(L);
  return ((registry_box_t *)luaL_checkudata(L, idx, REGISTRY_MT))->r;
}

void ws_lua_registry_keep(lua_State *L, int reg_idx, int value_idx) {
  value_idx = lua_absindex(L, value_idx);
  if (lua_isnoneornil(L, reg_idx)) {
    lua_getfield(L, LUA_REGISTRYINDEX, DEFAULT_KEY);
  } else {
    lua_pushvalue(L, reg_idx);
  }
  lua_getiuservalue(L, -1, 1);
  lua_pushvalue(L, value_idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 2);
}

/* core.unregister(name, reg): removes a plugin from a registry other than the
** default one (the testing helpers replace a built-in with a fake). */
int ws_lua_unregister(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_checkudata(L, 2, REGISTRY_MT);
  lua_pushboolean(L, ws_registry_remove(ws_lua_toregistry(L, 2), name) == 0);
  return 1;
}

/* core.load_plugin(path, reg?): loads an external plugin (.so) into a registry. */
int ws_lua_load_plugin(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ws_registry_t *r = ws_lua_toregistry(L, 2);
  char err[1024];
  lua_State *old = ws_lua_enter(L);
  int rc = ws_registry_load(r, path, err, sizeof err);
  ws_lua_leave(old);
  if (rc) return luaL_error(L, "%s", err);
  return 0;
}

void ws_lua_set_run_registry(lua_State *L, ws_registry_t *r) {
  if (r) lua_pushlightuserdata(L, r);
  else lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, RUN_REGISTRY_KEY);
}

ws_registry_t *ws_lua_run_registry(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, RUN_REGISTRY_KEY);
  ws_registry_t *r = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return r ? r : ws_lua_registry(L);
}
