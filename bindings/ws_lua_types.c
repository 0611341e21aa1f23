/*
** ws_lua_types.c - Lua type descriptions (workstream.types) into the engine's
** ws_type_t, so that one validator serves Lua and C plugins.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_lua.h"

void *ws_arena_alloc(ws_arena_t *a, size_t n) {
  void *p = calloc(1, n ? n : 1);
  void **ptrs = realloc(a->ptrs, (a->n + 1) * sizeof *ptrs);
  if (!p || !ptrs) {
    free(p);
    if (ptrs) a->ptrs = ptrs;
    fprintf(stderr, "workstream: out of memory\n");
    abort();
  }
  a->ptrs = ptrs;
  a->ptrs[a->n++] = p;
  return p;
}

char *ws_arena_strdup(ws_arena_t *a, const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(ws_arena_alloc(a, n), s, n);
}

void ws_arena_free(ws_arena_t *a) {
  for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
  free(a->ptrs);
  a->ptrs = NULL;
  a->n = 0;
}

/* Reads the error object with raw access only: no metamethod runs, so this
** cannot raise (a __tostring that fails would escape through the engine). */
void ws_lua_errmsg(lua_State *L, int idx, char *buf, size_t len) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: snprintf(buf, len, "%s", lua_tostring(L, idx)); return;
  case LUA_TNUMBER:
    lua_pushvalue(L, idx); /* tostring converts in place: convert a copy */
    snprintf(buf, len, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return;
  case LUA_TNIL: snprintf(buf, len, "error with no message (nil)"); return;
  case LUA_TTABLE:
    lua_pushliteral(L, "msg");
    lua_rawget(L, idx);
    if (lua_type(L, -1) == LUA_TSTRING) snprintf(buf, len, "%s", lua_tostring(L, -1));
    else snprintf(buf, len, "error object is a table without a msg field");
    lua_pop(L, 1);
    return;
  default: snprintf(buf, len, "error object is a %s value", luaL_typename(L, idx)); return;
  }
}

typedef struct tconv {
  lua_State *L;
  ws_arena_t *arena;
  char *err;
  size_t errlen;
  int depth;
} tconv_t;

static const ws_type_t *convert(tconv_t *c, int idx, const char *where);

static const ws_type_t *tfail(tconv_t *c, const char *where, const char *msg) {
  snprintf(c->err, c->errlen, "%s: %s", where, msg);
  return NULL;
}

static const ws_type_t *elem_of(tconv_t *c, int idx, const char *where) {
  lua_getfield(c->L, idx, "elem");
  const ws_type_t *e = convert(c, lua_gettop(c->L), where);
  lua_pop(c->L, 1);
  return e;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const ws_field_t *)a)->name, ((const ws_field_t *)b)->name);
}

static const ws_type_t *convert_record(tconv_t *c, int idx, ws_type_t *t, const char *where) {
  lua_State *L = c->L;
  lua_getfield(L, idx, "fields");
  int fields = lua_gettop(L);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, fields)) n++, lua_pop(L, 1);
  ws_field_t *f = ws_arena_alloc(c->arena, (n + 1) * sizeof *f);
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, fields)) {
    char sub[512];
    const char *name = lua_tostring(L, -2); /* string keys: checked by workstream.types */
    snprintf(sub, sizeof sub, "%s.%s", where, name ? name : "?");
    f[i].name = ws_arena_strdup(c->arena, name ? name : "?");
    f[i].type = convert(c, lua_gettop(L), sub);
    lua_pop(L, 1);
    if (!f[i].type) {
      lua_pop(L, 2);
      return NULL;
    }
    i++;
  }
  lua_pop(L, 1);
  qsort(f, n, sizeof *f, by_name); /* a stable order for descriptions */
  t->fields = f;
  return t;
}

static const ws_type_t *convert(tconv_t *c, int idx, const char *where) {
  lua_State *L = c->L;
  if (++c->depth > 64) return tfail(c, where, "type nested too deeply");
  if (lua_type(L, idx) != LUA_TTABLE || lua_getfield(L, idx, "kind") != LUA_TSTRING) {
    if (lua_type(L, idx) == LUA_TTABLE) lua_pop(L, 1);
    return tfail(c, where, "expected a type (ws.types.*)");
  }
  static const struct { const char *name; ws_kind_t kind; } kinds[] = {
      {"any", WS_T_ANY},       {"string", WS_T_STRING},     {"integer", WS_T_INTEGER},
      {"number", WS_T_NUMBER}, {"boolean", WS_T_BOOLEAN},   {"list", WS_T_LIST},
      {"map", WS_T_MAP},       {"record", WS_T_RECORD},     {"enum", WS_T_ENUM},
      {"optional", WS_T_OPTIONAL}, {"default", WS_T_DEFAULT}, {"secret", WS_T_SECRET},
  };
  const char *kname = lua_tostring(L, -1);
  ws_kind_t kind = 0;
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if (strcmp(kinds[i].name, kname) == 0) kind = kinds[i].kind;
  lua_pop(L, 1);
  if (!kind) return tfail(c, where, "unknown kind of type");
  ws_type_t *t = ws_arena_alloc(c->arena, sizeof *t);
  t->kind = kind;
  const ws_type_t *out = t;
  switch (kind) {
  case WS_T_LIST:
  case WS_T_MAP:
  case WS_T_OPTIONAL:
  case WS_T_SECRET:
    t->elem = elem_of(c, idx, where);
    if (!t->elem) out = NULL;
    break;
  case WS_T_DEFAULT: {
    t->elem = elem_of(c, idx, where);
    if (!t->elem) {
      out = NULL;
      break;
    }
    lua_getfield(L, idx, "value");
    char why[512] = "default value is nil";
    json_t *v = ws_lua_tojson(L, -1, "default", why, sizeof why);
    lua_pop(L, 1);
    if (!v) return tfail(c, where, why);
    if (ws_type_check(t->elem, &v, "default value", why, sizeof why)) {
      json_decref(v);
      return tfail(c, where, why);
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    t->dflt = ws_arena_strdup(c->arena, text);
    free(text);
    break;
  }
  case WS_T_RECORD: out = convert_record(c, idx, t, where); break;
  case WS_T_ENUM: {
    lua_getfield(L, idx, "values");
    lua_Integer n = luaL_len(L, -1);
    const char **v = ws_arena_alloc(c->arena, (size_t)(n + 1) * sizeof *v);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      v[i - 1] = ws_arena_strdup(c->arena, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    t->values = v;
    break;
  }
  default: break;
  }
  c->depth--;
  return out;
}

const ws_type_t *ws_lua_totype(lua_State *L, int idx, ws_arena_t *arena, const char *where,
                               char *err, size_t errlen) {
  tconv_t c = {L, arena, err, errlen, 0};
  luaL_checkstack(L, 200, "converting a type");
  return convert(&c, lua_absindex(L, idx), where);
}
