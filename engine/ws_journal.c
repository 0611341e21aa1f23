/*
** ws_journal.c - writing stored object states as JSON text, fast, and reading
** attempts back (ws_journal.h).
*/
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"
#include "ws_journal.h"

/* ------------------------------------------------------------------ text */

static void reserve(ws__text_t *t, size_t more) {
  if (t->len + more + 1 <= t->cap) return;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < t->len + more + 1) cap *= 2;
  t->p = ws__realloc(t->p, cap);
  t->cap = cap;
}

void ws__text_put(ws__text_t *t, const char *s, size_t n) {
  reserve(t, n);
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

void ws__text_putc(ws__text_t *t, char c) {
  reserve(t, 1);
  t->p[t->len++] = c;
  t->p[t->len] = '\0';
}

void ws__text_free(ws__text_t *t) {
  free(t->p);
  t->p = NULL;
  t->len = t->cap = 0;
}

#define PUT_LIT(t, lit) ws__text_put((t), (lit), sizeof(lit) - 1)

static void put_uint(ws__text_t *t, uint64_t v) {
  char buf[20], *end = buf + sizeof buf, *p = end;
  do *--p = (char)('0' + v % 10); while ((v /= 10) != 0);
  ws__text_put(t, p, (size_t)(end - p));
}

/* Epoch seconds to the microsecond, with integer arithmetic into one buffer
** (snprintf's %f costs ~4k instructions; this is a few hundred). Values
** outside the range where a double holds microseconds exactly are written
** in full. */
static void put_time(ws__text_t *t, double v) {
  if (!(v >= 0 && v < 4e9)) {
    char s[40];
    int n = isfinite(v) ? snprintf(s, sizeof s, "%.17g", v) : snprintf(s, sizeof s, "0");
    ws__text_put(t, s, (size_t)n);
    return;
  }
  uint64_t us = (uint64_t)(v * 1e6 + 0.5);
  char buf[24], *end = buf + sizeof buf, *p = end;
  for (int i = 0; i < 6; i++, us /= 10) *--p = (char)('0' + us % 10);
  *--p = '.';
  do *--p = (char)('0' + us % 10); while ((us /= 10) != 0);
  ws__text_put(t, p, (size_t)(end - p));
}

void ws__text_int(ws__text_t *t, long long v) {
  if (v < 0) ws__text_putc(t, '-');
  put_uint(t, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void ws__text_real(ws__text_t *t, double v) {
  if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) { /* 30.0, as jansson writes a real */
    if (v < 0) ws__text_putc(t, '-');
    put_uint(t, (uint64_t)fabs(v));
    PUT_LIT(t, ".0");
    return;
  }
  char s[40];
  int n = isfinite(v) ? snprintf(s, sizeof s, "%.17g", v) : snprintf(s, sizeof s, "null");
  ws__text_put(t, s, (size_t)n);
}

void ws__text_string(ws__text_t *t, const char *s) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t n = strlen((const char *)p);
  ws__text_putc(t, '"');
  while (n) {
    size_t run = 0; /* bytes that go out as they are */
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') run++;
    if (run) {
      ws__text_put(t, (const char *)p, run);
      p += run, n -= run;
      continue;
    }
    unsigned c = *p;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      ws__text_put(t, e, 2);
    } else if (c == '\n') {
      PUT_LIT(t, "\\n");
    } else if (c == '\t') {
      PUT_LIT(t, "\\t");
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      ws__text_put(t, e, 6);
    } else {
      size_t len = ws__utf8_seq_len(p, n);
      if (len) {
        ws__text_put(t, (const char *)p, len);
        p += len, n -= len;
        continue;
      }
      PUT_LIT(t, "\\ufffd");
    }
    p++, n--;
  }
  ws__text_putc(t, '"');
}

/* --------------------------------------------------------------- records */

void ws__text_json(ws__text_t *t, const json_t *v) {
  if (json_is_object(v) && json_object_size(v) == 0) { /* the no-op plugin's answer */
    PUT_LIT(t, "{}");
    return;
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s) ws__text_put(t, s, strlen(s));
  else PUT_LIT(t, "null");
  free(s);
}

void ws__journal_attempts(ws__text_t *t, const ws_action_t *a) {
  ws__text_putc(t, '[');
  for (size_t i = 0; i < a->nattempts; i++) {
    const ws_attempt_t *at = &a->attempts[i];
    if (i) ws__text_putc(t, ',');
    PUT_LIT(t, "{\"started\":");
    put_time(t, at->started);
    if (at->ended > 0) {
      PUT_LIT(t, ",\"ended\":");
      put_time(t, at->ended);
    }
    if (at->timed_out) PUT_LIT(t, ",\"timed_out\":true");
    else PUT_LIT(t, ",\"timed_out\":false");
    if (at->interrupted) PUT_LIT(t, ",\"interrupted\":true");
    if (at->resp) {
      PUT_LIT(t, ",\"resp\":");
      ws__text_json(t, at->resp);
    }
    if (at->err) {
      PUT_LIT(t, ",\"err\":{\"msg\":");
      ws__text_string(t, at->err->msg);
      if (at->err->code) {
        PUT_LIT(t, ",\"code\":");
        ws__text_string(t, at->err->code);
      }
      if (at->err->permanent) PUT_LIT(t, ",\"permanent\":true}");
      else PUT_LIT(t, ",\"permanent\":false}");
    }
    if (at->nlog) {
      PUT_LIT(t, ",\"log\":[");
      for (size_t j = 0; j < at->nlog; j++) {
        if (j) ws__text_putc(t, ',');
        ws__text_string(t, at->log[j]);
      }
      ws__text_putc(t, ']');
    }
    ws__text_putc(t, '}');
  }
  ws__text_putc(t, ']');
}

void ws__journal_record(ws__text_t *t, const ws_node_t *n) {
  ws__text_putc(t, '[');
  put_uint(t, n->pos);
  PUT_LIT(t, ",\"");
  const char *st = ws_status_name(n->state.status);
  ws__text_put(t, st, strlen(st));
  PUT_LIT(t, "\",");
  put_time(t, n->state.started);
  ws__text_putc(t, ',');
  put_time(t, n->state.ended);
  if (n->type == WS_OBJ_ACTION) {
    ws__text_putc(t, ',');
    ws__journal_attempts(t, (const ws_action_t *)n);
  }
  ws__text_putc(t, ']');
}

/* ------------------------------------------------------------------ read */

int ws__journal_attempts_parse(const json_t *arr, ws_attempt_t **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  if (!arr) return 0;
  if (!json_is_array(arr)) return -1;
  size_t n = json_array_size(arr);
  ws_attempt_t *v = n ? ws__calloc(n, sizeof *v) : NULL;
  int res = 0;
  for (size_t i = 0; i < n && !res; i++) {
    const json_t *o = json_array_get(arr, i);
    ws_attempt_t *at = &v[i];
    const json_t *started = json_object_get(o, "started"), *ended = json_object_get(o, "ended");
    const json_t *resp = json_object_get(o, "resp"), *e = json_object_get(o, "err");
    const json_t *log = json_object_get(o, "log");
    if (!json_is_object(o) || !json_is_number(started) || (ended && !json_is_number(ended)) ||
        (e && (!json_is_object(e) || !json_is_string(json_object_get(e, "msg")))) ||
        (log && !json_is_array(log))) {
      res = -1;
      break;
    }
    at->started = json_number_value(started);
    at->ended = ended ? json_number_value(ended) : 0;
    at->timed_out = json_is_true(json_object_get(o, "timed_out"));
    at->interrupted = json_is_true(json_object_get(o, "interrupted"));
    if (resp) at->resp = json_incref((json_t *)resp);
    if (e) {
      at->err = ws__malloc(sizeof *at->err);
      at->err->msg = ws__strdup(json_string_value(json_object_get(e, "msg")));
      at->err->code = ws__strdup(json_string_value(json_object_get(e, "code")));
      at->err->permanent = json_is_true(json_object_get(e, "permanent"));
    }
    for (size_t j = 0; j < json_array_size(log); j++) {
      const char *line = json_string_value(json_array_get(log, j));
      /* pushed like the engine does, so that it can go on appending */
      ws__push((void ***)&at->log, &at->nlog, ws__strdup(line ? line : ""));
    }
  }
  if (res) { /* free what was built, as ws_plan_free would */
    ws_action_t tmp = {.attempts = v, .nattempts = n};
    ws__attempts_clear(&tmp);
    return -1;
  }
  *out = v;
  *nout = n;
  return 0;
}
