/*
** ws_registry.c - registered plugins, and plan resolution against them.
**
** A registry holds tens of plugins, looked up once per action when a plan is
** resolved; a sorted array with binary search is all it needs.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"

struct ws_registry {
  const ws_plugin_def_t **defs; /* sorted by name */
  size_t n;
};

ws_registry_t *ws_registry_new(void) { return ws__calloc(1, sizeof(ws_registry_t)); }

void ws_registry_free(ws_registry_t *r) {
  if (!r) return;
  free(r->defs);
  free(r);
}

static bool valid_name(const char *name) {
  if (!name || !*name) return false;
  for (const char *p = name; *p; p++)
    if (!(*p == '.' || *p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
          (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      return false;
  return name[0] != '.' && name[strlen(name) - 1] != '.';
}

/* Durations are finite and at most about 31 years: beyond that a number is a
** mistake, and timer arithmetic would overflow. */
#define WS_MAX_SECONDS 1e9

static bool duration_ok(double s, bool positive) {
  return isfinite(s) && s <= WS_MAX_SECONDS && (positive ? s > 0 : s >= 0);
}

static int policy_check(const ws_retry_policy_t *p, char *err, size_t errlen) {
  if (!duration_ok(p->initial, true) || !duration_ok(p->max, true))
    return snprintf(err, errlen, "retry: durations must be finite, > 0 and at most %g s", WS_MAX_SECONDS), -1;
  if (!(p->multiplier >= 1 && p->multiplier <= 1e6))
    return snprintf(err, errlen, "retry.multiplier must be within [1, 1000000]"), -1;
  if (!(p->jitter >= 0 && p->jitter <= 1))
    return snprintf(err, errlen, "retry.jitter must be within [0, 1]"), -1;
  if (!(p->max >= p->initial)) return snprintf(err, errlen, "retry.max must be >= initial"), -1;
  return 0;
}

static size_t lower_bound(const ws_registry_t *r, const char *name) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(r->defs[mid]->name, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* A type descriptor is static data a plugin wrote by hand: check all of it
** once, here, rather than crash or misjudge a request later. */
static int type_vet(const ws_type_t *t, const char *where, int depth, char *err, size_t errlen) {
  if (!t) return snprintf(err, errlen, "%s: a NULL type", where), -1;
  if (depth > 64) return snprintf(err, errlen, "%s: types nested too deeply", where), -1;
  char sub[256];
  switch (t->kind) {
  case WS_T_ANY: case WS_T_STRING: case WS_T_INTEGER: case WS_T_NUMBER: case WS_T_BOOLEAN:
    return 0;
  case WS_T_LIST: case WS_T_MAP: case WS_T_OPTIONAL: case WS_T_SECRET:
    return type_vet(t->elem, where, depth + 1, err, errlen);
  case WS_T_DEFAULT: {
    if (type_vet(t->elem, where, depth + 1, err, errlen)) return -1;
    json_error_t je;
    json_t *v = t->dflt ? json_loads(t->dflt, JSON_DECODE_ANY, &je) : NULL;
    if (!v) return snprintf(err, errlen, "%s: the default is not valid JSON", where), -1;
    char why[96];
    int rc = ws_type_check(t->elem, &v, "default", why, sizeof why);
    json_decref(v);
    if (rc) return snprintf(err, errlen, "%s: %s", where, why), -1;
    return 0;
  }
  case WS_T_RECORD:
    if (!t->fields) return snprintf(err, errlen, "%s: a record without a fields list", where), -1;
    for (const ws_field_t *f = t->fields; f->name; f++) {
      if (!*f->name) return snprintf(err, errlen, "%s: a field with an empty name", where), -1;
      for (const ws_field_t *g = t->fields; g != f; g++) /* one name, two types: misjudged */
        if (strcmp(g->name, f->name) == 0)
          return snprintf(err, errlen, "%s: field \"%s\" is declared twice", where, f->name), -1;
      snprintf(sub, sizeof sub, "%s.%s", where, f->name);
      if (type_vet(f->type, sub, depth + 1, err, errlen)) return -1;
    }
    return 0;
  case WS_T_ENUM:
    if (!t->values || !t->values[0])
      return snprintf(err, errlen, "%s: an enum without values", where), -1;
    return 0;
  }
  return snprintf(err, errlen, "%s: unknown type kind %d", where, (int)t->kind), -1;
}

/* Everything ws_registry_add checks before running init: the definition itself
** and that its name is free in r. */
static int vet(const ws_registry_t *r, const ws_plugin_def_t *def, char *err, size_t errlen) {
  char why[256];
  if (def->abi != WS_PLUGIN_ABI) {
    snprintf(err, errlen, "plugin \"%s\" was built for plugin ABI %d, this engine has %d",
             def->name ? def->name : "?", def->abi, WS_PLUGIN_ABI);
    return -1;
  }
  if (!valid_name(def->name)) {
    snprintf(err, errlen, "invalid plugin name \"%s\" (letters, digits, '.', '_', '-')",
             def->name ? def->name : "");
    return -1;
  }
  if (!def->start == !def->run) {
    snprintf(err, errlen, "plugin \"%s\" must have either start (asynchronous) or run "
             "(blocking), not %s", def->name, def->start ? "both" : "neither");
    return -1;
  }
  if (def->start && !def->cancel) {
    snprintf(err, errlen, "plugin \"%s\": an asynchronous plugin (start) must support cancel, "
             "so that a timeout or a forced stop can stop it", def->name);
    return -1;
  }
  if (def->run && def->cancel) {
    snprintf(err, errlen, "plugin \"%s\": a blocking plugin (run) sees cancellation through "
             "its cancelled flag; it has no cancel function", def->name);
    return -1;
  }
  if (!def->request || def->request->kind != WS_T_RECORD || !def->response ||
      def->response->kind != WS_T_RECORD) {
    snprintf(err, errlen, "plugin \"%s\": request and response types must be records",
             def->name);
    return -1;
  }
  if (type_vet(def->request, "request", 0, why, sizeof why) ||
      type_vet(def->response, "response", 0, why, sizeof why)) {
    snprintf(err, errlen, "plugin \"%s\": %s", def->name, why);
    return -1;
  }
  if (def->retry && policy_check(def->retry, why, sizeof why)) {
    snprintf(err, errlen, "plugin \"%s\": %s", def->name, why);
    return -1;
  }
  if (ws_registry_find(r, def->name)) {
    snprintf(err, errlen, "plugin \"%s\" is already registered", def->name);
    return -1;
  }
  return 0;
}

static int run_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  char why[256];
  why[0] = '\0';
  if (def->init && def->init(def, why, sizeof why)) {
    snprintf(err, errlen, "plugin \"%s\" refused to load: %s", def->name,
             why[0] ? why : "(no reason given)");
    return -1;
  }
  return 0;
}

static void insert(ws_registry_t *r, const ws_plugin_def_t *def) {
  size_t at = lower_bound(r, def->name);
  r->defs = ws__realloc(r->defs, (r->n + 1) * sizeof *r->defs);
  memmove(r->defs + at + 1, r->defs + at, (r->n - at) * sizeof *r->defs);
  r->defs[at] = def;
  r->n++;
}

int ws_registry_add(ws_registry_t *r, const ws_plugin_def_t *def, char *err, size_t errlen) {
  if (vet(r, def, err, errlen) || run_init(def, err, errlen)) return -1;
  insert(r, def);
  return 0;
}

int ws__registry_add_all(ws_registry_t *r, const ws_plugin_def_t *const *defs, size_t n,
                         char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    if (vet(r, defs[i], err, errlen)) return -1;
    for (size_t j = 0; j < i; j++)
      if (strcmp(defs[j]->name, defs[i]->name) == 0) {
        snprintf(err, errlen, "plugin \"%s\" is defined twice", defs[i]->name);
        return -1;
      }
  }
  for (size_t i = 0; i < n; i++)
    if (run_init(defs[i], err, errlen)) return -1;
  for (size_t i = 0; i < n; i++) insert(r, defs[i]);
  return 0;
}

int ws_registry_remove(ws_registry_t *r, const char *name) {
  size_t at = lower_bound(r, name);
  if (at == r->n || strcmp(r->defs[at]->name, name) != 0) return -1;
  memmove(r->defs + at, r->defs + at + 1, (r->n - at - 1) * sizeof *r->defs);
  r->n--;
  return 0;
}

const ws_plugin_def_t *ws_registry_find(const ws_registry_t *r, const char *name) {
  size_t at = lower_bound(r, name);
  return at < r->n && strcmp(r->defs[at]->name, name) == 0 ? r->defs[at] : NULL;
}

size_t ws_registry_count(const ws_registry_t *r) { return r->n; }

const ws_plugin_def_t *ws_registry_at(const ws_registry_t *r, size_t i) {
  return i < r->n ? r->defs[i] : NULL;
}

int ws_request_check(const ws_plugin_def_t *def, json_t **req, const char *root, char *err,
                     size_t errlen) {
  if (ws_type_check(def->request, req, root, err, errlen)) return -1;
  if (def->validate) {
    char why[512];
    why[0] = '\0';
    if (def->validate(def, *req, why, sizeof why)) {
      snprintf(err, errlen, "%s", why[0] ? why : "request rejected by the plugin");
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------- resolving */

typedef struct resolver {
  const ws_registry_t *reg;
  json_t *keys; /* key -> path of its first owner; jansson's hash table */
  uint32_t pos; /* the next node's, in walk order */
  char *err;
  size_t errlen;
} resolver_t;

#define WHERE_LEN 512

/* How messages name node n: "plan", or its path (made in buf). */
static const char *where(const ws_node_t *n, char buf[WHERE_LEN]) {
  return n->type == WS_OBJ_PLAN ? "plan" : ws_node_path(n, buf, WHERE_LEN);
}

static int resolve_node(ws_node_t *n, void *ud) {
  resolver_t *rs = ud;
  char buf[WHERE_LEN]; /* paths are made only for messages (2.5k instructions each) */
  n->pos = rs->pos++;

  if (n->key) {
    json_t *owner = json_object_get(rs->keys, n->key);
    if (owner) {
      snprintf(rs->err, rs->errlen, "%s: key \"%s\" is already used by %s", where(n, buf), n->key,
               json_string_value(owner));
      return -1;
    }
    json_object_set_new(rs->keys, n->key, json_string(where(n, buf)));
  }
  if (n->type == WS_OBJ_CHECKS && ((ws_checks_t *)n)->kind == WS_CHECKS_CONT &&
      !duration_ok(((ws_checks_t *)n)->delay, true))
    return snprintf(rs->err, rs->errlen, "%s: delay must be > 0 and at most %g s", where(n, buf),
                    WS_MAX_SECONDS), -1;
  if (n->type == WS_OBJ_BLOCK) {
    ws_block_t *b = (ws_block_t *)n;
    if (!duration_ok(b->entrance_delay, false) || !duration_ok(b->exit_delay, false))
      return snprintf(rs->err, rs->errlen, "%s: entrance_delay and exit_delay must be >= 0 and "
                      "at most %g s", where(n, buf), WS_MAX_SECONDS), -1;
  }
  if (n->type == WS_OBJ_SEQUENCE || n->type == WS_OBJ_BATCH || n->type == WS_OBJ_CHECKS) {
    size_t count = n->type == WS_OBJ_CHECKS ? ((ws_checks_t *)n)->nactions
                                            : ((ws_sequence_t *)n)->nactions;
    if (count == 0) return snprintf(rs->err, rs->errlen, "%s: has no actions", where(n, buf)), -1;
  }
  if (n->type != WS_OBJ_ACTION) return 0;

  ws_action_t *a = (ws_action_t *)n;
  const ws_plugin_def_t *def = ws_registry_find(rs->reg, a->plugin_name);
  if (!def) {
    snprintf(rs->err, rs->errlen, "%s: unknown plugin \"%s\"", where(n, buf), a->plugin_name);
    return -1;
  }
  bool in_checks = n->parent && n->parent->type == WS_OBJ_CHECKS;
  if (in_checks && !def->is_check) {
    snprintf(rs->err, rs->errlen, "%s: plugin \"%s\" is not a check plugin; checks run only "
             "check plugins", where(n, buf), def->name);
    return -1;
  }
  if (!in_checks && def->is_check) {
    snprintf(rs->err, rs->errlen, "%s: plugin \"%s\" is a check plugin; it runs only in checks",
             where(n, buf), def->name);
    return -1;
  }
  char why[512];
  ws__json_unshare_empty(&a->req); /* resolved before: the check may add defaults */
  if (ws_request_check(def, &a->req, "req", why, sizeof why)) {
    snprintf(rs->err, rs->errlen, "%s: %s", where(n, buf), why);
    return -1;
  }
  if (!duration_ok(a->timeout, true)) {
    snprintf(rs->err, rs->errlen, "%s: timeout must be > 0 and at most %g s", where(n, buf), WS_MAX_SECONDS);
    return -1;
  }
  if (a->retries < 0) {
    snprintf(rs->err, rs->errlen, "%s: retries must be >= 0", where(n, buf));
    return -1;
  }
  if (a->has_retry && policy_check(&a->retry, why, sizeof why)) {
    snprintf(rs->err, rs->errlen, "%s: %s", where(n, buf), why);
    return -1;
  }
  ws__json_share_empty(&a->req);
  a->plugin = def;
  if (!a->nsecrets) ws__collect_secrets(a);
  return 0;
}

static int check_structure(ws_plan_t *p, char *err, size_t errlen) {
  char path[512];
  if (p->nblocks == 0) return snprintf(err, errlen, "plan: has no blocks"), -1;
  for (size_t i = 0; i < p->nblocks; i++) {
    ws_block_t *b = p->blocks[i];
    ws_node_path(&b->node, path, sizeof path);
    if (b->nsequences == 0) return snprintf(err, errlen, "%s: has no sequences", path), -1;
    if (b->concurrency < 1) return snprintf(err, errlen, "%s: concurrency must be >= 1", path), -1;
    if (b->tolerated.count < -1 || (b->tolerated.percent && b->tolerated.count > 100))
      return snprintf(err, errlen, "%s: invalid tolerated_failures", path), -1;
  }
  return 0;
}

int ws_plan_resolve(ws_plan_t *p, const ws_registry_t *r, char *err, size_t errlen) {
  if (check_structure(p, err, errlen)) return -1;
  resolver_t rs = {r, json_object(), 0, err, errlen};
  int rc = ws_plan_walk(p, resolve_node, &rs);
  json_decref(rs.keys);
  return rc ? -1 : 0;
}
