/*
** ws_util.c - allocation and error records.
**
** The engine treats out-of-memory as fatal: a half-recorded run is worse than
** a clear abort, and every allocation site stays simple.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"

static void *oom(size_t n) {
  fprintf(stderr, "workstream: out of memory (%zu bytes)\n", n);
  abort();
}

void *ws__malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  return p ? p : oom(n);
}

void *ws__calloc(size_t n, size_t m) {
  void *p = calloc(n ? n : 1, m ? m : 1);
  return p ? p : oom(n * m);
}

void *ws__realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  return q ? q : oom(n);
}

char *ws__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  return memcpy(ws__malloc(n), s, n);
}

char *ws__vasprintf(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return ws__strdup(fmt);
  char *s = ws__malloc((size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *ws__asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = ws__vasprintf(fmt, ap);
  va_end(ap);
  return s;
}

static json_t *empty;
static pthread_once_t empty_once = PTHREAD_ONCE_INIT;
static void empty_init(void) { empty = json_object(); }

json_t *ws__json_empty(void) {
  pthread_once(&empty_once, empty_init);
  return json_incref(empty);
}

void ws__json_share_empty(json_t **v) {
  if (!json_is_object(*v) || json_object_size(*v) != 0) return;
  json_t *shared = ws__json_empty();
  json_decref(*v);
  *v = shared;
}

void ws__json_unshare_empty(json_t **v) {
  if (!empty || *v != empty) return;
  json_decref(*v);
  *v = json_object();
}

void ws__push(void ***arr, size_t *n, void *p) {
  /* grow at powers of two: *n is the only bookkeeping needed */
  if ((*n & (*n - 1)) == 0) {
    size_t cap = *n ? *n * 2 : 1;
    *arr = ws__realloc(*arr, cap * sizeof **arr);
  }
  (*arr)[(*n)++] = p;
}

ws_error_t *ws__error_newv(bool permanent, const char *code, const char *fmt, va_list ap) {
  ws_error_t *e = ws__malloc(sizeof *e);
  e->msg = ws__utf8_repair(ws__vasprintf(fmt, ap)); /* it may quote a plugin's bytes */
  e->code = ws__utf8_repair(ws__strdup(code));
  e->permanent = permanent;
  return e;
}

ws_error_t *ws__error_new(bool permanent, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ws_error_t *e = ws__error_newv(permanent, code, fmt, ap);
  va_end(ap);
  return e;
}

void ws__error_free(ws_error_t *e) {
  if (!e) return;
  free(e->msg);
  free(e->code);
  free(e);
}
