/*
** fuzz_cli.c - wsrun's argument parsing (lua/workstream/cli.lua's main), in a
** sandbox where every effect of a command is stubbed (fuzz/lua/cli.lua).
**
** The input is argv: arguments separated by NUL bytes (at most 16), after
** "wsrun". main must return an exit code and raise nothing.
*/
#include <lauxlib.h>
#include "fuzz_common.h"

#define MAX_ARGS 16

static lua_State *L;
static int fn_ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = wsf_lua_new();
    fn_ref = wsf_lua_harness(L, WS_FUZZ_DIR "/lua/cli.lua");
  }
  wsf_in_t in = {data, size};
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_createtable(L, MAX_ARGS, 1);
  lua_pushliteral(L, "wsrun");
  lua_rawseti(L, -2, 0);
  for (int i = 1; i <= MAX_ARGS && in.n; i++) {
    const uint8_t *arg;
    size_t n = wsf_until(&in, 0, &arg);
    lua_pushlstring(L, (const char *)arg, n);
    lua_rawseti(L, -2, i);
  }
  wsf_lua_coverage(L, true);
  int rc = lua_pcall(L, 1, 0, 0);
  wsf_lua_coverage(L, false);
  if (rc != LUA_OK) wsf_fail("%s", lua_tostring(L, -1));
  /* the sandbox keeps nothing per input: a full collection keeps memory flat */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
