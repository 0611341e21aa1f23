/*
** ws_lua_json.c - Lua values <-> json values, at the boundary.
**
** Lua tables are either lists (keys 1..n) or records/maps (string keys); a
** mix is refused rather than guessed. {} becomes an empty object: the type
** checker turns it into an empty list where a list is expected.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ws_lua.h"

#define MAX_DEPTH 64

/* The path of the value being converted ("req.hosts[2]"): a chain of steps
** on the C stack, written out only for an error message (every request is
** converted, and formatting each step cost more than converting it). */
typedef struct step {
  const struct step *up;
  const char *field; /* NULL: a list index */
  lua_Integer index;
} step_t;

typedef struct conv {
  lua_State *L;
  const char *root;
  const step_t *top;
  char *err;
  size_t errlen;
  int depth;
  int open[MAX_DEPTH]; /* stack indices of the tables being converted, outermost first */
} conv_t;

static size_t put_path(const conv_t *c, const step_t *s, char *buf, size_t len) {
  if (!s) return (size_t)snprintf(buf, len, "%s", c->root);
  size_t at = put_path(c, s->up, buf, len);
  if (at >= len) return at;
  int n = s->field ? snprintf(buf + at, len - at, "%s%s", at ? "." : "", s->field)
                   : snprintf(buf + at, len - at, "[%lld]", (long long)s->index);
  return n < 0 ? at : at + (size_t)n;
}

static json_t *fail(conv_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *fail(conv_t *c, const char *fmt, ...) {
  char path[512];
  put_path(c, c->top, path, sizeof path);
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(c->err, c->errlen, "%s: ", path);
  if (n >= 0 && (size_t)n < c->errlen) vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return NULL;
}

static json_t *convert(conv_t *c, int idx);

/* The table's shape: count of integer keys 1..n (when a proper list), or -1. */
static lua_Integer list_length(lua_State *L, int idx, bool *has_string_keys, bool *bad_key) {
  lua_Integer count = 0, max = 0;
  *has_string_keys = *bad_key = false;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) *has_string_keys = true;
    else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      count++;
      if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
    } else *bad_key = true;
  }
  return count == max ? count : -1;
}

static json_t *convert_table(conv_t *c, int idx) {
  lua_State *L = c->L;
  for (int i = 0; i < c->depth; i++)
    if (lua_rawequal(L, c->open[i], idx)) return fail(c, "contains itself (a cycle)");
  if (c->depth == MAX_DEPTH) return fail(c, "nested deeper than %d levels", MAX_DEPTH);
  c->open[c->depth++] = idx;
  luaL_checkstack(L, 3, "converting a value"); /* a key and a value per level */
  bool strings, bad;
  lua_Integer n = list_length(L, idx, &strings, &bad);
  json_t *out = NULL;
  step_t step = {c->top, NULL, 0};
  c->top = &step;
  if (bad) {
    fail(c, "table keys must be all strings (a record or map) or 1..n (a list)");
  } else if (n > 0 && strings) {
    fail(c, "table mixes list items and named fields");
  } else if (n < 0) {
    fail(c, "list has holes (nil items)");
  } else if (n > 0) {
    out = json_array();
    for (lua_Integer i = 1; i <= n; i++) {
      step.index = i;
      lua_geti(L, idx, i);
      json_t *v = convert(c, lua_gettop(L));
      lua_pop(L, 1);
      if (!v) {
        json_decref(out);
        out = NULL;
        break;
      }
      json_array_append_new(out, v);
    }
  } else {
    out = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen); /* a string key: no conversion happens */
      step.field = k; /* the key stays on the stack meanwhile */
      json_t *v = strlen(k) != klen ? fail(c, "a key holds a NUL byte") : convert(c, lua_gettop(L));
      lua_pop(L, 1);
      if (v && json_object_set_new(out, k, v) != 0) {
        c->top = step.up; /* the key cannot be shown as it is */
        v = fail(c, "a key is not valid UTF-8");
      }
      if (!v) {
        lua_pop(L, 1);
        json_decref(out);
        out = NULL;
        break;
      }
    }
  }
  c->top = step.up;
  c->depth--;
  return out;
}

static json_t *convert(conv_t *c, int idx) {
  lua_State *L = c->L;
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx))) return fail(c, "number is not finite");
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *v = json_stringn(s, len);
    return v ? v : fail(c, "string is not valid UTF-8");
  }
  case LUA_TTABLE: return convert_table(c, idx);
  case LUA_TNIL: return fail(c, "nil where a value is needed");
  default: return fail(c, "a %s cannot be sent to a plugin", luaL_typename(L, idx));
  }
}

json_t *ws_lua_tojson(lua_State *L, int idx, const char *root, char *err, size_t errlen) {
  if (lua_isnoneornil(L, idx)) return NULL;
  conv_t c = {.L = L, .root = root ? root : "", .err = err, .errlen = errlen};
  /* no stack reserved for the deepest value up front: a coroutine's stack
  ** would grow for every response (convert_table checks per level) */
  return convert(&c, lua_absindex(L, idx));
}

void ws_lua_pushjson(lua_State *L, const json_t *v) {
  luaL_checkstack(L, 4, "converting a value");
  if (!v) {
    lua_pushnil(L);
    return;
  }
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *e;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, k, e) {
      ws_lua_pushjson(L, e);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY:
    lua_createtable(L, (int)json_array_size(v), 0);
    for (size_t i = 0; i < json_array_size(v); i++) {
      ws_lua_pushjson(L, json_array_get(v, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  case JSON_NULL: lua_pushnil(L); break;
  }
}
