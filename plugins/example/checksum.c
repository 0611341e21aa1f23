/*
** plugins/example/checksum.c - "example.checksum": the checksum of a file.
**
** An external plugin, built as a shared object and loaded at run time
** (wsrun --plugin, ws.plugins.load, or a directory of WS_PLUGIN_PATH). It uses
** only workstream/plugin.h, libuv and jansson, and it does not link the
** engine: ws_call_* come from the host it is loaded into. See README.md.
**
** Request:  { path = "/absolute/file",
**             algorithm = "fnv1a64" | "adler32" }   -- default "fnv1a64"
** Response: { digest = "<lowercase hex>",           -- 16 digits for fnv1a64, 8 for adler32
**             size = <bytes read> }
**
** Errors (ws_call_fail), the code being libuv's error name:
**   "ENOENT", "EACCES", ...  retryable  the file could not be opened or read
**                                       (it may appear, or become readable)
**   "EISDIR"                 permanent  the path is a directory
**   "cancelled"              retryable  the engine cancelled the attempt
**
** Design: the file is read in CHECKSUM_CHUNK pieces with uv_fs_open and
** uv_fs_read, which run on libuv's thread pool, so the loop never blocks, and
** only one request is in flight per call. On success or error the file is
** closed first and the call completed from the close callback: nothing of the
** attempt outlives it. A cancel completes the call at once; the request in
** flight is cancelled with uv_cancel if it has not started yet, otherwise its
** callback (which sees the call is gone) closes the file and frees the state.
*/
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>
#include <workstream/plugin.h>

#define CHECKSUM_CHUNK (64 * 1024)

/* ------------------------------------------------------------------ types */

static const char *const checksum_algorithms[] = {"fnv1a64", "adler32", NULL};
static const ws_type_t checksum_algorithm = WS_ENUM(checksum_algorithms);
static const ws_type_t checksum_algorithm_dflt = WS_DEFAULT(&checksum_algorithm, "\"fnv1a64\"");

static const ws_field_t checksum_request_fields[] = {
    {"path", &ws_t_string},
    {"algorithm", &checksum_algorithm_dflt},
    {NULL, NULL},
};
static const ws_type_t checksum_request = WS_RECORD(checksum_request_fields);

static const ws_field_t checksum_response_fields[] = {
    {"digest", &ws_t_string},
    {"size", &ws_t_integer},
    {NULL, NULL},
};
static const ws_type_t checksum_response = WS_RECORD(checksum_response_fields);

/* ------------------------------------------------------------- algorithms */

typedef enum { ALGO_FNV1A64, ALGO_ADLER32 } checksum_algo_t;

#define FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)
#define ADLER_MOD 65521u
#define ADLER_NMAX 5552 /* the most bytes before b can overflow 32 bits */

static uint64_t fnv1a64_update(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV64_PRIME;
  }
  return h;
}

/* The running checksum is (b << 16) | a; it starts at 1. */
static uint32_t adler32_update(uint32_t state, const unsigned char *p, size_t n) {
  uint32_t a = state & 0xffff, b = state >> 16;
  while (n > 0) {
    size_t k = n < ADLER_NMAX ? n : ADLER_NMAX;
    n -= k;
    while (k--) {
      a += *p++;
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return (b << 16) | a;
}

/* ---------------------------------------------------------------- a call */

typedef enum { STAGE_OPENING, STAGE_READING, STAGE_CLOSING } checksum_stage_t;

typedef struct checksum {
  ws_call_t *call; /* NULL once the call is completed (cancelled): only cleanup remains */
  uv_loop_t *loop;
  uv_fs_t req;     /* the one file request in flight */
  checksum_stage_t stage;
  uv_file fd;      /* -1 when not open */
  checksum_algo_t algo;
  uint64_t fnv;
  uint32_t adler;
  int64_t size;    /* bytes read so far */
  /* the outcome, delivered when the file is closed */
  json_t *resp;
  int err;         /* a UV_E* code, 0 when none */
  const char *failed_op;
  char buf[CHECKSUM_CHUNK];
} checksum_t;

static checksum_t *checksum_of(uv_fs_t *req) {
  return (checksum_t *)(void *)((char *)req - offsetof(checksum_t, req));
}

static const char *checksum_path(ws_call_t *call) {
  return json_string_value(json_object_get(ws_call_request(call), "path"));
}

/* Delivers the outcome (unless the call was cancelled) and frees the state. */
static void checksum_finish(checksum_t *c) {
  ws_call_t *call = c->call;
  if (call) {
    ws_call_set_data(call, NULL);
    if (c->resp) {
      ws_call_log(call, "%s: %" PRId64 " bytes, %s %s", checksum_path(call), c->size,
                  c->algo == ALGO_ADLER32 ? "adler32" : "fnv1a64",
                  json_string_value(json_object_get(c->resp, "digest")));
      ws_call_succeed(call, c->resp);
      c->resp = NULL;
    } else {
      ws_call_fail(call, c->err == UV_EISDIR, uv_err_name(c->err), "cannot %s %s: %s",
                   c->failed_op, checksum_path(call), uv_strerror(c->err));
    }
  }
  json_decref(c->resp);
  free(c);
}

static void checksum_on_close(uv_fs_t *req) {
  checksum_t *c = checksum_of(req);
  uv_fs_req_cleanup(req);
  checksum_finish(c);
}

static void checksum_close_and_finish(checksum_t *c) {
  if (c->fd < 0) {
    checksum_finish(c);
    return;
  }
  c->stage = STAGE_CLOSING;
  if (uv_fs_close(c->loop, &c->req, c->fd, checksum_on_close) < 0)
    checksum_finish(c); /* the close could not even be queued: nothing more to try */
}

static void checksum_fail(checksum_t *c, const char *op, int err) {
  c->failed_op = op;
  c->err = err;
  checksum_close_and_finish(c);
}

static void checksum_on_read(uv_fs_t *req);

static void checksum_read_next(checksum_t *c) {
  uv_buf_t buf = uv_buf_init(c->buf, sizeof c->buf);
  /* offset -1: read on from the current position, which works for pipes too */
  int rc = uv_fs_read(c->loop, &c->req, c->fd, &buf, 1, -1, checksum_on_read);
  if (rc < 0) checksum_fail(c, "read", rc);
}

static void checksum_on_read(uv_fs_t *req) {
  checksum_t *c = checksum_of(req);
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  if (!c->call) { /* cancelled meanwhile */
    checksum_close_and_finish(c);
    return;
  }
  if (n < 0) {
    checksum_fail(c, "read", (int)n);
    return;
  }
  if (n == 0) { /* end of file */
    char digest[17];
    if (c->algo == ALGO_ADLER32) snprintf(digest, sizeof digest, "%08" PRIx32, c->adler);
    else snprintf(digest, sizeof digest, "%016" PRIx64, c->fnv);
    c->resp = json_pack("{s:s, s:I}", "digest", digest, "size", (json_int_t)c->size);
    if (!c->resp) {
      checksum_fail(c, "checksum", UV_ENOMEM);
      return;
    }
    checksum_close_and_finish(c);
    return;
  }
  const unsigned char *p = (const unsigned char *)c->buf;
  if (c->algo == ALGO_ADLER32) c->adler = adler32_update(c->adler, p, (size_t)n);
  else c->fnv = fnv1a64_update(c->fnv, p, (size_t)n);
  c->size += n;
  checksum_read_next(c);
}

static void checksum_on_open(uv_fs_t *req) {
  checksum_t *c = checksum_of(req);
  ssize_t fd = req->result;
  uv_fs_req_cleanup(req);
  if (fd >= 0) c->fd = (uv_file)fd;
  if (!c->call) { /* cancelled meanwhile */
    checksum_close_and_finish(c);
    return;
  }
  if (fd < 0) {
    checksum_fail(c, "open", (int)fd);
    return;
  }
  c->stage = STAGE_READING;
  checksum_read_next(c);
}

/* ------------------------------------------------------------ the plugin */

static int checksum_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                             size_t errlen) {
  (void)def;
  const json_t *path = json_object_get(req, "path");
  const char *s = json_string_value(path);
  if (!s || strlen(s) != json_string_length(path)) {
    snprintf(err, errlen, "req.path: must not contain NUL bytes");
    return -1;
  }
  if (s[0] != '/') {
    snprintf(err, errlen, "req.path: must be an absolute path, got \"%s\"", s);
    return -1;
  }
  return 0;
}

static int checksum_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  const char *path = json_string_value(json_object_get(req, "path"));
  const char *algo = json_string_value(json_object_get(req, "algorithm"));
  if (!path) return UV_EINVAL; /* the engine checked the request; defensive */

  checksum_t *c = calloc(1, sizeof *c);
  if (!c) return UV_ENOMEM;
  c->call = call;
  c->loop = ws_call_loop(call);
  c->fd = -1;
  c->stage = STAGE_OPENING;
  c->algo = algo && strcmp(algo, "adler32") == 0 ? ALGO_ADLER32 : ALGO_FNV1A64;
  c->fnv = FNV64_OFFSET;
  c->adler = 1;
  int rc = uv_fs_open(c->loop, &c->req, path, UV_FS_O_RDONLY, 0, checksum_on_open);
  if (rc < 0) { /* the callback will not run: the call never started */
    free(c);
    return rc;
  }
  ws_call_set_data(call, c);
  return 0;
}

static void checksum_cancel(ws_call_t *call) {
  checksum_t *c = ws_call_data(call);
  if (!c || !c->call) return;
  c->call = NULL; /* from now on the callbacks only clean up */
  ws_call_set_data(call, NULL);
  /* A request still queued is dropped (its callback runs with UV_ECANCELED);
  ** one already running finishes first. Never cancel a close: the fd would leak. */
  if (c->stage != STAGE_CLOSING) (void)uv_cancel((uv_req_t *)&c->req);
  ws_call_fail(call, 0, "cancelled", "checksum of %s cancelled after %" PRId64 " bytes",
               checksum_path(call), c->size);
}

static const ws_plugin_def_t checksum_plugin = {
    .abi = WS_PLUGIN_ABI,
    .name = "example.checksum",
    .descr = "computes the fnv1a64 or adler32 checksum of a file, without blocking the loop",
    .request = &checksum_request,
    .response = &checksum_response,
    .validate = checksum_validate,
    .start = checksum_start,
    .cancel = checksum_cancel,
};

static const ws_plugin_def_t *const checksum_plugins[] = {&checksum_plugin, NULL};

const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return checksum_plugins;
}
