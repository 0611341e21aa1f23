/*
** workstream/types.h - the one type system for plugin requests and responses.
**
** Types are plain data: a C plugin declares them as static constants, the Lua
** binding builds them at run time from ws.types, and one validator
** (ws_type_check) serves both. Values are jansson json_t trees; in Lua terms an
** integer is a json integer, a float a json real.
*/
#ifndef WORKSTREAM_TYPES_H
#define WORKSTREAM_TYPES_H

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ws_kind {
  WS_T_ANY = 1,
  WS_T_STRING,
  WS_T_INTEGER,
  WS_T_NUMBER,   /* integer or float */
  WS_T_BOOLEAN,
  WS_T_LIST,     /* elem */
  WS_T_MAP,      /* string keys, elem values */
  WS_T_RECORD,   /* fields; closed: unknown fields are errors */
  WS_T_ENUM,     /* one of values (strings) */
  WS_T_OPTIONAL, /* elem, or absent */
  WS_T_DEFAULT,  /* elem, or absent and then filled with dflt */
  WS_T_SECRET    /* elem; never written anywhere in clear */
} ws_kind_t;

typedef struct ws_type ws_type_t;

typedef struct ws_field {
  const char *name;
  const ws_type_t *type;
} ws_field_t;

struct ws_type {
  ws_kind_t kind;
  const ws_type_t *elem;     /* LIST, MAP, OPTIONAL, DEFAULT, SECRET */
  const ws_field_t *fields;  /* RECORD: ends with a {NULL, NULL} entry */
  const char *const *values; /* ENUM: ends with NULL */
  const char *dflt;          /* DEFAULT: the value as JSON text, e.g. "[0]" */
};

/* Scalar types, shared. */
extern const ws_type_t ws_t_any, ws_t_string, ws_t_integer, ws_t_number, ws_t_boolean;

/* Static initialisers: static const ws_type_t t = WS_LIST(&ws_t_string); */
#define WS_LIST(e)        { WS_T_LIST, (e), NULL, NULL, NULL }
#define WS_MAP(e)         { WS_T_MAP, (e), NULL, NULL, NULL }
#define WS_RECORD(f)      { WS_T_RECORD, NULL, (f), NULL, NULL }
#define WS_ENUM(v)        { WS_T_ENUM, NULL, NULL, (v), NULL }
#define WS_OPTIONAL(e)    { WS_T_OPTIONAL, (e), NULL, NULL, NULL }
#define WS_DEFAULT(e, js) { WS_T_DEFAULT, (e), NULL, NULL, (js) }
#define WS_SECRET(e)      { WS_T_SECRET, (e), NULL, NULL, NULL }

/*
** Checks *slot against t, filling defaults and normalising in place (an empty
** object where a list is expected becomes an empty list, because Lua cannot
** tell {} from []; an integral float where an integer is expected becomes an
** integer). *slot may be replaced; the old value is released.
** Returns 0, or -1 with a message "<path>: <problem>" in err, where path
** starts with `root` (e.g. "req") and uses 1-based [n] indices.
*/
int ws_type_check(const ws_type_t *t, json_t **slot, const char *root,
                  char *err, size_t errlen);

/* "string", "list(integer)", "record{...}": for messages and listings.
** Writes at most len bytes (NUL-terminated); returns buf. */
char *ws_type_describe(const ws_type_t *t, char *buf, size_t len);

/* The name of a value's type as users see it: "string", "integer", "table"... */
const char *ws_json_typename(const json_t *v);

#ifdef __cplusplus
}
#endif
#endif
