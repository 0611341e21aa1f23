/*
** ws_journal.h - the text of stored object states (internal to stores).
**
** A store records an object's state as one journal record, a JSON array:
**
**   [pos, "status", started, ended]                 plan, blocks, sequences, checks, batches
**   [pos, "status", started, ended, attempts]       actions
**
** pos is the object's ws_node_t.pos (its index in walk order); times are
** epoch seconds written to the microsecond; attempts is the array described
** in ws_store_sqlite.c. Records are written here, by hand, because this is the
** hot path of a run with a store: jansson would build a value tree and format
** every time with 17 significant digits (40 % of a store's cost, measured).
** They are read back with jansson. Every string is written as valid UTF-8:
** an invalid byte becomes U+FFFD, so what is written can always be read.
*/
#ifndef WS_JOURNAL_H
#define WS_JOURNAL_H

#include <stddef.h>
#include <jansson.h>
#include "workstream/engine.h"

/* A growable text buffer; zero-initialised is empty. p is NUL-terminated once
** anything was put. */
typedef struct ws__text {
  char *p;
  size_t len, cap;
} ws__text_t;

void ws__text_put(ws__text_t *t, const char *s, size_t n);
void ws__text_putc(ws__text_t *t, char c);
void ws__text_free(ws__text_t *t); /* frees p; t is empty again */

/* JSON values: a string (NULL as ""), escaped and made valid UTF-8; an
** integer; a real (30.0, 0.25; NaN and infinities as null); any jansson
** value, compact. */
void ws__text_string(ws__text_t *t, const char *s);
void ws__text_int(ws__text_t *t, long long v);
void ws__text_real(ws__text_t *t, double v);
void ws__text_json(ws__text_t *t, const json_t *v);

/* Appends the record of n's current state. */
void ws__journal_record(ws__text_t *t, const ws_node_t *n);

/* Appends a's attempts as a JSON array (the `attempts` of a record). */
void ws__journal_attempts(ws__text_t *t, const ws_action_t *a);

/* Rebuilds attempts from their JSON array (arr may be NULL: none); -1 when
** it is not what ws__journal_attempts writes (nothing is allocated then). */
int ws__journal_attempts_parse(const json_t *arr, ws_attempt_t **out, size_t *nout);

#endif
