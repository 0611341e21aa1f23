/*
** plugins/childproc.c - a child process started with posix_spawn and watched
** through a pidfd on the loop (see childproc.h).
**
** Design:
**   - glibc's posix_spawn creates the child with clone(CLONE_VM|CLONE_VFORK):
**     it runs in the engine's memory until it execs, so no page table is
**     copied and the cost of a spawn does not grow with the engine's heap.
**   - stdio: pipes from pipe2(O_CLOEXEC). File actions dup2 the child's ends
**     onto 0, 1 and 2 (the copies lose close-on-exec); every original end
**     keeps it, so no other child, spawned meanwhile from this or another
**     thread, inherits an end and holds a pipe open. The parent's ends go to
**     the caller's uv pipes before the spawn, so they have one owner on
**     every path. Ends are kept above 2: an end that is itself 0, 1 or 2 (the
**     engine running with a standard stream closed) could be overwritten by
**     another dup2 before it is copied.
**   - The child as uv_spawn made it for ws.exec (UV_PROCESS_DETACHED):
**     POSIX_SPAWN_SETSID, every signal back to SIG_DFL (the engine ignores
**     SIGPIPE, which a child such as `yes | head` relies on; glibc's own
**     signals included, see spawn_attr_init), an empty mask.
**   - PATH: uv_spawn (1.44) sets environ to the child's environment and
**     calls execvp, so the program is searched in the PATH of the request's
**     env, relative entries and paths from the child's cwd, and a file
**     without "#!" runs with /bin/sh. posix_spawnp would search the engine's
**     PATH, so the search is done here, in the parent, with execvp's rules;
**     candidates are tried with faccessat, not with failing execs.
**   - Threads: posix_spawn returns once the child has exec'd (or failed to),
**     and a new child may wait for a CPU first: measured in the fan-out
**     benchmark on a busy machine, the loop spent 90 % of its time blocked
**     in posix_spawn. So the loop prepares a spawn (pipes, attributes, file
**     actions) and hands it to a small pool of threads (SPAWN_MAX_THREADS,
**     started on demand, all signals blocked), which run posix_spawn and
**     pidfd_open and wake the loop with the spawn's own uv_async_t. The
**     loop then watches the pidfd and reports. Several spawns run at once,
**     as with xargs -P, and the loop keeps serving everything else. A pool
**     thread reads environ when the request sets no env: the engine never
**     changes its environment while running.
**   - Exit: pidfd_open on the new child, a uv_poll_t on it (readable once the
**     child has exited), then waitpid (the pid stays ours until then, so the
**     pidfd cannot name a recycled pid). libuv's own SIGCHLD handling reaps
**     only the pids of its uv_process_t handles, so it never takes ours.
**   - Without pidfds (ENOSYS, EPERM from a seccomp filter) every child is
**     started with uv_spawn, as ws.exec always did, on the loop; spawn_cb
**     still comes on a later loop turn, and exit_cb never before it.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, POSIX_SPAWN_SETSID, posix_spawn_file_actions_addchdir_np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "childproc.h"

#if defined(__has_include)
#if __has_include(<sys/pidfd.h>)
#include <sys/pidfd.h>
#define SPAWN_HAVE_PIDFD_OPEN 1
#endif
#endif

extern char **environ;

#define SPAWN_DEFAULT_PATH "/bin:/usr/bin" /* glibc's execvp without PATH */
#define SPAWN_SHELL "/bin/sh"              /* execvp's interpreter for ENOEXEC */
#define SPAWN_MAX_THREADS 8                /* spawns under way at once */
#define SPAWN_THREAD_STACK (256 * 1024)    /* posix_spawn needs little */

/* One spawn, from wsp_spawn until spawn_cb. */
typedef struct wsp__spawn_job {
  struct wsp__spawn_job *next; /* in the pool's queue */
  wsp_proc_t *proc;
  wsp_spawn_opts_t opts;
  uv_async_t async; /* the thread's "done", to the loop */
  bool uv_mode;     /* uv_spawn ran on the loop: rc says how it went */
  int rc;
  /* posix_spawn: prepared on the loop, run by a pool thread */
  int child_fd[3]; /* the child's pipe ends; the thread closes them */
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  /* the thread's results */
  int err; /* errno */
  pid_t pid;
  int pidfd;
} spawn_job_t;

static wsp_spawn_mode_t spawn_mode = WSP_SPAWN_UNKNOWN;

/* pidfd_open(2): glibc's wrapper (2.36), else the raw system call. */
static int spawn_pidfd_open(pid_t pid) {
#if defined(SPAWN_HAVE_PIDFD_OPEN)
  return pidfd_open(pid, 0);
#elif defined(SYS_pidfd_open)
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

void wsp_spawn_init(void) {
  int fd;

  if (spawn_mode != WSP_SPAWN_UNKNOWN)
    return;
  fd = spawn_pidfd_open(getpid());
  if (fd >= 0) {
    close(fd);
    spawn_mode = WSP_SPAWN_POSIX;
  } else if (errno != EMFILE && errno != ENFILE && errno != ENOMEM) {
    spawn_mode = WSP_SPAWN_UV; /* ENOSYS, or EPERM/EACCES from a filter */
  } /* else: out of descriptors now says nothing about the kernel; ask again */
}

wsp_spawn_mode_t wsp_spawn_mode(void) { return spawn_mode; }

void wsp_spawn_set_mode(wsp_spawn_mode_t mode) { spawn_mode = mode; }

static wsp_proc_t *spawn_proc_of(uv_handle_t *h) {
  return (wsp_proc_t *)(void *)((char *)h - offsetof(wsp_proc_t, u));
}

uv_handle_t *wsp_proc_handle(const wsp_proc_t *proc) { return proc->handle; }

void wsp_proc_close(wsp_proc_t *proc, uv_close_cb cb) {
  if (proc->handle != NULL && !uv_is_closing(proc->handle))
    uv_close(proc->handle, cb);
  /* uv_close has taken the fd out of the loop's epoll set: safe to close. */
  if (proc->pidfd >= 0) {
    close(proc->pidfd);
    proc->pidfd = -1;
  }
}

/* --------------------------------------------------- the uv_spawn fallback */

/* The exit of a uv_spawn child; held back until spawn_cb has run. */
static void spawn_on_uv_exit(uv_process_t *process, int64_t exit_status, int term_signal) {
  wsp_proc_t *proc = spawn_proc_of((uv_handle_t *)process);

  proc->exit_status = term_signal != 0 ? -1 : exit_status;
  proc->term_signal = term_signal;
  if (!proc->spawned) {
    proc->exit_pending = true;
    return;
  }
  proc->exit_cb(proc, proc->exit_status, proc->term_signal);
}

static int spawn_uv(uv_loop_t *loop, wsp_proc_t *proc, const wsp_spawn_opts_t *o) {
  uv_process_options_t opts;
  uv_stdio_container_t stdio[3];
  uv_pipe_t *pipes[3] = { o->in, o->out, o->err };
  int i, rc;

  memset(stdio, 0, sizeof stdio);
  for (i = 0; i < 3; i++) {
    if (pipes[i] == NULL) {
      stdio[i].flags = UV_IGNORE; /* /dev/null */
      continue;
    }
    stdio[i].flags = UV_CREATE_PIPE | (i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    stdio[i].data.stream = (uv_stream_t *)pipes[i];
  }
  memset(&opts, 0, sizeof opts);
  opts.exit_cb = spawn_on_uv_exit;
  opts.file = o->file;
  opts.args = o->args;
  opts.env = o->env;
  opts.cwd = o->cwd;
  opts.flags = UV_PROCESS_DETACHED; /* setsid */
  opts.stdio_count = 3;
  opts.stdio = stdio;

  rc = uv_spawn(loop, &proc->u.process, &opts);
  proc->handle = (uv_handle_t *)&proc->u.process; /* initialised even when it fails */
  if (rc == 0)
    proc->pid = proc->u.process.pid;
  return rc;
}

/* ------------------------------------------------------- posix_spawn */

static int spawn_errno(void) { return uv_translate_sys_error(errno); }

/* A pipe with both ends close-on-exec and above 2 (see the top). */
static int spawn_pipe(int fds[2]) {
  int i;

  if (pipe2(fds, O_CLOEXEC) != 0)
    return spawn_errno();
  for (i = 0; i < 2; i++) {
    int fd;

    if (fds[i] > 2)
      continue;
    fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      int rc = spawn_errno();

      close(fds[0]);
      close(fds[1]);
      fds[0] = fds[1] = -1;
      return rc;
    }
    close(fds[i]);
    fds[i] = fd;
  }
  return 0;
}

/* The value of name in a "K=V" array, or NULL. */
static const char *spawn_getenv(char **env, const char *name) {
  size_t n = strlen(name);

  for (; env != NULL && *env != NULL; env++)
    if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
      return *env + n + 1;
  return NULL;
}

/* One posix_spawn of path; a file the kernel cannot execute (ENOEXEC: no
** "#!") is run by /bin/sh, as execvp does. 0 or an errno. */
static int spawn_exec(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *attr, char **args, char **envp) {
  char **sh_args;
  size_t n = 0;
  int rc;

  rc = posix_spawn(pid, path, fa, attr, args, envp);
  if (rc != ENOEXEC)
    return rc;

  while (args[n] != NULL)
    n++;
  sh_args = calloc(n + 2, sizeof *sh_args); /* sh, path, args[1..n), NULL */
  if (sh_args == NULL)
    return ENOMEM;
  sh_args[0] = (char *)SPAWN_SHELL;
  sh_args[1] = (char *)path;
  if (n > 1)
    memcpy(sh_args + 2, args + 1, (n - 1) * sizeof *args);
  rc = posix_spawn(pid, SPAWN_SHELL, fa, attr, sh_args, envp);
  free(sh_args);
  return rc;
}

/* Whether check (a candidate, prefixed with the child's cwd when relative)
** can be executed: 0, or the errno execve would most likely give. */
static int spawn_candidate_errno(const char *check) {
  struct stat sb;

  if (faccessat(AT_FDCWD, check, X_OK, AT_EACCESS) != 0)
    return errno;
  if (stat(check, &sb) != 0)
    return errno;
  return S_ISREG(sb.st_mode) ? 0 : EACCES; /* as execve refuses a directory */
}

/* The errors after which execvp tries the next PATH entry. */
static bool spawn_search_goes_on(int e) {
  return e == ENOENT || e == ENOTDIR || e == EACCES || e == ESTALE || e == ENODEV ||
         e == ETIMEDOUT;
}

/*
** Runs o->file: a path as it is (relative to the child's cwd), a name looked
** up in PATH with execvp's rules: an empty entry is the current directory;
** an entry without the program, or whose exec failed with one of the errors
** above, gives way to the next; EACCES is reported when an entry had the
** program but could not run it and no entry could. 0 or an errno.
*/
static int spawn_run(pid_t *pid, const wsp_spawn_opts_t *o, const posix_spawn_file_actions_t *fa,
                     const posix_spawnattr_t *attr) {
  char **envp = o->env != NULL ? o->env : environ;
  const char *path, *p, *end;
  size_t flen = strlen(o->file), plen, cwdlen = o->cwd != NULL ? strlen(o->cwd) : 0;
  bool eacces = false;
  char *buf;
  int e;

  if (strchr(o->file, '/') != NULL)
    return spawn_exec(pid, o->file, fa, attr, o->args, envp);

  path = spawn_getenv(envp, "PATH");
  if (path == NULL)
    path = SPAWN_DEFAULT_PATH;
  plen = strlen(path);
  /* buf = "<cwd>/" then the candidate: the whole is what a relative
  ** candidate means in the child, the candidate alone what it execs. */
  buf = malloc(cwdlen + 1 + plen + 1 + flen + 1);
  if (buf == NULL)
    return ENOMEM;
  if (o->cwd != NULL) {
    memcpy(buf, o->cwd, cwdlen);
    buf[cwdlen++] = '/';
  }

  for (p = path;; p = end + 1) {
    char *cand = buf + cwdlen;
    size_t dlen;

    end = strchr(p, ':');
    dlen = end != NULL ? (size_t)(end - p) : strlen(p);
    if (dlen > 0) {
      memcpy(cand, p, dlen);
      cand[dlen++] = '/';
    }
    memcpy(cand + dlen, o->file, flen + 1);
    e = spawn_candidate_errno(cand[0] == '/' ? cand : buf);
    if (e == 0 && (e = spawn_exec(pid, cand, fa, attr, o->args, envp)) == 0)
      break;
    if (!spawn_search_goes_on(e))
      break;
    eacces = eacces || e == EACCES;
    if (end == NULL) {
      e = eacces ? EACCES : e;
      break;
    }
  }
  free(buf);
  return e;
}

/* A child we cannot watch: killed (with its group) and reaped at once. The
** wait is short: SIGKILL cannot be caught and the child has just started. */
static void spawn_discard_child(pid_t pid) {
  if (kill(-pid, SIGKILL) != 0)
    kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* The pidfd is readable: the child has exited. Reap it, report. */
static void spawn_on_pidfd(uv_poll_t *poll, int status, int events) {
  wsp_proc_t *proc = spawn_proc_of((uv_handle_t *)poll);
  int64_t code = -1;
  int sig = 0, wstatus = 0;
  pid_t r;

  (void)events;
  do
    r = waitpid(proc->pid, &wstatus, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) {
    /* Not exited after all. A pidfd reports no errors (POLLERR), but libuv
    ** stops polling on one: poll again rather than never learn of the exit. */
    if (status < 0)
      uv_poll_start(poll, UV_READABLE, spawn_on_pidfd);
    return;
  }
  uv_poll_stop(poll);
  if (r > 0 && WIFEXITED(wstatus)) {
    code = WEXITSTATUS(wstatus);
  } else if (r > 0 && WIFSIGNALED(wstatus)) {
    sig = WTERMSIG(wstatus);
  } /* else ECHILD: reaped elsewhere (SIGCHLD ignored), the status is lost */
  proc->exit_cb(proc, code, sig);
}

/* Watches the child through its pidfd (taken) on the loop. On failure the
** child is discarded. */
static int spawn_watch(uv_loop_t *loop, wsp_proc_t *proc, pid_t pid, int pidfd) {
  int rc;

  proc->pidfd = pidfd;
  rc = uv_poll_init(loop, &proc->u.poll, pidfd);
  if (rc != 0) {
    close(pidfd);
    proc->pidfd = -1;
    spawn_discard_child(pid);
    return rc;
  }
  proc->handle = (uv_handle_t *)&proc->u.poll;
  rc = uv_poll_start(&proc->u.poll, UV_READABLE, spawn_on_pidfd);
  if (rc != 0) {
    spawn_discard_child(pid); /* the caller closes the handle, and the pidfd */
    return rc;
  }
  proc->pid = (int)pid;
  return 0;
}

/* The spawn attributes: own session, default signal dispositions, empty mask. */
static int spawn_attr_init(posix_spawnattr_t *attr) {
  sigset_t all, none;
  int rc;

  /* Every bit, not sigfillset: glibc's leaves out its two internal signals
  ** (SIGCANCEL and SIGSETXID, 32 and 33), and its posix_spawn then sets
  ** them to SIG_IGN in the child, which exec keeps. The kernel refuses
  ** SIGKILL and SIGSTOP; posix_spawn ignores that. */
  memset(&all, 0xff, sizeof all);
  sigemptyset(&none);
  rc = posix_spawnattr_init(attr);
  if (rc != 0)
    return rc;
  if ((rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                               POSIX_SPAWN_SETSIGMASK)) != 0 ||
      (rc = posix_spawnattr_setsigdefault(attr, &all)) != 0 ||
      (rc = posix_spawnattr_setsigmask(attr, &none)) != 0)
    posix_spawnattr_destroy(attr);
  return rc;
}

/* dup2s the child's pipe ends onto 0, 1, 2 (/dev/null where there is no
** pipe), then changes the directory; in that order, as uv_spawn did. */
static int spawn_actions_init(posix_spawn_file_actions_t *fa, const int child_fd[3],
                              const char *cwd) {
  int i, rc = posix_spawn_file_actions_init(fa);

  if (rc != 0)
    return rc;
  for (i = 0; i < 3 && rc == 0; i++) {
    if (child_fd[i] >= 0)
      rc = posix_spawn_file_actions_adddup2(fa, child_fd[i], i);
    else
      rc = posix_spawn_file_actions_addopen(fa, i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0);
  }
  if (rc == 0 && cwd != NULL)
    rc = posix_spawn_file_actions_addchdir_np(fa, cwd);
  if (rc != 0)
    posix_spawn_file_actions_destroy(fa);
  return rc;
}

static void spawn_close_child_fds(spawn_job_t *job) {
  int i;

  for (i = 0; i < 3; i++) {
    if (job->child_fd[i] >= 0)
      close(job->child_fd[i]);
    job->child_fd[i] = -1;
  }
}

/* Everything of a posix_spawn the loop can do: the pipes (ours go to the
** caller's uv pipes at once, which own them from then on: stdin's write
** end, the read ends of the others), the attributes, the file actions. */
static int spawn_prepare(spawn_job_t *job) {
  const wsp_spawn_opts_t *o = &job->opts;
  uv_pipe_t *pipes[3] = { o->in, o->out, o->err };
  int i, rc = 0;

  for (i = 0; i < 3 && rc == 0; i++) {
    int fds[2], ours;

    if (pipes[i] == NULL)
      continue;
    if ((rc = spawn_pipe(fds)) != 0)
      break;
    ours = i == 0 ? 1 : 0;
    job->child_fd[i] = fds[1 - ours];
    rc = uv_pipe_open(pipes[i], fds[ours]);
    if (rc != 0)
      close(fds[ours]);
  }
  if (rc == 0) {
    rc = uv_translate_sys_error(spawn_attr_init(&job->attr));
    if (rc == 0) {
      rc = uv_translate_sys_error(spawn_actions_init(&job->fa, job->child_fd, o->cwd));
      if (rc != 0)
        posix_spawnattr_destroy(&job->attr);
    }
  }
  if (rc != 0)
    spawn_close_child_fds(job);
  return rc;
}

/* What a pool thread does (or the loop, when no thread could be started):
** the spawn, the pidfd, then wakes the loop. The job is the loop's again
** from uv_async_send on. */
static void spawn_job_run(spawn_job_t *job) {
  job->err = spawn_run(&job->pid, &job->opts, &job->fa, &job->attr);
  spawn_close_child_fds(job); /* the child has its copies now (or there is none) */
  posix_spawn_file_actions_destroy(&job->fa);
  posix_spawnattr_destroy(&job->attr);
  if (job->err == 0) {
    job->pidfd = spawn_pidfd_open(job->pid);
    if (job->pidfd < 0) {
      job->err = errno;
      spawn_discard_child(job->pid);
    }
  }
  uv_async_send(&job->async);
}

/* ------------------------------------------------------- the pool */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static spawn_job_t *pool_head, *pool_tail;
static unsigned pool_queued, pool_idle, pool_threads;

static void *spawn_thread(void *arg) {
  (void)arg;
  for (;;) {
    spawn_job_t *job;

    pthread_mutex_lock(&pool_mu);
    while (pool_head == NULL) {
      pool_idle++;
      pthread_cond_wait(&pool_cv, &pool_mu);
      pool_idle--;
    }
    job = pool_head;
    pool_head = job->next;
    if (pool_head == NULL)
      pool_tail = NULL;
    pool_queued--;
    pthread_mutex_unlock(&pool_mu);
    spawn_job_run(job);
  }
  return NULL;
}

/* Starts one more pool thread, with every signal blocked (signals are for
** the loop's thread). Called with pool_mu held. */
static bool spawn_thread_start(void) {
  pthread_attr_t attr;
  pthread_t tid;
  sigset_t all, old;
  size_t stack = SPAWN_THREAD_STACK;
  int rc;

  if (pthread_attr_init(&attr) != 0)
    return false;
  if (stack < (size_t)PTHREAD_STACK_MIN)
    stack = (size_t)PTHREAD_STACK_MIN;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&tid, &attr, spawn_thread, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return false;
  pool_threads++;
  return true;
}

/* Queues a job for the pool, starting a thread when every one is busy.
** False when there is no thread at all and none can be started. */
static bool spawn_submit(spawn_job_t *job) {
  bool ok = true;

  pthread_mutex_lock(&pool_mu);
  if (pool_queued >= pool_idle && pool_threads < SPAWN_MAX_THREADS)
    ok = spawn_thread_start() || pool_threads > 0;
  if (ok) {
    job->next = NULL;
    if (pool_tail != NULL)
      pool_tail->next = job;
    else
      pool_head = job;
    pool_tail = job;
    pool_queued++;
    pthread_cond_signal(&pool_cv);
  }
  pthread_mutex_unlock(&pool_mu);
  return ok;
}

/* ------------------------------------------------------- on the loop */

/* The job's handle is closed: watch the child, report the spawn. */
static void spawn_on_job_closed(uv_handle_t *h) {
  spawn_job_t *job = h->data;
  wsp_proc_t *proc = job->proc;
  int rc;

  if (job->uv_mode)
    rc = job->rc;
  else if (job->err != 0)
    rc = uv_translate_sys_error(job->err);
  else
    rc = spawn_watch(h->loop, proc, job->pid, job->pidfd);
  free(job);
  proc->job = NULL;
  proc->spawned = true;
  proc->spawn_cb(proc, rc);
  if (rc == 0 && proc->exit_pending) {
    proc->exit_pending = false;
    proc->exit_cb(proc, proc->exit_status, proc->term_signal);
  }
}

static void spawn_on_job_done(uv_async_t *async) {
  uv_close((uv_handle_t *)async, spawn_on_job_closed);
}

int wsp_spawn(uv_loop_t *loop, wsp_proc_t *proc, const wsp_spawn_opts_t *opts) {
  spawn_job_t *job;
  int rc;

  proc->pid = 0;
  proc->handle = NULL;
  proc->pidfd = -1;
  proc->spawn_cb = opts->spawn_cb;
  proc->exit_cb = opts->exit_cb;
  proc->spawned = false;
  proc->exit_pending = false;
  wsp_spawn_init();

  job = calloc(1, sizeof *job);
  if (job == NULL)
    return UV_ENOMEM;
  job->proc = proc;
  job->opts = *opts;
  job->child_fd[0] = job->child_fd[1] = job->child_fd[2] = -1;
  job->pidfd = -1;
  job->uv_mode = spawn_mode == WSP_SPAWN_UV;
  /* Probed or not (out of descriptors: so is pidfd_open, reported later). */
  if (!job->uv_mode && (rc = spawn_prepare(job)) != 0) {
    free(job);
    return rc;
  }
  rc = uv_async_init(loop, &job->async, spawn_on_job_done);
  if (rc != 0) {
    if (!job->uv_mode) {
      spawn_close_child_fds(job);
      posix_spawn_file_actions_destroy(&job->fa);
      posix_spawnattr_destroy(&job->attr);
    }
    free(job);
    return rc;
  }
  job->async.data = job;
  proc->job = job;

  if (job->uv_mode) {
    job->rc = spawn_uv(loop, proc, opts);
    uv_async_send(&job->async); /* spawn_cb on a later turn, as for the others */
  } else if (!spawn_submit(job)) {
    spawn_job_run(job); /* no thread: on the loop, blocking it, but working */
  }
  return 0;
}
