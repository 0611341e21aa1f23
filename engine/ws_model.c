/*
** ws_model.c - the plan tree: construction, walking, paths, names.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ws_internal.h"

static void node_init(ws_node_t *n, ws_objtype_t type, const char *name, const char *descr) {
  n->type = type;
  ws_uuid7(n->id);
  n->name = ws__strdup(name);
  n->descr = ws__strdup(descr);
}

static void node_clear(ws_node_t *n) {
  free(n->name);
  free(n->descr);
  free(n->key);
}

ws_plan_t *ws_plan_new(const char *name, const char *descr) {
  ws_plan_t *p = ws__calloc(1, sizeof *p);
  node_init(&p->node, WS_OBJ_PLAN, name, descr);
  return p;
}

ws_block_t *ws_block_new(const char *name, const char *descr) {
  ws_block_t *b = ws__calloc(1, sizeof *b);
  node_init(&b->node, WS_OBJ_BLOCK, name, descr);
  b->concurrency = 1;
  return b;
}

ws_sequence_t *ws_sequence_new(const char *name, const char *descr) {
  ws_sequence_t *s = ws__calloc(1, sizeof *s);
  node_init(&s->node, WS_OBJ_SEQUENCE, name, descr);
  return s;
}

ws_batch_t *ws_batch_new(const char *name, const char *descr, ws_when_t when, bool fail_plan) {
  ws_batch_t *b = ws__calloc(1, sizeof *b);
  node_init(&b->node, WS_OBJ_BATCH, name, descr);
  b->when = when;
  b->fail_plan = fail_plan;
  return b;
}

ws_checks_t *ws_checks_new(ws_checks_kind_t kind, double delay) {
  ws_checks_t *c = ws__calloc(1, sizeof *c);
  node_init(&c->node, WS_OBJ_CHECKS, NULL, NULL);
  c->kind = kind;
  c->delay = delay;
  return c;
}

ws_action_t *ws_action_new(const char *name, const char *descr, const char *plugin,
                           json_t *req) {
  ws_action_t *a = ws__calloc(1, sizeof *a);
  node_init(&a->node, WS_OBJ_ACTION, name, descr);
  a->plugin_name = ws__strdup(plugin);
  a->req = req ? req : json_object();
  a->timeout = 30.0;
  return a;
}

static void adopt(ws_node_t *parent, ws_node_t *child) { child->parent = parent; }

int ws_plan_add_block(ws_plan_t *p, ws_block_t *b) {
  adopt(&p->node, &b->node);
  ws__push((void ***)&p->blocks, &p->nblocks, b);
  return 0;
}

int ws_plan_add_batch(ws_plan_t *p, ws_batch_t *b) {
  adopt(&p->node, &b->node);
  ws__push((void ***)&p->batches, &p->nbatches, b);
  return 0;
}

static void checks_free(ws_checks_t *c);

void ws_plan_set_checks(ws_plan_t *p, ws_checks_t *c) {
  adopt(&p->node, &c->node);
  checks_free(p->checks[c->kind]);
  p->checks[c->kind] = c;
}

int ws_block_add_sequence(ws_block_t *b, ws_sequence_t *s) {
  adopt(&b->node, &s->node);
  ws__push((void ***)&b->sequences, &b->nsequences, s);
  return 0;
}

void ws_block_set_checks(ws_block_t *b, ws_checks_t *c) {
  adopt(&b->node, &c->node);
  checks_free(b->checks[c->kind]);
  b->checks[c->kind] = c;
}

int ws_sequence_add_action(ws_sequence_t *s, ws_action_t *a) {
  adopt(&s->node, &a->node);
  ws__push((void ***)&s->actions, &s->nactions, a);
  return 0;
}

int ws_checks_add_action(ws_checks_t *c, ws_action_t *a) {
  adopt(&c->node, &a->node);
  ws__push((void ***)&c->actions, &c->nactions, a);
  return 0;
}

int ws_node_set_key(ws_node_t *n, const char *key) {
  free(n->key);
  n->key = ws__strdup(key);
  return 0;
}

/* ------------------------------------------------------------------ free */

void ws__attempts_clear(ws_action_t *a) {
  for (size_t i = 0; i < a->nattempts; i++) {
    ws_attempt_t *at = &a->attempts[i];
    json_decref(at->resp);
    ws__error_free(at->err);
    for (size_t j = 0; j < at->nlog; j++) free(at->log[j]);
    free(at->log);
  }
  free(a->attempts);
  a->attempts = NULL;
  a->nattempts = 0;
  a->resp = NULL;
  a->err = NULL;
}

void ws_action_settle(ws_action_t *a, ws_status_t st) {
  ws_attempt_t *last = a->nattempts ? &a->attempts[a->nattempts - 1] : NULL;
  a->resp = last && st == WS_COMPLETED ? last->resp : NULL;
  a->err = last && (st == WS_FAILED || st == WS_STOPPED) ? last->err : NULL;
}

static void action_free(ws_action_t *a) {
  ws__attempts_clear(a);
  for (size_t i = 0; i < a->nsecrets; i++) free(a->secrets[i]);
  free(a->secrets);
  json_decref(a->req);
  free(a->plugin_name);
  node_clear(&a->node);
  free(a);
}

static void actions_free(ws_action_t **v, size_t n) {
  for (size_t i = 0; i < n; i++) action_free(v[i]);
  free(v);
}

static void checks_free(ws_checks_t *c) {
  if (!c) return;
  actions_free(c->actions, c->nactions);
  node_clear(&c->node);
  free(c);
}

static void sequence_free(ws_sequence_t *s) {
  actions_free(s->actions, s->nactions);
  node_clear(&s->node);
  free(s);
}

static void block_free(ws_block_t *b) {
  for (int k = 0; k < WS_CHECKS_NKINDS; k++) checks_free(b->checks[k]);
  for (size_t i = 0; i < b->nsequences; i++) sequence_free(b->sequences[i]);
  free(b->sequences);
  node_clear(&b->node);
  free(b);
}

void ws_plan_free(ws_plan_t *p) {
  if (!p) return;
  for (int k = 0; k < WS_CHECKS_NKINDS; k++) checks_free(p->checks[k]);
  for (size_t i = 0; i < p->nblocks; i++) block_free(p->blocks[i]);
  free(p->blocks);
  for (size_t i = 0; i < p->nbatches; i++) sequence_free(p->batches[i]);
  free(p->batches);
  json_decref(p->meta);
  free(p->group);
  node_clear(&p->node);
  free(p);
}

/* ------------------------------------------------------------------ walk */

static int walk_actions(ws_action_t **v, size_t n, ws_walk_fn fn, void *ud) {
  for (size_t i = 0; i < n; i++) {
    int rc = fn(&v[i]->node, ud);
    if (rc) return rc;
  }
  return 0;
}

static int walk_checks(ws_checks_t *c, ws_walk_fn fn, void *ud) {
  if (!c) return 0;
  int rc = fn(&c->node, ud);
  return rc ? rc : walk_actions(c->actions, c->nactions, fn, ud);
}

static int walk_sequence(ws_sequence_t *s, ws_walk_fn fn, void *ud) {
  int rc = fn(&s->node, ud);
  return rc ? rc : walk_actions(s->actions, s->nactions, fn, ud);
}

static int walk_block(ws_block_t *b, ws_walk_fn fn, void *ud) {
  int rc = fn(&b->node, ud);
  for (int k = WS_CHECKS_BYPASS; !rc && k <= WS_CHECKS_CONT; k++)
    rc = walk_checks(b->checks[k], fn, ud);
  for (size_t i = 0; !rc && i < b->nsequences; i++) rc = walk_sequence(b->sequences[i], fn, ud);
  for (int k = WS_CHECKS_POST; !rc && k <= WS_CHECKS_DEFERRED; k++)
    rc = walk_checks(b->checks[k], fn, ud);
  return rc;
}

int ws_plan_walk(ws_plan_t *p, ws_walk_fn fn, void *ud) {
  int rc = fn(&p->node, ud);
  for (int k = WS_CHECKS_BYPASS; !rc && k <= WS_CHECKS_CONT; k++)
    rc = walk_checks(p->checks[k], fn, ud);
  for (size_t i = 0; !rc && i < p->nblocks; i++) rc = walk_block(p->blocks[i], fn, ud);
  if (!rc) rc = walk_checks(p->checks[WS_CHECKS_POST], fn, ud);
  for (size_t i = 0; !rc && i < p->nbatches; i++) rc = walk_sequence(p->batches[i], fn, ud);
  if (!rc) rc = walk_checks(p->checks[WS_CHECKS_DEFERRED], fn, ud);
  return rc;
}

/* ----------------------------------------------------------------- names */

/* Appends src at buf + at, as far as it fits (len counts the NUL); returns
** the length the whole text would have, as snprintf does. */
static size_t append(char *buf, size_t len, size_t at, const char *src) {
  size_t n = strlen(src);
  if (at < len) {
    size_t room = len - at - 1, k = n < room ? n : room;
    memcpy(buf + at, src, k);
    buf[at + k] = '\0';
  }
  return at + n;
}

/* With memcpy, not snprintf: paths are made for every object a store records. */
static size_t path_of(const ws_node_t *n, char *buf, size_t len) {
  if (!n || n->type == WS_OBJ_PLAN) return 0;
  size_t at = path_of(n->parent, buf, len);
  const char *sep = at ? "/" : "";
  if (n->type == WS_OBJ_BATCH) sep = at ? "/deferred_actions/" : "deferred_actions/";
  at = append(buf, len, at, sep);
  if (n->type == WS_OBJ_CHECKS)
    return append(buf, len, append(buf, len, at, ws_checks_kind_name(((const ws_checks_t *)n)->kind)),
                  "_checks");
  return append(buf, len, at, n->name ? n->name : "?");
}

char *ws_node_path(const ws_node_t *n, char *buf, size_t len) {
  if (len) buf[0] = '\0';
  path_of(n, buf, len);
  return buf;
}

const char *ws_status_name(ws_status_t s) {
  static const char *const names[] = {"not_started", "running", "completed", "failed",
                                      "stopped"};
  return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

const char *ws_reason_name(ws_reason_t r) {
  static const char *const names[] = {
      NULL,           "pre_check",       "cont_check", "block",           "post_check",
      "deferred_check", "deferred_action", "stopped",    "exceed_recovery"};
  return (unsigned)r < sizeof names / sizeof *names ? names[r] : "?";
}

const char *ws_objtype_name(ws_objtype_t t) {
  static const char *const names[] = {"?",        "plan",  "checks", "block",
                                      "sequence", "batch", "action"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

const char *ws_checks_kind_name(ws_checks_kind_t k) {
  static const char *const names[] = {"bypass", "pre", "cont", "post", "deferred"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}
