/*
** fuzz_common.c - input reading, the Lua state and the value machine
** (fuzz_common.h).
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include "fuzz_common.h"
#include "ws_lua.h"

#ifndef WS_FUZZ_LUA_DIR
#error "WS_FUZZ_LUA_DIR must name the source tree's lua/ directory"
#endif

/* ------------------------------------------------------------------ input */

uint8_t wsf_u8(wsf_in_t *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

uint64_t wsf_u64(wsf_in_t *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | wsf_u8(in);
  return v;
}

size_t wsf_take(wsf_in_t *in, size_t max, const uint8_t **out) {
  size_t n = in->n < max ? in->n : max;
  *out = in->p;
  in->p += n;
  in->n -= n;
  return n;
}

size_t wsf_until(wsf_in_t *in, uint8_t sep, const uint8_t **out) {
  const uint8_t *end = in->n ? memchr(in->p, sep, in->n) : NULL;
  size_t n = end ? (size_t)(end - in->p) : in->n;
  *out = in->p;
  in->p += n;
  in->n -= n;
  if (end) wsf_u8(in);
  return n;
}

bool wsf_verbose(void) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("WSF_VERBOSE") != NULL;
  return verbose;
}

void wsf_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz invariant broken: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* -------------------------------------------------------------------- Lua */

lua_State *wsf_lua_new(void) {
  /* plugins never come from the environment here */
  unsetenv("WS_PLUGIN_PATH");
  lua_State *L = luaL_newstate();
  if (!L) wsf_fail("cannot create a Lua state");
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, WS_FUZZ_LUA_DIR "/?.lua;" WS_FUZZ_LUA_DIR "/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pushstring(L, "");
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_workstream_core);
  lua_setfield(L, -2, "workstream.core");
  lua_pop(L, 1);
  return L;
}

/* libFuzzer reads the counters of this section after each input. */
#define NCOUNTERS (1 << 16)
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t counters[NCOUNTERS];
static uintptr_t prev_step;

static void count_line(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar)) return;
  /* the chunk's name (not its address: a chunk loaded again gets a new one)
  ** and the line name the step */
  uintptr_t step = 2166136261u;
  for (const char *c = ar->source; *c; c++) step = (step ^ (uint8_t)*c) * 16777619u;
  step = (step ^ (uintptr_t)ar->currentline) * 16777619u;
  counters[(step ^ prev_step) % NCOUNTERS]++;
  prev_step = step >> 1;
}

void wsf_lua_coverage(lua_State *L, bool on) {
  prev_step = 0;
  lua_sethook(L, on ? count_line : NULL, on ? LUA_MASKLINE : 0, 0);
}

int wsf_lua_protected(lua_State *L, int (*fn)(lua_State *L), void *ud) {
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, ud);
  return lua_pcall(L, 1, 0, 0);
}

/* ---------------------------------------------------------- value machine */

enum {
  OP_NIL,
  OP_BOOL,
  OP_SMALL_INT,
  OP_INT64,
  OP_FLOAT_BITS,
  OP_FLOAT_SPECIAL,
  OP_STRING,
  OP_WORD,
  OP_TABLE,
  OP_SET,        /* t[k] = v: t, k, v on top */
  OP_APPEND,     /* t[#t + 1] = v */
  OP_SET_WORD,   /* t[word] = v */
  OP_SET_INT,    /* t[small integer] = v: lists, holes, 0 and negative indices */
  OP_LINK,       /* top[word] = a deeper stack value: shared tables and cycles */
  OP_DUP,
  OP_POP,
  OP_RAISE,      /* brings a deeper value to the top */
  OP_GET_WORD,   /* pushes rawget(top, word): reaches into constructed objects */
  OP_GET_INT,    /* pushes rawget(top, small integer) */
  OP_OTHER,      /* a function, a userdata, a coroutine */
  OP_COUNT
};

static const double specials[] = {0.0, -0.0, 0.5, -1.5, 1.0, 30.0, 1e-7, 1e15,
                                  9007199254740992.0, 9223372036854775808.0, 1e308,
                                  -1e308, 5e-324, INFINITY, -INFINITY, NAN};

int wsf_machine_depth(const wsf_machine_t *m) { return lua_gettop(m->L) - m->base; }

const char *wsf_word(wsf_machine_t *m) {
  uint8_t b = wsf_u8(m->in);
  return m->nwords ? m->words[b % m->nwords] : "x";
}

static bool is_table(lua_State *L, int idx) { return lua_type(L, idx) == LUA_TTABLE; }

/* A key rawset accepts: not nil, not NaN. */
static bool usable_key(lua_State *L, int idx) {
  if (lua_isnil(L, idx)) return false;
  if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx)) {
    lua_Number k = lua_tonumber(L, idx);
    return k == k;
  }
  return true;
}

static int noop(lua_State *L) {
  (void)L;
  return 0;
}

static void step(wsf_machine_t *m) {
  lua_State *L = m->L;
  wsf_in_t *in = m->in;
  int depth = wsf_machine_depth(m);
  int op = wsf_u8(in) % (OP_COUNT + m->nextra);
  if (op >= OP_COUNT) {
    m->extra(m, op - OP_COUNT);
    return;
  }
  bool full = depth >= WSF_STACK_MAX;
  switch (op) {
  case OP_NIL:
    if (!full) lua_pushnil(L);
    break;
  case OP_BOOL:
    if (!full) lua_pushboolean(L, wsf_u8(in) & 1);
    break;
  case OP_SMALL_INT:
    if (!full) lua_pushinteger(L, (int8_t)wsf_u8(in));
    break;
  case OP_INT64:
    if (!full) lua_pushinteger(L, (lua_Integer)wsf_u64(in));
    break;
  case OP_FLOAT_BITS: {
    uint64_t bits = wsf_u64(in);
    double d;
    memcpy(&d, &bits, sizeof d);
    if (!full) lua_pushnumber(L, d);
    break;
  }
  case OP_FLOAT_SPECIAL: {
    double d = specials[wsf_u8(in) % (sizeof specials / sizeof specials[0])];
    if (!full) lua_pushnumber(L, d);
    break;
  }
  case OP_STRING: {
    const uint8_t *s;
    size_t n = wsf_take(in, wsf_u8(in) % 64, &s);
    if (!full) lua_pushlstring(L, (const char *)s, n);
    break;
  }
  case OP_WORD: {
    const char *w = wsf_word(m);
    if (!full) lua_pushstring(L, w);
    break;
  }
  case OP_TABLE:
    if (!full) lua_newtable(L);
    break;
  case OP_SET:
    if (depth >= 3 && is_table(L, -3) && usable_key(L, -2)) lua_rawset(L, -3);
    break;
  case OP_APPEND:
    if (depth >= 2 && is_table(L, -2))
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    break;
  case OP_SET_WORD: {
    const char *w = wsf_word(m);
    if (depth >= 2 && is_table(L, -2)) {
      lua_pushstring(L, w);
      lua_insert(L, -2);
      lua_rawset(L, -3);
    }
    break;
  }
  case OP_SET_INT: {
    lua_Integer k = (int8_t)wsf_u8(in);
    if (depth >= 2 && is_table(L, -2)) lua_rawseti(L, -2, k);
    break;
  }
  case OP_LINK: {
    const char *w = wsf_word(m);
    int from = depth ? wsf_u8(in) % depth : 0;
    if (depth >= 1 && is_table(L, -1)) {
      lua_pushstring(L, w);
      lua_pushvalue(L, m->base + 1 + from);
      lua_rawset(L, -3);
    }
    break;
  }
  case OP_DUP: {
    int from = depth ? wsf_u8(in) % depth : 0;
    if (depth && !full) lua_pushvalue(L, m->base + 1 + from);
    break;
  }
  case OP_POP:
    if (depth) lua_pop(L, 1);
    break;
  case OP_RAISE: {
    int from = depth ? wsf_u8(in) % depth : 0;
    if (depth) lua_rotate(L, m->base + 1 + from, -1);
    break;
  }
  case OP_GET_WORD: {
    const char *w = wsf_word(m);
    if (depth && !full && is_table(L, -1)) {
      lua_pushstring(L, w);
      lua_rawget(L, -2);
    }
    break;
  }
  case OP_GET_INT: {
    lua_Integer k = (int8_t)wsf_u8(in);
    if (depth && !full && is_table(L, -1)) lua_rawgeti(L, -1, k);
    break;
  }
  case OP_OTHER: {
    uint8_t k = wsf_u8(in) % 3;
    if (full) break;
    if (k == 0) lua_pushcfunction(L, noop);
    else if (k == 1) lua_newuserdatauv(L, 8, 0);
    else lua_newthread(L);
    break;
  }
  }
}

void wsf_machine_run(wsf_machine_t *m) {
  luaL_checkstack(m->L, WSF_STACK_MAX + 16, "fuzz machine");
  while (m->in->n) step(m);
}

int wsf_lua_harness(lua_State *L, const char *path) {
  if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    wsf_fail("harness %s: %s", path, lua_tostring(L, -1));
  if (!lua_isfunction(L, -1)) wsf_fail("harness %s: returned no function", path);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

static char temp_dir[64], temp_db[96];

static void temp_db_remove(void) {
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  char f[128];
  for (size_t i = 0; i < 3; i++) {
    snprintf(f, sizeof f, "%s%s", temp_db, suffixes[i]);
    unlink(f);
  }
  rmdir(temp_dir);
}

const char *wsf_temp_db(void) {
  snprintf(temp_dir, sizeof temp_dir, "%s",
           access("/dev/shm", W_OK) == 0 ? "/dev/shm/ws-fuzz-XXXXXX" : "/tmp/ws-fuzz-XXXXXX");
  if (!mkdtemp(temp_dir)) wsf_fail("mkdtemp %s", temp_dir);
  snprintf(temp_db, sizeof temp_db, "%s/runs.db", temp_dir);
  atexit(temp_db_remove);
  return temp_db;
}
