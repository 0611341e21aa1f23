/*
** tests/test_exec.c - the ws.exec built-in, run through the real engine.
**
** Each test builds a one-action plan (plan > block > sequence > action), resolves
** it against a registry filled by ws_builtins_register, runs it with
** ws_run_plan on a fresh loop and inspects the action's first attempt. After
** every run the loop must close cleanly: ws.exec leaves no handle behind.
**
** Children are started with posix_spawn and watched through a pidfd
** (plugins/childproc.c), or with uv_spawn where pidfds are missing. The tests
** marked "both ways" run a second time with uv_spawn forced, so the two
** paths are held to the same behaviour.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "builtins.h"
#include "childproc.h"
#include "test_plugins.h"
#include "workstream/engine.h"

static ws_registry_t *g_reg;
static wsp_spawn_mode_t g_spawn_mode; /* as chosen by ws.exec's init */

static int setup_registry(void **state) {
  char err[512];

  (void)state;
  g_reg = ws_registry_new();
  if (g_reg == NULL)
    return -1;
  if (ws_builtins_register(g_reg, err, sizeof err) != 0) {
    fprintf(stderr, "ws_builtins_register: %s\n", err);
    return -1;
  }
  g_spawn_mode = wsp_spawn_mode();
  return 0;
}

/* Setup and teardown of the second run of the tests run both ways. */
static int use_uv_spawn(void **state) {
  (void)state;
  wsp_spawn_set_mode(WSP_SPAWN_UV);
  return 0;
}

static int restore_spawn_mode(void **state) {
  (void)state;
  wsp_spawn_set_mode(g_spawn_mode);
  return 0;
}

static int teardown_registry(void **state) {
  (void)state;
  ws_registry_free(g_reg);
  g_reg = NULL;
  return 0;
}

/* Builds plan > block > sequence > action around req (stolen). */
static ws_plan_t *one_action_plan(json_t *req, double timeout, ws_action_t **actionp) {
  ws_plan_t *plan = ws_plan_new("exec-test", NULL);
  ws_block_t *block = ws_block_new("block", NULL);
  ws_sequence_t *seq = ws_sequence_new("seq", NULL);
  ws_action_t *action = ws_action_new("run", NULL, "ws.exec", req);

  assert_non_null(plan);
  assert_non_null(block);
  assert_non_null(seq);
  assert_non_null(action);
  if (timeout > 0)
    action->timeout = timeout;
  assert_int_equal(ws_sequence_add_action(seq, action), 0);
  assert_int_equal(ws_block_add_sequence(block, seq), 0);
  assert_int_equal(ws_plan_add_block(plan, block), 0);
  *actionp = action;
  return plan;
}

/* Resolves and runs a one-action plan for req (stolen) on a fresh loop, closed
** afterwards; timeout 0 = default. */
static void run_exec(json_t *req, double timeout, test_run_t *run) {
  ws_action_t *action;
  ws_plan_t *plan;
  uv_loop_t loop;

  assert_non_null(req);
  plan = one_action_plan(req, timeout, &action);
  assert_int_equal(uv_loop_init(&loop), 0);
  test_run_plan(&loop, g_reg, plan, action, run);
  test_close_loop(&loop);
}

/* The same on the virtual clock (timeouts there still wait for the child). */
static void run_exec_vclock(json_t *req, double timeout, test_run_t *run) {
  ws_run_opts_t opts = { .virtual_clock = true };
  ws_action_t *action;
  ws_plan_t *plan;
  uv_loop_t loop;
  char err[512];

  assert_non_null(req);
  plan = one_action_plan(req, timeout, &action);
  run->plan = plan;
  run->action = action;
  if (ws_plan_resolve(plan, g_reg, err, sizeof err) != 0)
    fail_msg("ws_plan_resolve: %s", err);
  assert_int_equal(uv_loop_init(&loop), 0);
  if (ws_run_plan(&loop, plan, g_reg, &opts, err, sizeof err) != 0)
    fail_msg("ws_run_plan: %s", err);
  test_close_loop(&loop);
  assert_true(action->nattempts >= 1);
}

/* True when pid is gone or a zombie (its parent may not have reaped it yet). */
static bool process_dead(pid_t pid) {
  char path[64], buf[256];
  FILE *f;
  char *rp;
  size_t n;

  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return kill(pid, 0) != 0 && errno == ESRCH;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  rp = strrchr(buf, ')');
  return rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool wait_dead(pid_t pid, double seconds) {
  uint64_t until = uv_hrtime() + (uint64_t)(seconds * 1e9);

  while (!process_dead(pid)) {
    if (uv_hrtime() > until)
      return false;
    usleep(20000);
  }
  return true;
}

/* ----------------------------------------------------------------- tests */

static void test_registered(void **state) {
  const ws_plugin_def_t *def = ws_registry_find(g_reg, "ws.exec");

  (void)state;
  assert_ptr_equal(def, &ws_plugin_exec);
  assert_int_equal(def->is_check, 0);
  assert_non_null(def->cancel);
}

static void test_stdout_captured(void **state) {
  test_run_t run;
  json_t *resp;

  (void)state;
  run_exec(json_pack("{s:[s,s]}", "argv", "echo", "hello world"), 0, &run);
  resp = test_run_resp(&run);
  assert_string_equal(test_resp_str(resp, "stdout"), "hello world\n");
  assert_string_equal(test_resp_str(resp, "stderr"), "");
  assert_int_equal(test_resp_int(resp, "code"), 0);
  assert_int_equal(test_resp_int(resp, "signal"), 0);
  assert_false(test_resp_bool(resp, "stdout_truncated"));
  assert_false(test_resp_bool(resp, "stderr_truncated"));
  assert_true(json_is_number(json_object_get(resp, "duration")));
  assert_true(json_number_value(json_object_get(resp, "duration")) >= 0);
  assert_true(json_number_value(json_object_get(resp, "duration")) < 10);
  assert_int_equal(run.action->nattempts, 1);
  test_run_free(&run);
}

static void test_stderr_captured(void **state) {
  test_run_t run;
  json_t *resp;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo out; echo err >&2"), 0, &run);
  resp = test_run_resp(&run);
  assert_string_equal(test_resp_str(resp, "stdout"), "out\n");
  assert_string_equal(test_resp_str(resp, "stderr"), "err\n");
  test_run_free(&run);
}

static void test_stdin_fed(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s], s:s}", "argv", "cat", "stdin", "line one\nline two\n"), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "line one\nline two\n");
  test_run_free(&run);
}

/* stdin is bytes, NUL included; so is the captured output. */
static void test_stdin_binary(void **state) {
  test_run_t run;
  json_t *out;

  (void)state;
  run_exec(json_pack("{s:[s], s:s%}", "argv", "cat", "stdin", "\0a\0b", (size_t)4), 0, &run);
  out = json_object_get(test_run_resp(&run), "stdout");
  assert_int_equal(json_string_length(out), 4);
  assert_memory_equal(json_string_value(out), "\0a\0b", 4);
  test_run_free(&run);
}

/* Without stdin the child reads /dev/null, never the engine's terminal. */
static void test_stdin_default_is_dev_null(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s]}", "argv", "readlink", "/proc/self/fd/0"), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "/dev/null\n");
  test_run_free(&run);

  run_exec(json_pack("{s:[s]}", "argv", "cat"), 5, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "");
  test_run_free(&run);
}

/* A child that never reads a large stdin: the write fails with EPIPE, which
** must neither kill the engine (SIGPIPE) nor fail the attempt. */
static void test_stdin_unread(void **state) {
  size_t n = 1024 * 1024;
  char *big = malloc(n + 1);
  test_run_t run;

  (void)state;
  assert_non_null(big);
  memset(big, 'x', n);
  big[n] = '\0';
  run_exec(json_pack("{s:[s], s:s}", "argv", "true", "stdin", big), 10, &run);
  free(big);
  assert_int_equal(test_resp_int(test_run_resp(&run), "code"), 0);
  test_run_free(&run);
}

/* A stdin larger than the pipe buffer goes through whole. */
static void test_stdin_large(void **state) {
  size_t n = 300 * 1000;
  char *big = malloc(n + 1);
  test_run_t run;
  json_t *resp;

  (void)state;
  assert_non_null(big);
  memset(big, 'y', n);
  big[n] = '\0';
  run_exec(json_pack("{s:[s,s,s], s:s}", "argv", "sh", "-c", "wc -c >&2; echo done >&2",
                     "stdin", big),
           10, &run);
  free(big);
  resp = test_run_resp(&run);
  assert_string_equal(test_resp_str(resp, "stderr"), "300000\ndone\n");
  test_run_free(&run);
}

static void test_env_override(void **state) {
  test_run_t run;

  (void)state;
  assert_int_equal(setenv("WS_EXEC_TEST_INHERITED", "inherited", 1), 0);
  assert_int_equal(setenv("WS_EXEC_TEST_X", "old", 1), 0);
  run_exec(json_pack("{s:[s,s,s], s:{s:s, s:s}}", "argv", "sh", "-c",
                     "printf %s \"$WS_EXEC_TEST_X/$WS_EXEC_TEST_INHERITED/$WS_EXEC_TEST_NEW\"",
                     "env", "WS_EXEC_TEST_X", "new value", "WS_EXEC_TEST_NEW", "added"),
           0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "new value/inherited/added");
  test_run_free(&run);
  unsetenv("WS_EXEC_TEST_INHERITED");
  unsetenv("WS_EXEC_TEST_X");
}

static void test_cwd(void **state) {
  char tmpl[] = "/tmp/ws-exec-cwd-XXXXXX";
  char real[PATH_MAX], expect[PATH_MAX + 2];
  test_run_t run;

  (void)state;
  assert_non_null(mkdtemp(tmpl));
  assert_non_null(realpath(tmpl, real));
  snprintf(expect, sizeof expect, "%s\n", real);
  run_exec(json_pack("{s:[s,s], s:s}", "argv", "pwd", "-P", "cwd", tmpl), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), expect);
  test_run_free(&run);
  rmdir(tmpl);
}

static void test_ok_codes(void **state) {
  test_run_t run;
  json_t *resp;

  (void)state;
  run_exec(json_pack("{s:[s,s,s], s:[i]}", "argv", "sh", "-c", "exit 3", "ok_codes", 3), 0, &run);
  resp = test_run_resp(&run);
  assert_int_equal(test_resp_int(resp, "code"), 3);
  assert_int_equal(test_resp_int(resp, "signal"), 0);
  test_run_free(&run);

  /* 0 is no longer accepted once ok_codes is given without it. */
  run_exec(json_pack("{s:[s], s:[i,i]}", "argv", "true", "ok_codes", 3, 4), 0, &run);
  assert_string_equal(test_run_err(&run)->code, "exit_code");
  test_assert_contains(test_run_err(&run)->msg, "expected one of 3, 4");
  test_run_free(&run);
}

static void test_exit_code_fails(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c",
                     "echo some output; echo 'first problem' >&2; echo 'it broke' >&2; exit 1"),
           0, &run);
  err = test_run_err(&run);
  assert_non_null(err->code);
  assert_string_equal(err->code, "exit_code");
  assert_false(err->permanent);
  test_assert_contains(err->msg, "command \"sh\"");
  test_assert_contains(err->msg, "code 1");
  test_assert_contains(err->msg, "expected 0");
  test_assert_contains(err->msg, "it broke");
  test_assert_contains(err->msg, "first problem | it broke");
  assert_null(strchr(err->msg, '\n'));
  test_run_free(&run);

  run_exec(json_pack("{s:[s]}", "argv", "false"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "exit_code");
  assert_string_equal(err->msg, "command \"false\" exited with code 1 (expected 0)");
  test_run_free(&run);
}

/* With nothing on stderr, the message quotes the end of stdout. */
static void test_exit_code_stdout_hint(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo 'no such host'; exit 4"), 0, &run);
  test_assert_contains(test_run_err(&run)->msg, "code 4 (expected 0): stdout: no such host");
  test_run_free(&run);
}

/* Huge stderr: the message keeps only a short tail. */
static void test_error_message_bounded(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c",
                     "head -c 100000 /dev/zero | tr '\\0' e >&2; echo >&2; echo 'last line' >&2;"
                     " exit 2"),
           10, &run);
  err = test_run_err(&run);
  assert_true(strlen(err->msg) < 500);
  test_assert_contains(err->msg, "code 2");
  test_assert_contains(err->msg, "last line");
  test_run_free(&run);

  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c",
                     "head -c 100000 /dev/zero | tr '\\0' e >&2; exit 2"),
           10, &run);
  err = test_run_err(&run);
  assert_true(strlen(err->msg) < 500);
  test_assert_contains(err->msg, ": ...eeee");
  test_run_free(&run);
}

static void test_missing_executable(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_exec(json_pack("{s:[s]}", "argv", "/nonexistent/ws-no-such-program"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOENT");
  assert_true(err->permanent);
  test_assert_contains(err->msg, "cannot run \"/nonexistent/ws-no-such-program\"");
  test_run_free(&run);

  /* Looked up in PATH. */
  run_exec(json_pack("{s:[s,s]}", "argv", "ws-no-such-program-anywhere", "x"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOENT");
  assert_true(err->permanent);
  test_assert_contains(err->msg, "ws-no-such-program-anywhere");
  test_run_free(&run);
}

static void test_not_executable(void **state) {
  char path[] = "/tmp/ws-exec-noexec-XXXXXX";
  int fd = mkstemp(path);
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  assert_true(fd >= 0);
  close(fd);
  run_exec(json_pack("{s:[s]}", "argv", path), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "EACCES");
  assert_true(err->permanent);
  test_assert_contains(err->msg, path);
  test_run_free(&run);
  unlink(path);
}

static void test_bad_cwd(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_exec(json_pack("{s:[s], s:s}", "argv", "true", "cwd", "/nonexistent/ws-dir"), 0, &run);
  err = test_run_err(&run);
  assert_true(err->permanent);
  test_assert_contains(err->msg, "/nonexistent/ws-dir");
  test_assert_contains(err->msg, "working directory");
  test_run_free(&run);
}

static void test_signal(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo dying >&2; kill -KILL $$"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "signal");
  assert_false(err->permanent);
  test_assert_contains(err->msg, "command \"sh\" was killed by signal 9 (SIGKILL)");
  test_assert_contains(err->msg, "dying");
  test_run_free(&run);
}

/* stdout[from..to) are all c. */
static void assert_stdout_bytes(const char *out, size_t from, size_t to, char c) {
  size_t i;

  for (i = from; i < to; i++)
    if (out[i] != c)
      fail_msg("stdout[%zu] = 0x%02x", i, (unsigned char)out[i]);
}

static void test_stdout_truncated(void **state) {
  test_run_t run;
  json_t *resp;
  const char *out;
  size_t len;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a"),
           10, &run);
  resp = test_run_resp(&run);
  out = test_resp_str(resp, "stdout");
  len = json_string_length(json_object_get(resp, "stdout"));
  assert_int_equal(len, 64 * 1024);
  assert_stdout_bytes(out, 0, len, 'a');
  assert_true(test_resp_bool(resp, "stdout_truncated"));
  assert_false(test_resp_bool(resp, "stderr_truncated"));
  assert_int_equal(test_resp_int(resp, "code"), 0);
  test_run_free(&run);

  /* Exactly at the cap is not truncated. */
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "head -c 65536 /dev/zero | tr '\\0' b"),
           10, &run);
  resp = test_run_resp(&run);
  assert_int_equal(json_string_length(json_object_get(resp, "stdout")), 64 * 1024);
  assert_false(test_resp_bool(resp, "stdout_truncated"));
  test_run_free(&run);
}

/* Invalid UTF-8 still gives a (valid) string: bad bytes become U+FFFD. */
static void test_invalid_utf8(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s]}", "argv", "printf", "\\377ok \xc3\xa9 \\342\\202"), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"),
                      "\xEF\xBF\xBDok \xc3\xa9 \xEF\xBF\xBD");
  test_run_free(&run);
}

/* A character cut by the cap is dropped, even when invalid bytes came before
** it (they still become U+FFFD). */
static void test_truncated_utf8_cut(void **state) {
  test_run_t run;
  json_t *resp;
  const char *out;
  size_t len;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c",
                     "printf '\\377'; head -c 65534 /dev/zero | tr '\\0' a; printf '\\303\\251'"),
           10, &run);
  resp = test_run_resp(&run);
  assert_true(test_resp_bool(resp, "stdout_truncated"));
  out = test_resp_str(resp, "stdout");
  len = json_string_length(json_object_get(resp, "stdout"));
  assert_int_equal(len, 3 + 65534);
  assert_memory_equal(out, "\xEF\xBF\xBD", 3);
  assert_stdout_bytes(out, 3, len, 'a');
  test_run_free(&run);
}

/* The child leads its own session and process group. */
static void test_own_process_group(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c",
                     "read -r pid comm st ppid pgrp sid rest < /proc/$$/stat;"
                     " [ \"$pgrp\" = $$ ] && [ \"$sid\" = $$ ]"),
           0, &run);
  test_run_resp(&run);
  test_run_free(&run);
}

/* A background process holding the pipes after the child exited does not
** hold the attempt for longer than the drain grace period. */
static void test_background_holder(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "sleep 5 & echo hi"), 10, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "hi\n");
  assert_true(run.elapsed < 4.5);
  test_run_free(&run);
}

/* A timeout cancels the attempt: SIGTERM to the whole group, so the shell's
** background child dies too. */
static void test_timeout_kills_group(void **state) {
  char tmpl[] = "/tmp/ws-exec-pid-XXXXXX";
  char script[256], buf[32];
  test_run_t run;
  FILE *f;
  int fd = mkstemp(tmpl);
  long pid = 0;

  (void)state;
  assert_true(fd >= 0);
  close(fd);
  snprintf(script, sizeof script, "sleep 30 & echo $! > %s; wait", tmpl);
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", script), 0.5, &run);
  assert_int_equal(run.action->node.state.status, WS_FAILED);
  assert_true(run.action->attempts[0].timed_out);
  assert_non_null(run.action->attempts[0].err);
  assert_true(run.elapsed < 5);
  test_run_free(&run);

  f = fopen(tmpl, "r");
  assert_non_null(f);
  if (fgets(buf, sizeof buf, f) != NULL)
    pid = strtol(buf, NULL, 10);
  fclose(f);
  unlink(tmpl);
  assert_true(pid > 1);
  if (!wait_dead((pid_t)pid, 3)) {
    kill((pid_t)pid, SIGKILL);
    fail_msg("background child %ld survived the cancel", pid);
  }
}

/* A child that ignores SIGTERM gets SIGKILL after the grace period. */
static void test_timeout_escalates_to_sigkill(void **state) {
  test_run_t run;

  (void)state;
  run_exec(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "trap '' TERM; sleep 30; sleep 30"), 0.3,
           &run);
  assert_int_equal(run.action->node.state.status, WS_FAILED);
  assert_true(run.action->attempts[0].timed_out);
  assert_true(run.elapsed >= 2.0);
  assert_true(run.elapsed < 8);
  test_run_free(&run);
}

static int count_open_fds(void) {
  uv_fs_t req;
  uv_dirent_t ent;
  int n = 0;

  assert_true(uv_fs_scandir(NULL, &req, "/proc/self/fd", 0, NULL) >= 0);
  while (uv_fs_scandir_next(&req, &ent) != UV_EOF)
    n++;
  uv_fs_req_cleanup(&req);
  return n;
}

/* Many commands at once through one block: every one captured on its own,
** and no file descriptor left behind. */
static void test_many_concurrent(void **state) {
  enum { NSEQ = 60 };
  ws_plan_t *plan = ws_plan_new("exec-many", NULL);
  ws_block_t *block = ws_block_new("block", NULL);
  ws_action_t *actions[NSEQ];
  char name[32], script[64], expect[32];
  uv_loop_t loop;
  test_run_t run;
  int fds_before = count_open_fds();
  int i;

  (void)state;
  assert_non_null(plan);
  assert_non_null(block);
  block->concurrency = 16;
  for (i = 0; i < NSEQ; i++) {
    ws_sequence_t *seq;

    snprintf(name, sizeof name, "seq%d", i);
    seq = ws_sequence_new(name, NULL);
    snprintf(script, sizeof script, "echo out%d; echo err%d >&2", i, i);
    actions[i] = ws_action_new("run", NULL, "ws.exec",
                               json_pack("{s:[s,s,s]}", "argv", "sh", "-c", script));
    assert_non_null(seq);
    assert_non_null(actions[i]);
    assert_int_equal(ws_sequence_add_action(seq, actions[i]), 0);
    assert_int_equal(ws_block_add_sequence(block, seq), 0);
  }
  assert_int_equal(ws_plan_add_block(plan, block), 0);
  assert_int_equal(uv_loop_init(&loop), 0);
  test_run_plan(&loop, g_reg, plan, actions[0], &run);
  test_close_loop(&loop);

  for (i = 0; i < NSEQ; i++) {
    json_t *resp;

    run.action = actions[i];
    resp = test_run_resp(&run);

    snprintf(expect, sizeof expect, "out%d\n", i);
    assert_string_equal(test_resp_str(resp, "stdout"), expect);
    snprintf(expect, sizeof expect, "err%d\n", i);
    assert_string_equal(test_resp_str(resp, "stderr"), expect);
  }
  test_run_free(&run);
  assert_int_equal(count_open_fds(), fds_before);
}

/* ------------------------------------------- how children are started */

/* Where the kernel has pidfds, children are spawned without fork. */
static void test_spawn_mode(void **state) {
  int fd = -1;

  (void)state;
#ifdef SYS_pidfd_open
  fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
#endif
  if (fd >= 0) {
    close(fd);
    assert_int_equal(g_spawn_mode, WSP_SPAWN_POSIX);
  } else {
    assert_int_equal(g_spawn_mode, WSP_SPAWN_UV);
  }
}

/* Writes content to path, with mode. */
static void write_file(const char *path, const char *content, mode_t mode) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  assert_true(fputs(content, f) >= 0);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

/* Removes a directory and what the tests put in it (no subdirectories but
** those named). */
static void remove_tree(const char *dir, const char *const *names) {
  char path[PATH_MAX];

  for (; *names != NULL; names++) {
    snprintf(path, sizeof path, "%s/%s", dir, *names);
    if (unlink(path) != 0)
      rmdir(path);
  }
  rmdir(dir);
}

/* The message blames the working directory when it is the problem, the
** program when it is not; the error code is the spawn's. Both ways. */
static void test_cwd_errors(void **state) {
  char file[] = "/tmp/ws-exec-cwdfile-XXXXXX";
  char expect[256];
  int fd = mkstemp(file);
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  assert_true(fd >= 0);
  close(fd);

  run_exec(json_pack("{s:[s], s:s}", "argv", "true", "cwd", "/nonexistent/ws-dir"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOENT");
  assert_true(err->permanent);
  assert_string_equal(err->msg, "cannot run \"true\" in \"/nonexistent/ws-dir\": working "
                                "directory: no such file or directory");
  test_run_free(&run);

  run_exec(json_pack("{s:[s], s:s}", "argv", "true", "cwd", file), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOTDIR");
  assert_true(err->permanent);
  snprintf(expect, sizeof expect, "cannot run \"true\" in \"%s\": working directory: not a directory",
           file);
  assert_string_equal(err->msg, expect);
  test_run_free(&run);
  unlink(file);

  run_exec(json_pack("{s:[s], s:s}", "argv", "ws-no-such-program", "cwd", "/"), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOENT");
  assert_true(err->permanent);
  assert_string_equal(err->msg, "cannot run \"ws-no-such-program\" in \"/\": no such file or directory");
  test_run_free(&run);
}

/* A program is looked up in the PATH of the child's environment (the
** request's env when it sets PATH), as execvp does: entries without the
** program or where it is not executable give way to the next; EACCES when
** none could run it. Both ways. */
static void test_path_of_request_env(void **state) {
  static const char *const names[] = { "ws-exec-prog", "ws-exec-noexec", NULL };
  char dir[] = "/tmp/ws-exec-path-XXXXXX";
  char dir2[] = "/tmp/ws-exec-path2-XXXXXX";
  char path[PATH_MAX + 32], env_path[2 * PATH_MAX];
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  assert_non_null(mkdtemp(dir));
  assert_non_null(mkdtemp(dir2));
  snprintf(path, sizeof path, "%s/ws-exec-prog", dir);
  write_file(path, "#!/bin/sh\necho \"found $1\"\n", 0755);
  snprintf(path, sizeof path, "%s/ws-exec-prog", dir2); /* there, but not executable */
  write_file(path, "#!/bin/sh\necho wrong\n", 0644);
  snprintf(path, sizeof path, "%s/ws-exec-noexec", dir);
  write_file(path, "#!/bin/sh\necho wrong\n", 0644);

  snprintf(env_path, sizeof env_path, "/nonexistent/ws-dir::%s:%s", dir2, dir);
  run_exec(json_pack("{s:[s,s], s:{s:s}}", "argv", "ws-exec-prog", "it", "env", "PATH", env_path),
           0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "found it\n");
  test_run_free(&run);

  /* In the engine's PATH, not in the request's. */
  run_exec(json_pack("{s:[s], s:{s:s}}", "argv", "true", "env", "PATH", dir), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "ENOENT");
  assert_true(err->permanent);
  test_run_free(&run);

  run_exec(json_pack("{s:[s], s:{s:s}}", "argv", "ws-exec-noexec", "env", "PATH", dir), 0, &run);
  err = test_run_err(&run);
  assert_string_equal(err->code, "EACCES");
  assert_true(err->permanent);
  test_run_free(&run);

  remove_tree(dir, names);
  remove_tree(dir2, names);
}

/* An executable file without "#!" is run by /bin/sh, as execvp does; a
** relative program or PATH entry is taken from the child's cwd. Both ways. */
static void test_scripts_and_relative_paths(void **state) {
  static const char *const names[] = { "bin/ws-exec-rel", "bin", "ws-exec-nosh", NULL };
  char dir[] = "/tmp/ws-exec-rel-XXXXXX";
  char path[PATH_MAX + 32];
  test_run_t run;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/ws-exec-nosh", dir);
  write_file(path, "echo \"no shebang $1\"\n", 0755);
  snprintf(path, sizeof path, "%s/bin", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/bin/ws-exec-rel", dir);
  write_file(path, "#!/bin/sh\necho \"relative $1\"\n", 0755);

  snprintf(path, sizeof path, "%s/ws-exec-nosh", dir);
  run_exec(json_pack("{s:[s,s]}", "argv", path, "x"), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "no shebang x\n");
  test_run_free(&run);

  run_exec(json_pack("{s:[s,s], s:s}", "argv", "./bin/ws-exec-rel", "a", "cwd", dir), 0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "relative a\n");
  test_run_free(&run);

  run_exec(json_pack("{s:[s,s], s:s, s:{s:s}}", "argv", "ws-exec-rel", "b", "cwd", dir, "env",
                     "PATH", "bin"),
           0, &run);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "relative b\n");
  test_run_free(&run);

  remove_tree(dir, names);
}

/* The child starts with every signal at its default disposition and none
** blocked, whatever the engine ignores (SIGPIPE: exec's init) or blocks.
** Both ways. */
static void test_child_signal_state(void **state) {
  struct sigaction sa, old_usr2;
  sigset_t usr1, old_mask;
  test_run_t run;

  (void)state;
  assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
  assert_true(sa.sa_handler == SIG_IGN);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGUSR2, &sa, &old_usr2), 0);
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  assert_int_equal(sigprocmask(SIG_BLOCK, &usr1, &old_mask), 0);

  run_exec(json_pack("{s:[s,s,s,s]}", "argv", "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"),
           0, &run);

  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  sigaction(SIGUSR2, &old_usr2, NULL);
  assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"),
                      "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  test_run_free(&run);
}

/* Lines in a file (0 when it cannot be read). */
static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int c, n = 0;

  if (f == NULL)
    return 0;
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

/* Stops a run (forced: its actions are cancelled) once a file has some lines. */
typedef struct stop_when {
  ws_run_t *run;
  const char *path;
  int lines;
  bool stopped;
  uv_timer_t timer;
} stop_when_t;

static void stop_when_poll(uv_timer_t *timer) {
  stop_when_t *sw = timer->data;

  if (count_lines(sw->path) < sw->lines)
    return;
  uv_timer_stop(timer);
  sw->stopped = ws_run_stop(sw->run, true) == 0;
}

static void stop_when_done(ws_run_t *run, void *ud) {
  stop_when_t *sw = ud;

  (void)run;
  uv_close((uv_handle_t *)&sw->timer, NULL);
}

/* Cancelling an attempt stops the child's whole process group: the shell and
** both of its background children, started before the cancel. Both ways. */
static void test_cancel_kills_group(void **state) {
  char tmpl[] = "/tmp/ws-exec-pids-XXXXXX";
  char script[256];
  ws_run_opts_t opts = { .virtual_clock = true };
  stop_when_t sw = { .path = tmpl, .lines = 2 };
  ws_action_t *action;
  ws_plan_t *plan;
  uv_loop_t loop;
  test_run_t run;
  const ws_error_t *err;
  char buf[64], errbuf[512];
  long pids[2] = { 0, 0 };
  FILE *f;
  int fd = mkstemp(tmpl), i;

  (void)state;
  assert_true(fd >= 0);
  close(fd);
  snprintf(script, sizeof script, "sleep 30 & echo $! >> %s; sleep 30 & echo $! >> %s; wait", tmpl,
           tmpl);
  plan = one_action_plan(json_pack("{s:[s,s,s]}", "argv", "sh", "-c", script), 0, &action);
  run.plan = plan;
  run.action = action;
  if (ws_plan_resolve(plan, g_reg, errbuf, sizeof errbuf) != 0)
    fail_msg("ws_plan_resolve: %s", errbuf);
  assert_int_equal(uv_loop_init(&loop), 0);
  opts.ud = &sw;
  sw.run = ws_run_new(&loop, plan, g_reg, &opts, errbuf, sizeof errbuf);
  if (sw.run == NULL)
    fail_msg("ws_run_new: %s", errbuf);
  assert_int_equal(uv_timer_init(&loop, &sw.timer), 0);
  sw.timer.data = &sw;
  assert_int_equal(uv_timer_start(&sw.timer, stop_when_poll, 10, 10), 0);
  assert_int_equal(ws_run_start(sw.run, stop_when_done), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ws_run_free(sw.run);
  test_close_loop(&loop);

  assert_true(sw.stopped);
  assert_int_equal(run.action->node.state.status, WS_STOPPED);
  err = run.action->attempts[0].err;
  assert_non_null(err);
  assert_string_equal(err->code, "cancelled");
  test_assert_contains(err->msg, "command \"sh\" was cancelled and stopped by signal 15 (SIGTERM)");
  test_run_free(&run);

  f = fopen(tmpl, "r");
  assert_non_null(f);
  for (i = 0; i < 2 && fgets(buf, sizeof buf, f) != NULL; i++)
    pids[i] = strtol(buf, NULL, 10);
  fclose(f);
  unlink(tmpl);
  for (i = 0; i < 2; i++) {
    assert_true(pids[i] > 1);
    if (!wait_dead((pid_t)pids[i], 30)) {
      kill((pid_t)pids[i], SIGKILL);
      fail_msg("background child %ld survived the cancel", pids[i]);
    }
  }
}

/* True when this process has no child left, exited or not: every child was
** reaped. */
static bool no_children(void) {
  return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* Stops the run (forced) as soon as the action under test starts running. */
typedef struct stop_at_start {
  ws_run_t *run;
  const ws_action_t *action;
  bool stopped;
} stop_at_start_t;

static void stop_at_start_event(const ws_event_t *ev, void *ud) {
  stop_at_start_t *ss = ud;

  if (ev->kind == WS_EV_STATE && ev->node == &ss->action->node && ev->status == WS_RUNNING &&
      !ss->stopped)
    ss->stopped = ws_run_stop(ss->run, true) == 0;
}

static void stop_at_start_done(ws_run_t *run, void *ud) {
  (void)run;
  (void)ud;
}

/* A cancel that comes while the child is being spawned (the stop takes
** effect on the next loop turn, the spawn runs on a thread) still stops it,
** once it runs. Had the cancel been lost, sleep would succeed. Both ways. */
static void test_cancel_during_spawn(void **state) {
  ws_run_opts_t opts = { .on_event = stop_at_start_event, .virtual_clock = true };
  stop_at_start_t ss = { 0 };
  ws_action_t *action;
  ws_plan_t *plan;
  uv_loop_t loop;
  test_run_t run;
  const ws_error_t *err;
  char errbuf[512];
  int i;

  (void)state;
  for (i = 0; i < 5; i++) {
    plan = one_action_plan(json_pack("{s:[s,s]}", "argv", "sleep", "5"), 0, &action);
    run.plan = plan;
    run.action = action;
    if (ws_plan_resolve(plan, g_reg, errbuf, sizeof errbuf) != 0)
      fail_msg("ws_plan_resolve: %s", errbuf);
    assert_int_equal(uv_loop_init(&loop), 0);
    memset(&ss, 0, sizeof ss);
    ss.action = action;
    opts.ud = &ss;
    ss.run = ws_run_new(&loop, plan, g_reg, &opts, errbuf, sizeof errbuf);
    if (ss.run == NULL)
      fail_msg("ws_run_new: %s", errbuf);
    assert_int_equal(ws_run_start(ss.run, stop_at_start_done), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ws_run_free(ss.run);
    test_close_loop(&loop);

    assert_true(ss.stopped);
    err = run.action->attempts[0].err;
    assert_non_null(err);
    assert_string_equal(err->code, "cancelled");
    test_assert_contains(err->msg, "command \"sleep\" was cancelled and stopped by signal 15");
    test_run_free(&run);
  }
  assert_true(no_children());
}

/* Every way an attempt ends closes every descriptor it opened (pipes,
** pidfd) and reaps its child. Both ways. */
static void test_no_fd_leak_no_zombie(void **state) {
  int fds_before = count_open_fds();
  test_run_t run;
  int i;

  (void)state;
  for (i = 0; i < 10; i++) {
    run_exec(json_pack("{s:[s,s]}", "argv", "echo", "x"), 0, &run); /* success */
    test_run_resp(&run);
    test_run_free(&run);
    run_exec(json_pack("{s:[s], s:s}", "argv", "cat", "stdin", "in"), 0, &run); /* stdin */
    test_run_resp(&run);
    test_run_free(&run);
    run_exec(json_pack("{s:[s]}", "argv", "false"), 0, &run); /* exit code */
    assert_string_equal(test_run_err(&run)->code, "exit_code");
    test_run_free(&run);
    run_exec(json_pack("{s:[s]}", "argv", "/nonexistent/ws-prog"), 0, &run); /* no program */
    assert_string_equal(test_run_err(&run)->code, "ENOENT");
    test_run_free(&run);
    run_exec(json_pack("{s:[s]}", "argv", "ws-no-such-program"), 0, &run); /* not in PATH */
    assert_string_equal(test_run_err(&run)->code, "ENOENT");
    test_run_free(&run);
    run_exec(json_pack("{s:[s], s:s}", "argv", "true", "cwd", "/nonexistent"), 0, &run); /* cwd */
    assert_string_equal(test_run_err(&run)->code, "ENOENT");
    test_run_free(&run);
  }
  /* A timeout: cancelled, killed. */
  run_exec_vclock(json_pack("{s:[s,s]}", "argv", "sleep", "30"), 0.2, &run);
  assert_true(run.action->attempts[0].timed_out);
  test_run_free(&run);

  assert_int_equal(count_open_fds(), fds_before);
  assert_true(no_children());
}

/* Runs a one-action plan with room for only `room` more descriptors (the
** limit set after the loop was made, so that it is ws.exec that runs short). */
static void run_exec_fd_room(json_t *req, int room, test_run_t *run) {
  struct rlimit old, lim;
  ws_action_t *action;
  ws_plan_t *plan;
  uv_loop_t loop;
  int lowest;

  plan = one_action_plan(req, 0, &action);
  assert_int_equal(uv_loop_init(&loop), 0);
  lowest = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the lowest free descriptor */
  assert_true(lowest >= 0);
  close(lowest);
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  lim = old;
  lim.rlim_cur = (rlim_t)(lowest + room);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
  test_run_plan(&loop, g_reg, plan, action, run);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  test_close_loop(&loop);
}

/* Out of descriptors at each step of a spawn (the pipes, the pidfd of a
** child already started): a retryable EMFILE, and nothing left behind.
** posix_spawn only: libuv 1.44's uv_spawn ignores a failure to watch
** SIGCHLD and then never reports the exit. */
static void test_out_of_descriptors(void **state) {
  int fds_before = count_open_fds();
  int room, failed = 0;
  test_run_t run;

  (void)state;
  if (g_spawn_mode != WSP_SPAWN_POSIX)
    skip();
  for (room = 0; room <= 16; room++) {
    run_exec_fd_room(json_pack("{s:[s,s], s:s}", "argv", "echo", "x", "stdin", "in"), room, &run);
    if (run.action->attempts[0].err != NULL) {
      const ws_error_t *err = run.action->attempts[0].err;

      assert_string_equal(err->code, "EMFILE");
      assert_false(err->permanent);
      test_assert_contains(err->msg, "cannot run \"echo\": too many open files");
      failed++;
    } else {
      assert_string_equal(test_resp_str(test_run_resp(&run), "stdout"), "x\n");
      assert_true(room > 0);
    }
    test_run_free(&run);
  }
  assert_true(failed >= 7); /* 3 pipes and the pidfd: 7 descriptors */
  assert_int_equal(count_open_fds(), fds_before);
  assert_true(no_children());
}

static void test_request_validation(void **state) {
  const ws_plugin_def_t *def = ws_registry_find(g_reg, "ws.exec");
  ws_action_t *action;
  ws_plan_t *plan;
  json_t *req;
  char err[512];

  (void)state;
  /* Empty argv, through ws_plan_resolve. */
  plan = one_action_plan(json_pack("{s:[]}", "argv"), 0, &action);
  assert_int_equal(ws_plan_resolve(plan, g_reg, err, sizeof err), -1);
  test_assert_contains(err, "argv");
  test_assert_contains(err, "must not be empty");
  ws_plan_free(plan);

  /* Empty argv, through ws_request_check. */
  req = json_pack("{s:[]}", "argv");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.argv: must not be empty");
  json_decref(req);

  /* argv of the wrong type. */
  req = json_pack("{s:s}", "argv", "ls -l");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.argv");
  test_assert_contains(err, "expected list");
  json_decref(req);

  /* Missing argv, unknown field, bad ok_codes, bad env names, empty program. */
  req = json_pack("{s:s}", "cwd", "/");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "argv");
  json_decref(req);

  req = json_pack("{s:[s], s:i}", "argv", "true", "bogus", 1);
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "bogus");
  json_decref(req);

  req = json_pack("{s:[s], s:[i]}", "argv", "true", "ok_codes", 256);
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.ok_codes[1]");
  json_decref(req);

  req = json_pack("{s:[s], s:[]}", "argv", "true", "ok_codes");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.ok_codes: must not be empty");
  json_decref(req);

  req = json_pack("{s:[s], s:{s:s}}", "argv", "true", "env", "A=B", "x");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.env");
  json_decref(req);

  req = json_pack("{s:[s]}", "argv", "");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.argv[1]");
  json_decref(req);

  req = json_pack("{s:[s], s:i}", "argv", "true", "stdin", 5);
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), -1);
  test_assert_contains(err, "req.stdin");
  json_decref(req);

  /* ok_codes defaults to {0}. */
  req = json_pack("{s:[s]}", "argv", "true");
  assert_int_equal(ws_request_check(def, &req, "req", err, sizeof err), 0);
  assert_true(json_is_array(json_object_get(req, "ok_codes")));
  assert_int_equal(json_array_size(json_object_get(req, "ok_codes")), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(req, "ok_codes"), 0)), 0);
  json_decref(req);
}

/* A test run as it is (posix_spawn where pidfds exist), then with uv_spawn. */
#define BOTH_WAYS(f) \
  cmocka_unit_test(f), { #f " (uv_spawn)", f, use_uv_spawn, restore_spawn_mode, NULL }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registered),
    cmocka_unit_test(test_request_validation),
    cmocka_unit_test(test_spawn_mode),
    BOTH_WAYS(test_stdout_captured),
    cmocka_unit_test(test_stderr_captured),
    BOTH_WAYS(test_stdin_fed),
    cmocka_unit_test(test_stdin_binary),
    BOTH_WAYS(test_stdin_default_is_dev_null),
    cmocka_unit_test(test_stdin_unread),
    cmocka_unit_test(test_stdin_large),
    BOTH_WAYS(test_env_override),
    BOTH_WAYS(test_cwd),
    cmocka_unit_test(test_ok_codes),
    cmocka_unit_test(test_exit_code_fails),
    cmocka_unit_test(test_exit_code_stdout_hint),
    cmocka_unit_test(test_error_message_bounded),
    BOTH_WAYS(test_missing_executable),
    BOTH_WAYS(test_not_executable),
    BOTH_WAYS(test_bad_cwd),
    BOTH_WAYS(test_cwd_errors),
    BOTH_WAYS(test_path_of_request_env),
    BOTH_WAYS(test_scripts_and_relative_paths),
    BOTH_WAYS(test_child_signal_state),
    BOTH_WAYS(test_signal),
    cmocka_unit_test(test_stdout_truncated),
    cmocka_unit_test(test_invalid_utf8),
    cmocka_unit_test(test_truncated_utf8_cut),
    BOTH_WAYS(test_own_process_group),
    cmocka_unit_test(test_background_holder),
    BOTH_WAYS(test_many_concurrent),
    BOTH_WAYS(test_cancel_kills_group),
    BOTH_WAYS(test_cancel_during_spawn),
    BOTH_WAYS(test_no_fd_leak_no_zombie),
    cmocka_unit_test(test_out_of_descriptors),
    cmocka_unit_test(test_timeout_kills_group),
    cmocka_unit_test(test_timeout_escalates_to_sigkill),
  };

  return cmocka_run_group_tests_name("ws.exec", tests, setup_registry, teardown_registry);
}
