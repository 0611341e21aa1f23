/*
** ws_lua_store.c - runs recorded in a store, for core.run and the CLI.
**
** A session opens the store, records the run (or loads it to resume it, or
** seeds a retry with what completed in the earlier run), holds the run's
** lease while it runs, renewing it on the run's loop, and gives it up at the
** end.
**
**   core.store_list(path, limit?) -> { {id, group, name, status, reason, started, ended}... }
**                                                                 [-2, +1, e]
**   core.store_get(path, id)      -> the stored run, shaped as a result  [-2, +1, e]
**   core.store_path()             -> the default database path    [-0, +1, m]
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ws_lua.h"

#define LEASE_TTL 60.0 /* seconds; renewed every third of it while the run goes on */

static void lease_owner(char *buf, size_t len) {
  char host[64] = "localhost";
  gethostname(host, sizeof host - 1);
  snprintf(buf, len, "wsrun@%s:%ld", host, (long)getpid());
}

/* A lease held by a runner of this machine that no longer exists (killed:
** kill -9, a crash) is given up for it: its run can be resumed at once rather
** than when the lease expires. Runners elsewhere are trusted to their expiry. */
static void free_dead_lease(ws_lua_session_t *ss, const json_t *rec) {
  const char *holder = json_string_value(json_object_get(json_object_get(rec, "lease"), "owner"));
  char host[64] = "localhost", prefix[128];
  long pid;
  if (!holder) return;
  gethostname(host, sizeof host - 1);
  snprintf(prefix, sizeof prefix, "wsrun@%s:", host);
  if (strncmp(holder, prefix, strlen(prefix)) != 0) return;
  pid = strtol(holder + strlen(prefix), NULL, 10);
  if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) return;
  char err[512];
  ss->store->ops->release(ss->store, ss->id, holder, err, sizeof err);
}

/* Moves what the sequences that completed in `from` (the same plan, loaded
** from the earlier run) hold into `to`: a retry does not run them again. */
static void seed_completed(ws_plan_t *to, ws_plan_t *from) {
  for (size_t i = 0; i < to->nblocks && i < from->nblocks; i++) {
    ws_block_t *tb = to->blocks[i], *fb = from->blocks[i];
    for (size_t j = 0; j < tb->nsequences && j < fb->nsequences; j++) {
      ws_sequence_t *ts = tb->sequences[j], *fs = fb->sequences[j];
      if (fs->node.state.status != WS_COMPLETED) continue;
      ts->node.state = fs->node.state;
      for (size_t k = 0; k < ts->nactions && k < fs->nactions; k++) {
        ws_action_t *ta = ts->actions[k], *fa = fs->actions[k];
        ws_attempt_t *att = ta->attempts; /* a swap: each plan frees what it holds */
        size_t natt = ta->nattempts;
        ta->attempts = fa->attempts;
        ta->nattempts = fa->nattempts;
        fa->attempts = att;
        fa->nattempts = natt;
        ta->node.state = fa->node.state;
        ws_action_settle(ta, ta->node.state.status);
        ws_action_settle(fa, fa->node.state.status);
      }
    }
  }
}

static int record_seeded(ws_node_t *n, void *ud) {
  ws_lua_session_t *ss = ud;
  if (n->state.status == WS_NOT_STARTED) return 0;
  return ss->store->ops->update(ss->store, n, ss->err, sizeof ss->err);
}

/* A retry: the plan's group, and the states of what completed before. */
static int prepare_retry(lua_State *L, int plan_idx, const char *old, ws_plan_t *plan,
                         const ws_registry_t *reg, ws_lua_session_t *ss) {
  ws_store_t *s = ss->store;
  json_t *prev = NULL;
  if (s->ops->get(s, old, &prev, ss->err, sizeof ss->err)) return -1;
  const char *old_id = json_string_value(json_object_get(prev, "id"));
  const char *group = json_string_value(json_object_get(prev, "group"));
  free(plan->group);
  plan->group = strdup(group ? group : old_id);
  char why[900];
  ws_plan_t *earlier = ws_lua_toplan(L, plan_idx, why, sizeof why);
  int rc = -1;
  if (earlier && ws_plan_resolve(earlier, reg, why, sizeof why) == 0 &&
      s->ops->load(s, old_id, earlier, why, sizeof why) == 0) {
    seed_completed(plan, earlier);
    rc = 0;
  } else {
    snprintf(ss->err, sizeof ss->err, "cannot retry run %s: %s", old_id, why);
  }
  ws_plan_free(earlier);
  json_decref(prev);
  return rc;
}

int ws_lua_session_begin(lua_State *L, int plan_idx, int opts, ws_plan_t *plan,
                         const ws_registry_t *reg, ws_lua_session_t *ss) {
  memset(ss, 0, sizeof *ss);
  if (lua_getfield(L, opts, "store") != LUA_TSTRING) {
    lua_pop(L, 1);
    return 0; /* in memory */
  }
  char path[4096];
  snprintf(path, sizeof path, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  if (!(ss->store = ws_store_sqlite_open(path, ss->err, sizeof ss->err))) return -1;
  ws_store_t *s = ss->store;
  lease_owner(ss->owner, sizeof ss->owner);

  if (lua_getfield(L, opts, "resume") == LUA_TSTRING) {
    snprintf(ss->id, sizeof ss->id, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    json_t *prev = NULL; /* the full id, from a prefix */
    ss->refused = true; /* what fails now is the request, not the storage */
    if (s->ops->get(s, ss->id, &prev, ss->err, sizeof ss->err)) return -1;
    snprintf(ss->id, sizeof ss->id, "%s", json_string_value(json_object_get(prev, "id")));
    free_dead_lease(ss, prev);
    json_decref(prev);
    if (s->ops->lease(s, ss->id, ss->owner, LEASE_TTL, ss->err, sizeof ss->err)) return -1;
    ss->refused = false;
    ss->leased = true;
    ss->refused = true; /* a plan file that now builds another plan */
    if (s->ops->load(s, ss->id, plan, ss->err, sizeof ss->err)) return -1;
    if (!ws_plan_prepare_resume(plan)) {
      snprintf(ss->err, sizeof ss->err, "run %s has already %s: nothing to resume (`wsrun retry` "
               "starts a new run of it)", ss->id, ws_status_name(plan->node.state.status));
      return -1;
    }
    ss->refused = false;
    return 0;
  }
  lua_pop(L, 1);

  const char *retry_of = NULL;
  if (lua_getfield(L, opts, "retry_of") == LUA_TSTRING) retry_of = lua_tostring(L, -1);
  int rc = retry_of ? prepare_retry(L, plan_idx, retry_of, plan, reg, ss) : 0;
  lua_pop(L, 1);
  if (rc) {
    ss->refused = true;
    return -1;
  }

  if (!plan->group) plan->group = strdup(plan->node.id); /* a first run starts its group */
  lua_getfield(L, opts, "origin");
  char why[512];
  json_t *origin = ws_lua_tojson(L, -1, "origin", why, sizeof why);
  bool unrecordable = !origin && !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (unrecordable) { /* without its origin the run could not be resumed or retried */
    snprintf(ss->err, sizeof ss->err, "cannot record how to run the plan again: %s", why);
    ss->refused = true;
    return -1;
  }
  if (!origin) origin = json_object();
  rc = s->ops->create(s, plan, origin, ss->err, sizeof ss->err);
  json_decref(origin);
  if (rc || ws_plan_walk(plan, record_seeded, ss) || s->ops->flush(s, ss->err, sizeof ss->err))
    return -1;
  snprintf(ss->id, sizeof ss->id, "%s", plan->node.id);
  if (s->ops->lease(s, ss->id, ss->owner, LEASE_TTL, ss->err, sizeof ss->err)) return -1;
  ss->leased = true;
  return 0;
}

static void renew_lease(uv_timer_t *t) {
  ws_lua_session_t *ss = t->data;
  char err[512];
  if (ss->store->ops->lease(ss->store, ss->id, ss->owner, LEASE_TTL, err, sizeof err))
    fprintf(stderr, "workstream: cannot renew the lease of run %s: %s\n", ss->id, err);
}

void ws_lua_session_watch(ws_lua_session_t *ss, uv_loop_t *loop) {
  if (!ss->leased) return;
  uv_timer_init(loop, &ss->renew);
  ss->renew.data = ss;
  uint64_t every = (uint64_t)(LEASE_TTL * 1000 / 3);
  uv_timer_start(&ss->renew, renew_lease, every, every);
  uv_unref((uv_handle_t *)&ss->renew); /* it does not keep the run's loop alive */
  ss->renewing = true;
}

static void closed_noop(uv_handle_t *h) { (void)h; }

void ws_lua_session_unwatch(ws_lua_session_t *ss) {
  if (!ss->renewing) return;
  uv_close((uv_handle_t *)&ss->renew, closed_noop);
  ss->renewing = false;
}

void ws_lua_session_end(ws_lua_session_t *ss) {
  if (!ss->store) return;
  char err[512];
  if (ss->leased) ss->store->ops->release(ss->store, ss->id, ss->owner, err, sizeof err);
  ss->store->ops->close(ss->store);
  ss->store = NULL;
}

/* ------------------------------------------------------------ inspection */

static ws_store_t *open_or_raise(lua_State *L, const char *path) {
  char err[1024];
  ws_store_t *s = ws_store_sqlite_open(path, err, sizeof err);
  if (!s) luaL_error(L, "storage: %s", err);
  return s;
}

static int l_store_list(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer limit = luaL_optinteger(L, 2, 0);
  ws_store_t *s = open_or_raise(L, path);
  char err[1024];
  json_t *out = NULL;
  int rc = s->ops->list(s, limit > 0 ? (size_t)limit : 0, &out, err, sizeof err);
  s->ops->close(s);
  if (rc) return luaL_error(L, "storage: %s", err);
  ws_lua_pushjson(L, out);
  json_decref(out);
  return 1;
}

static int l_store_get(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *id = luaL_checkstring(L, 2);
  ws_store_t *s = open_or_raise(L, path);
  char err[1024];
  json_t *out = NULL;
  int rc = s->ops->get(s, id, &out, err, sizeof err);
  s->ops->close(s);
  if (rc) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  ws_lua_pushjson(L, out);
  json_decref(out);
  return 1;
}

static int l_store_path(lua_State *L) {
  char buf[4096];
  lua_pushstring(L, ws_store_default_path(buf, sizeof buf));
  return 1;
}

static const luaL_Reg functions[] = {
    {"store_list", l_store_list},
    {"store_get", l_store_get},
    {"store_path", l_store_path},
    {NULL, NULL},
};

void ws_lua_open_store(lua_State *L) { luaL_setfuncs(L, functions, 0); }
