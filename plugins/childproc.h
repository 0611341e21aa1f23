/*
** plugins/childproc.h - starts a child process on a libuv loop without fork():
** posix_spawn, and a pidfd watched on the loop for its exit (childproc.c).
**
** libuv 1.44's uv_spawn forks, which copies the page tables of the whole
** engine for every child (~8 ms at 100 MB of heap); posix_spawn does not.
** The child is the one uv_spawn made for ws.exec: its own session and process
** group, every signal at its default disposition, an empty signal mask,
** stdin from a pipe or /dev/null, stdout and stderr into pipes.
**
** posix_spawn blocks its caller until the child has exec'd, and on a busy
** machine a new child can wait milliseconds for a CPU before it does: the
** spawns run on a few threads of their own, so the loop never waits for
** them and several children start at once.
**
** Where pidfds are missing (Linux < 5.3, a seccomp filter refusing them)
** children are started with uv_spawn instead, the same way.
**
** Internal to the built-in plugins (the wsp_ prefix); not part of the engine's API.
*/
#ifndef WORKSTREAM_PLUGINS_CHILDPROC_H
#define WORKSTREAM_PLUGINS_CHILDPROC_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct wsp_proc wsp_proc_t;

/* The spawn is over: status 0 when the child runs, else the UV error of a
** child that could not be started (see wsp_spawn). */
typedef void (*wsp_spawn_cb)(wsp_proc_t *proc, int status);

/* The child exited: its exit code, or -1 and the signal that ended it.
** exit_status is also -1 (and term_signal 0) when the status was lost: the
** child was reaped by someone else (the host set SIGCHLD to SIG_IGN). */
typedef void (*wsp_exit_cb)(wsp_proc_t *proc, int64_t exit_status, int term_signal);

typedef struct wsp_spawn_opts {
  const char *file; /* a path (with a '/'), or a name looked up in PATH */
  char **args;      /* argv as the child sees it, NULL-terminated */
  char **env;       /* the child's environment; NULL: the engine's own */
  const char *cwd;  /* NULL: the engine's own */
  /* Initialised (uv_pipe_init), not yet opened; they get the parent's ends.
  ** in: the child's stdin, out, err: its stdout and stderr; NULL: /dev/null. */
  uv_pipe_t *in;
  uv_pipe_t *out;
  uv_pipe_t *err;
  wsp_spawn_cb spawn_cb; /* runs once, on the loop */
  wsp_exit_cb exit_cb;   /* runs once, on the loop, after spawn_cb with 0 */
} wsp_spawn_opts_t;

struct wsp_proc {
  void *data; /* the caller's */
  int pid;    /* once started */
  /* private */
  union {
    uv_poll_t poll;       /* on the pidfd */
    uv_process_t process; /* the uv_spawn fallback */
  } u;
  uv_handle_t *handle; /* the member of u that is initialised, or NULL */
  int pidfd;
  struct wsp__spawn_job *job; /* while the spawn is under way */
  wsp_spawn_cb spawn_cb;
  wsp_exit_cb exit_cb;
  bool spawned;      /* spawn_cb ran */
  bool exit_pending; /* uv_spawn reported the exit before spawn_cb ran */
  int64_t exit_status;
  int term_signal;
};

/* How children are started: chosen once, on the first call of wsp_spawn_init
** or wsp_spawn, by whether pidfd_open works. */
typedef enum wsp_spawn_mode {
  WSP_SPAWN_UNKNOWN, /* not probed yet */
  WSP_SPAWN_POSIX,   /* posix_spawn + pidfd */
  WSP_SPAWN_UV       /* uv_spawn (fork) */
} wsp_spawn_mode_t;

/* Probes pidfd_open (once; again later if the probe ran out of descriptors). */
void wsp_spawn_init(void);
wsp_spawn_mode_t wsp_spawn_mode(void);
/* For tests: forces a mode, so that the fallback runs on a kernel with pidfds. */
void wsp_spawn_set_mode(wsp_spawn_mode_t mode);

/*
** Starts a child. 0 when the spawn is under way: spawn_cb will run, with 0
** when the child runs (then exit_cb runs once, maybe right after spawn_cb
** returned) or a UV error: the program could not be run (UV_ENOENT,
** UV_EACCES, ... also for a bad cwd: the directory is changed in the child),
** or resources ran out. Else a negative UV error at once (resources): no
** callback runs.
** opts is copied; what it points to (file, args, env, cwd) must stay valid
** until spawn_cb has run. The parent's ends of the pipes are opened in opts'
** pipes; the caller closes those pipes in any case (some may be open even
** after a failure). After spawn_cb, when wsp_proc_handle(proc) is not NULL,
** the caller closes proc with wsp_proc_close, once, after exit_cb ran (a
** child not reaped by then is left a zombie).
*/
int wsp_spawn(uv_loop_t *loop, wsp_proc_t *proc, const wsp_spawn_opts_t *opts);

/* The loop handle of proc (its data member is the caller's to set), or NULL
** when wsp_spawn initialised none. */
uv_handle_t *wsp_proc_handle(const wsp_proc_t *proc);

/* Closes proc's handle (cb runs as for uv_close) and its pidfd. */
void wsp_proc_close(wsp_proc_t *proc, uv_close_cb cb);

#endif
