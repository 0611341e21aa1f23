/*
** plugins/exec.c - the built-in "ws.exec" plugin: run one command.
**
** Request:  { argv = {"prog", "arg", ...},   -- required, non-empty
**             env = { NAME = "value" },      -- optional: added to / overriding
**                                            --   the engine's own environment
**             cwd = "/dir",                  -- optional
**             stdin = "text",                -- optional: written, then closed;
**                                            --   absent or "": the child reads
**                                            --   /dev/null (never a terminal)
**             ok_codes = {0} }               -- exit codes that count as success
** Response: { code, signal, stdout, stderr, stdout_truncated, stderr_truncated,
**             duration }
**   code is the exit status (-1 if a signal ended the child; a response is
**   only produced on success, so in practice it is one of ok_codes and signal
**   is 0); duration is in seconds from spawn to exit (uv_hrtime).
**
** Errors (ws_call_fail):
**   "exit_code"  retryable  exited with a code not in ok_codes
**   "signal"     retryable  killed by a signal (not by us)
**   "cancelled"  retryable  the engine cancelled the attempt (timeout, stop)
**   "ENOENT"...  permanent  the spawn failed (uv_err_name of its error): no
**                           such program, not executable, bad cwd. Resource
**                           shortages (EAGAIN, EMFILE, ENFILE, ENOMEM) are
**                           retryable.
**   "bad_request" permanent a request that skipped validation (defensive)
**   The message names the command and ends with the last lines of stderr (or
**   of stdout when stderr is empty), flattened to one line, at most
**   EXEC_ERR_TAIL_MAX bytes, so a failure never drags huge output along.
**
** Design:
**   - Everything runs on the engine's loop: the child's exit is watched there
**     (childproc.c: posix_spawn and a pidfd, or uv_spawn where pidfds are
**     missing), uv pipes for stdio, uv timers. Nothing blocks and there are
**     no threads. posix_spawn, unlike libuv's fork, does not copy the
**     engine's page tables, so a spawn costs the same whatever its heap.
**   - The child is spawned in its own session (setsid), so it leads its own
**     process group. Cancelling signals the whole group
**     (kill(-pid)): SIGTERM first, SIGKILL after EXEC_KILL_GRACE_MS, so that a
**     shell's children die with it and a timed-out command really stops.
**     Its own session also keeps a terminal's Ctrl-C (sent to the foreground
**     process group) away from it: stopping is the engine's decision (the
**     first signal lets running actions finish, the second cancels them).
**   - stdout and stderr are each kept up to EXEC_OUTPUT_CAP bytes. Beyond
**     that the pipe is still drained (the child must never block on a full
**     pipe) but the bytes are discarded and *_truncated is set. The last
**     discarded bytes are remembered for the error message, whose tail should
**     be the end of the output, not the end of what was kept.
**   - Captured text goes into JSON, which must be UTF-8 (utf8.h, shared with
**     ws.check.http): invalid bytes become U+FFFD (one per maximal invalid
**     subsequence); a multi-byte character cut in half by the cap is dropped.
**   - The attempt ends when the child has exited, both output pipes reached
**     EOF and the stdin write finished. A child that leaves a background
**     process holding the pipes (`cmd &`) would keep them open forever, so
**     once the child itself has exited we wait at most EXEC_DRAIN_GRACE_MS
**     for EOF and then stop reading (that process is left alone: it may be a
**     daemon the command meant to start; if it writes to the closed pipes
**     later it gets EPIPE, as in any pipeline).
**   - Every handle is closed before the call completes; the per-call state is
**     freed in the last close callback, right after completing the call. So
**     nothing of an attempt outlives it, and the borrowed request (valid until
**     completion) is still readable when the result is built.
**   - Writing to a child that stopped reading raises SIGPIPE; its default
**     action would kill the whole engine, so init sets SIGPIPE to SIG_IGN when
**     it is still SIG_DFL (the child gets default dispositions: childproc.c).
*/
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "builtins.h"
#include "childproc.h"
#include "exec.h"
#include "sigpipe.h"
#include "utf8.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

extern char **environ;

#define EXEC_OUTPUT_CAP (64 * 1024)  /* bytes kept per stream (stdout, stderr) */
#define EXEC_KILL_GRACE_MS 2000      /* cancel: SIGTERM, then SIGKILL after this */
#define EXEC_DRAIN_GRACE_MS 2000     /* after exit: longest wait for pipe EOF */
#define EXEC_ERR_TAIL_MAX 300        /* output bytes quoted in an error message */
#define EXEC_DISCARD_SIZE 4096       /* scratch for output beyond the cap */
#define EXEC_MIN_READ 1024           /* grow the capture buffer below this room */
#define EXEC_MAX_EXIT_CODE 255

/* ------------------------------------------------------------------ types */

static const ws_type_t exec_t_argv = WS_LIST(&ws_t_string);
static const ws_type_t exec_t_env_map = WS_MAP(&ws_t_string);
static const ws_type_t exec_t_env = WS_OPTIONAL(&exec_t_env_map);
static const ws_type_t exec_t_opt_string = WS_OPTIONAL(&ws_t_string);
static const ws_type_t exec_t_int_list = WS_LIST(&ws_t_integer);
static const ws_type_t exec_t_ok_codes = WS_DEFAULT(&exec_t_int_list, "[0]");

static const ws_field_t exec_request_fields[] = {
  { "argv", &exec_t_argv },
  { "env", &exec_t_env },
  { "cwd", &exec_t_opt_string },
  { "stdin", &exec_t_opt_string },
  { "ok_codes", &exec_t_ok_codes },
  { NULL, NULL },
};
const ws_type_t ws__exec_request_type = WS_RECORD(exec_request_fields); /* exec.h */

static const ws_field_t exec_response_fields[] = {
  { "code", &ws_t_integer },
  { "signal", &ws_t_integer },
  { "stdout", &ws_t_string },
  { "stderr", &ws_t_string },
  { "stdout_truncated", &ws_t_boolean },
  { "stderr_truncated", &ws_t_boolean },
  { "duration", &ws_t_number },
  { NULL, NULL },
};
const ws_type_t ws__exec_response_type = WS_RECORD(exec_response_fields); /* exec.h */

/* ------------------------------------------------------- per-call state */

/* One captured output stream (stdout or stderr). */
typedef struct exec_capture {
  uv_pipe_t pipe;
  char *buf;      /* the kept bytes: buf[0..len) */
  size_t len;     /* <= EXEC_OUTPUT_CAP */
  size_t size;    /* allocated bytes of buf */
  bool reading;   /* until EOF, a read error or the drain deadline */
  bool truncated; /* bytes were discarded */
  char discard[EXEC_DISCARD_SIZE];
  char lost_tail[EXEC_ERR_TAIL_MAX]; /* the last discarded bytes, for messages */
  size_t lost_len;
} exec_capture_t;

#define EXEC_MAX_HANDLES 6

typedef struct exec_state {
  ws_call_t *call; /* NULL when start gave up: the call must not be completed */
  char *argv0;     /* copies, for messages */
  char *cwd;
  unsigned char ok_codes[(EXEC_MAX_EXIT_CODE + 1) / 8]; /* bitmap */

  wsp_proc_t proc;
  exec_capture_t out, err;
  uv_pipe_t in;
  uv_write_t in_req;
  uv_timer_t kill_timer;  /* cancel: escalates SIGTERM to SIGKILL */
  uv_timer_t drain_timer; /* after exit: bounds the wait for pipe EOF */

  uv_handle_t *handles[EXEC_MAX_HANDLES]; /* every handle initialised */
  int nhandles;
  int live; /* initialised handles whose close callback has not run */

  char **argv;         /* for the spawn, until it is over (borrowed strings) */
  char **env;          /* the child's environment; NULL: the engine's */
  size_t env_owned;    /* env's first entries are allocated */
  bool feed_stdin;     /* the child's stdin is our pipe */
  bool spawning;       /* wsp_spawn is under way: the child may not exist yet */
  bool spawn_tried;    /* wsp_spawn ran (then the call will be completed) */
  int spawn_rc;        /* the spawn's error; 0 when the child ran */
  char fail_code[32];  /* when the spawn failed: uv_err_name, ... */
  char *fail_msg;      /* ... the message (NULL if out of memory) ... */
  bool fail_permanent; /* ... and whether a retry is pointless */
  int pid;
  int64_t exit_status;
  int term_signal;
  uint64_t t_spawn, t_exit; /* uv_hrtime */
  bool writing;   /* the stdin write is pending */
  bool exited;
  bool cancelled;
  bool closing;   /* exec_close_all ran */
} exec_state_t;

/* ------------------------------------------------------- small buffers */

/* A growable byte buffer; oom sticks once an allocation failed. */
typedef struct exec_buf {
  char *p;
  size_t len, cap;
  bool oom;
} exec_buf_t;

static void exec_buf_put(exec_buf_t *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->cap - b->len < n + 1) {
    size_t cap = b->cap ? b->cap : 64;
    char *p;

    while (cap - b->len < n + 1)
      cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void exec_buf_puts(exec_buf_t *b, const char *s) {
  exec_buf_put(b, s, strlen(s));
}

/* ----------------------------------------------------- output as text */

static bool exec_is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
** Appends the end of some output to b as one line of valid UTF-8: the last
** lines, at most EXEC_ERR_TAIL_MAX bytes of them (whole lines when possible,
** else "..." and the end of the last line), surrounding white space trimmed,
** line breaks shown as " | ", other control characters as spaces. cut says
** that text is itself the end of a longer output.
*/
static void exec_put_tail(exec_buf_t *b, const char *text, size_t n, bool cut) {
  const unsigned char *s = (const unsigned char *)text;
  size_t start = 0, i, len;
  char *clean;

  while (n > 0 && exec_is_space(s[n - 1]))
    n--;
  if (n > EXEC_ERR_TAIL_MAX) {
    start = n - EXEC_ERR_TAIL_MAX;
    cut = true;
  }
  if (cut && n > 0) {
    const char *nl = memchr(text + start, '\n', n - start);

    if (nl != NULL) {
      start = (size_t)(nl - text) + 1;
    } else {
      while (start < n && (s[start] & 0xC0) == 0x80)
        start++;
      exec_buf_puts(b, "...");
    }
  }
  while (start < n && exec_is_space(s[start]))
    start++;

  /* Made valid UTF-8 first (utf8.c): what is left to show differently is ASCII. */
  clean = wsp_utf8_clean(text + start, n - start, false, &len);
  if (clean == NULL) {
    b->oom = true;
    return;
  }
  s = (const unsigned char *)clean;
  for (i = 0; i < len; i++) {
    if (s[i] == '\n' || s[i] == '\r') {
      /* One separator per run of line breaks (and the blanks around them). */
      while (b->len > 0 && !b->oom && b->p[b->len - 1] == ' ')
        b->p[--b->len] = '\0';
      while (i + 1 < len && exec_is_space(s[i + 1]))
        i++;
      exec_buf_puts(b, " | ");
    } else if (s[i] < 0x20 || s[i] == 0x7F) {
      exec_buf_put(b, " ", 1);
    } else {
      exec_buf_put(b, clean + i, 1);
    }
  }
  free(clean);
}

/* ------------------------------------------------------------- messages */

/* A name for a signal number: "SIGKILL", or NULL when unknown. */
static const char *exec_signal_name(int sig) {
  static const struct {
    int sig;
    const char *name;
  } names[] = {
    { SIGHUP, "SIGHUP" },   { SIGINT, "SIGINT" },   { SIGQUIT, "SIGQUIT" },
    { SIGILL, "SIGILL" },   { SIGABRT, "SIGABRT" }, { SIGFPE, "SIGFPE" },
    { SIGKILL, "SIGKILL" }, { SIGSEGV, "SIGSEGV" }, { SIGPIPE, "SIGPIPE" },
    { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGUSR1, "SIGUSR1" },
    { SIGUSR2, "SIGUSR2" },
#ifdef SIGBUS
    { SIGBUS, "SIGBUS" },
#endif
#ifdef SIGTRAP
    { SIGTRAP, "SIGTRAP" },
#endif
#ifdef SIGSYS
    { SIGSYS, "SIGSYS" },
#endif
#ifdef SIGXCPU
    { SIGXCPU, "SIGXCPU" },
#endif
#ifdef SIGXFSZ
    { SIGXFSZ, "SIGXFSZ" },
#endif
  };
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].sig == sig)
      return names[i].name;
  return NULL;
}

/* "signal 9 (SIGKILL)" into buf. */
static void exec_describe_signal(int sig, char *buf, size_t len) {
  const char *name = exec_signal_name(sig);

  if (name != NULL)
    snprintf(buf, len, "signal %d (%s)", sig, name);
  else
    snprintf(buf, len, "signal %d", sig);
}

static bool exec_code_ok(const exec_state_t *st, int64_t code) {
  return code >= 0 && code <= EXEC_MAX_EXIT_CODE &&
         (st->ok_codes[code / 8] & (1u << (code % 8))) != 0;
}

/* "0" or "one of 0, 3, 4" into buf: the exit codes that count as success. */
static void exec_describe_ok_codes(const exec_state_t *st, char *buf, size_t len) {
  int code, count = 0, shown = 0;
  size_t used = 0;

  for (code = 0; code <= EXEC_MAX_EXIT_CODE; code++)
    count += exec_code_ok(st, code);
  buf[0] = '\0';
  if (count > 1)
    used = (size_t)snprintf(buf, len, "one of ");
  for (code = 0; code <= EXEC_MAX_EXIT_CODE && used < len; code++) {
    if (!exec_code_ok(st, code))
      continue;
    if (shown == 8 && count > 9) {
      snprintf(buf + used, len - used, ", ... (%d codes)", count);
      break;
    }
    used += (size_t)snprintf(buf + used, len - used, shown ? ", %d" : "%d", code);
    shown++;
  }
}

/* The end of one captured stream, as exec_put_tail shows it: past the cap,
** the last discarded bytes are the end of the output, not the kept ones. */
static void exec_put_capture_tail(exec_buf_t *b, const exec_capture_t *cap) {
  if (cap->lost_len > 0) {
    exec_put_tail(b, cap->lost_tail, cap->lost_len, true);
    if (b->len > 0 || b->oom)
      return;
  }
  exec_put_tail(b, cap->buf ? cap->buf : "", cap->len, false);
}

/*
** ": <tail>" for an error message: the end of stderr, or of stdout when stderr
** has nothing to show. Empty when both are empty.
*/
static void exec_put_output_hint(exec_buf_t *b, const exec_state_t *st) {
  exec_buf_t tail = { 0 };

  exec_put_capture_tail(&tail, &st->err);
  if (tail.len == 0 && !tail.oom) {
    exec_put_capture_tail(&tail, &st->out);
    if (tail.len > 0)
      exec_buf_puts(b, ": stdout: ");
  } else if (tail.len > 0) {
    exec_buf_puts(b, ": ");
  }
  if (tail.len > 0 && !tail.oom)
    exec_buf_put(b, tail.p, tail.len);
  free(tail.p);
}

/* ------------------------------------------------------- the request */

/* Semantic checks beyond the type (argv non-empty, no NUL bytes, exit codes
** in range). Also run by start, so a malformed request can never crash it. */
static int exec_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                         size_t errlen) {
  (void)def;
  const json_t *argv, *env, *cwd, *in, *codes, *v;
  const char *key;
  size_t i;

  argv = json_object_get(req, "argv");
  if (!json_is_array(argv)) {
    snprintf(err, errlen, "req.argv: expected list, got %s",
             argv ? ws_json_typename(argv) : "nil");
    return -1;
  }
  if (json_array_size(argv) == 0) {
    snprintf(err, errlen, "req.argv: must not be empty (it starts with the program to run)");
    return -1;
  }
  json_array_foreach(argv, i, v) {
    if (!json_is_string(v)) {
      snprintf(err, errlen, "req.argv[%zu]: expected string, got %s", i + 1,
               ws_json_typename(v));
      return -1;
    }
    if (i == 0 && json_string_length(v) == 0) {
      snprintf(err, errlen, "req.argv[1]: the program name must not be empty");
      return -1;
    }
    if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
      snprintf(err, errlen, "req.argv[%zu]: must not contain a NUL byte", i + 1);
      return -1;
    }
  }

  env = json_object_get(req, "env");
  if (env != NULL && !json_is_null(env)) {
    if (!json_is_object(env)) {
      snprintf(err, errlen, "req.env: expected map, got %s", ws_json_typename(env));
      return -1;
    }
    json_object_foreach((json_t *)env, key, v) {
      if (key[0] == '\0' || strchr(key, '=') != NULL) {
        snprintf(err, errlen, "req.env: invalid variable name \"%s\" (empty or contains '=')",
                 key);
        return -1;
      }
      if (!json_is_string(v)) {
        snprintf(err, errlen, "req.env.%s: expected string, got %s", key,
                 ws_json_typename(v));
        return -1;
      }
      if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
        snprintf(err, errlen, "req.env.%s: must not contain a NUL byte", key);
        return -1;
      }
    }
  }

  cwd = json_object_get(req, "cwd");
  if (cwd != NULL && !json_is_null(cwd)) {
    if (!json_is_string(cwd)) {
      snprintf(err, errlen, "req.cwd: expected string, got %s", ws_json_typename(cwd));
      return -1;
    }
    if (json_string_length(cwd) == 0) {
      snprintf(err, errlen, "req.cwd: must not be empty (leave it out to inherit)");
      return -1;
    }
    if (memchr(json_string_value(cwd), '\0', json_string_length(cwd)) != NULL) {
      snprintf(err, errlen, "req.cwd: must not contain a NUL byte");
      return -1;
    }
  }

  in = json_object_get(req, "stdin");
  if (in != NULL && !json_is_null(in) && !json_is_string(in)) {
    snprintf(err, errlen, "req.stdin: expected string, got %s", ws_json_typename(in));
    return -1;
  }

  codes = json_object_get(req, "ok_codes"); /* absent: the default, {0} */
  if (codes != NULL && !json_is_null(codes)) {
    if (!json_is_array(codes)) {
      snprintf(err, errlen, "req.ok_codes: expected list, got %s", ws_json_typename(codes));
      return -1;
    }
    if (json_array_size(codes) == 0) {
      snprintf(err, errlen, "req.ok_codes: must not be empty (leave it out for {0})");
      return -1;
    }
    json_array_foreach(codes, i, v) {
      if (!json_is_integer(v)) {
        snprintf(err, errlen, "req.ok_codes[%zu]: expected integer, got %s", i + 1,
                 ws_json_typename(v));
        return -1;
      }
      if (json_integer_value(v) < 0 || json_integer_value(v) > EXEC_MAX_EXIT_CODE) {
        snprintf(err, errlen, "req.ok_codes[%zu]: %" JSON_INTEGER_FORMAT
                 " is not an exit code (0 to %d)", i + 1, json_integer_value(v),
                 EXEC_MAX_EXIT_CODE);
        return -1;
      }
    }
  }
  return 0;
}

/* A string field of the request, or NULL when absent. */
static const char *exec_req_string(const json_t *req, const char *field) {
  const json_t *v = json_object_get(req, field);

  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The argv array for the spawn; the strings are borrowed from the request. */
static char **exec_build_argv(const json_t *argv) {
  size_t i, n = json_array_size(argv);
  char **out = calloc(n + 1, sizeof *out);

  if (out == NULL)
    return NULL;
  for (i = 0; i < n; i++)
    out[i] = (char *)json_string_value(json_array_get(argv, i));
  return out;
}

/* The child's environment: the engine's own (environ) with the request's
** variables added or replaced. The first *nowned entries are allocated "K=V"
** strings, the rest are borrowed from environ. NULL when out of memory. */
static char **exec_build_env(const json_t *env, size_t *nowned) {
  size_t ninherit = 0, nset = json_object_size(env), n = 0, i;
  const char *key;
  json_t *v;
  char **out;

  while (environ != NULL && environ[ninherit] != NULL)
    ninherit++;
  out = calloc(ninherit + nset + 1, sizeof *out);
  if (out == NULL)
    return NULL;

  json_object_foreach((json_t *)env, key, v) {
    size_t klen = strlen(key), vlen = json_string_length(v);
    char *kv = malloc(klen + vlen + 2);

    if (kv == NULL) {
      while (n > 0)
        free(out[--n]);
      free(out);
      return NULL;
    }
    memcpy(kv, key, klen);
    kv[klen] = '=';
    memcpy(kv + klen + 1, json_string_value(v), vlen);
    kv[klen + 1 + vlen] = '\0';
    out[n++] = kv;
  }
  *nowned = n;

  for (i = 0; i < ninherit; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    size_t j;
    bool replaced = false;

    for (j = 0; j < *nowned && !replaced; j++)
      replaced = strncmp(out[j], environ[i], klen) == 0 && out[j][klen] == '=';
    if (!replaced)
      out[n++] = environ[i];
  }
  out[n] = NULL;
  return out;
}

static void exec_free_env(char **env, size_t nowned) {
  size_t i;

  if (env == NULL)
    return;
  for (i = 0; i < nowned; i++)
    free(env[i]);
  free(env);
}

/* --------------------------------------------------------- lifecycle */

static void exec_state_free(exec_state_t *st) {
  free(st->argv);
  exec_free_env(st->env, st->env_owned);
  free(st->argv0);
  free(st->cwd);
  free(st->fail_msg);
  free(st->out.buf);
  free(st->err.buf);
  free(st);
}

/* Records a handle once its init succeeded, so that it will be closed. */
static void exec_track(exec_state_t *st, uv_handle_t *h) {
  h->data = st;
  st->handles[st->nhandles++] = h;
  st->live++;
}

static exec_capture_t *exec_capture_of(exec_state_t *st, const uv_stream_t *stream) {
  return stream == (const uv_stream_t *)&st->out.pipe ? &st->out : &st->err;
}

static json_t *exec_response(const exec_state_t *st) {
  json_t *o = json_object();
  int bad = 0;

  if (o == NULL)
    return NULL;
  bad |= json_object_set_new(o, "code", json_integer(st->term_signal ? -1 : st->exit_status));
  bad |= json_object_set_new(o, "signal", json_integer(st->term_signal));
  bad |= json_object_set_new(o, "stdout",
                             wsp_utf8_json(st->out.buf, st->out.len, st->out.truncated));
  bad |= json_object_set_new(o, "stderr",
                             wsp_utf8_json(st->err.buf, st->err.len, st->err.truncated));
  bad |= json_object_set_new(o, "stdout_truncated", json_boolean(st->out.truncated));
  bad |= json_object_set_new(o, "stderr_truncated", json_boolean(st->err.truncated));
  bad |= json_object_set_new(o, "duration", json_real((double)(st->t_exit - st->t_spawn) / 1e9));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* Completes the call from the final state: exactly one succeed or fail. */
static void exec_report(exec_state_t *st, ws_call_t *call) {
  exec_buf_t msg = { 0 };
  const char *code;
  char what[64], expected[96];

  if (st->spawn_rc != 0) {
    if (st->fail_msg != NULL)
      ws_call_fail(call, st->fail_permanent, st->fail_code, "%s", st->fail_msg);
    else
      ws_call_fail(call, st->fail_permanent, st->fail_code, "cannot run \"%s\": %s",
                   st->argv0, uv_strerror(st->spawn_rc));
    return;
  }

  if (!st->cancelled && st->term_signal == 0 && exec_code_ok(st, st->exit_status)) {
    json_t *resp = exec_response(st);

    if (resp != NULL)
      ws_call_succeed(call, resp);
    else
      ws_call_fail(call, 0, "ENOMEM", "command \"%s\" succeeded but its response could "
                   "not be built: out of memory", st->argv0);
    return;
  }

  exec_buf_puts(&msg, "command \"");
  exec_buf_puts(&msg, st->argv0);
  if (st->cancelled) {
    code = "cancelled";
    exec_buf_puts(&msg, "\" was cancelled");
    if (st->term_signal != 0) {
      exec_describe_signal(st->term_signal, what, sizeof what);
      exec_buf_puts(&msg, " and stopped by ");
      exec_buf_puts(&msg, what);
    } else {
      snprintf(what, sizeof what, " (it exited with code %d)", (int)st->exit_status);
      exec_buf_puts(&msg, what);
    }
  } else if (st->term_signal != 0) {
    code = "signal";
    exec_describe_signal(st->term_signal, what, sizeof what);
    exec_buf_puts(&msg, "\" was killed by ");
    exec_buf_puts(&msg, what);
  } else {
    code = "exit_code";
    exec_describe_ok_codes(st, expected, sizeof expected);
    snprintf(what, sizeof what, "\" exited with code %d (expected ", (int)st->exit_status);
    exec_buf_puts(&msg, what);
    exec_buf_puts(&msg, expected);
    exec_buf_puts(&msg, ")");
  }
  exec_put_output_hint(&msg, st);

  /* All of these are retryable: the command may well succeed next time. */
  if (msg.oom)
    ws_call_fail(call, 0, code, "command \"%s\" failed (%s)", st->argv0, code);
  else
    ws_call_fail(call, 0, code, "%s", msg.p);
  free(msg.p);
}

/* The last close callback: completes the call (unless start gave up on it),
** then frees the state. */
static void exec_finish(exec_state_t *st) {
  ws_call_t *call = st->call;

  if (call != NULL) {
    ws_call_set_data(call, NULL);
    exec_report(st, call);
  }
  exec_state_free(st);
}

static void exec_on_close(uv_handle_t *h) {
  exec_state_t *st = h->data;

  if (--st->live == 0 && st->closing)
    exec_finish(st);
}

/* Closes every handle still open (the process's with its pidfd); the call
** completes in the last callback. */
static void exec_close_all(exec_state_t *st) {
  int i;

  st->closing = true;
  for (i = 0; i < st->nhandles; i++) {
    uv_handle_t *h = st->handles[i];

    if (uv_is_closing(h))
      continue;
    if (h == wsp_proc_handle(&st->proc))
      wsp_proc_close(&st->proc, exec_on_close);
    else
      uv_close(h, exec_on_close);
  }
  if (st->live == 0)
    exec_finish(st);
}

/* Ends the attempt once the child exited and all its I/O is over. */
static void exec_maybe_close(exec_state_t *st) {
  if (!st->closing && st->exited && !st->out.reading && !st->err.reading && !st->writing)
    exec_close_all(st);
}

static void exec_capture_stop(exec_capture_t *cap) {
  if (cap->reading) {
    cap->reading = false;
    uv_read_stop((uv_stream_t *)&cap->pipe);
  }
}

/* Signals the child's process group; if the group is gone but the child is
** not yet reaped (it left its group), signals the child alone. Never before
** the child exists: kill(0) would signal the engine's own group. */
static void exec_signal_group(exec_state_t *st, int sig) {
  if (st->pid <= 0)
    return;
  if (kill(-(pid_t)st->pid, sig) != 0 && errno == ESRCH && !st->exited)
    kill((pid_t)st->pid, sig);
}

/* ------------------------------------------------------- callbacks */

/* Hands libuv room in the capture buffer, growing it up to the cap; beyond
** the cap (or when memory is short) a scratch buffer whose bytes are dropped. */
static void exec_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  exec_state_t *st = h->data;
  exec_capture_t *cap = exec_capture_of(st, (uv_stream_t *)h);

  (void)suggested;
  if (cap->len < EXEC_OUTPUT_CAP) {
    if (cap->size - cap->len < EXEC_MIN_READ && cap->size < EXEC_OUTPUT_CAP) {
      size_t size = cap->size ? cap->size * 2 : 4096;
      char *p;

      if (size > EXEC_OUTPUT_CAP)
        size = EXEC_OUTPUT_CAP;
      p = realloc(cap->buf, size);
      if (p != NULL) {
        cap->buf = p;
        cap->size = size;
      }
    }
    if (cap->size > cap->len) {
      *buf = uv_buf_init(cap->buf + cap->len, (unsigned int)(cap->size - cap->len));
      return;
    }
  }
  *buf = uv_buf_init(cap->discard, sizeof cap->discard);
}

/* Output beyond the cap: dropped, but its last bytes are kept for messages. */
static void exec_capture_lose(exec_capture_t *cap, const char *bytes, size_t n) {
  cap->truncated = true;
  if (n >= sizeof cap->lost_tail) {
    memcpy(cap->lost_tail, bytes + n - sizeof cap->lost_tail, sizeof cap->lost_tail);
    cap->lost_len = sizeof cap->lost_tail;
    return;
  }
  if (cap->lost_len + n > sizeof cap->lost_tail) {
    size_t keep = sizeof cap->lost_tail - n;

    memmove(cap->lost_tail, cap->lost_tail + cap->lost_len - keep, keep);
    cap->lost_len = keep;
  }
  memcpy(cap->lost_tail + cap->lost_len, bytes, n);
  cap->lost_len += n;
}

static void exec_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  exec_state_t *st = stream->data;
  exec_capture_t *cap = exec_capture_of(st, stream);

  if (nread > 0) {
    if (buf->base == cap->discard)
      exec_capture_lose(cap, buf->base, (size_t)nread);
    else
      cap->len += (size_t)nread;
    return;
  }
  if (nread == 0) /* EAGAIN */
    return;
  /* UV_EOF, or a read error: either way this stream is over. */
  exec_capture_stop(cap);
  exec_maybe_close(st);
}

static void exec_on_write(uv_write_t *req, int status) {
  exec_state_t *st = req->data;

  (void)status; /* EPIPE: the child did not read all of its input; its business */
  st->writing = false;
  if (!uv_is_closing((uv_handle_t *)&st->in))
    uv_close((uv_handle_t *)&st->in, exec_on_close); /* the child sees EOF */
  exec_maybe_close(st);
}

/* After the child exited, a process it left behind may still hold the pipes:
** stop waiting for them (and for the stdin write) and end the attempt. */
static void exec_on_drain_timeout(uv_timer_t *timer) {
  exec_state_t *st = timer->data;

  exec_capture_stop(&st->out);
  exec_capture_stop(&st->err);
  if (st->writing && !uv_is_closing((uv_handle_t *)&st->in))
    uv_close((uv_handle_t *)&st->in, exec_on_close); /* the write ends with ECANCELED */
  exec_maybe_close(st);
}

/* Cancel's grace period is over: kill whatever is left of the group. */
static void exec_on_kill_timeout(uv_timer_t *timer) {
  exec_state_t *st = timer->data;

  exec_signal_group(st, SIGKILL);
}

static void exec_on_exit(wsp_proc_t *proc, int64_t exit_status, int term_signal) {
  exec_state_t *st = proc->data;

  st->t_exit = uv_hrtime();
  st->exited = true;
  st->exit_status = exit_status;
  st->term_signal = term_signal;
  if (st->out.reading || st->err.reading || st->writing)
    uv_timer_start(&st->drain_timer, exec_on_drain_timeout, EXEC_DRAIN_GRACE_MS, 0);
  exec_maybe_close(st);
}

/* ------------------------------------------------------- the plugin */

/* Ignores SIGPIPE process-wide unless the host already chose a disposition:
** a child that stops reading its stdin must not kill the engine. Also
** chooses how children are started (childproc.c). */
static int exec_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  (void)def;
  wsp_spawn_init();
  return wsp_ignore_sigpipe(err, errlen);
}

/* The message for a failed spawn, blaming the working directory when it is
** the problem (chdir runs in the child, so the spawn's error cannot tell). */
static char *exec_spawn_message(const exec_state_t *st, int rc) {
  exec_buf_t b = { 0 };
  struct stat sb;
  char line[128];

  exec_buf_puts(&b, "cannot run \"");
  exec_buf_puts(&b, st->argv0);
  exec_buf_puts(&b, "\"");
  if (st->cwd != NULL) {
    int cwd_errno = 0;

    if (stat(st->cwd, &sb) != 0)
      cwd_errno = errno;
    else if (!S_ISDIR(sb.st_mode))
      cwd_errno = ENOTDIR;
    else if (access(st->cwd, X_OK) != 0)
      cwd_errno = errno;
    exec_buf_puts(&b, " in \"");
    exec_buf_puts(&b, st->cwd);
    exec_buf_puts(&b, "\"");
    if (cwd_errno != 0) {
      snprintf(line, sizeof line, ": working directory: %s", uv_strerror(uv_translate_sys_error(cwd_errno)));
      exec_buf_puts(&b, line);
      return b.oom ? (free(b.p), NULL) : b.p;
    }
  }
  snprintf(line, sizeof line, ": %s", uv_strerror(rc));
  exec_buf_puts(&b, line);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* Spawn errors that a later attempt may not hit: resource shortages. */
static bool exec_spawn_error_is_transient(int rc) {
  return rc == UV_EAGAIN || rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOMEM ||
         rc == UV_EINTR;
}

/* Fills the exit-code bitmap from ok_codes (validated; absent means {0}). */
static void exec_set_ok_codes(exec_state_t *st, const json_t *codes) {
  const json_t *v;
  size_t i;

  if (!json_is_array(codes)) {
    st->ok_codes[0] = 1;
    return;
  }
  json_array_foreach(codes, i, v) {
    json_int_t code = json_integer_value(v);

    if (code >= 0 && code <= EXEC_MAX_EXIT_CODE)
      st->ok_codes[code / 8] |= (unsigned char)(1u << (code % 8));
  }
}

/* Gives up on a call that never started: closes what was opened, frees the
** state in the last close callback, and never completes the call. */
static int exec_abandon(exec_state_t *st, int rc) {
  st->call = NULL;
  exec_close_all(st);
  return rc;
}

/* Initialises the pipes and timers (the process handle is wsp_spawn's). */
static int exec_init_handles(exec_state_t *st, uv_loop_t *loop, bool feed_stdin) {
  int rc;

  /* None of these can fail on Unix, but be correct anyway. */
  if ((rc = uv_pipe_init(loop, &st->out.pipe, 0)) != 0)
    return rc;
  exec_track(st, (uv_handle_t *)&st->out.pipe);
  if ((rc = uv_pipe_init(loop, &st->err.pipe, 0)) != 0)
    return rc;
  exec_track(st, (uv_handle_t *)&st->err.pipe);
  if ((rc = uv_timer_init(loop, &st->kill_timer)) != 0)
    return rc;
  exec_track(st, (uv_handle_t *)&st->kill_timer);
  if ((rc = uv_timer_init(loop, &st->drain_timer)) != 0)
    return rc;
  exec_track(st, (uv_handle_t *)&st->drain_timer);
  if (feed_stdin) {
    if ((rc = uv_pipe_init(loop, &st->in, 0)) != 0)
      return rc;
    exec_track(st, (uv_handle_t *)&st->in);
  }
  return 0;
}

static void exec_on_spawned(wsp_proc_t *proc, int status);

/* Starts spawning the child (st->argv, st->env): stdout and stderr into our
** pipes, stdin from our pipe or /dev/null, in its own session and process
** group (childproc.h). exec_on_spawned tells how it went. */
static int exec_spawn(exec_state_t *st, uv_loop_t *loop) {
  wsp_spawn_opts_t opts;
  int rc;

  memset(&opts, 0, sizeof opts);
  opts.file = st->argv[0];
  opts.args = st->argv;
  opts.env = st->env; /* NULL: inherit */
  opts.cwd = st->cwd;
  opts.in = st->feed_stdin ? &st->in : NULL;
  opts.out = &st->out.pipe;
  opts.err = &st->err.pipe;
  opts.spawn_cb = exec_on_spawned;
  opts.exit_cb = exec_on_exit;

  st->t_spawn = uv_hrtime();
  st->spawn_tried = true;
  st->proc.data = st;
  rc = wsp_spawn(loop, &st->proc, &opts);
  st->spawning = rc == 0;
  return rc;
}

/* Starts reading stdout and stderr and writing stdin (borrowed from the
** request, which stays valid until the call completes). A stream that cannot
** start is closed: the child then sees EPIPE or EOF rather than a stall. */
static void exec_start_io(exec_state_t *st, const json_t *input) {
  exec_capture_t *caps[2] = { &st->out, &st->err };
  int i;

  for (i = 0; i < 2; i++) {
    caps[i]->reading =
        uv_read_start((uv_stream_t *)&caps[i]->pipe, exec_on_alloc, exec_on_read) == 0;
    if (!caps[i]->reading)
      uv_close((uv_handle_t *)&caps[i]->pipe, exec_on_close);
  }
  if (input != NULL) {
    uv_buf_t buf = uv_buf_init((char *)json_string_value(input),
                               (unsigned int)json_string_length(input));

    st->in_req.data = st;
    st->writing = uv_write(&st->in_req, (uv_stream_t *)&st->in, &buf, 1, exec_on_write) == 0;
    if (!st->writing)
      uv_close((uv_handle_t *)&st->in, exec_on_close);
  }
}

/* The spawn failed: a failed attempt, not a failed start. It is reported
** once the handles closed. */
static void exec_spawn_failed(exec_state_t *st, int rc) {
  st->spawn_rc = rc;
  st->fail_permanent = !exec_spawn_error_is_transient(rc);
  uv_err_name_r(rc, st->fail_code, sizeof st->fail_code);
  st->fail_msg = exec_spawn_message(st, rc);
  exec_close_all(st);
}

/* Cancel's signals: SIGTERM to the child's group now, SIGKILL later. */
static void exec_stop_child(exec_state_t *st) {
  exec_signal_group(st, SIGTERM);
  uv_timer_start(&st->kill_timer, exec_on_kill_timeout, EXEC_KILL_GRACE_MS, 0);
}

/* The spawn is over: the child runs (its I/O starts; a cancel that came
** meanwhile stops it now), or it could not be started. */
static void exec_on_spawned(wsp_proc_t *proc, int status) {
  exec_state_t *st = proc->data;
  uv_handle_t *h = wsp_proc_handle(proc);
  const json_t *input = NULL;

  st->spawning = false;
  free(st->argv);
  st->argv = NULL;
  exec_free_env(st->env, st->env_owned);
  st->env = NULL;
  if (h != NULL)
    exec_track(st, h); /* may be initialised even when the spawn failed */
  if (status != 0) {
    exec_spawn_failed(st, status);
    return;
  }
  st->pid = proc->pid;
  if (st->feed_stdin)
    input = json_object_get(ws_call_request(st->call), "stdin");
  exec_start_io(st, input);
  if (st->cancelled)
    exec_stop_child(st);
}

static int exec_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  const json_t *jargv = json_object_get(req, "argv");
  const json_t *jenv = json_object_get(req, "env");
  const json_t *jin = json_object_get(req, "stdin");
  const char *cwd = exec_req_string(req, "cwd");
  exec_state_t *st;
  char why[256];
  int rc;

  if (exec_validate(&ws_plugin_exec, req, why, sizeof why) != 0) {
    ws_call_fail(call, 1, "bad_request", "%s", why);
    return 0;
  }

  st = calloc(1, sizeof *st);
  if (st == NULL)
    return UV_ENOMEM;
  st->call = call;
  /* An empty stdin is the same as none: the child reads EOF at once. */
  st->feed_stdin = json_is_string(jin) && json_string_length(jin) > 0;
  st->argv0 = strdup(json_string_value(json_array_get(jargv, 0)));
  st->cwd = cwd ? strdup(cwd) : NULL;
  st->argv = exec_build_argv(jargv);
  if (json_is_object(jenv))
    st->env = exec_build_env(jenv, &st->env_owned);
  if (st->argv0 == NULL || (cwd != NULL && st->cwd == NULL) || st->argv == NULL ||
      (json_is_object(jenv) && st->env == NULL)) {
    exec_state_free(st);
    return UV_ENOMEM;
  }
  exec_set_ok_codes(st, json_object_get(req, "ok_codes"));

  rc = exec_init_handles(st, ws_call_loop(call), st->feed_stdin);
  if (rc == 0)
    rc = exec_spawn(st, ws_call_loop(call));
  if (!st->spawn_tried)
    return exec_abandon(st, rc);

  ws_call_set_data(call, st);
  if (rc != 0)
    exec_spawn_failed(st, rc);
  return 0; /* else exec_on_spawned goes on */
}

/* Asks the child to stop: SIGTERM to its process group now (or as soon as
** the spawn is over), SIGKILL after EXEC_KILL_GRACE_MS. The call completes
** once the child exited and its pipes closed, reporting "cancelled". */
static void exec_cancel(ws_call_t *call) {
  exec_state_t *st = ws_call_data(call);

  if (st == NULL || st->closing || st->cancelled)
    return;
  st->cancelled = true;
  if (!st->spawning)
    exec_stop_child(st);
}

const ws_plugin_def_t ws_plugin_exec = {
  .abi = WS_PLUGIN_ABI,
  .name = "ws.exec",
  .descr = "Runs a command (argv, env, cwd, stdin) and captures its exit status and "
           "output (stdout and stderr, 64 KiB each)",
  .is_check = 0,
  .request = &ws__exec_request_type,
  .response = &ws__exec_response_type,
  .retry = NULL,
  .init = exec_init,
  .validate = exec_validate,
  .start = exec_start,
  .cancel = exec_cancel,
  .ud = NULL,
};
