/*
** fuzz_lua_json.c - Lua values <-> json values (bindings/ws_lua_json.c).
**
** The first byte picks the direction:
**   even: the value machine builds arbitrary Lua values (nested and cyclic
**         tables, mixed keys, NaN, huge integers, strings with NUL bytes or
**         invalid UTF-8, functions); each is converted with ws_lua_tojson.
**         A value that converts must come back equal through ws_lua_pushjson
**         and ws_lua_tojson; one that does not gets a message that starts
**         with the root, and a short error buffer gets a prefix of it.
**   odd:  the rest is JSON text (jansson); ws_lua_pushjson then ws_lua_tojson
**         must give what the binding promises: nulls dropped from objects,
**         trailing nulls dropped from arrays (an inner one is a hole, an
**         error), an empty array back as an empty object, more than 64 levels
**         of tables refused.
*/
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <lauxlib.h>
#include "fuzz_common.h"
#include "ws_lua.h"

#define MAX_DEPTH 64 /* ws_lua_json.c's */

static const char *const words[] = {
    "", "a", "b", "name", "req", "1", "2", "-1", "0", "1.5", "\xff\xfe", "\xc3\xa9",
    "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "x y", "n\\u0000", "true", "null",
};

/* Converts the value at idx; checks the error path and the round trip. */
static void convert_one(lua_State *L, int idx, size_t short_len) {
  char err[1024] = "", small[32];
  json_t *j = ws_lua_tojson(L, idx, "req", err, sizeof err);
  if (wsf_verbose()) fprintf(stderr, "tojson %d: %s\n", idx, j ? "ok" : err);
  if (!j) {
    if (lua_isnil(L, idx)) return;
    if (strncmp(err, "req", 3) != 0) wsf_fail("tojson failed with message \"%s\"", err);
    memset(small, 'X', sizeof small);
    json_t *again = ws_lua_tojson(L, idx, "req", small, short_len);
    if (again) wsf_fail("tojson succeeded with a short error buffer only");
    if (short_len && (strnlen(small, short_len) == short_len ||
                      strncmp(small, err, strlen(small)) != 0))
      wsf_fail("a short error buffer holds \"%.*s\", not a prefix of \"%s\"", (int)short_len,
               small, err);
    return;
  }
  char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) wsf_fail("a converted value cannot be encoded");
  ws_lua_pushjson(L, j);
  json_t *back = ws_lua_tojson(L, -1, "back", err, sizeof err);
  if (!back) wsf_fail("%s does not convert back: %s", text, err);
  if (!json_equal(j, back)) wsf_fail("%s does not round-trip", text);
  lua_pop(L, 1);
  free(text);
  json_decref(back);
  json_decref(j);
}

/* What pushjson then tojson must give for v: a new value, NULL for nil
** (no error), or *bad when the binding must refuse it. */
static json_t *expected(const json_t *v, int depth, bool *bad) {
  switch (json_typeof(v)) {
  case JSON_NULL: return NULL;
  case JSON_OBJECT: {
    if (depth + 1 > MAX_DEPTH) return *bad = true, NULL;
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
      json_t *x = expected(e, depth + 1, bad);
      if (x) json_object_set_new(out, k, x);
    }
    return out;
  }
  case JSON_ARRAY: {
    if (depth + 1 > MAX_DEPTH) return *bad = true, NULL;
    size_t n = json_array_size(v);
    while (n && json_is_null(json_array_get(v, n - 1))) n--;
    if (n == 0) return json_object();
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
      const json_t *e = json_array_get(v, i);
      if (json_is_null(e)) *bad = true; /* a hole */
      json_t *x = expected(e, depth + 1, bad);
      if (x) json_array_append_new(out, x);
    }
    return out;
  }
  default: return json_deep_copy(v);
  }
}

static void from_json(lua_State *L, wsf_in_t *in) {
  json_t *v = json_loadb((const char *)in->p, in->n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (!v) return;
  bool bad = false;
  json_t *want = expected(v, 0, &bad);
  ws_lua_pushjson(L, v);
  char err[1024] = "";
  json_t *got = ws_lua_tojson(L, -1, "v", err, sizeof err);
  lua_pop(L, 1);
  if (wsf_verbose()) fprintf(stderr, "round trip: %s%s\n", got ? "ok" : err, bad ? " (refusal expected)" : "");
  if (bad) {
    if (got) wsf_fail("a value the binding must refuse converted");
    if (strncmp(err, "v", 1) != 0) wsf_fail("refused with message \"%s\"", err);
  } else if (!want) {
    if (got || err[0]) wsf_fail("null did not become nil without an error");
  } else if (!got) {
    wsf_fail("a convertible value was refused: %s", err);
  } else if (!json_equal(got, want)) {
    char *a = json_dumps(got, JSON_ENCODE_ANY), *b = json_dumps(want, JSON_ENCODE_ANY);
    wsf_fail("got %s, expected %s", a ? a : "?", b ? b : "?");
  }
  json_decref(got);
  json_decref(want);
  json_decref(v);
}

static int body(lua_State *L) {
  wsf_in_t *in = lua_touserdata(L, 1);
  lua_settop(L, 0);
  uint8_t mode = wsf_u8(in);
  if (mode & 1) {
    from_json(L, in);
    return 0;
  }
  size_t short_len = (mode >> 1) % 24;
  wsf_machine_t m = {.L = L, .in = in, .words = words, .nwords = sizeof words / sizeof *words};
  wsf_machine_run(&m);
  for (int i = 1; i <= lua_gettop(L); i++) convert_one(L, i, short_len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a state per input: nothing carries over from one input to the next */
  lua_State *L = luaL_newstate();
  wsf_in_t in = {data, size};
  if (wsf_lua_protected(L, body, &in) != LUA_OK)
    wsf_fail("Lua error: %s", lua_tostring(L, -1));
  lua_close(L);
  return 0;
}
