/*
** wsrun.c - the `wsrun` host program.
**
** A thin host: it makes a Lua state, links the core module in statically,
** points package.path at the installed Lua files, and hands argv to
** workstream.cli, which does the user-facing work. Exit codes: what the CLI
** returns (0 completed, 1 failed or stopped, 2 bad usage or invalid plan),
** 3 when the host itself fails.
*/
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lualib.h>
#include "ws_lua.h"

#ifndef WS_LUA_SHARE_REL
#error "WS_LUA_SHARE_REL must name <prefix>-relative Lua directory"
#endif

/* <dir of the executable>/../<share>/?.lua;...;<current package.path> */
static void set_lua_path(lua_State *L) {
  char exe[PATH_MAX];
  size_t len = sizeof exe;
  if (uv_exepath(exe, &len) != 0) return;
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = '\0';
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/../" WS_LUA_SHARE_REL "/?.lua;%s/../" WS_LUA_SHARE_REL "/?/init.lua;%s",
                  exe, exe, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

/* require("workstream.cli").main(argv) in protected mode. */
static int run_cli(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "workstream.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  /* A command that closes its stdin early must not kill the engine with
  ** SIGPIPE; the write fails with EPIPE instead. Children get the default back. */
  signal(SIGPIPE, SIG_IGN);
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "wsrun: cannot create a Lua state (out of memory)\n");
    return 3;
  }
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_workstream_core);
  lua_setfield(L, -2, "workstream.core");
  lua_pop(L, 1);
  set_lua_path(L);

  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, run_cli);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int code;
  if (lua_pcall(L, 2, 1, 1) != LUA_OK) {
    fprintf(stderr, "wsrun: internal error: %s\n", lua_tostring(L, -1));
    code = 3;
  } else {
    code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 3;
  }
  lua_close(L);
  return code;
}
