/*
** ws_types.c - the one validator for requests and responses.
**
** It walks a type and a json value together, fills defaults and normalises
** the two things Lua cannot express exactly (an empty table, an integral
** float). The path of the value being checked ("req.tags[2]") is a chain of
** segments on the stack, written out only when there is an error to report:
** a response is checked at every attempt, and most are fine. Strings and keys
** must be valid UTF-8: a C plugin can build others (json_stringn_nocheck), and
** they could be neither stored nor shown.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ws_internal.h"

const ws_type_t ws_t_any = {WS_T_ANY, NULL, NULL, NULL, NULL};
const ws_type_t ws_t_string = {WS_T_STRING, NULL, NULL, NULL, NULL};
const ws_type_t ws_t_integer = {WS_T_INTEGER, NULL, NULL, NULL, NULL};
const ws_type_t ws_t_number = {WS_T_NUMBER, NULL, NULL, NULL, NULL};
const ws_type_t ws_t_boolean = {WS_T_BOOLEAN, NULL, NULL, NULL, NULL};

/* One step of the path: a record field, a map key, or a list index. */
typedef struct seg {
  const struct seg *up;
  const char *name; /* a field or key; NULL for a list index */
  bool key;
  size_t index; /* 1-based */
} seg_t;

typedef struct checker {
  const char *root;
  const seg_t *top;
  char *err;
  size_t errlen;
} checker_t;

static size_t put_path(const checker_t *c, const seg_t *s, char *buf, size_t len) {
  if (!s) return (size_t)snprintf(buf, len, "%s", c->root);
  size_t at = put_path(c, s->up, buf, len);
  if (at >= len) return at;
  int n;
  if (!s->name) n = snprintf(buf + at, len - at, "[%zu]", s->index);
  else if (s->key) n = snprintf(buf + at, len - at, "[\"%s\"]", s->name);
  else n = snprintf(buf + at, len - at, "%s%s", at ? "." : "", s->name);
  return n < 0 ? at : at + (size_t)n;
}

const char *ws_json_typename(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "table";
  case JSON_ARRAY: return "list";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "nil";
  }
  return "?";
}

static int fail(checker_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(checker_t *c, const char *fmt, ...) {
  char path[512];
  put_path(c, c->top, path, sizeof path);
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(c->err, c->errlen, "%s: ", path);
  if (n >= 0 && (size_t)n < c->errlen) vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static int expected(checker_t *c, const ws_type_t *t, const json_t *v) {
  char d[128];
  return fail(c, "expected %s, got %s", ws_type_describe(t, d, sizeof d), ws_json_typename(v));
}

static int check(checker_t *c, const ws_type_t *t, json_t **slot);

static int check_string(checker_t *c, const json_t *v) {
  if (!ws__utf8_valid(json_string_value(v), json_string_length(v)))
    return fail(c, "string is not valid UTF-8");
  return 0;
}

/* Anything (WS_T_ANY): only its text is checked, at any depth. */
static int check_any(checker_t *c, const json_t *v) {
  if (json_is_string(v)) return check_string(c, v);
  int rc = 0;
  seg_t s = {.up = c->top};
  c->top = &s;
  if (json_is_array(v)) {
    for (size_t i = 0; !rc && i < json_array_size(v); i++) {
      s.index = i + 1;
      rc = check_any(c, json_array_get(v, i));
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
      if (!ws__utf8_valid(k, strlen(k))) {
        c->top = s.up;
        return fail(c, "a key is not valid UTF-8");
      }
      s.name = k;
      if ((rc = check_any(c, e)) != 0) break;
    }
  }
  c->top = s.up;
  return rc;
}

/* Checks *slot under path segment s; *slot may be replaced (normalised). */
static int check_in(checker_t *c, seg_t *s, const ws_type_t *t, json_t **slot) {
  s->up = c->top;
  c->top = s;
  int rc = check(c, t, slot);
  c->top = s->up;
  return rc;
}

static int check_list(checker_t *c, const ws_type_t *t, json_t **slot) {
  if (json_is_object(*slot) && json_object_size(*slot) == 0) {
    json_decref(*slot); /* Lua's {} : an empty list here */
    *slot = json_array();
  }
  if (!json_is_array(*slot)) return expected(c, t, *slot);
  for (size_t i = 0; i < json_array_size(*slot); i++) {
    json_t *was = json_array_get(*slot, i), *e = json_incref(was);
    seg_t s = {.index = i + 1};
    int rc = check_in(c, &s, t->elem, &e);
    if (e != was) json_array_set_new(*slot, i, e);
    else json_decref(e);
    if (rc) return rc;
  }
  return 0;
}

static int check_map(checker_t *c, const ws_type_t *t, json_t **slot) {
  if (json_is_array(*slot) && json_array_size(*slot) == 0) {
    json_decref(*slot);
    *slot = json_object();
  }
  if (!json_is_object(*slot)) return expected(c, t, *slot);
  const char *k;
  json_t *v;
  json_object_foreach(*slot, k, v) {
    if (!ws__utf8_valid(k, strlen(k))) return fail(c, "a key is not valid UTF-8");
    json_t *e = json_incref(v);
    seg_t s = {.name = k, .key = true};
    int rc = check_in(c, &s, t->elem, &e);
    if (e != v) json_object_set_new(*slot, k, e);
    else json_decref(e);
    if (rc) return rc;
  }
  return 0;
}

static const ws_field_t *find_field(const ws_type_t *t, const char *name) {
  for (const ws_field_t *f = t->fields; f && f->name; f++)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static int check_record(checker_t *c, const ws_type_t *t, json_t **slot) {
  if (json_is_array(*slot) && json_array_size(*slot) == 0) {
    json_decref(*slot);
    *slot = json_object();
  }
  if (!json_is_object(*slot)) return expected(c, t, *slot);
  const char *k;
  json_t *v;
  json_object_foreach(*slot, k, v) {
    if (!ws__utf8_valid(k, strlen(k))) return fail(c, "a key is not valid UTF-8");
    if (!find_field(t, k)) {
      char names[256] = "";
      size_t used = 0;
      for (const ws_field_t *f = t->fields; f && f->name && used < sizeof names; f++) {
        int n = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", f->name);
        if (n > 0) used += (size_t)n;
      }
      return fail(c, "unknown field \"%s\" (fields: %s)", k, names);
    }
  }
  for (const ws_field_t *f = t->fields; f && f->name; f++) {
    seg_t s = {.name = f->name};
    json_t *was = json_object_get(*slot, f->name), *e = json_incref(was);
    /* absent (NULL): optional and default decide */
    int rc = check_in(c, &s, f->type, &e);
    if (e != was) {
      if (e) json_object_set_new(*slot, f->name, e);
    } else {
      json_decref(e);
    }
    if (rc) return rc;
  }
  return 0;
}

static int check_enum(checker_t *c, const ws_type_t *t, json_t *v) {
  if (json_is_string(v))
    for (const char *const *e = t->values; e && *e; e++)
      if (strcmp(*e, json_string_value(v)) == 0) return 0;
  char d[256];
  if (json_is_string(v))
    return fail(c, "expected %s, got \"%s\"", ws_type_describe(t, d, sizeof d),
                json_string_value(v));
  return expected(c, t, v);
}

static int check(checker_t *c, const ws_type_t *t, json_t **slot) {
  json_t *v = *slot;
  if (!v) { /* an absent record field */
    if (t->kind == WS_T_OPTIONAL) return 0;
    if (t->kind == WS_T_DEFAULT) {
      json_error_t je;
      json_t *d = json_loads(t->dflt, JSON_DECODE_ANY, &je);
      if (!d) return fail(c, "bad default in the plugin's type: %s", je.text);
      *slot = d;
      return check(c, t->elem, slot);
    }
    if (t->kind == WS_T_SECRET) return check(c, t->elem, slot);
    return fail(c, "missing required field");
  }
  switch (t->kind) {
  case WS_T_ANY: return check_any(c, v);
  case WS_T_STRING: return json_is_string(v) ? check_string(c, v) : expected(c, t, v);
  case WS_T_BOOLEAN: return json_is_boolean(v) ? 0 : expected(c, t, v);
  case WS_T_NUMBER: return json_is_number(v) ? 0 : expected(c, t, v);
  case WS_T_INTEGER:
    if (json_is_integer(v)) return 0;
    if (json_is_real(v)) {
      double d = json_real_value(v);
      if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0) {
        *slot = json_integer((json_int_t)d);
        json_decref(v);
        return 0;
      }
      return fail(c, "expected integer, got number %g", d);
    }
    return expected(c, t, v);
  case WS_T_LIST: return check_list(c, t, slot);
  case WS_T_MAP: return check_map(c, t, slot);
  case WS_T_RECORD: return check_record(c, t, slot);
  case WS_T_ENUM: return check_enum(c, t, v);
  case WS_T_OPTIONAL:
  case WS_T_DEFAULT:
  case WS_T_SECRET: return check(c, t->elem, slot);
  }
  return fail(c, "invalid type descriptor (kind %d)", (int)t->kind);
}

int ws_type_check(const ws_type_t *t, json_t **slot, const char *root, char *err,
                  size_t errlen) {
  checker_t c = {root ? root : "", NULL, err, errlen};
  if (errlen) err[0] = '\0';
  return check(&c, t, slot);
}

static size_t put(char *buf, size_t len, size_t at, const char *s) {
  if (at < len) snprintf(buf + at, len - at, "%s", s);
  return at + strlen(s);
}

static size_t describe(const ws_type_t *t, char *buf, size_t len, size_t at) {
  switch (t->kind) {
  case WS_T_ANY: return put(buf, len, at, "any");
  case WS_T_STRING: return put(buf, len, at, "string");
  case WS_T_INTEGER: return put(buf, len, at, "integer");
  case WS_T_NUMBER: return put(buf, len, at, "number");
  case WS_T_BOOLEAN: return put(buf, len, at, "boolean");
  case WS_T_LIST:
    at = describe(t->elem, buf, len, put(buf, len, at, "list("));
    return put(buf, len, at, ")");
  case WS_T_MAP:
    at = describe(t->elem, buf, len, put(buf, len, at, "map("));
    return put(buf, len, at, ")");
  case WS_T_OPTIONAL:
    at = describe(t->elem, buf, len, put(buf, len, at, "optional("));
    return put(buf, len, at, ")");
  case WS_T_SECRET:
    at = describe(t->elem, buf, len, put(buf, len, at, "secret("));
    return put(buf, len, at, ")");
  case WS_T_DEFAULT:
    at = describe(t->elem, buf, len, put(buf, len, at, "default("));
    at = put(buf, len, put(buf, len, at, ", "), t->dflt ? t->dflt : "?");
    return put(buf, len, at, ")");
  case WS_T_ENUM:
    at = put(buf, len, at, "enum{");
    for (const char *const *e = t->values; e && *e; e++) {
      if (e != t->values) at = put(buf, len, at, ", ");
      at = put(buf, len, put(buf, len, put(buf, len, at, "\""), *e), "\"");
    }
    return put(buf, len, at, "}");
  case WS_T_RECORD:
    at = put(buf, len, at, "record{");
    for (const ws_field_t *f = t->fields; f && f->name; f++) {
      if (f != t->fields) at = put(buf, len, at, ", ");
      at = describe(f->type, buf, len, put(buf, len, put(buf, len, at, f->name), " = "));
    }
    return put(buf, len, at, "}");
  }
  return put(buf, len, at, "?");
}

char *ws_type_describe(const ws_type_t *t, char *buf, size_t len) {
  if (len) buf[0] = '\0';
  describe(t, buf, len, 0);
  return buf;
}
