/*
** kill_at_write.c - an LD_PRELOAD shim for the crash tests: the process kills
** itself (SIGKILL, as kill -9 would) in the middle of a SQLite commit.
**
**   LD_PRELOAD=kill_at_write.so WS_KILL_AT_WRITE=N wsrun ...
**
** The N-th write (pwrite/pwrite64) to a file whose name ends in "-wal" does
** not happen: the process dies first, so the commit in progress has written
** some of its frames and not the rest (N counts from 1; unset or 0: never).
** SQLite's unix VFS calls pwrite64 through the dynamic linker, so the shim
** sees every write to the WAL.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long writes;

static int is_wal(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 4) return 0;
  target[n] = '\0';
  return strcmp(target + n - 4, "-wal") == 0;
}

static void maybe_die(int fd) {
  const char *at = getenv("WS_KILL_AT_WRITE");
  long n = at ? strtol(at, NULL, 10) : 0;
  if (n > 0 && is_wal(fd) && ++writes >= n) kill(getpid(), SIGKILL);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
  maybe_die(fd);
  return real(fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
  maybe_die(fd);
  return real(fd, buf, len, off);
}
