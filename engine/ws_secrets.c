/*
** ws_secrets.c - values typed secret(T) never leave the engine in clear.
**
** Requests are shown redacted, and the text a plugin produces (error
** messages, log lines, responses) has the action's secret values scrubbed
** out before it is recorded or shown, since a plugin may echo what it got.
*/
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"

#define REDACTED "<redacted>"
#define SCRUBBED "***"
/* Shorter secrets are not scrubbed from text: replacing every "ab" would
** mangle the output while protecting nothing worth protecting. */
#define MIN_SCRUB_LEN 3

typedef void (*secret_fn)(const json_t *v, void *ud);

/* Calls fn on each value of v that its type marks secret. */
static void each_secret(const ws_type_t *t, const json_t *v, secret_fn fn, void *ud) {
  if (!v) return;
  switch (t->kind) {
  case WS_T_SECRET: fn(v, ud); return;
  case WS_T_OPTIONAL:
  case WS_T_DEFAULT: each_secret(t->elem, v, fn, ud); return;
  case WS_T_LIST:
    for (size_t i = 0; i < json_array_size(v); i++) each_secret(t->elem, json_array_get(v, i), fn, ud);
    return;
  case WS_T_MAP: {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) each_secret(t->elem, e, fn, ud);
    return;
  }
  case WS_T_RECORD:
    for (const ws_field_t *f = t->fields; f && f->name; f++)
      each_secret(f->type, json_object_get(v, f->name), fn, ud);
    return;
  default: return;
  }
}

static json_t *redact(const ws_type_t *t, const json_t *v) {
  switch (t->kind) {
  case WS_T_SECRET: return json_string(REDACTED);
  case WS_T_OPTIONAL:
  case WS_T_DEFAULT: return redact(t->elem, v);
  case WS_T_LIST: {
    if (!json_is_array(v)) break;
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(v); i++)
      json_array_append_new(out, redact(t->elem, json_array_get(v, i)));
    return out;
  }
  case WS_T_MAP:
  case WS_T_RECORD: {
    if (!json_is_object(v)) break;
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
      const ws_type_t *ft = t->elem;
      if (t->kind == WS_T_RECORD) {
        ft = NULL;
        for (const ws_field_t *f = t->fields; f && f->name; f++)
          if (strcmp(f->name, k) == 0) ft = f->type;
      }
      json_object_set_new(out, k, ft ? redact(ft, e) : json_deep_copy(e));
    }
    return out;
  }
  default: break;
  }
  return json_deep_copy(v);
}

json_t *ws_redacted(const ws_type_t *t, const json_t *v) { return v ? redact(t, v) : NULL; }

/* ------------------------------------------------------------- scrubbing */

/* Every scalar inside a secret value is a secret. */
static void collect(const json_t *v, void *ud) {
  ws_action_t *a = ud;
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++) collect(json_array_get(v, i), ud);
    return;
  }
  if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) collect(e, ud);
    return;
  }
  char *text = json_is_string(v) ? ws__strdup(json_string_value(v))
             : json_is_null(v)   ? NULL
                                 : json_dumps(v, JSON_ENCODE_ANY);
  if (!text) return;
  if (strlen(text) < MIN_SCRUB_LEN) {
    free(text);
    return;
  }
  ws__push((void ***)&a->secrets, &a->nsecrets, text);
}

void ws__collect_secrets(ws_action_t *a) {
  if (a->plugin) each_secret(a->plugin->request, a->req, collect, a);
}

char *ws__scrub(const ws_action_t *a, const char *text) {
  char *out = ws__strdup(text);
  for (size_t i = 0; out && i < a->nsecrets; i++) {
    const char *secret = a->secrets[i];
    size_t slen = strlen(secret), rlen = strlen(SCRUBBED);
    char *hit = strstr(out, secret);
    if (!hit) continue;
    size_t count = 0;
    for (char *p = hit; p; p = strstr(p + slen, secret)) count++;
    size_t len = strlen(out) - count * slen + count * rlen;
    char *res = ws__malloc(len + 1), *w = res;
    const char *r = out;
    for (char *p = strstr(r, secret); p; p = strstr(r, secret)) {
      memcpy(w, r, (size_t)(p - r));
      w += p - r;
      memcpy(w, SCRUBBED, rlen);
      w += rlen;
      r = p + slen;
    }
    strcpy(w, r);
    free(out);
    out = res;
  }
  return out;
}

void ws__scrub_json(const ws_action_t *a, json_t *v) {
  if (!a->nsecrets || !v) return;
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++) {
      json_t *e = json_array_get(v, i);
      if (json_is_string(e)) {
        char *s = ws__scrub(a, json_string_value(e));
        json_array_set_new(v, i, json_string(s));
        free(s);
      } else {
        ws__scrub_json(a, e);
      }
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
      if (json_is_string(e)) {
        char *s = ws__scrub(a, json_string_value(e));
        json_object_set_new(v, k, json_string(s));
        free(s);
      } else {
        ws__scrub_json(a, e);
      }
    }
  }
}
