/*
** fuzz_duration.c - durations (lua/workstream/duration.lua), run in a Lua
** state as plans use them.
**
** The first byte picks what the rest is: a string for duration.parse (with
** `positive` from one bit), or 8 bytes read as a float or an integer, given to
** parse and to format. fuzz/lua/duration.lua checks the results; an error
** from it, or any Lua error, is a finding.
*/
#include <string.h>
#include <lauxlib.h>
#include "fuzz_common.h"

static lua_State *L;
static int fn_ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = wsf_lua_new();
    fn_ref = wsf_lua_harness(L, WS_FUZZ_DIR "/lua/duration.lua");
  }
  wsf_in_t in = {data, size};
  uint8_t mode = wsf_u8(&in);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushinteger(L, mode);
  lua_pushlstring(L, (const char *)in.p, in.n);
  uint64_t bits = wsf_u64(&in);
  if (mode & 4) {
    lua_pushinteger(L, (lua_Integer)bits);
  } else {
    double d;
    memcpy(&d, &bits, sizeof d);
    lua_pushnumber(L, d);
  }
  wsf_lua_coverage(L, true);
  int rc = lua_pcall(L, 3, 0, 0);
  wsf_lua_coverage(L, false);
  if (rc != LUA_OK) wsf_fail("%s", lua_tostring(L, -1));
  /* nothing of an input stays allocated: libFuzzer's leak check stays quiet */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
