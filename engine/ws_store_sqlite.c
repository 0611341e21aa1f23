/*
** ws_store_sqlite.c - the embedded store: runs and their objects in one
** SQLite file (workstream/store.h).
**
** Durability. The database is in WAL mode with synchronous=NORMAL: a commit
** is appended to the -wal file and the OS has it when COMMIT returns, so a
** process killed at any instant (kill -9, a crash) loses nothing committed,
** and the file is never corrupted. A power loss or an OS crash may lose the
** last transactions committed before it (not corrupt the file): that is out
** of scope, and what synchronous=FULL would buy at an fsync per commit.
**
** Sharing. Several processes (and several stores in one process) may open the
** same file: readers never wait, a writer waits up to BUSY_TIMEOUT_MS for
** another writer, then fails with "database is locked". So that a store never
** holds the write lock between calls, updates are kept in memory (a copy of
** the state, taken at once) until flush writes them all in one transaction.
** (A transaction left open from the first update to the flush would hold the
** lock through backoff waits and cont-check delays, and another runner's
** writes would fail after BUSY_TIMEOUT_MS.)
**
** Schema (version 2; PRAGMA user_version, our PRAGMA application_id):
**   runs(id, grp, name, descr, origin, meta, status, reason, started, ended,
**        created, lease_owner, lease_expires)
**   objects(id, run_id, pos, parent_id, type, path, name, descr, key, plugin,
**           req, status, started, ended, attempts, extra)
**   journal(seq, run_id, data)                                  (version 2)
** One objects row per node of the plan, pos = its index in ws_plan_walk order
** (ws_node_t.pos), holding the object and its state when the run was created.
** State changes are appended to the journal: each flush adds one row per run,
** data = a JSON array of the records of the objects that changed
** (ws_journal.h: [pos, status, started, ended, attempts?]). An object's state
** is its row's, overlaid by its journal records in seq order; readers apply
** them. Appending one row per flush instead of updating a row per object is
** what makes a store cheap next to the run (an UPDATE cost ~17k instructions,
** measured; bench/PROFILE.md). The runs row's status, reason and times are
** updated in place (list reads them), in the same transaction.
** Statuses, types and reasons are stored by name; times are epoch seconds
** (0 = not yet); json columns hold compact JSON text made by jansson:
**   origin, meta  as given to create / the plan's meta
**   req           the action's request, redacted (ws_redacted)
**   attempts      [{started, ended?, timed_out, interrupted?, resp?,
**                   err?{msg, code?, permanent}, log?[...]}]   (actions)
**   extra         checks {kind, delay}; block {concurrency, tolerated_failures,
**                 entrance_delay, exit_delay, stop}; batch {when, fail_plan};
**                 action {timeout, retries, retry?{initial, multiplier, jitter, max}}
** Every statement is prepared once per store and reused; data is always bound.
**
** A store is used by one thread at a time (the run's loop).
*/
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <uv.h>
#include "ws_internal.h"
#include "ws_journal.h"
#include "workstream/store.h"

#define APPLICATION_ID 0x57534B31 /* "WSK1" */
#define SCHEMA_VERSION 2
#define BUSY_TIMEOUT_MS 5000
#define MIN_PREFIX 8
#define MAX_PENDING (64 * 1024 * 1024) /* bytes of records kept before update flushes itself */

/* ------------------------------------------------------------- statements */

enum {
  Q_BEGIN,
  Q_BEGIN_READ,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_INS_RUN,
  Q_INS_OBJ,
  Q_INS_JOURNAL,
  Q_UPD_RUN,
  Q_SEL_RUN,
  Q_SEL_OBJS,
  Q_SEL_JOURNAL,
  Q_FIND,
  Q_LIST,
  Q_LEASE,
  Q_LEASE_INFO,
  Q_RELEASE,
  Q_COUNT
};

static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_INS_RUN] = "INSERT INTO runs (id, grp, name, descr, origin, meta, status, reason, "
                  "started, ended, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_INS_OBJ] = "INSERT INTO objects (id, run_id, pos, parent_id, type, path, name, descr, key, "
                  "plugin, req, status, started, ended, attempts, extra) VALUES (?1, ?2, ?3, ?4, "
                  "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [Q_INS_JOURNAL] = "INSERT INTO journal (run_id, data) VALUES (?1, ?2)",
    [Q_UPD_RUN] = "UPDATE runs SET status = ?2, reason = ?3, started = ?4, ended = ?5 "
                  "WHERE id = ?1",
    [Q_SEL_RUN] = "SELECT id, grp, name, descr, origin, meta, status, reason, started, ended, "
                  "created, lease_owner, lease_expires FROM runs WHERE id = ?1",
    [Q_SEL_OBJS] = "SELECT id, parent_id, type, path, name, descr, key, plugin, req, status, "
                   "started, ended, attempts, extra FROM objects WHERE run_id = ?1 ORDER BY pos",
    [Q_SEL_JOURNAL] = "SELECT data FROM journal WHERE run_id = ?1 ORDER BY seq",
    /* ids are lowercase hex and '-', all below '~': [?1, ?1 || '~') is the prefix */
    [Q_FIND] = "SELECT id FROM runs WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 4",
    [Q_LIST] = "SELECT id, grp, name, status, reason, started, ended FROM runs "
               "ORDER BY created DESC, id DESC LIMIT ?1",
    /* compare-and-set: free, expired, or already ours */
    [Q_LEASE] = "UPDATE runs SET lease_owner = ?2, lease_expires = ?3 WHERE id = ?1 AND "
                "(lease_owner IS NULL OR lease_owner = ?2 OR lease_expires <= ?4)",
    [Q_LEASE_INFO] = "SELECT lease_owner, lease_expires FROM runs WHERE id = ?1",
    [Q_RELEASE] = "UPDATE runs SET lease_owner = NULL, lease_expires = NULL "
                  "WHERE id = ?1 AND lease_owner = ?2",
};

/* The schema, from each version to the next. */
static const char *const migrations[SCHEMA_VERSION] = {
    /* 0 (an empty file) -> 1 */
    "CREATE TABLE runs (\n"
    "  id            TEXT PRIMARY KEY,\n"
    "  grp           TEXT,\n"
    "  name          TEXT,\n"
    "  descr         TEXT,\n"
    "  origin        TEXT,\n"
    "  meta          TEXT,\n"
    "  status        TEXT NOT NULL,\n"
    "  reason        TEXT,\n"
    "  started       REAL NOT NULL DEFAULT 0,\n"
    "  ended         REAL NOT NULL DEFAULT 0,\n"
    "  created       REAL NOT NULL,\n"
    "  lease_owner   TEXT,\n"
    "  lease_expires REAL\n"
    ");\n"
    "CREATE INDEX runs_by_created ON runs (created, id);\n"
    "CREATE INDEX runs_by_group ON runs (grp);\n"
    "CREATE TABLE objects (\n"
    "  id        TEXT PRIMARY KEY,\n"
    "  run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  pos       INTEGER NOT NULL,\n"
    "  parent_id TEXT,\n"
    "  type      TEXT NOT NULL,\n"
    "  path      TEXT NOT NULL,\n"
    "  name      TEXT,\n"
    "  descr     TEXT,\n"
    "  key       TEXT,\n"
    "  plugin    TEXT,\n"
    "  req       TEXT,\n"
    "  status    TEXT NOT NULL,\n"
    "  started   REAL NOT NULL DEFAULT 0,\n"
    "  ended     REAL NOT NULL DEFAULT 0,\n"
    "  attempts  TEXT,\n"
    "  extra     TEXT,\n"
    "  UNIQUE (run_id, pos)\n"
    ");\n",
    /* 1 -> 2: state changes are appended, no longer updated in place */
    "CREATE TABLE journal (\n"
    "  seq    INTEGER PRIMARY KEY,\n"
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  data   TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX journal_by_run ON journal (run_id, seq);\n"
    /* objects are found by (run_id, pos) only: the index on id cost a third
    ** of every INSERT. SQLite changes a key by copying the table. */
    "CREATE TABLE objects_v2 (\n"
    "  id        TEXT NOT NULL,\n"
    "  run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  pos       INTEGER NOT NULL,\n"
    "  parent_id TEXT,\n"
    "  type      TEXT NOT NULL,\n"
    "  path      TEXT NOT NULL,\n"
    "  name      TEXT,\n"
    "  descr     TEXT,\n"
    "  key       TEXT,\n"
    "  plugin    TEXT,\n"
    "  req       TEXT,\n"
    "  status    TEXT NOT NULL,\n"
    "  started   REAL NOT NULL DEFAULT 0,\n"
    "  ended     REAL NOT NULL DEFAULT 0,\n"
    "  attempts  TEXT,\n"
    "  extra     TEXT,\n"
    "  UNIQUE (run_id, pos)\n"
    ");\n"
    "INSERT INTO objects_v2 SELECT id, run_id, pos, parent_id, type, path, name, descr, key, "
    "plugin, req, status, started, ended, attempts, extra FROM objects;\n"
    "DROP TABLE objects;\n"
    "ALTER TABLE objects_v2 RENAME TO objects;\n",
};

/* ------------------------------------------------------------------ store */

/* The updates of one run waiting for flush: the journal records of its
** objects, written at update time (a copy of their state then), and the
** plan's state for the runs row. */
typedef struct pending {
  char run_id[WS_UUID_STRLEN + 1];
  char first[WS_UUID_STRLEN + 1]; /* the first object updated, for messages */
  ws__text_t records;             /* "[rec,rec,...": closed by flush */
  bool plan_changed;
  ws_state_t plan_state;
  ws_reason_t reason;
} pending_t;

typedef struct store {
  ws_store_t base;
  sqlite3 *db;
  char *path;
  sqlite3_stmt *q[Q_COUNT];
  int last_rc; /* of the last SQLite error reported */
  pending_t *pend; /* one per run updated since the last flush; usually one */
  size_t npend, cappend;
  size_t pending_bytes;
} store_t;

/* Forgets the updates; the buffers stay for the next ones. */
static void pending_clear(store_t *s) {
  s->npend = 0;
  s->pending_bytes = 0;
}

static int st_create(ws_store_t *, const ws_plan_t *, const json_t *, char *, size_t);
static int st_update(ws_store_t *, const ws_node_t *, char *, size_t);
static int st_flush(ws_store_t *, char *, size_t);
static int st_load(ws_store_t *, const char *, ws_plan_t *, char *, size_t);
static int st_get(ws_store_t *, const char *, json_t **, char *, size_t);
static int st_list(ws_store_t *, size_t, json_t **, char *, size_t);
static int st_lease(ws_store_t *, const char *, const char *, double, char *, size_t);
static int st_release(ws_store_t *, const char *, const char *, char *, size_t);
static void st_close(ws_store_t *);

static const ws_store_ops_t sqlite_ops = {
    .create = st_create,
    .update = st_update,
    .flush = st_flush,
    .load = st_load,
    .get = st_get,
    .list = st_list,
    .lease = st_lease,
    .release = st_release,
    .close = st_close,
};

/* --------------------------------------------------------------- helpers */

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "2024-05-01T12:00:00.250Z" */
static void iso8601(double t, char *buf, size_t len) {
  if (!(t >= 0) || t > 253402300799.0) {
    snprintf(buf, len, "%g", t);
    return;
  }
  time_t sec = (time_t)t;
  int ms = (int)((t - (double)sec) * 1000.0);
  if (ms > 999) ms = 999;
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* The path of n as a new string, however long. */
static char *path_dup(const ws_node_t *n) {
  size_t len = 256;
  for (;;) {
    char *buf = ws__malloc(len);
    ws_node_path(n, buf, len);
    if (strlen(buf) + 1 < len) return buf;
    free(buf);
    len *= 2;
  }
}

/* Compact JSON text (new string), NULL for NULL; keys sorted when shown in a
** message. Aborts when out of memory, like the engine. */
static char *json_flags_text(const json_t *v, size_t flags) {
  if (!v) return NULL;
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | flags);
  if (!s) { /* out of memory: jansson's values are always encodable */
    fprintf(stderr, "workstream: out of memory (json)\n");
    abort();
  }
  return s;
}

static char *json_text(const json_t *v) { return json_flags_text(v, 0); }
static char *json_shown(const json_t *v) { return json_flags_text(v, JSON_SORT_KEYS); }

static void q_reset(sqlite3_stmt *q) {
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
}

static void bind_text(sqlite3_stmt *q, int i, const char *v) {
  if (v) sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(q, i);
}

static const char *col_text(sqlite3_stmt *q, int i) {
  return (const char *)sqlite3_column_text(q, i);
}

/* Loads a json column; NULL when it is NULL or not json. Strings may hold
** NUL bytes (a command's output, a request from Lua), written as \u0000:
** every json read here allows them. */
static json_t *col_json(sqlite3_stmt *q, int i) {
  const char *t = col_text(q, i);
  return t ? json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
}

static const char *sqlite_hint(int rc) {
  switch (rc & 0xff) {
  case SQLITE_FULL: return "the disk is full";
  case SQLITE_READONLY: return "the database is read-only";
  case SQLITE_CANTOPEN: return "cannot open the database file";
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return "database is locked";
  case SQLITE_NOTADB: return "file is not a database";
  case SQLITE_CORRUPT: return "the database is corrupt";
  case SQLITE_PERM: return "permission denied";
  default: return NULL;
  }
}

/* "PATH: WHAT: DETAIL", DETAIL from the SQLite error rc. */
static int db_error(store_t *s, int rc, const char *what, char *err, size_t errlen) {
  s->last_rc = rc;
  const char *hint = sqlite_hint(rc);
  const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  int sys = s->db ? sqlite3_system_errno(s->db) : 0;
  int prim = rc & 0xff;
  bool io = prim == SQLITE_CANTOPEN || prim == SQLITE_IOERR || prim == SQLITE_FULL ||
            prim == SQLITE_READONLY || prim == SQLITE_PERM;
  char sysbuf[160] = "";
  if (io && sys) snprintf(sysbuf, sizeof sysbuf, " (%s)", strerror(sys));
  snprintf(err, errlen, "%s: %s%s%s%s", s->path, what ? what : "", what ? ": " : "",
           hint ? hint : msg, sysbuf);
  return -1;
}

static int fail(store_t *s, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(store_t *s, char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = ws__vasprintf(fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "%s: %s", s->path, m);
  free(m);
  return -1;
}

/* Steps a statement that returns no row (or whose rows are not read), then
** resets it. 0, or -1 with a message. */
static int q_exec(store_t *s, int which, const char *what, char *err, size_t errlen) {
  sqlite3_stmt *q = s->q[which];
  int rc = sqlite3_step(q);
  int res = 0;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) res = db_error(s, rc, what, err, errlen);
  q_reset(q);
  return res;
}

static bool in_txn(const store_t *s) { return !sqlite3_get_autocommit(s->db); }

static void rollback(store_t *s) {
  if (!in_txn(s)) return;
  sqlite3_step(s->q[Q_ROLLBACK]);
  q_reset(s->q[Q_ROLLBACK]);
}

/* A consistent read of several statements: a read transaction. */
static int read_begin(store_t *s, char *err, size_t errlen) {
  return q_exec(s, Q_BEGIN_READ, "cannot read", err, errlen);
}
static void read_end(store_t *s) {
  if (!in_txn(s)) return;
  if (sqlite3_step(s->q[Q_COMMIT]) != SQLITE_DONE) rollback(s);
  q_reset(s->q[Q_COMMIT]);
}

static const char *const when_names[] = {"?", "on_success", "on_failure", "always"};

static int status_of(const char *name, ws_status_t *out) {
  for (int st = WS_NOT_STARTED; st <= WS_STOPPED; st++)
    if (name && strcmp(name, ws_status_name((ws_status_t)st)) == 0) {
      *out = (ws_status_t)st;
      return 0;
    }
  return -1;
}

static int reason_of(const char *name, ws_reason_t *out) {
  *out = WS_REASON_NONE;
  if (!name) return 0;
  for (int r = WS_REASON_PRE_CHECK; r <= WS_REASON_EXCEED_RECOVERY; r++)
    if (strcmp(name, ws_reason_name((ws_reason_t)r)) == 0) {
      *out = (ws_reason_t)r;
      return 0;
    }
  return -1;
}

/* The full id of run `id`, which may be an unambiguous prefix (>= MIN_PREFIX
** characters). 0, or -1 with "no run ID" / "ID is ambiguous (...)". */
static int resolve(store_t *s, const char *id, char out[WS_UUID_STRLEN + 1], char *err,
                   size_t errlen) {
  size_t len = id ? strlen(id) : 0;
  if (len < MIN_PREFIX || len > WS_UUID_STRLEN)
    return fail(s, err, errlen, "no run %s (a run ID, or at least its first %d characters)",
                id ? id : "(null)", MIN_PREFIX);
  char low[WS_UUID_STRLEN + 1];
  for (size_t i = 0; i <= len; i++) {
    char c = id[i];
    if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
    if (c && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
      return fail(s, err, errlen, "no run %s", id);
    low[i] = c;
  }
  sqlite3_stmt *q = s->q[Q_FIND];
  bind_text(q, 1, low);
  char found[4][WS_UUID_STRLEN + 1];
  int n = 0, rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *f = col_text(q, 0);
    if (n < 4 && f) snprintf(found[n++], sizeof found[0], "%s", f);
  }
  if (rc != SQLITE_DONE) {
    db_error(s, rc, "cannot look up runs", err, errlen);
    q_reset(q);
    return -1;
  }
  q_reset(q);
  if (n == 0) return fail(s, err, errlen, "no run %s", id);
  if (n > 1)
    return fail(s, err, errlen, "%s is ambiguous (%s, %s%s%s%s)", id, found[0], found[1],
                n > 2 ? ", " : "", n > 2 ? found[2] : "", n > 3 ? ", ..." : "");
  memcpy(out, found[0], sizeof found[0]);
  return 0;
}

/* ------------------------------------------------------------------- open */

/* Creates the missing directories above path, mode 0700. */
static int make_parents(const char *path, char *err, size_t errlen) {
  char *dir = ws__strdup(path);
  char *slash = strrchr(dir, '/');
  struct stat st;
  int res = 0;
  if (!slash || slash == dir) goto done; /* in the current directory, or in / */
  *slash = '\0';
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) goto done;
  for (char *p = dir + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(dir, 0700) != 0) {
      int e = errno;
      if (e != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the directory %s: %s", path, dir, strerror(e));
        res = -1;
        goto done;
      }
      if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a directory", path, dir);
        res = -1;
        goto done;
      }
    }
    *p = c;
    if (!c) break;
  }
done:
  free(dir);
  return res;
}

/* One integer from a pragma or a count. */
static int query_int(store_t *s, const char *sql, int *out) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(q, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      *out = 0;
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(q);
  return rc;
}

/* What the file is: 0 ours (or empty), -1 with a message. *version is its schema. */
static int check_file(store_t *s, int *version, char *err, size_t errlen) {
  int app = 0, ver = 0, nschema = 0, rc;
  if ((rc = query_int(s, "PRAGMA application_id", &app)) ||
      (rc = query_int(s, "PRAGMA user_version", &ver)) ||
      (rc = query_int(s, "SELECT count(*) FROM sqlite_master", &nschema)))
    return db_error(s, rc, NULL, err, errlen);
  if ((unsigned)app == APPLICATION_ID) {
    if (ver > SCHEMA_VERSION)
      return fail(s, err, errlen,
                  "was written by a newer version of Workstream (schema %d, this one knows %d)",
                  ver, SCHEMA_VERSION);
  } else if (app != 0 || ver != 0 || nschema != 0) {
    return fail(s, err, errlen,
                "is not a Workstream database (an SQLite file of another application)");
  }
  *version = ver;
  return 0;
}

/* Brings the schema to SCHEMA_VERSION, in one transaction (another process
** may be doing the same: the version is read again under the write lock). */
static int migrate(store_t *s, char *err, size_t errlen) {
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc) return db_error(s, rc, "cannot prepare the database", err, errlen);
  int ver = 0;
  if (check_file(s, &ver, err, errlen)) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  for (; ver < SCHEMA_VERSION; ver++) {
    char set[96];
    snprintf(set, sizeof set, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             (int)APPLICATION_ID, ver + 1);
    if ((rc = sqlite3_exec(s->db, migrations[ver], NULL, NULL, NULL)) ||
        (rc = sqlite3_exec(s->db, set, NULL, NULL, NULL))) {
      char what[64];
      snprintf(what, sizeof what, "cannot migrate the schema from version %d", ver);
      db_error(s, rc, what, err, errlen);
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  if (rc) {
    db_error(s, rc, "cannot prepare the database", err, errlen);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

static void store_free(store_t *s) {
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->q[i]);
  if (s->db) sqlite3_close(s->db);
  for (size_t i = 0; i < s->cappend; i++) ws__text_free(&s->pend[i].records);
  free(s->pend);
  free(s->path);
  free(s);
}

ws_store_t *ws_store_sqlite_open(const char *path, char *err, size_t errlen) {
  if (!path || !*path) {
    snprintf(err, errlen, "no database path");
    return NULL;
  }
  if (make_parents(path, err, errlen)) return NULL;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: is a directory, not a database", path);
    return NULL;
  }

  store_t *s = ws__calloc(1, sizeof *s);
  s->base.ops = &sqlite_ops;
  s->path = ws__strdup(path);
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    db_error(s, rc, NULL, err, errlen);
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  /* SQLite opens a file it may not write read-only, silently */
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    snprintf(err, errlen, "%s: the file is read-only (no write permission)", path);
    goto fail;
  }
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  /* No checkpoint when the last connection closes: it cost wsrun ~3 ms of
  ** fdatasync per run (a third of its start-up). The WAL stays next to the
  ** file (it is part of the database) and SQLite checkpoints it every 1000
  ** pages written, as it does while runs go on. */
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

  /* Look before changing anything: another application's file stays as it
  ** was. The three reads form one snapshot: another runner may be creating
  ** the schema at this moment. */
  int version = 0;
  rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
  if (rc) {
    db_error(s, rc, NULL, err, errlen);
    goto fail;
  }
  rc = check_file(s, &version, err, errlen);
  sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  if (rc) goto fail;

  /* journal_mode is stored in the file; the others are per connection. */
  sqlite3_stmt *q = NULL;
  rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
  /* Switching to WAL needs the file to itself, and SQLite does not wait for
  ** it (no busy handler: it could deadlock): a runner that opens a new file
  ** while another does retries for up to the busy timeout. */
  for (int tries = 0; rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED; tries++) {
    rc = sqlite3_step(q);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries * 10 >= BUSY_TIMEOUT_MS) break;
    sqlite3_reset(q);
    uv_sleep(10);
  }
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(q);
    db_error(s, rc, "cannot switch to WAL mode", err, errlen);
    goto fail;
  }
  const char *mode = col_text(q, 0);
  if (!mode || strcmp(mode, "wal") != 0) {
    snprintf(err, errlen, "%s: cannot switch to WAL mode (the journal mode stays %s)", path,
             mode ? mode : "?");
    sqlite3_finalize(q);
    goto fail;
  }
  sqlite3_finalize(q);
  rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", NULL, NULL,
                    NULL);
  if (rc) {
    db_error(s, rc, NULL, err, errlen);
    goto fail;
  }
  if (version < SCHEMA_VERSION && migrate(s, err, errlen)) goto fail;

  for (int i = 0; i < Q_COUNT; i++) {
    rc = sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL);
    if (rc) {
      db_error(s, rc, "cannot prepare a statement", err, errlen);
      goto fail;
    }
  }
  return &s->base;

fail:
  store_free(s);
  return NULL;
}

char *ws_store_default_path(char *buf, size_t len) {
  const char *state = getenv("XDG_STATE_HOME");
  int n;
  if (state && state[0] == '/') {
    n = snprintf(buf, len, "%s/workstream/runs.db", state);
  } else {
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
      struct passwd *pw = getpwuid(getuid());
      home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
    }
    n = home ? snprintf(buf, len, "%s/.local/state/workstream/runs.db", home)
             : snprintf(buf, len, "workstream-runs.db");
  }
  if (len && (n < 0 || (size_t)n >= len)) buf[0] = '\0'; /* never a truncated path */
  return buf;
}

/* ----------------------------------------------------------------- create */

#define PUT_LIT(t, lit) ws__text_put((t), (lit), sizeof(lit) - 1)

/* The `extra` column of n, as JSON text (new string), or NULL. Written by
** hand like the journal: it is made for every object of every run. */
static char *extra_text(const ws_node_t *n) {
  ws__text_t t = {0};
  switch (n->type) {
  case WS_OBJ_CHECKS: {
    const ws_checks_t *c = (const ws_checks_t *)n;
    PUT_LIT(&t, "{\"kind\":");
    ws__text_string(&t, ws_checks_kind_name(c->kind));
    PUT_LIT(&t, ",\"delay\":");
    ws__text_real(&t, c->delay);
    break;
  }
  case WS_OBJ_BLOCK: {
    const ws_block_t *b = (const ws_block_t *)n;
    PUT_LIT(&t, "{\"concurrency\":");
    ws__text_int(&t, b->concurrency);
    PUT_LIT(&t, ",\"tolerated_failures\":");
    if (b->tolerated.percent) ws__text_putc(&t, '"');
    ws__text_int(&t, b->tolerated.count);
    if (b->tolerated.percent) PUT_LIT(&t, "%\"");
    PUT_LIT(&t, ",\"entrance_delay\":");
    ws__text_real(&t, b->entrance_delay);
    PUT_LIT(&t, ",\"exit_delay\":");
    ws__text_real(&t, b->exit_delay);
    PUT_LIT(&t, ",\"stop\":");
    ws__text_string(&t, b->stop == WS_STOP_ACTION ? "action" : "sequence");
    break;
  }
  case WS_OBJ_BATCH: {
    const ws_batch_t *b = (const ws_batch_t *)n;
    unsigned w = (unsigned)b->when < 4 ? (unsigned)b->when : 0;
    PUT_LIT(&t, "{\"when\":");
    ws__text_string(&t, when_names[w]);
    if (b->fail_plan) PUT_LIT(&t, ",\"fail_plan\":true");
    else PUT_LIT(&t, ",\"fail_plan\":false");
    break;
  }
  case WS_OBJ_ACTION: {
    const ws_action_t *a = (const ws_action_t *)n;
    PUT_LIT(&t, "{\"timeout\":");
    ws__text_real(&t, a->timeout);
    PUT_LIT(&t, ",\"retries\":");
    ws__text_int(&t, a->retries);
    if (a->has_retry) {
      PUT_LIT(&t, ",\"retry\":{\"initial\":");
      ws__text_real(&t, a->retry.initial);
      PUT_LIT(&t, ",\"multiplier\":");
      ws__text_real(&t, a->retry.multiplier);
      PUT_LIT(&t, ",\"jitter\":");
      ws__text_real(&t, a->retry.jitter);
      PUT_LIT(&t, ",\"max\":");
      ws__text_real(&t, a->retry.max);
      ws__text_putc(&t, '}');
    }
    break;
  }
  default: return NULL;
  }
  ws__text_putc(&t, '}');
  return t.p;
}

/* An action's attempts as json text (new string). */
static char *attempts_text(const ws_action_t *a) {
  ws__text_t t = {0};
  ws__journal_attempts(&t, a);
  return t.p;
}

typedef struct create_ctx {
  store_t *s;
  const char *run_id;
  sqlite3_int64 pos;
  char *err;
  size_t errlen;
} create_ctx_t;

static int insert_object(ws_node_t *n, void *ud) {
  create_ctx_t *c = ud;
  store_t *s = c->s;
  sqlite3_stmt *q = s->q[Q_INS_OBJ];
  char *path = path_dup(n);
  char *req = NULL, *attempts = NULL, *extra = NULL;
  int res = 0;

  if (n->pos != c->pos) { /* the journal names objects by pos */
    res = fail(s, c->err, c->errlen,
               "cannot record run %s: %s: the plan is not resolved (object %u is numbered %u): "
               "resolve it before recording it",
               c->run_id, path, (unsigned)c->pos, (unsigned)n->pos);
    goto done;
  }
  if (n->type == WS_OBJ_ACTION) {
    const ws_action_t *a = (const ws_action_t *)n;
    if (!a->plugin) {
      res = fail(s, c->err, c->errlen,
                 "cannot record run %s: %s: the plan is not resolved (plugin \"%s\"): resolve "
                 "it before recording it",
                 c->run_id, path, a->plugin_name ? a->plugin_name : "?");
      goto done;
    }
    json_t *shown = ws_redacted(a->plugin->request, a->req);
    ws__text_t t = {0};
    ws__text_json(&t, shown);
    req = t.p;
    json_decref(shown);
    attempts = attempts_text(a);
  }
  extra = extra_text(n);
  sqlite3_bind_text(q, 1, n->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, c->run_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 3, c->pos);
  bind_text(q, 4, n->parent ? n->parent->id : NULL);
  bind_text(q, 5, ws_objtype_name(n->type));
  bind_text(q, 6, path);
  bind_text(q, 7, n->name);
  bind_text(q, 8, n->descr);
  bind_text(q, 9, n->key);
  bind_text(q, 10, n->type == WS_OBJ_ACTION ? ((const ws_action_t *)n)->plugin_name : NULL);
  bind_text(q, 11, req);
  bind_text(q, 12, ws_status_name(n->state.status));
  sqlite3_bind_double(q, 13, n->state.started);
  sqlite3_bind_double(q, 14, n->state.ended);
  bind_text(q, 15, attempts);
  bind_text(q, 16, extra);
  int rc = sqlite3_step(q);
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
      res = fail(s, c->err, c->errlen, "cannot record run %s: %s: object %s is already stored",
                 c->run_id, path, n->id);
    } else {
      char what[128];
      snprintf(what, sizeof what, "cannot record run %s", c->run_id);
      res = db_error(s, rc, what, c->err, c->errlen);
    }
  }
  q_reset(q);
  c->pos++;
done:
  free(extra);
  free(attempts);
  free(req);
  free(path);
  return res;
}

static int st_create(ws_store_t *base, const ws_plan_t *p, const json_t *origin, char *err,
                     size_t errlen) {
  store_t *s = (store_t *)base;
  const char *id = p->node.id;
  char what[96];
  snprintf(what, sizeof what, "cannot record run %s", id);
  /* what was updated before stays before */
  if (st_flush(base, err, errlen)) return -1;
  if (q_exec(s, Q_BEGIN, what, err, errlen)) return -1;

  char *origin_text = json_text(origin), *meta_text = json_text(p->meta);
  sqlite3_stmt *q = s->q[Q_INS_RUN];
  bind_text(q, 1, id);
  bind_text(q, 2, p->group);
  bind_text(q, 3, p->node.name);
  bind_text(q, 4, p->node.descr);
  bind_text(q, 5, origin_text);
  bind_text(q, 6, meta_text);
  bind_text(q, 7, ws_status_name(p->node.state.status));
  bind_text(q, 8, ws_reason_name(p->reason));
  sqlite3_bind_double(q, 9, p->node.state.started);
  sqlite3_bind_double(q, 10, p->node.state.ended);
  sqlite3_bind_double(q, 11, wall_now());
  int rc = sqlite3_step(q), res = 0;
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
    res = fail(s, err, errlen, "run %s is already stored", id);
  else if (rc != SQLITE_DONE)
    res = db_error(s, rc, what, err, errlen);
  q_reset(q);
  free(origin_text);
  free(meta_text);

  if (!res) {
    create_ctx_t c = {s, id, 0, err, errlen};
    res = ws_plan_walk((ws_plan_t *)p, insert_object, &c) ? -1 : 0;
  }
  if (!res) res = q_exec(s, Q_COMMIT, what, err, errlen);
  if (res) rollback(s);
  return res;
}

/* ----------------------------------------------------------- update/flush */

static pending_t *pending_for(store_t *s, const char *run_id) {
  for (size_t i = 0; i < s->npend; i++)
    if (memcmp(s->pend[i].run_id, run_id, WS_UUID_STRLEN) == 0) return &s->pend[i];
  if (s->npend == s->cappend) {
    size_t cap = s->cappend ? 2 * s->cappend : 4;
    s->pend = ws__realloc(s->pend, cap * sizeof *s->pend);
    memset(s->pend + s->cappend, 0, (cap - s->cappend) * sizeof *s->pend);
    s->cappend = cap;
  }
  pending_t *u = &s->pend[s->npend++];
  ws__text_t records = u->records; /* reused */
  memset(u, 0, sizeof *u);
  u->records = records;
  u->records.len = 0;
  memcpy(u->run_id, run_id, sizeof u->run_id);
  return u;
}

static int st_update(ws_store_t *base, const ws_node_t *n, char *err, size_t errlen) {
  store_t *s = (store_t *)base;
  /* bounded memory for a host that flushes rarely: committing early is harmless */
  if (s->pending_bytes >= MAX_PENDING && st_flush(base, err, errlen)) return -1;
  const ws_node_t *root = n;
  while (root->parent) root = root->parent;
  pending_t *u = pending_for(s, root->id);
  size_t before = u->records.len;
  if (before == 0) {
    memcpy(u->first, n->id, sizeof u->first);
    ws__text_putc(&u->records, '[');
  } else {
    ws__text_putc(&u->records, ',');
  }
  ws__journal_record(&u->records, n);
  s->pending_bytes += u->records.len - before;
  if (n->type == WS_OBJ_PLAN) {
    u->plan_changed = true;
    u->plan_state = n->state;
    u->reason = ((const ws_plan_t *)n)->reason;
  }
  return 0;
}

static int write_pending(store_t *s, pending_t *u, char *err, size_t errlen) {
  char what[96];
  snprintf(what, sizeof what, "cannot record the updates of run %s", u->run_id);
  ws__text_putc(&u->records, ']');
  sqlite3_stmt *q = s->q[Q_INS_JOURNAL];
  sqlite3_bind_text(q, 1, u->run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, u->records.p, (int)u->records.len, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  q_reset(q);
  u->records.len--; /* the ']' again: kept updates can be added to */
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return fail(s, err, errlen, "cannot record object %s: it is not stored (create its run first)",
                u->first);
  if (rc != SQLITE_DONE) return db_error(s, rc, what, err, errlen);
  if (!u->plan_changed) return 0;
  q = s->q[Q_UPD_RUN];
  sqlite3_bind_text(q, 1, u->run_id, -1, SQLITE_STATIC);
  bind_text(q, 2, ws_status_name(u->plan_state.status));
  bind_text(q, 3, ws_reason_name(u->reason));
  sqlite3_bind_double(q, 4, u->plan_state.started);
  sqlite3_bind_double(q, 5, u->plan_state.ended);
  rc = sqlite3_step(q);
  q_reset(q);
  return rc == SQLITE_DONE ? 0 : db_error(s, rc, what, err, errlen);
}

static int st_flush(ws_store_t *base, char *err, size_t errlen) {
  store_t *s = (store_t *)base;
  if (!s->npend) return 0;
  s->last_rc = SQLITE_OK;
  int res = q_exec(s, Q_BEGIN, "cannot record the updates", err, errlen);
  for (size_t i = 0; !res && i < s->npend; i++) res = write_pending(s, &s->pend[i], err, errlen);
  if (!res) res = q_exec(s, Q_COMMIT, "cannot commit the updates", err, errlen);
  if (res) {
    rollback(s); /* all or nothing */
    /* Kept for another flush only when another writer held the database;
    ** any other failure would come back every time and block every call. */
    if ((s->last_rc & 0xff) != SQLITE_BUSY) pending_clear(s);
    return -1;
  }
  pending_clear(s);
  return 0;
}

/* ------------------------------------------------------------------- load */

/* Rebuilds attempts from their json text; -1 when it is not what
** attempts_text writes. */
static int attempts_parse(const char *text, ws_attempt_t **out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  if (!text) return 0;
  json_t *arr = json_loads(text, JSON_ALLOW_NUL, NULL);
  int res = arr ? ws__journal_attempts_parse(arr, out, nout) : -1;
  json_decref(arr);
  return res;
}

/* One journal record, checked: what read_journal hands on. */
typedef struct record {
  size_t pos;
  ws_status_t status;
  double started, ended;
  const json_t *attempts; /* an action's (borrowed); NULL for other objects */
} record_t;

/* Calls fn(ud, &rec) for each journal record of run id, in the order they
** were written. A record whose shape is wrong, or whose pos is not below
** nobjs, makes the run corrupt: -1 with a message; fn's -1 stops the reading
** (fn has written err). */
static int read_journal(store_t *s, const char *id, size_t nobjs,
                        int (*fn)(void *ud, const record_t *r, char *err, size_t errlen),
                        void *ud, char *err, size_t errlen) {
  sqlite3_stmt *q = s->q[Q_SEL_JOURNAL];
  bind_text(q, 1, id);
  int rc, res = 0;
  while (!res && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    json_t *recs = json_loadb((const char *)sqlite3_column_blob(q, 0),
                              (size_t)sqlite3_column_bytes(q, 0), JSON_ALLOW_NUL, NULL);
    if (!json_is_array(recs)) res = -1;
    for (size_t i = 0; !res && i < json_array_size(recs); i++) {
      const json_t *r = json_array_get(recs, i);
      size_t n = json_array_size(r);
      json_int_t pos = json_integer_value(json_array_get(r, 0));
      record_t rec = {(size_t)pos, WS_NOT_STARTED, json_number_value(json_array_get(r, 2)),
                      json_number_value(json_array_get(r, 3)),
                      n == 5 ? json_array_get(r, 4) : NULL};
      if (!json_is_array(r) || (n != 4 && n != 5) || !json_is_integer(json_array_get(r, 0)) ||
          pos < 0 || (size_t)pos >= nobjs || !json_is_number(json_array_get(r, 2)) ||
          !json_is_number(json_array_get(r, 3)) ||
          status_of(json_string_value(json_array_get(r, 1)), &rec.status) ||
          (rec.attempts && !json_is_array(rec.attempts)))
        res = -1;
      else if (fn(ud, &rec, err, errlen))
        res = -2;
    }
    json_decref(recs);
  }
  if (!res && rc != SQLITE_DONE) {
    db_error(s, rc, "cannot read the run", err, errlen);
    res = -2;
  }
  q_reset(q);
  if (res == -1) return fail(s, err, errlen, "run %s: its journal is corrupt", id);
  return res ? -1 : 0;
}

typedef struct staged {
  char id[WS_UUID_STRLEN + 1];
  ws_state_t state;
  ws_attempt_t *attempts;
  size_t nattempts;
} staged_t;

/* st_load's journal overlay. */
typedef struct load_overlay {
  store_t *s;
  const char *id;
  ws_node_t **nodes;
  staged_t *st;
} load_overlay_t;

static int load_record(void *ud, const record_t *r, char *err, size_t errlen) {
  load_overlay_t *o = ud;
  staged_t *g = &o->st[r->pos];
  bool action = o->nodes[r->pos]->type == WS_OBJ_ACTION;
  g->state.status = r->status;
  g->state.started = r->started;
  g->state.ended = r->ended;
  if (!action && !r->attempts) return 0;
  ws_attempt_t *atts;
  size_t n;
  if (!action || !r->attempts || ws__journal_attempts_parse(r->attempts, &atts, &n)) {
    char *path = path_dup(o->nodes[r->pos]);
    fail(o->s, err, errlen, "run %s: %s: its journal record is corrupt", o->id, path);
    free(path);
    return -1;
  }
  ws_action_t old = {.attempts = g->attempts, .nattempts = g->nattempts};
  ws__attempts_clear(&old);
  g->attempts = atts;
  g->nattempts = n;
  return 0;
}

typedef struct node_list {
  ws_node_t **v;
  size_t n;
} node_list_t;

static int collect_node(ws_node_t *n, void *ud) {
  node_list_t *l = ud;
  ws__push((void ***)&l->v, &l->n, n);
  return 0;
}

static const char *or_none(const char *s) { return s ? s : "(none)"; }

/* Compares stored row q with node n; fills *diff with what differs (new
** string) or leaves it NULL. -1 when n cannot be compared (unresolved). */
static int compare_row(sqlite3_stmt *q, ws_node_t *n, const char *npath, char **diff) {
  const char *type = col_text(q, 2), *spath = col_text(q, 3), *name = col_text(q, 4);
  const char *key = col_text(q, 6), *plugin = col_text(q, 7);
  const char *ntype = ws_objtype_name(n->type);
  *diff = NULL;
  if (!type || strcmp(type, ntype) != 0 || !spath || strcmp(spath, npath) != 0) {
    bool renamed = (name || n->name) && (!name || !n->name || strcmp(name, n->name) != 0);
    if (type && strcmp(type, ntype) == 0 && renamed) {
      *diff = ws__asprintf("the name differs (was \"%s\", now \"%s\")", or_none(name),
                           or_none(n->name));
      return 0;
    }
    *diff = ws__asprintf("the plan has a %s here, where the stored run has %s (a %s)", ntype,
                         spath ? spath : "?", type ? type : "?");
    return 0;
  }
  if ((key == NULL) != (n->key == NULL) || (key && strcmp(key, n->key) != 0)) {
    *diff = ws__asprintf("the key differs (was %s%s%s, now %s%s%s)", key ? "\"" : "",
                         or_none(key), key ? "\"" : "", n->key ? "\"" : "", or_none(n->key),
                         n->key ? "\"" : "");
    return 0;
  }
  if (n->type != WS_OBJ_ACTION) return 0;
  const ws_action_t *a = (const ws_action_t *)n;
  if (!plugin || !a->plugin_name || strcmp(plugin, a->plugin_name) != 0) {
    *diff = ws__asprintf("the plugin differs (was \"%s\", now \"%s\")", or_none(plugin),
                         or_none(a->plugin_name));
    return 0;
  }
  if (!a->plugin) return -1;
  json_t *was = col_json(q, 8);
  json_t *now = ws_redacted(a->plugin->request, a->req);
  if (!json_equal(was, now)) {
    char *tw = was ? json_shown(was) : ws__strdup(or_none(col_text(q, 8)));
    char *tn = now ? json_shown(now) : ws__strdup("(none)");
    *diff = ws__asprintf("the request differs (was %s, now %s)", or_none(tw), or_none(tn));
    free(tw);
    free(tn);
  }
  json_decref(was);
  json_decref(now);
  return 0;
}

static void staged_free(staged_t *st, size_t n) {
  for (size_t i = 0; i < n; i++) {
    ws_action_t tmp = {.attempts = st[i].attempts, .nattempts = st[i].nattempts};
    ws__attempts_clear(&tmp);
  }
  free(st);
}

static int st_load(ws_store_t *base, const char *id_or_prefix, ws_plan_t *p, char *err,
                   size_t errlen) {
  store_t *s = (store_t *)base;
  char id[WS_UUID_STRLEN + 1];
  if (st_flush(base, err, errlen)) return -1;
  if (read_begin(s, err, errlen)) return -1;
  int res = resolve(s, id_or_prefix, id, err, errlen);
  node_list_t nodes = {NULL, 0};
  staged_t *st = NULL;
  size_t nrows = 0;
  char *group = NULL;
  ws_reason_t reason = WS_REASON_NONE;
  if (res) goto done;

  /* the run */
  sqlite3_stmt *q = s->q[Q_SEL_RUN];
  bind_text(q, 1, id);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    group = ws__strdup(col_text(q, 1));
    if (reason_of(col_text(q, 7), &reason))
      res = fail(s, err, errlen, "run %s: unknown reason \"%s\"", id, col_text(q, 7));
  } else if (rc == SQLITE_DONE) {
    res = fail(s, err, errlen, "no run %s", id);
  } else {
    res = db_error(s, rc, "cannot read the run", err, errlen);
  }
  q_reset(q);
  if (res) goto done;

  /* its objects, against the plan's, one for one */
  ws_plan_walk(p, collect_node, &nodes);
  st = ws__calloc(nodes.n ? nodes.n : 1, sizeof *st);
  q = s->q[Q_SEL_OBJS];
  bind_text(q, 1, id);
  while (!res && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (nrows == nodes.n) {
      res = fail(s, err, errlen,
                 "run %s does not match the plan: %s: the stored run has this %s, the plan "
                 "does not",
                 id, or_none(col_text(q, 3)), or_none(col_text(q, 2)));
      break;
    }
    ws_node_t *n = nodes.v[nrows];
    char *npath = path_dup(n), *diff = NULL;
    if (compare_row(q, n, npath, &diff)) {
      res = fail(s, err, errlen, "cannot load run %s: %s: the plan is not resolved", id, npath);
    } else if (diff) {
      res = fail(s, err, errlen, "run %s does not match the plan: %s: %s", id, npath, diff);
    } else {
      staged_t *g = &st[nrows];
      const char *sid = col_text(q, 0);
      snprintf(g->id, sizeof g->id, "%s", sid ? sid : "");
      g->state.started = sqlite3_column_double(q, 10);
      g->state.ended = sqlite3_column_double(q, 11);
      if (strlen(g->id) != WS_UUID_STRLEN || status_of(col_text(q, 9), &g->state.status) ||
          (n->type == WS_OBJ_ACTION &&
           attempts_parse(col_text(q, 12), &g->attempts, &g->nattempts)))
        res = fail(s, err, errlen, "run %s: %s: the stored object is corrupt", id, npath);
    }
    free(diff);
    free(npath);
    nrows++;
  }
  if (!res && rc != SQLITE_DONE) res = db_error(s, rc, "cannot read the run", err, errlen);
  q_reset(q);
  if (!res && nrows < nodes.n) {
    char *npath = path_dup(nodes.v[nrows]);
    res = fail(s, err, errlen,
               "run %s does not match the plan: %s: the plan has this %s, the stored run does "
               "not",
               id, npath, ws_objtype_name(nodes.v[nrows]->type));
    free(npath);
  }
  if (!res) {
    load_overlay_t o = {s, id, nodes.v, st};
    res = read_journal(s, id, nodes.n, load_record, &o, err, errlen);
  }
  if (res) goto done;

  /* it matches: take the stored states */
  for (size_t i = 0; i < nodes.n; i++) {
    ws_node_t *n = nodes.v[i];
    memcpy(n->id, st[i].id, sizeof n->id);
    n->state = st[i].state;
    if (n->type != WS_OBJ_ACTION) continue;
    ws_action_t *a = (ws_action_t *)n;
    ws__attempts_clear(a);
    a->attempts = st[i].attempts;
    a->nattempts = st[i].nattempts;
    st[i].attempts = NULL;
    st[i].nattempts = 0;
    ws_action_settle(a, n->state.status);
  }
  p->reason = reason;
  free(p->group);
  p->group = group;
  group = NULL;

done:
  read_end(s);
  if (st) staged_free(st, nodes.n);
  free(nodes.v);
  free(group);
  return res;
}

/* -------------------------------------------------------------------- get */

static void set_str(json_t *o, const char *k, const char *v) {
  if (v) json_object_set_new(o, k, json_string(v));
}

static void set_time(json_t *o, const char *k, double v) {
  if (v > 0) json_object_set_new(o, k, json_real(v));
  else json_object_del(o, k);
}

/* Sets the state fields of result-shaped object o (of type `type`): status,
** times, and for an action its attempts (stolen; NULL: none) and the resp or
** err its status takes from the last attempt. */
static void set_state(json_t *o, const char *type, const char *status, double started,
                      double ended, json_t *atts) {
  set_str(o, "status", status);
  set_time(o, "started", started);
  set_time(o, "ended", ended);
  if (!type || strcmp(type, "action") != 0) {
    json_decref(atts);
    return;
  }
  if (!json_is_array(atts)) {
    json_decref(atts);
    atts = json_array();
  }
  json_object_set_new(o, "attempts", atts);
  json_object_del(o, "resp");
  json_object_del(o, "err");
  json_t *last = json_array_get(atts, json_array_size(atts) - 1);
  if (last && status && strcmp(status, "completed") == 0 && json_object_get(last, "resp"))
    json_object_set(o, "resp", json_object_get(last, "resp"));
  if (last && status && (strcmp(status, "failed") == 0 || strcmp(status, "stopped") == 0) &&
      json_object_get(last, "err"))
    json_object_set(o, "err", json_object_get(last, "err"));
}

/* The result-shaped object of one objects row. */
static json_t *row_json(sqlite3_stmt *q) {
  const char *type = col_text(q, 2);
  json_t *o = json_object();
  set_str(o, "type", type);
  set_str(o, "id", col_text(q, 0));
  set_str(o, "name", col_text(q, 4));
  set_str(o, "descr", col_text(q, 5));
  set_str(o, "key", col_text(q, 6));
  json_t *extra = col_json(q, 13);
  if (json_is_object(extra)) json_object_update(o, extra);
  json_decref(extra);
  if (!type) return o;
  if (strcmp(type, "plan") == 0) {
    json_object_set_new(o, "blocks", json_array());
  } else if (strcmp(type, "block") == 0) {
    json_object_set_new(o, "sequences", json_array());
  } else if (strcmp(type, "action") == 0) {
    set_str(o, "plugin", col_text(q, 7));
    json_t *req = col_json(q, 8);
    json_object_set_new(o, "req", req ? req : json_object());
  } else {
    json_object_set_new(o, "actions", json_array()); /* checks, sequence, batch */
  }
  set_state(o, type, col_text(q, 9), sqlite3_column_double(q, 10), sqlite3_column_double(q, 11),
            col_json(q, 12));
  return o;
}

/* Hangs child o (of type `type`) under parent. */
static void attach(json_t *parent, const char *type, json_t *o) {
  if (strcmp(type, "checks") == 0) {
    char slot[64];
    const char *kind = json_string_value(json_object_get(o, "kind"));
    snprintf(slot, sizeof slot, "%s_checks", kind ? kind : "?");
    json_object_set(parent, slot, o);
    return;
  }
  const char *field = strcmp(type, "block") == 0      ? "blocks"
                    : strcmp(type, "sequence") == 0   ? "sequences"
                    : strcmp(type, "batch") == 0      ? "deferred_actions"
                                                      : "actions";
  json_t *arr = json_object_get(parent, field);
  if (!json_is_array(arr)) {
    arr = json_array();
    json_object_set_new(parent, field, arr);
  }
  json_array_append(arr, o);
}

/* st_get's journal overlay: the result-shaped objects by pos. */
typedef struct get_overlay {
  json_t **objs;
} get_overlay_t;

static int get_record(void *ud, const record_t *r, char *err, size_t errlen) {
  WS__UNUSED(err), WS__UNUSED(errlen);
  json_t *o = ((get_overlay_t *)ud)->objs[r->pos];
  set_state(o, json_string_value(json_object_get(o, "type")), ws_status_name(r->status),
            r->started, r->ended, r->attempts ? json_incref((json_t *)r->attempts) : NULL);
  return 0;
}

static int st_get(ws_store_t *base, const char *id_or_prefix, json_t **out, char *err,
                  size_t errlen) {
  store_t *s = (store_t *)base;
  char id[WS_UUID_STRLEN + 1];
  *out = NULL;
  if (st_flush(base, err, errlen)) return -1;
  if (read_begin(s, err, errlen)) return -1;
  int res = resolve(s, id_or_prefix, id, err, errlen);
  json_t *run = NULL, *byid = json_object(), *plan = NULL;
  json_t **bypos = NULL; /* borrowed from the tree */
  size_t nobjs = 0;
  if (res) goto done;

  sqlite3_stmt *q = s->q[Q_SEL_RUN];
  bind_text(q, 1, id);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    run = json_object();
    set_str(run, "group", col_text(q, 1));
    json_t *origin = col_json(q, 4), *meta = col_json(q, 5);
    if (origin) json_object_set_new(run, "origin", origin);
    if (meta) json_object_set_new(run, "meta", meta);
    set_str(run, "reason", col_text(q, 7));
    json_object_set_new(run, "created", json_real(sqlite3_column_double(q, 10)));
    const char *owner = col_text(q, 11);
    double expires = sqlite3_column_double(q, 12);
    if (owner && expires > wall_now())
      json_object_set_new(run, "lease", json_pack("{s:s, s:f}", "owner", owner, "expires",
                                                  expires));
  } else if (rc == SQLITE_DONE) {
    res = fail(s, err, errlen, "no run %s", id);
  } else {
    res = db_error(s, rc, "cannot read the run", err, errlen);
  }
  q_reset(q);
  if (res) goto done;

  q = s->q[Q_SEL_OBJS];
  bind_text(q, 1, id);
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    json_t *o = row_json(q);
    const char *oid = col_text(q, 0), *parent = col_text(q, 1), *type = col_text(q, 2);
    if (!plan) {
      plan = json_incref(o);
    } else {
      json_t *po = parent ? json_object_get(byid, parent) : NULL;
      if (!po || !type) {
        json_decref(o);
        res = fail(s, err, errlen, "run %s: object %s is corrupt (no parent)", id, or_none(oid));
        break;
      }
      attach(po, type, o);
    }
    if (oid) json_object_set(byid, oid, o);
    ws__push((void ***)&bypos, &nobjs, o);
    json_decref(o);
  }
  if (!res && rc != SQLITE_DONE) res = db_error(s, rc, "cannot read the run", err, errlen);
  q_reset(q);
  if (!res && !plan) res = fail(s, err, errlen, "run %s has no objects", id);
  if (!res) {
    get_overlay_t o = {bypos};
    res = read_journal(s, id, nobjs, get_record, &o, err, errlen);
  }
  if (res) goto done;
  json_object_update(plan, run); /* group, origin, meta, reason, created, lease */
  *out = plan;
  plan = NULL;

done:
  read_end(s);
  free(bypos);
  json_decref(plan);
  json_decref(run);
  json_decref(byid);
  return res;
}

/* ------------------------------------------------------------------- list */

static int st_list(ws_store_t *base, size_t limit, json_t **out, char *err, size_t errlen) {
  store_t *s = (store_t *)base;
  *out = NULL;
  if (st_flush(base, err, errlen)) return -1;
  sqlite3_stmt *q = s->q[Q_LIST];
  sqlite3_bind_int64(q, 1, limit && limit <= INT64_MAX ? (sqlite3_int64)limit : -1);
  json_t *arr = json_array();
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    json_t *o = json_object();
    set_str(o, "id", col_text(q, 0));
    set_str(o, "group", col_text(q, 1));
    set_str(o, "name", col_text(q, 2));
    set_str(o, "status", col_text(q, 3));
    set_str(o, "reason", col_text(q, 4));
    set_time(o, "started", sqlite3_column_double(q, 5));
    set_time(o, "ended", sqlite3_column_double(q, 6));
    json_array_append_new(arr, o);
  }
  int res = rc == SQLITE_DONE ? 0 : db_error(s, rc, "cannot list the runs", err, errlen);
  q_reset(q);
  if (res) json_decref(arr);
  else *out = arr;
  return res;
}

/* ------------------------------------------------------------------ lease */

static int st_lease(ws_store_t *base, const char *id_or_prefix, const char *owner, double ttl,
                    char *err, size_t errlen) {
  store_t *s = (store_t *)base;
  char id[WS_UUID_STRLEN + 1];
  if (!owner || !*owner) return fail(s, err, errlen, "a lease needs an owner");
  if (!(ttl > 0) || !isfinite(ttl))
    return fail(s, err, errlen, "a lease lasts more than 0 seconds (not %g)", ttl);
  if (st_flush(base, err, errlen)) return -1; /* a lease is committed at once */
  if (resolve(s, id_or_prefix, id, err, errlen)) return -1;
  double now = wall_now();
  sqlite3_stmt *q = s->q[Q_LEASE];
  bind_text(q, 1, id);
  bind_text(q, 2, owner);
  sqlite3_bind_double(q, 3, now + ttl);
  sqlite3_bind_double(q, 4, now);
  int rc = sqlite3_step(q);
  int changed = sqlite3_changes(s->db);
  q_reset(q);
  if (rc != SQLITE_DONE) return db_error(s, rc, "cannot take the lease", err, errlen);
  if (changed) return 0;

  /* held by another: say by whom (read after the fact, for the message only) */
  q = s->q[Q_LEASE_INFO];
  bind_text(q, 1, id);
  rc = sqlite3_step(q);
  int res;
  if (rc == SQLITE_ROW) {
    char when[64];
    iso8601(sqlite3_column_double(q, 1), when, sizeof when);
    res = fail(s, err, errlen, "run %s is being run by %s (lease until %s)", id,
               or_none(col_text(q, 0)), when);
  } else if (rc == SQLITE_DONE) {
    res = fail(s, err, errlen, "no run %s", id);
  } else {
    res = db_error(s, rc, "cannot take the lease", err, errlen);
  }
  q_reset(q);
  return res;
}

static int st_release(ws_store_t *base, const char *id_or_prefix, const char *owner, char *err,
                      size_t errlen) {
  store_t *s = (store_t *)base;
  char id[WS_UUID_STRLEN + 1];
  if (st_flush(base, err, errlen)) return -1;
  if (resolve(s, id_or_prefix, id, err, errlen)) return -1;
  sqlite3_stmt *q = s->q[Q_RELEASE];
  bind_text(q, 1, id);
  bind_text(q, 2, owner ? owner : "");
  int rc = sqlite3_step(q);
  q_reset(q);
  return rc == SQLITE_DONE ? 0 : db_error(s, rc, "cannot give the lease up", err, errlen);
}

/* ------------------------------------------------------------------ close */

static void st_close(ws_store_t *base) {
  store_t *s = (store_t *)base;
  if (!s) return;
  char err[256];
  if (st_flush(base, err, sizeof err))
    fprintf(stderr, "workstream: updates lost when closing the store: %s\n", err);
  rollback(s);
  store_free(s);
}
