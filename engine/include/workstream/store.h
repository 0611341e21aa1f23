/*
** workstream/store.h - where runs are kept: the small interface the engine
** writes through, and the SQLite store behind it.
**
** The interface knows runs and objects, not tables: a PostgreSQL store (so that
** runners on several machines share runs and take over a dead runner's
** plans) fits behind it without changes to the engine. Nothing here assumes
** one process: leases say which runner owns a run, with an expiry.
**
** What is stored never holds a secret in clear: requests are stored redacted
** (ws_redacted), and errors, logs and responses are already scrubbed by the
** engine before they reach an update.
**
** Every call returns 0, or -1 with a message in err that names the store and
** what failed ("/var/lib/ws.db: database is locked", "... is not a
** Workstream database", "... was written by a newer version (schema 3, this
** one knows 2)").
**
** A run `id` argument (load, get, lease, release) is a run ID or an
** unambiguous prefix of it of at least 8 characters. A prefix can become
** ambiguous when runs are added: keep the full ID (get's "id") once known.
** A store is used by one thread at a time.
*/
#ifndef WORKSTREAM_STORE_H
#define WORKSTREAM_STORE_H

#include <stddef.h>
#include <jansson.h>
#include "workstream/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ws_store ws_store_t;

typedef struct ws_store_ops {
  /* Records a new run of plan p (resolved: see ws_plan_resolve), its objects
  ** in walk order with their current states (not_started for a plan that has
  ** not run). Durable when it returns (updates made before are committed
  ** first). origin (borrowed, any json) says how to rebuild the plan on
  ** resume: for wsrun, { "file": ..., "args": [...], "cwd": ..., "retry_of":
  ** ... }. The plan's group (p->group) links runs of one plan (a retry keeps
  ** it). */
  int (*create)(ws_store_t *s, const ws_plan_t *p, const json_t *origin, char *err,
                size_t errlen);

  /* Records the current state of object n of a created run: status, started,
  ** ended; for an action also its attempts (resp, err, log, times, timed_out,
  ** interrupted); for the plan also its reason. The state is copied at once;
  ** the write may be grouped with others and is durable once flush returns.
  ** So an error about n (its run was never created) may come from flush. */
  int (*update)(ws_store_t *s, const ws_node_t *n, char *err, size_t errlen);

  /* Makes every update so far durable (a commit), all or none. After a
  ** failure they are dropped (the stored run stays as of the last flush),
  ** unless the store was busy ("database is locked"): then they are kept
  ** for the next flush. create, load, get, list, lease and release flush
  ** first, so that they see (and order themselves after) every update. */
  int (*flush)(ws_store_t *s, char *err, size_t errlen);

  /* Fills in the stored states of run `id` into p, a plan rebuilt from the
  ** run's origin and resolved: every object's state, an action's attempts
  ** (and resp/err as the engine sets them), the plan's reason and group. The
  ** stored tree and p must match object for object (type, name, key, plugin,
  ** redacted request), else -1 with a message naming the first difference by
  ** path, and p is left as it was. p's IDs become the stored ones. */
  int (*load)(ws_store_t *s, const char *id, ws_plan_t *p, char *err, size_t errlen);

  /* The stored run whose id is `id` or starts with it (an unambiguous prefix
  ** of at least 8 characters), as a new json value in the shape of a result
  ** (DESIGN.md: plan, checks, blocks, sequences, actions, attempts; requests
  ** redacted), plus "origin", "group", "created" (epoch seconds) and, while
  ** a lease is held (not expired), "lease": { owner, expires }. *out stays
  ** NULL and -1 is returned with "no run ID" or "ID is ambiguous (...)". */
  int (*get)(ws_store_t *s, const char *id, json_t **out, char *err, size_t errlen);

  /* The runs, newest first, at most `limit` (0: all), as a new json array of
  ** { id, group, name, status, reason, started, ended } objects (a field
  ** that is unset or 0 is absent, as in results). */
  int (*list)(ws_store_t *s, size_t limit, json_t **out, char *err, size_t errlen);

  /* Takes or renews the lease of run `id` for `owner` until now + ttl seconds.
  ** Fails when another owner holds a lease that has not expired ("run ID is
  ** being run by OWNER (lease until TIME)", TIME in ISO-8601 UTC). Times are
  ** the wall clock of the caller: runners that share a store need synchronised
  ** clocks (a server-side store may use its own clock instead). */
  int (*lease)(ws_store_t *s, const char *id, const char *owner, double ttl, char *err,
               size_t errlen);
  /* Gives a lease up (no-op when `owner` does not hold it; -1 for no run). */
  int (*release)(ws_store_t *s, const char *id, const char *owner, char *err, size_t errlen);

  /* Flushes what is pending (best effort: flush first to know) and frees s. */
  void (*close)(ws_store_t *s);
} ws_store_ops_t;

struct ws_store {
  const ws_store_ops_t *ops;
};

/* Opens (creating if needed, with missing directories) a SQLite store at
** path, in WAL mode, migrating an older schema. NULL with a message when the
** file cannot be opened or written, is not a Workstream database, or has a
** newer schema. */
ws_store_t *ws_store_sqlite_open(const char *path, char *err, size_t errlen);

/* The default path: $XDG_STATE_HOME/workstream/runs.db when that variable is
** an absolute path, else ~/.local/state/workstream/runs.db ($HOME, else the
** password database). Writes at most len bytes; returns buf, which is empty
** when the path does not fit (never a truncated path). */
char *ws_store_default_path(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
