/*
** fuzz_types.c - the type validator (engine/ws_types.c): ws_type_check,
** ws_type_describe and ws_redacted on types and values made from the input.
**
** The input first chooses a type from a small grammar (scalars, list, map,
** record, enum, optional, default with any JSON text, secret), which goes
** through the registry's own vetting (ws_registry_add, as a field of a
** plugin's request), since the validator is only ever given vetted types.
** Then a value: the rest as JSON text (odd mode byte), or built along the
** type with deliberate misfits (even). Invariants:
**   - a value that passed passes again, unchanged (normalising is idempotent);
**   - a value that failed has a message starting with the root, and a short
**     error buffer (allocated to its exact size) gets a prefix of it;
**   - ws_type_describe into a buffer of any size writes a prefix of the
**     full description, within the buffer;
**   - redacting is idempotent.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "fuzz_common.h"
#include "workstream/engine.h"

#define MAX_TYPE_DEPTH 6
#define MAX_VALUE_DEPTH 8

/* Everything a type is made of, freed after each input. */
typedef struct arena {
  void **p;
  size_t n, cap;
} arena_t;

static void *arena_add(arena_t *a, void *p) {
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 32;
    a->p = realloc(a->p, a->cap * sizeof *a->p);
    if (!a->p) abort();
  }
  return a->p[a->n++] = p;
}

static void *arena_calloc(arena_t *a, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) abort();
  return arena_add(a, p);
}

static char *arena_strndup(arena_t *a, const uint8_t *s, size_t n) {
  char *p = arena_calloc(a, n + 1, 1);
  memcpy(p, s, n);
  return p;
}

static void arena_free(arena_t *a) {
  for (size_t i = 0; i < a->n; i++) free(a->p[i]);
  free(a->p);
}

static const char *const names[] = {"a", "b", "c", "argv", "env", "port", "", "a.b", "a"};
#define NNAMES (sizeof names / sizeof *names)

static const char *const defaults[] = {
    "0",     "1",     "1.5",      "\"x\"",         "[]",       "{}",      "[0]",
    "true",  "null",  "{\"a\":1}", "[1.0]",         "2.0",      "\"\\u0000\"", "[[]]",
    "\"a\"", "-0.0",  "1e400",    "{\"b\":[1,2]}", "[\"a\"]", "9007199254740993.0", "",
};
#define NDEFAULTS (sizeof defaults / sizeof *defaults)

static const char *text_of(wsf_in_t *in, arena_t *a) {
  uint8_t c = wsf_u8(in);
  if (c < 200) return defaults[c % NDEFAULTS];
  const uint8_t *s;
  size_t n = wsf_take(in, c - 200, &s);
  return arena_strndup(a, s, n);
}

static const char *name_of(wsf_in_t *in, arena_t *a) {
  uint8_t c = wsf_u8(in);
  if (c < 240) return names[c % NNAMES];
  const uint8_t *s;
  size_t n = wsf_take(in, c - 240, &s);
  return arena_strndup(a, s, n);
}

static const ws_type_t *gen_type(wsf_in_t *in, arena_t *a, int depth) {
  static const ws_type_t *const scalars[] = {&ws_t_any, &ws_t_string, &ws_t_integer,
                                             &ws_t_number, &ws_t_boolean};
  int k = wsf_u8(in) % 12;
  if (depth >= MAX_TYPE_DEPTH || k < 5) return scalars[k % 5];
  ws_type_t *t = arena_calloc(a, 1, sizeof *t);
  switch (k) {
  case 5: t->kind = WS_T_LIST; break;
  case 6: t->kind = WS_T_MAP; break;
  case 7: t->kind = WS_T_OPTIONAL; break;
  case 8: t->kind = WS_T_SECRET; break;
  case 9:
    t->kind = WS_T_DEFAULT;
    t->dflt = text_of(in, a);
    break;
  case 10: {
    size_t n = wsf_u8(in) % 5;
    ws_field_t *f = arena_calloc(a, n + 1, sizeof *f);
    for (size_t i = 0; i < n; i++) {
      f[i].name = name_of(in, a);
      f[i].type = gen_type(in, a, depth + 1);
    }
    t->kind = WS_T_RECORD;
    t->fields = f;
    return t;
  }
  default: {
    size_t n = wsf_u8(in) % 4;
    const char **v = arena_calloc(a, n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = name_of(in, a);
    t->kind = WS_T_ENUM;
    t->values = v;
    return t;
  }
  }
  t->elem = gen_type(in, a, depth + 1);
  return t;
}

static json_t *gen_any(wsf_in_t *in, int depth);

static json_t *gen_string(wsf_in_t *in) {
  uint8_t c = wsf_u8(in);
  if (c < 128) return json_string(names[c % NNAMES]);
  const uint8_t *s;
  size_t n = wsf_take(in, c % 16, &s);
  json_t *v = json_stringn((const char *)s, n);
  return v ? v : json_string("\xef\xbf\xbd");
}

static json_t *gen_number(wsf_in_t *in, bool integral) {
  static const double reals[] = {0.0, -0.0, 1.0, 2.5, -3.0, 9007199254740992.0,
                                 9007199254740991.0, -9007199254740992.0, 1e300, 1e-300};
  uint8_t c = wsf_u8(in);
  switch (c % 4) {
  case 0: return json_integer((json_int_t)wsf_u64(in));
  case 1: return json_integer((int8_t)wsf_u8(in));
  case 2: return json_real(reals[wsf_u8(in) % (sizeof reals / sizeof *reals)]);
  default: return integral ? json_real((double)(int8_t)wsf_u8(in)) : json_real(0.25);
  }
}

static json_t *gen_any(wsf_in_t *in, int depth) {
  uint8_t c = wsf_u8(in) % 7;
  if (depth >= MAX_VALUE_DEPTH) c %= 5;
  switch (c) {
  case 0: return json_null();
  case 1: return json_boolean(wsf_u8(in) & 1);
  case 2: return gen_number(in, false);
  case 3: return gen_number(in, true);
  case 4: return gen_string(in);
  case 5: {
    json_t *v = json_array();
    for (size_t n = wsf_u8(in) % 4; n; n--) json_array_append_new(v, gen_any(in, depth + 1));
    return v;
  }
  default: {
    json_t *v = json_object();
    for (size_t n = wsf_u8(in) % 4; n; n--)
      json_object_set_new(v, names[wsf_u8(in) % NNAMES], gen_any(in, depth + 1));
    return v;
  }
  }
}

/* A value for t, mostly fitting, sometimes not; NULL: absent. */
static json_t *gen_value(wsf_in_t *in, const ws_type_t *t, int depth) {
  uint8_t c = wsf_u8(in);
  if (c % 16 == 0 || depth >= MAX_VALUE_DEPTH) return gen_any(in, depth);
  if (c % 16 == 1) return NULL;
  switch (t->kind) {
  case WS_T_ANY: return gen_any(in, depth);
  case WS_T_STRING: return gen_string(in);
  case WS_T_INTEGER: return gen_number(in, true);
  case WS_T_NUMBER: return gen_number(in, false);
  case WS_T_BOOLEAN: return json_boolean(c & 32);
  case WS_T_LIST: {
    if (c & 32) return json_object(); /* Lua's {} */
    json_t *v = json_array();
    for (size_t n = wsf_u8(in) % 4; n; n--) {
      json_t *e = gen_value(in, t->elem, depth + 1);
      json_array_append_new(v, e ? e : json_null());
    }
    return v;
  }
  case WS_T_MAP: {
    if (c & 32) return json_array();
    json_t *v = json_object();
    for (size_t n = wsf_u8(in) % 4; n; n--) {
      json_t *e = gen_value(in, t->elem, depth + 1);
      if (e) json_object_set_new(v, names[wsf_u8(in) % NNAMES], e);
    }
    return v;
  }
  case WS_T_RECORD: {
    json_t *v = json_object();
    for (const ws_field_t *f = t->fields; f->name; f++) {
      json_t *e = gen_value(in, f->type, depth + 1);
      if (e) json_object_set_new(v, f->name, e);
    }
    if (c & 32) json_object_set_new(v, names[wsf_u8(in) % NNAMES], json_true());
    if (json_object_size(v) == 0 && (c & 64)) {
      json_decref(v);
      return json_array();
    }
    return v;
  }
  case WS_T_ENUM: {
    size_t n = 0;
    while (t->values[n]) n++;
    if (n && (c & 32)) return json_string(t->values[wsf_u8(in) % n]);
    return gen_string(in);
  }
  case WS_T_OPTIONAL:
  case WS_T_DEFAULT:
  case WS_T_SECRET: return gen_value(in, t->elem, depth + 1);
  }
  return NULL;
}

static int dummy_start(ws_call_t *call) {
  (void)call;
  return -1;
}
static void dummy_cancel(ws_call_t *call) { (void)call; }

/* Whether the registry accepts t (as the type of a request field). */
static bool vetted(const ws_type_t *t, arena_t *a) {
  static const ws_field_t no_fields[] = {{NULL, NULL}};
  static const ws_type_t empty = WS_RECORD(no_fields);
  ws_field_t *f = arena_calloc(a, 2, sizeof *f);
  f[0].name = "v";
  f[0].type = t;
  ws_type_t *req = arena_calloc(a, 1, sizeof *req);
  req->kind = WS_T_RECORD;
  req->fields = f;
  ws_plugin_def_t def = {.abi = WS_PLUGIN_ABI, .name = "fuzz.types", .request = req,
                         .response = &empty, .start = dummy_start, .cancel = dummy_cancel};
  ws_registry_t *r = ws_registry_new();
  char err[256];
  int rc = ws_registry_add(r, &def, err, sizeof err);
  if (rc && wsf_verbose()) fprintf(stderr, "vetting: %s\n", err);
  ws_registry_free(r);
  return rc == 0;
}

static void check_describe(const ws_type_t *t, size_t len) {
  char full[8192];
  ws_type_describe(t, full, sizeof full);
  char *buf = malloc(len ? len : 1); /* exact size: ASan sees any overflow */
  if (!buf) abort();
  ws_type_describe(t, buf, len);
  if (len && (strnlen(buf, len) == len || strncmp(buf, full, strlen(buf)) != 0 ||
              strlen(buf) != (strlen(full) < len ? strlen(full) : len - 1)))
    wsf_fail("describe into %zu bytes gave \"%.*s\", not a prefix of \"%s\"", len, (int)len,
             buf, full);
  free(buf);
}

static void check_value(const ws_type_t *t, json_t *v, size_t errlen) {
  char err[1024];
  json_t *slot = v ? json_deep_copy(v) : NULL;
  int rc = ws_type_check(t, &slot, "req", err, sizeof err);
  if (wsf_verbose()) fprintf(stderr, "check: %s\n", rc ? err : "ok");
  if (rc) {
    if (strncmp(err, "req", 3) != 0) wsf_fail("check failed with message \"%s\"", err);
    json_t *again = v ? json_deep_copy(v) : NULL;
    char *small = malloc(errlen ? errlen : 1);
    if (!small) abort();
    if (!ws_type_check(t, &again, "req", small, errlen))
      wsf_fail("the same value passed with a short error buffer");
    if (errlen && (strnlen(small, errlen) == errlen || strncmp(small, err, strlen(small)) != 0))
      wsf_fail("a short error buffer holds \"%.*s\", not a prefix of \"%s\"", (int)errlen, small,
               err);
    free(small);
    json_decref(again);
    json_decref(slot);
    return;
  }
  if (!slot) return; /* absent and optional */
  char *text = json_dumps(slot, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
  if (!text) wsf_fail("a checked value cannot be encoded");
  json_t *again = json_deep_copy(slot);
  if (ws_type_check(t, &again, "req", err, sizeof err))
    wsf_fail("%s passed, then failed when checked again: %s", text, err);
  if (!json_equal(again, slot)) wsf_fail("%s changed when checked again", text);
  json_t *r1 = ws_redacted(t, slot), *r2 = ws_redacted(t, r1);
  if (!r1 || !json_equal(r1, r2)) wsf_fail("redacting %s is not idempotent", text);
  json_decref(r1);
  json_decref(r2);
  json_decref(again);
  free(text);
  json_decref(slot);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wsf_in_t in = {data, size};
  uint8_t mode = wsf_u8(&in);
  size_t errlen = wsf_u8(&in) % 48;
  arena_t a = {0};
  const ws_type_t *t = gen_type(&in, &a, 0);
  check_describe(t, errlen);
  if (wsf_verbose()) {
    char d[1024];
    fprintf(stderr, "type: %s\n", ws_type_describe(t, d, sizeof d));
  }
  if (vetted(t, &a)) {
    json_t *v;
    if (mode & 1) {
      v = json_loadb((const char *)in.p, in.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
      if (v) check_value(t, v, errlen);
    } else {
      v = gen_value(&in, t, 0);
      check_value(t, v, errlen);
    }
    json_decref(v);
  }
  arena_free(&a);
  return 0;
}
