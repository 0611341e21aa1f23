/*
** tests/test_loader.c - external plugins: ws_registry_load and
** ws_registry_load_path, and the example plugin (example.checksum) run through
** the real engine.
**
** This program is a plugin host like wsrun: it links the whole engine and
** exports its symbols (ws_plugin_host in engine/CMakeLists.txt), and the
** plugins resolve ws_call_* against it when they are loaded. The fixture
** libraries (loader_fixtures/fixture.c) are each wrong in one way; their
** paths, and the example's, come from the build as compile definitions.
*/
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "loader_fixtures/fixture.h"
#include "workstream/engine.h"

/* ------------------------------------------------------------- fixtures */

static char g_tmp[PATH_MAX]; /* a private temporary directory */
static char g_notes[1024];   /* what the fixtures' init functions reported */

void test_loader_note(const char *what) {
  size_t len = strlen(g_notes);
  snprintf(g_notes + len, sizeof g_notes - len, "%s;", what);
}

/* g_tmp/<name>, in buf */
static const char *tmp_path(char *buf, size_t len, const char *name) {
  int n = snprintf(buf, len, "%s/%s", g_tmp, name);
  assert_true(n > 0 && (size_t)n < len);
  return buf;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *path) { assert_int_equal(mkdir(path, 0700), 0); }

static void make_link(const char *target, const char *path) {
  assert_int_equal(symlink(target, path), 0);
}

static int setup_group(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(g_tmp, sizeof g_tmp, "%s/ws-test-loader-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(g_tmp)) {
    fprintf(stderr, "mkdtemp %s: %s\n", g_tmp, strerror(errno));
    return -1;
  }
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int teardown_group(void **state) {
  (void)state;
  return nftw(g_tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state) {
  (void)state;
  g_notes[0] = '\0';
  return 0;
}

/* Loading that must fail with exactly `expected` and leave reg as it was. */
static void load_fails(ws_registry_t *reg, const char *path, const char *expected) {
  char err[1024];
  size_t before = ws_registry_count(reg);
  assert_int_equal(ws_registry_load(reg, path, err, sizeof err), -1);
  assert_string_equal(err, expected);
  assert_int_equal(ws_registry_count(reg), before);
}

static void load_ok(ws_registry_t *reg, const char *path) {
  char err[1024];
  if (ws_registry_load(reg, path, err, sizeof err)) fail_msg("load %s: %s", path, err);
}

/* ---------------------------------------------- checksums, for reference */

/* Byte by byte, with no cleverness: what the plugin's chunked code must match. */
static uint64_t ref_fnv1a64(const unsigned char *p, size_t n) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(1099511628211);
  return h;
}

static uint32_t ref_adler32(const unsigned char *p, size_t n) {
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n; i++) {
    a = (a + p[i]) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

static void reference_checksums_match_published_values(void **state) {
  (void)state;
  assert_true(ref_fnv1a64((const unsigned char *)"", 0) == UINT64_C(0xcbf29ce484222325));
  assert_true(ref_fnv1a64((const unsigned char *)"a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
  assert_true(ref_fnv1a64((const unsigned char *)"foobar", 6) == UINT64_C(0x85944171f73967e8));
  assert_true(ref_adler32((const unsigned char *)"Wikipedia", 9) == 0x11e60398);
}

/* ------------------------------------------------- running the example */

static ws_action_t *checksum_action(const char *name, json_t *req, double timeout) {
  ws_action_t *a = ws_action_new(name, NULL, "example.checksum", req);
  assert_non_null(a);
  if (timeout > 0) a->timeout = timeout;
  return a;
}

/* plan > block > one sequence per action (all at once) */
static ws_plan_t *plan_of(ws_action_t **actions, size_t n) {
  ws_plan_t *p = ws_plan_new("checksums", NULL);
  ws_block_t *b = ws_block_new("block", NULL);
  b->concurrency = (int)n;
  for (size_t i = 0; i < n; i++) {
    char sn[32];
    snprintf(sn, sizeof sn, "seq%zu", i);
    ws_sequence_t *s = ws_sequence_new(sn, NULL);
    assert_int_equal(ws_sequence_add_action(s, actions[i]), 0);
    assert_int_equal(ws_block_add_sequence(b, s), 0);
  }
  assert_int_equal(ws_plan_add_block(p, b), 0);
  return p;
}

/* Resolves and runs p on a fresh loop, which must close cleanly afterwards:
** the plugin leaves nothing behind. */
static void run_plan(ws_plan_t *p, const ws_registry_t *reg, uv_loop_t *loop) {
  char err[1024];
  if (ws_plan_resolve(p, reg, err, sizeof err)) fail_msg("resolve: %s", err);
  if (ws_run_plan(loop, p, reg, NULL, err, sizeof err)) fail_msg("run: %s", err);
  assert_int_equal(uv_loop_close(loop), 0);
}

static ws_registry_t *example_registry(void) {
  ws_registry_t *reg = ws_registry_new();
  load_ok(reg, EXAMPLE_SO);
  const ws_plugin_def_t *def = ws_registry_find(reg, "example.checksum");
  assert_non_null(def);
  assert_int_equal(def->abi, WS_PLUGIN_ABI);
  assert_int_equal(ws_registry_count(reg), 1);
  return reg;
}

/* The checksum of a file with `data`, by the plugin, as its response. */
static void expect_checksum(const ws_registry_t *reg, const char *file, const char *algorithm,
                            const char *digest, json_int_t size) {
  json_t *req = algorithm ? json_pack("{s:s, s:s}", "path", file, "algorithm", algorithm)
                          : json_pack("{s:s}", "path", file);
  ws_action_t *a = checksum_action("sum", req, 0);
  ws_plan_t *p = plan_of(&a, 1);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  run_plan(p, reg, &loop);
  if (a->node.state.status != WS_COMPLETED)
    fail_msg("checksum of %s failed: %s", file, a->err ? a->err->msg : "?");
  assert_string_equal(json_string_value(json_object_get(a->resp, "digest")), digest);
  assert_int_equal(json_integer_value(json_object_get(a->resp, "size")), size);
  assert_int_equal(a->nattempts, 1);
  assert_int_equal(a->attempts[0].nlog, 1); /* one line: what was summed */
  assert_non_null(strstr(a->attempts[0].log[0], digest));
  ws_plan_free(p);
}

static void example_checksums_files_through_the_engine(void **state) {
  (void)state;
  ws_registry_t *reg = example_registry();
  char path[PATH_MAX], hex[32];

  write_file(tmp_path(path, sizeof path, "wikipedia.txt"), "Wikipedia", 9);
  expect_checksum(reg, path, "adler32", "11e60398", 9);
  write_file(tmp_path(path, sizeof path, "foobar.txt"), "foobar", 6);
  expect_checksum(reg, path, NULL, "85944171f73967e8", 6); /* fnv1a64 is the default */
  write_file(tmp_path(path, sizeof path, "empty.txt"), "", 0);
  expect_checksum(reg, path, "fnv1a64", "cbf29ce484222325", 0);
  expect_checksum(reg, path, "adler32", "00000001", 0);

  /* Large enough for many reads, and for adler32's deferred modulo: 1 MiB + 7
  ** bytes of deterministic noise, all 0xff at the start (the worst case for
  ** overflow). */
  size_t n = (1u << 20) + 7;
  unsigned char *data = malloc(n);
  assert_non_null(data);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = i < 70000 ? 0xff : (unsigned char)x;
  }
  write_file(tmp_path(path, sizeof path, "big.bin"), data, n);
  snprintf(hex, sizeof hex, "%016" PRIx64, ref_fnv1a64(data, n));
  expect_checksum(reg, path, "fnv1a64", hex, (json_int_t)n);
  snprintf(hex, sizeof hex, "%08" PRIx32, ref_adler32(data, n));
  expect_checksum(reg, path, "adler32", hex, (json_int_t)n);
  free(data);
  ws_registry_free(reg);
}

static void example_rejects_bad_requests(void **state) {
  (void)state;
  ws_registry_t *reg = example_registry();
  char err[1024];
  struct {
    json_t *req;
    const char *msg;
  } cases[] = {
      {json_pack("{s:s}", "path", "relative/file"),
       "block/seq0/sum: req.path: must be an absolute path, got \"relative/file\""},
      {json_pack("{s:s, s:s}", "path", "/x", "algorithm", "md5"), NULL},
      {json_pack("{s:i}", "path", 1), "block/seq0/sum: req.path: expected string, got integer"},
      {json_pack("{s:s#}", "path", "/a\0b", (size_t)4),
       "block/seq0/sum: req.path: must not contain NUL bytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ws_action_t *a = checksum_action("sum", cases[i].req, 0);
    ws_plan_t *p = plan_of(&a, 1);
    assert_int_equal(ws_plan_resolve(p, reg, err, sizeof err), -1);
    if (cases[i].msg) assert_string_equal(err, cases[i].msg);
    else assert_non_null(strstr(err, "req.algorithm"));
    ws_plan_free(p);
  }
  ws_registry_free(reg);
}

static void example_reports_file_errors(void **state) {
  (void)state;
  ws_registry_t *reg = example_registry();
  char missing[PATH_MAX], msg[PATH_MAX + 128];
  tmp_path(missing, sizeof missing, "no-such-file");
  ws_action_t *acts[] = {
      checksum_action("missing", json_pack("{s:s}", "path", missing), 0),
      checksum_action("dir", json_pack("{s:s}", "path", g_tmp), 0),
  };
  ws_plan_t *p = plan_of(acts, 2);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  run_plan(p, reg, &loop);

  assert_int_equal(acts[0]->node.state.status, WS_FAILED);
  assert_string_equal(acts[0]->err->code, "ENOENT");
  assert_false(acts[0]->err->permanent);
  snprintf(msg, sizeof msg, "cannot open %s: no such file or directory", missing);
  assert_string_equal(acts[0]->err->msg, msg);

  assert_int_equal(acts[1]->node.state.status, WS_FAILED);
  assert_string_equal(acts[1]->err->code, "EISDIR");
  assert_true(acts[1]->err->permanent);
  ws_plan_free(p);
  ws_registry_free(reg);
}

/* Reads from FIFOs that nobody writes to block a thread of libuv's pool until
** the writers close, well after the attempts timed out. With more FIFOs than
** pool threads, some reads are still queued when the engine cancels them
** (uv_cancel drops them) and the others are running (their late callbacks
** only clean up). Either way the attempt ends at its timeout, and the loop
** closes cleanly once the reads are over. */
#define FIFOS 6
#define FIFO_TIMEOUT 0.2
#define WRITERS_CLOSE_MS 1000

typedef struct writers {
  uv_timer_t timer;
  int fds[FIFOS];
} writers_t;

static void close_writers(uv_timer_t *t) {
  writers_t *w = (writers_t *)t;
  for (int i = 0; i < FIFOS; i++) close(w->fds[i]);
  uv_close((uv_handle_t *)t, NULL);
}

static void example_cancels_on_timeout(void **state) {
  (void)state;
  ws_registry_t *reg = example_registry();
  writers_t w;
  ws_action_t *acts[FIFOS];
  for (int i = 0; i < FIFOS; i++) {
    char path[PATH_MAX], name[32];
    snprintf(name, sizeof name, "fifo%d", i);
    tmp_path(path, sizeof path, name);
    assert_int_equal(mkfifo(path, 0600), 0);
    /* read-write: the plugin's open does not wait for a writer, its reads do */
    w.fds[i] = open(path, O_RDWR | O_CLOEXEC);
    assert_true(w.fds[i] >= 0);
    acts[i] = checksum_action(name, json_pack("{s:s}", "path", path), FIFO_TIMEOUT);
  }
  ws_plan_t *p = plan_of(acts, FIFOS);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uv_timer_init(&loop, &w.timer), 0);
  assert_int_equal(uv_timer_start(&w.timer, close_writers, WRITERS_CLOSE_MS, 0), 0);
  uint64_t t0 = uv_hrtime();
  run_plan(p, reg, &loop);
  double elapsed = (double)(uv_hrtime() - t0) / 1e9;

  for (int i = 0; i < FIFOS; i++) {
    ws_action_t *a = acts[i];
    assert_int_equal(a->node.state.status, WS_FAILED);
    assert_int_equal(a->nattempts, 1);
    assert_true(a->attempts[0].timed_out);
    double took = a->attempts[0].ended - a->attempts[0].started;
    if (took > FIFO_TIMEOUT + 0.5)
      fail_msg("%s: the attempt took %.3f s: the cancel did not complete it promptly",
               a->node.name, took);
  }
  /* the loop was kept alive by the reads in flight, and by nothing after them */
  assert_true(elapsed >= WRITERS_CLOSE_MS / 1000.0 - 0.05);
  ws_plan_free(p);
  ws_registry_free(reg);
}

/* ------------------------------------------------------- loading errors */

static void missing_file(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  char path[PATH_MAX], expected[PATH_MAX + 128];
  tmp_path(path, sizeof path, "absent.so");
  snprintf(expected, sizeof expected,
           "%s: cannot open shared object file: No such file or directory", path);
  load_fails(reg, path, expected);
  /* a bare name is a file in the current directory, reported as given */
  load_fails(reg, "absent-plugin.so",
             "absent-plugin.so: cannot open shared object file: No such file or directory");
  load_fails(reg, "", "plugin library: empty path");
  ws_registry_free(reg);
}

static void bare_name_is_in_current_directory(void **state) {
  (void)state;
  char cwd[PATH_MAX], dir[PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  tmp_path(dir, sizeof dir, "cwd");
  make_dir(dir);
  char link[PATH_MAX];
  make_link(EXAMPLE_SO, tmp_path(link, sizeof link, "cwd/here.so"));
  assert_int_equal(chdir(dir), 0);
  ws_registry_t *reg = ws_registry_new();
  char err[1024];
  int rc = ws_registry_load(reg, "here.so", err, sizeof err);
  assert_int_equal(chdir(cwd), 0);
  if (rc) fail_msg("load here.so: %s", err);
  assert_non_null(ws_registry_find(reg, "example.checksum"));
  ws_registry_free(reg);
}

static void not_a_shared_object(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  char path[PATH_MAX], err[1024];
  const char text[] = "#!/bin/sh\necho this is not a shared object\n";
  write_file(tmp_path(path, sizeof path, "script.so"), text, sizeof text - 1);
  assert_int_equal(ws_registry_load(reg, path, err, sizeof err), -1);
  /* the path once, then the loader's reason ("invalid ELF header" or the like) */
  size_t len = strlen(path);
  assert_memory_equal(err, path, len);
  assert_memory_equal(err + len, ": ", 2);
  assert_null(strstr(err + len, path));
  assert_true(strlen(err) > len + 2);
  assert_int_equal(ws_registry_count(reg), 0);
  ws_registry_free(reg);
}

static void library_without_entry_point(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  load_fails(reg, FIXTURE_NO_ENTRY_SO,
             FIXTURE_NO_ENTRY_SO ": not a Workstream plugin (no ws_plugin_entry)");
  ws_registry_free(reg);
}

static void abi_mismatch(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  char expected[PATH_MAX + 256];
  snprintf(expected, sizeof expected,
           "%s: built for plugin ABI %d, this engine has %d; rebuild it against this "
           "version's workstream/plugin.h",
           FIXTURE_BAD_ABI_SO, WS_PLUGIN_ABI + 1, WS_PLUGIN_ABI);
  load_fails(reg, FIXTURE_BAD_ABI_SO, expected); /* and its poisoned list was never read */

  load_fails(reg, FIXTURE_NO_ABI_SO,
             FIXTURE_NO_ABI_SO ": ws_plugin_entry did not report the plugin ABI it was "
                               "built for");

  snprintf(expected, sizeof expected,
           "%s: plugin \"fixture.old\" was built for plugin ABI %d, this engine has %d; "
           "rebuild it against this version's workstream/plugin.h",
           FIXTURE_DEF_ABI_SO, WS_PLUGIN_ABI - 1, WS_PLUGIN_ABI);
  load_fails(reg, FIXTURE_DEF_ABI_SO, expected);
  assert_null(ws_registry_find(reg, "fixture.good")); /* its good sibling did not stay */
  assert_string_equal(g_notes, "");                    /* nor did its init run */
  ws_registry_free(reg);
}

static void empty_list(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  load_fails(reg, FIXTURE_EMPTY_SO,
             FIXTURE_EMPTY_SO ": defines no plugins (ws_plugin_entry returned an empty list)");
  ws_registry_free(reg);
}

static void duplicate_names(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  load_ok(reg, EXAMPLE_SO);
  load_fails(reg, EXAMPLE_SO, EXAMPLE_SO ": plugin \"example.checksum\" is already registered");
  assert_non_null(ws_registry_find(reg, "example.checksum")); /* the first load stands */

  load_fails(reg, FIXTURE_DEFINED_TWICE_SO,
             FIXTURE_DEFINED_TWICE_SO ": plugin \"fixture.twice\" is defined twice");
  assert_string_equal(g_notes, "");
  ws_registry_free(reg);
}

static void failing_init_registers_nothing(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  load_fails(reg, FIXTURE_INIT_FAILS_SO,
             FIXTURE_INIT_FAILS_SO ": plugin \"fixture.refuses\" refused to load: needs "
                                   "/opt/fixture");
  assert_string_equal(g_notes, "init fixture.ok;init fixture.refuses;");
  assert_null(ws_registry_find(reg, "fixture.ok"));

  /* the registry is intact and takes the next library */
  load_ok(reg, FIXTURE_GOOD_SO);
  assert_int_equal(ws_registry_count(reg), 2);
  assert_non_null(ws_registry_find(reg, "fixture.alpha"));
  assert_non_null(ws_registry_find(reg, "fixture.beta"));
  ws_registry_free(reg);
}

static void invalid_definition_runs_no_init(void **state) {
  (void)state;
  ws_registry_t *reg = ws_registry_new();
  load_fails(reg, FIXTURE_BAD_SECOND_SO,
             FIXTURE_BAD_SECOND_SO ": invalid plugin name \"Bad Name!\" (letters, digits, '.', "
                                   "'_', '-')");
  assert_string_equal(g_notes, "");
  ws_registry_free(reg);
}

/* ----------------------------------------------------------- search path */

static void search_path_loads_every_library(void **state) {
  (void)state;
  char dir[PATH_MAX], p[PATH_MAX], err[1024];
  tmp_path(dir, sizeof dir, "plugins");
  make_dir(dir);
  make_link(FIXTURE_GOOD_SO, tmp_path(p, sizeof p, "plugins/a-fixture.so"));
  make_link(EXAMPLE_SO, tmp_path(p, sizeof p, "plugins/b-example.so"));
  write_file(tmp_path(p, sizeof p, "plugins/README"), "not a library", 13);
  write_file(tmp_path(p, sizeof p, "plugins/.hidden.so"), "junk", 4); /* hidden: skipped */
  write_file(tmp_path(p, sizeof p, "plugins/libtool.so.1"), "junk", 4);
  make_dir(tmp_path(p, sizeof p, "plugins/subdir.so")); /* not a file: skipped */

  /* empty entries, a missing directory, the same directory twice */
  char search[4 * PATH_MAX];
  snprintf(search, sizeof search, ":%s/missing::%s:%s/:", g_tmp, dir, dir);
  ws_registry_t *reg = ws_registry_new();
  if (ws_registry_load_path(reg, search, err, sizeof err)) fail_msg("load_path: %s", err);
  assert_int_equal(ws_registry_count(reg), 3);
  assert_non_null(ws_registry_find(reg, "fixture.alpha"));
  assert_non_null(ws_registry_find(reg, "fixture.beta"));
  assert_non_null(ws_registry_find(reg, "example.checksum"));
  assert_string_equal(g_notes, "init fixture.alpha;"); /* once */
  ws_registry_free(reg);

  /* nothing to load is not an error */
  reg = ws_registry_new();
  assert_int_equal(ws_registry_load_path(reg, "", err, sizeof err), 0);
  assert_int_equal(ws_registry_load_path(reg, NULL, err, sizeof err), 0);
  assert_int_equal(ws_registry_load_path(reg, "::", err, sizeof err), 0);
  assert_int_equal(ws_registry_count(reg), 0);
  ws_registry_free(reg);
}

static void search_path_stops_at_first_bad_file(void **state) {
  (void)state;
  char dir[PATH_MAX], p[PATH_MAX], err[1024], expected[PATH_MAX + 128];
  tmp_path(dir, sizeof dir, "ordered");
  make_dir(dir);
  /* byte order, not creation order: 1, 2, 3 */
  make_link(FIXTURE_GOOD_SO, tmp_path(p, sizeof p, "ordered/3-fixture.so"));
  make_link(FIXTURE_EMPTY_SO, tmp_path(p, sizeof p, "ordered/2-empty.so"));
  make_link(EXAMPLE_SO, tmp_path(p, sizeof p, "ordered/1-example.so"));

  ws_registry_t *reg = ws_registry_new();
  assert_int_equal(ws_registry_load_path(reg, dir, err, sizeof err), -1);
  snprintf(expected, sizeof expected,
           "%s/2-empty.so: defines no plugins (ws_plugin_entry returned an empty list)", dir);
  assert_string_equal(err, expected);
  assert_non_null(ws_registry_find(reg, "example.checksum")); /* loaded before: stays */
  assert_null(ws_registry_find(reg, "fixture.alpha"));        /* after: never tried */
  assert_string_equal(g_notes, "");
  ws_registry_free(reg);

  /* an entry that is a file, not a directory */
  reg = ws_registry_new();
  snprintf(expected, sizeof expected,
           "%s: not a directory (a plugin search path lists directories)", EXAMPLE_SO);
  assert_int_equal(ws_registry_load_path(reg, EXAMPLE_SO, err, sizeof err), -1);
  assert_string_equal(err, expected);
  assert_int_equal(ws_registry_count(reg), 0);
  ws_registry_free(reg);
}

int main(void) {
  /* example_cancels_on_timeout needs more FIFOs than pool threads */
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(reference_checksums_match_published_values, setup),
      cmocka_unit_test_setup(example_checksums_files_through_the_engine, setup),
      cmocka_unit_test_setup(example_rejects_bad_requests, setup),
      cmocka_unit_test_setup(example_reports_file_errors, setup),
      cmocka_unit_test_setup(example_cancels_on_timeout, setup),
      cmocka_unit_test_setup(missing_file, setup),
      cmocka_unit_test_setup(bare_name_is_in_current_directory, setup),
      cmocka_unit_test_setup(not_a_shared_object, setup),
      cmocka_unit_test_setup(library_without_entry_point, setup),
      cmocka_unit_test_setup(abi_mismatch, setup),
      cmocka_unit_test_setup(empty_list, setup),
      cmocka_unit_test_setup(duplicate_names, setup),
      cmocka_unit_test_setup(failing_init_registers_nothing, setup),
      cmocka_unit_test_setup(invalid_definition_runs_no_init, setup),
      cmocka_unit_test_setup(search_path_loads_every_library, setup),
      cmocka_unit_test_setup(search_path_stops_at_first_bad_file, setup),
  };
  return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
