/*
** ws_lua_result.c - the engine's model as plain Lua tables: results and events.
**
** Results are copies, not proxies: a script may keep, change or serialise
** them after the run is gone.
*/
#include <stdio.h>
#include "ws_lua.h"

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

void ws_lua_pusherror(lua_State *L, const ws_error_t *e) {
  lua_createtable(L, 0, 3);
  set_str(L, "msg", e->msg);
  set_bool(L, "permanent", e->permanent);
  set_str(L, "code", e->code);
}

/* The fields every object has. [-0, +0] on the table at the top. */
static void set_node(lua_State *L, const ws_node_t *n) {
  set_str(L, "type", ws_objtype_name(n->type));
  set_str(L, "id", n->id);
  set_str(L, "name", n->name);
  set_str(L, "descr", n->descr);
  set_str(L, "key", n->key);
  set_str(L, "status", ws_status_name(n->state.status));
  if (n->state.started > 0) set_num(L, "started", n->state.started);
  if (n->state.ended > 0) set_num(L, "ended", n->state.ended);
}

static void push_attempt(lua_State *L, const ws_attempt_t *at) {
  /* sized exactly: a hash part rounds up to a power of two, and a run of 10^6
  ** actions has 10^6 of these */
  int nfields = 2 + (at->resp != NULL) + (at->err != NULL) + (at->ended > 0) + (at->nlog > 0);
  lua_createtable(L, 0, nfields);
  if (at->resp) {
    ws_lua_pushjson(L, at->resp);
    lua_setfield(L, -2, "resp");
  }
  if (at->err) {
    ws_lua_pusherror(L, at->err);
    lua_setfield(L, -2, "err");
  }
  set_num(L, "started", at->started);
  if (at->ended > 0) set_num(L, "ended", at->ended);
  set_bool(L, "timed_out", at->timed_out);
  if (at->nlog) {
    lua_createtable(L, (int)at->nlog, 0);
    for (size_t i = 0; i < at->nlog; i++) {
      lua_pushstring(L, at->log[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "log");
  }
}

static void push_action(lua_State *L, const ws_action_t *a) {
  lua_createtable(L, 0, 16);
  set_node(L, &a->node);
  set_str(L, "plugin", a->plugin_name);
  json_t *shown = a->plugin ? ws_redacted(a->plugin->request, a->req) : json_incref(a->req);
  ws_lua_pushjson(L, shown);
  json_decref(shown);
  lua_setfield(L, -2, "req");
  set_num(L, "timeout", a->timeout);
  set_int(L, "retries", a->retries);
  if (a->has_retry) {
    lua_createtable(L, 0, 4);
    set_num(L, "initial", a->retry.initial);
    set_num(L, "multiplier", a->retry.multiplier);
    set_num(L, "jitter", a->retry.jitter);
    set_num(L, "max", a->retry.max);
    lua_setfield(L, -2, "retry");
  }
  lua_createtable(L, (int)a->nattempts, 0);
  for (size_t i = 0; i < a->nattempts; i++) {
    push_attempt(L, &a->attempts[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "attempts");
  if (a->resp) {
    ws_lua_pushjson(L, a->resp);
    lua_setfield(L, -2, "resp");
  }
  if (a->err) {
    ws_lua_pusherror(L, a->err);
    lua_setfield(L, -2, "err");
  }
}

static void push_actions(lua_State *L, ws_action_t *const *v, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_action(L, v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "actions");
}

static const char *const checks_fields[WS_CHECKS_NKINDS] = {
    "bypass_checks", "pre_checks", "cont_checks", "post_checks", "deferred_checks"};

static void set_checks(lua_State *L, ws_checks_t *const *slots) {
  for (int k = 0; k < WS_CHECKS_NKINDS; k++) {
    const ws_checks_t *c = slots[k];
    if (!c) continue;
    lua_createtable(L, 0, 9);
    set_node(L, &c->node);
    set_str(L, "kind", ws_checks_kind_name(c->kind));
    set_num(L, "delay", c->delay);
    push_actions(L, c->actions, c->nactions);
    lua_setfield(L, -2, checks_fields[k]);
  }
}

static void push_sequence(lua_State *L, const ws_sequence_t *s) {
  lua_createtable(L, 0, 12);
  set_node(L, &s->node);
  if (s->node.type == WS_OBJ_BATCH) {
    static const char *const when[] = {"?", "on_success", "on_failure", "always"};
    set_str(L, "when", when[s->when]);
    set_bool(L, "fail_plan", s->fail_plan);
  }
  push_actions(L, s->actions, s->nactions);
}

static void push_block(lua_State *L, const ws_block_t *b) {
  lua_createtable(L, 0, 20);
  set_node(L, &b->node);
  set_int(L, "concurrency", b->concurrency);
  if (b->tolerated.percent) {
    lua_pushfstring(L, "%d%%", (int)b->tolerated.count);
    lua_setfield(L, -2, "tolerated_failures");
  } else {
    set_int(L, "tolerated_failures", (lua_Integer)b->tolerated.count);
  }
  set_num(L, "entrance_delay", b->entrance_delay);
  set_num(L, "exit_delay", b->exit_delay);
  set_str(L, "stop", b->stop == WS_STOP_ACTION ? "action" : "sequence");
  set_checks(L, b->checks);
  lua_createtable(L, (int)b->nsequences, 0);
  for (size_t i = 0; i < b->nsequences; i++) {
    push_sequence(L, b->sequences[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "sequences");
}

void ws_lua_pushresult(lua_State *L, const ws_plan_t *p) {
  luaL_checkstack(L, 16, "building a result");
  lua_createtable(L, 0, 20);
  set_node(L, &p->node);
  set_str(L, "group", p->group);
  if (p->meta) {
    ws_lua_pushjson(L, p->meta);
    lua_setfield(L, -2, "meta");
  }
  set_str(L, "reason", ws_reason_name(p->reason));
  set_checks(L, p->checks);
  lua_createtable(L, (int)p->nblocks, 0);
  for (size_t i = 0; i < p->nblocks; i++) {
    push_block(L, p->blocks[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "blocks");
  if (p->nbatches) {
    lua_createtable(L, (int)p->nbatches, 0);
    for (size_t i = 0; i < p->nbatches; i++) {
      push_sequence(L, p->batches[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "deferred_actions");
  }
}

void ws_lua_pushevent(lua_State *L, const ws_event_t *ev) {
  char path[1024];
  const ws_node_t *n = ev->node;
  luaL_checkstack(L, 8, "building an event");
  lua_createtable(L, 0, 10);
  set_str(L, "type", ev->kind == WS_EV_ATTEMPT ? "attempt" : ev->kind == WS_EV_LOG ? "log" : "state");
  set_str(L, "msg", ev->msg);
  set_str(L, "object", ws_objtype_name(n->type));
  set_str(L, "path", ws_node_path(n, path, sizeof path));
  set_str(L, "status", ws_status_name(ev->status));
  set_num(L, "time", ev->time);
  set_str(L, "id", n->id);
  set_str(L, "name", n->name);
  if (n->state.started > 0) set_num(L, "started", n->state.started);
  if (n->state.ended > 0) set_num(L, "ended", n->state.ended);
  if (n->type == WS_OBJ_PLAN) set_str(L, "reason", ws_reason_name(((const ws_plan_t *)n)->reason));
  if (n->type == WS_OBJ_ACTION) {
    const ws_action_t *a = (const ws_action_t *)n;
    set_str(L, "plugin", a->plugin_name);
    set_int(L, "attempts", (lua_Integer)a->nattempts);
    if (ev->kind == WS_EV_STATE && a->err) {
      ws_lua_pusherror(L, a->err);
      lua_setfield(L, -2, "err");
    }
    if (ev->kind == WS_EV_STATE && a->resp) {
      ws_lua_pushjson(L, a->resp);
      lua_setfield(L, -2, "resp");
    }
  }
  if (ev->attempt && ev->kind == WS_EV_ATTEMPT) {
    push_attempt(L, ev->attempt);
    lua_setfield(L, -2, "attempt");
  }
}
