/*
** tests/test_checks.c - the built-in checks ws.check.exec, ws.check.tcp and
** ws.check.http, run through the real engine.
**
** Each test builds a plan whose pre_checks hold the check under test (check
** plugins run only in checks) and whose one block sleeps 0 s, resolves it
** against test_registry() (built-ins + test plugins), runs it with
** ws_run_plan on a fresh loop and inspects the check's first attempt.
**
** The servers are the tests' own, on 127.0.0.1 only, in the same loop as the
** run: a tiny HTTP server written with libuv (its handles unreferenced, so
** they never keep the run's loop alive). After every run the servers are
** closed and uv_loop_close must succeed: the plugins leave nothing behind.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "builtins.h"
#include "test_plugins.h"
#include "workstream/engine.h"

static ws_registry_t *g_reg;

/* ------------------------------------------------------------- helpers */

static void assert_not_contains(const char *haystack, const char *needle) {
  if (haystack != NULL && strstr(haystack, needle) != NULL)
    fail_msg("\"%s\" contains \"%s\"", haystack, needle);
}

static void spin_timer_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop (whose own handles may all be unreferenced) until *flag is
** nonzero or `seconds` passed. */
static void spin_until(uv_loop_t *loop, const int *flag, double seconds) {
  uv_timer_t t;
  uint64_t until = uv_hrtime() + (uint64_t)(seconds * 1e9);

  assert_int_equal(uv_timer_init(loop, &t), 0);
  uv_timer_start(&t, spin_timer_cb, 5, 5);
  while (!*flag && uv_hrtime() < until)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_DEFAULT); /* the timer's close */
}

/* ------------------------------------------------------------- the runs */

/* plan { pre_checks = { actions }, blocks = { block { seq { ws.sleep 0 } } } } */
static ws_plan_t *checks_plan(ws_action_t **actions, size_t n) {
  ws_plan_t *plan = ws_plan_new("checks-test", NULL);
  ws_checks_t *pre = ws_checks_new(WS_CHECKS_PRE, 30);
  ws_block_t *block = ws_block_new("block", NULL);
  ws_sequence_t *seq = ws_sequence_new("seq", NULL);
  ws_action_t *nap = test_action("nap", "ws.sleep", "{\"seconds\": 0}");
  size_t i;

  assert_non_null(plan);
  assert_non_null(pre);
  assert_non_null(block);
  assert_non_null(seq);
  assert_non_null(nap);
  for (i = 0; i < n; i++)
    assert_int_equal(ws_checks_add_action(pre, actions[i]), 0);
  ws_plan_set_checks(plan, pre);
  assert_int_equal(ws_sequence_add_action(seq, nap), 0);
  assert_int_equal(ws_block_add_sequence(block, seq), 0);
  assert_int_equal(ws_plan_add_block(plan, block), 0);
  return plan;
}

static ws_action_t *new_check(const char *plugin, json_t *req, double timeout) {
  ws_action_t *a;

  assert_non_null(req);
  a = ws_action_new("check", NULL, plugin, req);
  assert_non_null(a);
  if (timeout > 0)
    a->timeout = timeout;
  return a;
}

/* Resolves and runs a plan made by checks_plan on loop (left open: the caller
** closes its servers and then the loop); the action under test is the first
** (often the only) check. */
static void run_plan_on(uv_loop_t *loop, ws_plan_t *plan, test_run_t *run) {
  test_run_plan(loop, g_reg, plan, plan->checks[WS_CHECKS_PRE]->actions[0], run);
}

/* One check with req (stolen) on loop; timeout 0 = the default. */
static void run_check_on(uv_loop_t *loop, const char *plugin, json_t *req, double timeout,
                         test_run_t *run) {
  ws_action_t *a = new_check(plugin, req, timeout);

  run_plan_on(loop, checks_plan(&a, 1), run);
}

/* The same on a loop of its own, closed afterwards (no server needed). */
static void run_check(const char *plugin, json_t *req, double timeout, test_run_t *run) {
  uv_loop_t loop;

  assert_int_equal(uv_loop_init(&loop), 0);
  run_check_on(&loop, plugin, req, timeout, run);
  test_close_loop(&loop);
}

/* Fails with ws_plan_resolve's message unless it refuses; returns it. */
static void resolve_fails(const char *plugin, json_t *req, const char *expect) {
  ws_action_t *a = new_check(plugin, req, 0);
  ws_plan_t *plan = checks_plan(&a, 1);
  char err[1024];

  if (ws_plan_resolve(plan, g_reg, err, sizeof err) == 0)
    fail_msg("ws_plan_resolve accepted a bad request for %s (expected \"%s\")", plugin, expect);
  test_assert_contains(err, expect);
  ws_plan_free(plan);
}

/* The response of a passed check; the plan completed. */
static json_t *passed(const test_run_t *run) {
  json_t *resp = test_run_resp(run);

  assert_int_equal(run->plan->node.state.status, WS_COMPLETED);
  assert_int_equal(run->plan->blocks[0]->node.state.status, WS_COMPLETED);
  return resp;
}

/* The error of a failed check; the plan failed on its pre checks. */
static const ws_error_t *failed(const test_run_t *run) {
  const ws_error_t *err = test_run_err(run);

  assert_int_equal(run->plan->node.state.status, WS_FAILED);
  assert_int_equal(run->plan->reason, WS_REASON_PRE_CHECK);
  assert_int_equal(run->plan->blocks[0]->node.state.status, WS_NOT_STARTED);
  return err;
}

static void assert_code(const ws_error_t *err, const char *code) {
  if (err->code == NULL || strcmp(err->code, code) != 0)
    fail_msg("error code %s, expected %s (%s)", err->code ? err->code : "(none)", code, err->msg);
}

/* ---------------------------------------------------- the test server */

/*
** A tiny HTTP/1.1 server on 127.0.0.1:<ephemeral>. It reads the request head
** and answers by path, then closes the connection:
**   /ok        200 "all ok"
**   /fail      503 "service down"
**   /slow      never answers (counts the connections the client closes)
**   /big       200, BIG_BODY_LEN bytes: 'a'... then "the-needle"
**   /bad-utf8  200 "ok \xff\xfe end"
**   /headers   200, the request head as the body
**   /redirect  302 to /ok
**   else       404; input that is not HTTP at all gets 400
** Its handles are unreferenced: they never keep a loop alive on their own.
*/
#define BIG_BODY_LEN 100000
#define NEEDLE "the-needle"

typedef struct srv_conn {
  uv_tcp_t tcp;
  struct test_srv *srv;
  struct srv_conn *next;
  char head[8192];
  size_t len;
  bool answered, slow, closing;
  uv_write_t wreq;
  char *resp;
} srv_conn_t;

typedef struct test_srv {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  srv_conn_t *conns;
  int accepted;
  int requests;
  int slow_closed; /* /slow connections the client closed */
  char last_head[8192];
  void (*on_slow)(struct test_srv *srv); /* optional: a /slow request arrived */
  void *ud;
} test_srv_t;

static void conn_on_close(uv_handle_t *h) {
  srv_conn_t *c = h->data;
  test_srv_t *srv = c->srv;
  srv_conn_t **pp;

  for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  free(c->resp);
  free(c);
}

static void conn_close(srv_conn_t *c) {
  if (!c->closing) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
  }
}

static void conn_on_written(uv_write_t *req, int status) {
  (void)status; /* the client may have stopped reading: fine */
  conn_close(req->data);
}

static void conn_respond(srv_conn_t *c, int status, const char *reason, const char *extra,
                         const char *body, size_t blen) {
  size_t cap = blen + 512 + (extra ? strlen(extra) : 0);
  int n;
  uv_buf_t buf;

  c->answered = true;
  c->resp = malloc(cap);
  assert_non_null(c->resp);
  n = snprintf(c->resp, cap,
               "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
               "Connection: close\r\n%s\r\n",
               status, reason, blen, extra ? extra : "");
  memcpy(c->resp + n, body, blen);
  buf = uv_buf_init(c->resp, (unsigned int)((size_t)n + blen));
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, conn_on_written) != 0)
    conn_close(c);
}

static void conn_answer(srv_conn_t *c) {
  char path[256] = "";
  test_srv_t *srv = c->srv;

  srv->requests++;
  snprintf(srv->last_head, sizeof srv->last_head, "%.*s", (int)c->len, c->head);
  if (sscanf(c->head, "GET %255s HTTP/1.", path) != 1) {
    conn_respond(c, 400, "Bad Request", NULL, "bad request", 11);
  } else if (strcmp(path, "/ok") == 0) {
    conn_respond(c, 200, "OK", NULL, "all ok", 6);
  } else if (strcmp(path, "/fail") == 0) {
    conn_respond(c, 503, "Service Unavailable", NULL, "service down", 12);
  } else if (strcmp(path, "/slow") == 0) {
    c->slow = true; /* no answer: the client must give up */
    if (srv->on_slow != NULL)
      srv->on_slow(srv);
  } else if (strcmp(path, "/big") == 0) {
    char *big = malloc(BIG_BODY_LEN);

    assert_non_null(big);
    memset(big, 'a', BIG_BODY_LEN);
    memcpy(big + BIG_BODY_LEN - strlen(NEEDLE), NEEDLE, strlen(NEEDLE));
    conn_respond(c, 200, "OK", NULL, big, BIG_BODY_LEN);
    free(big);
  } else if (strcmp(path, "/bad-utf8") == 0) {
    conn_respond(c, 200, "OK", NULL, "ok \xff\xfe end", 10);
  } else if (strcmp(path, "/headers") == 0) {
    conn_respond(c, 200, "OK", NULL, c->head, c->len);
  } else if (strcmp(path, "/redirect") == 0) {
    conn_respond(c, 302, "Found", "Location: /ok\r\n", "moved", 5);
  } else {
    conn_respond(c, 404, "Not Found", NULL, "not found", 9);
  }
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  srv_conn_t *c = h->data;
  static char sink[4096];

  (void)suggested;
  if (c->len < sizeof c->head - 1)
    *buf = uv_buf_init(c->head + c->len, (unsigned int)(sizeof c->head - 1 - c->len));
  else
    *buf = uv_buf_init(sink, sizeof sink);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  srv_conn_t *c = s->data;

  if (nread < 0) { /* EOF or an error: the client is gone */
    if (c->slow)
      c->srv->slow_closed++;
    conn_close(c);
    return;
  }
  if (buf->base != c->head + c->len)
    return; /* beyond the head buffer: ignored */
  c->len += (size_t)nread;
  c->head[c->len] = '\0';
  if (c->answered || c->slow)
    return;
  if (c->len > 0 && !(c->head[0] >= 'A' && c->head[0] <= 'Z')) {
    conn_respond(c, 400, "Bad Request", NULL, "not http", 8); /* e.g. a TLS hello */
    return;
  }
  if (strstr(c->head, "\r\n\r\n") != NULL)
    conn_answer(c);
}

static void srv_on_connection(uv_stream_t *listener, int status) {
  test_srv_t *srv = listener->data;
  srv_conn_t *c;

  if (status != 0)
    return;
  c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->srv = srv;
  assert_int_equal(uv_tcp_init(srv->loop, &c->tcp), 0);
  c->tcp.data = c;
  uv_unref((uv_handle_t *)&c->tcp);
  c->next = srv->conns;
  srv->conns = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  srv->accepted++;
  uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read);
}

static void srv_start(test_srv_t *srv, uv_loop_t *loop) {
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;

  memset(srv, 0, sizeof *srv);
  srv->loop = loop;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  assert_int_equal(uv_tcp_init(loop, &srv->listener), 0);
  srv->listener.data = srv;
  assert_int_equal(uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&srv->listener, 64, srv_on_connection), 0);
  assert_int_equal(uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len), 0);
  srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  uv_unref((uv_handle_t *)&srv->listener);
}

static void srv_stop(test_srv_t *srv) {
  srv_conn_t *c;

  for (c = srv->conns; c != NULL; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&srv->listener, NULL);
  uv_run(srv->loop, UV_RUN_DEFAULT);
  assert_null(srv->conns);
}

/* A port on 127.0.0.1 where nothing listens: bound, read, closed. */
static int closed_port(void) {
  uv_loop_t loop;
  uv_tcp_t tcp;
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound, port;

  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
  assert_int_equal(uv_tcp_init(&loop, &tcp), 0);
  assert_int_equal(uv_tcp_bind(&tcp, (const struct sockaddr *)&addr, 0), 0);
  assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &len), 0);
  port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  uv_close((uv_handle_t *)&tcp, NULL);
  test_close_loop(&loop);
  return port;
}

/* Runs one ws.check.http against a fresh server; url_path is appended to
** http://127.0.0.1:<port>. extra is more of the request, as JSON members
** (",\"status\": 503"), or "". */
typedef struct http_case {
  test_run_t run;
  test_srv_t srv;
  char url[256];
} http_case_t;

static void run_http(http_case_t *hc, const char *scheme, const char *url_path, const char *extra,
                     double timeout) {
  uv_loop_t *loop = malloc(sizeof *loop);
  char req[1024];

  assert_non_null(loop);
  assert_int_equal(uv_loop_init(loop), 0);
  srv_start(&hc->srv, loop);
  snprintf(hc->url, sizeof hc->url, "%s://127.0.0.1:%d%s", scheme, hc->srv.port, url_path);
  snprintf(req, sizeof req, "{\"url\": \"%s\"%s}", hc->url, extra);
  run_check_on(loop, "ws.check.http", test_req("%s", req), timeout, &hc->run);
}

/* Stops the server and closes the loop. */
static void http_case_end(http_case_t *hc) {
  uv_loop_t *loop = hc->srv.loop;

  srv_stop(&hc->srv);
  test_close_loop(loop);
  free(loop);
  test_run_free(&hc->run);
}

/* --------------------------------------------------- setup, registry */

static int setup_registry(void **state) {
  (void)state;
  /* The checks talk to 127.0.0.1 only: no proxy may stand in between. */
  setenv("no_proxy", "*", 1);
  setenv("NO_PROXY", "*", 1);
  g_reg = test_registry();
  return g_reg == NULL ? -1 : 0;
}

static int teardown_registry(void **state) {
  (void)state;
  ws_registry_free(g_reg);
  g_reg = NULL;
  return 0;
}

static void test_registered(void **state) {
  const char *names[] = { "ws.check.exec", "ws.check.tcp", "ws.check.http" };
  const ws_plugin_def_t *defs[] = { &ws_plugin_check_exec, &ws_plugin_check_tcp,
                                    &ws_plugin_check_http };
  size_t i;

  (void)state;
  for (i = 0; i < 3; i++) {
    const ws_plugin_def_t *def = ws_registry_find(g_reg, names[i]);

    assert_ptr_equal(def, defs[i]);
    assert_int_equal(def->is_check, 1);
    assert_non_null(def->start);
    assert_non_null(def->cancel);
    assert_non_null(def->validate);
    assert_non_null(def->descr);
  }
}

/* Check plugins run only in checks: the engine refuses one in a sequence. */
static void test_check_refused_in_sequence(void **state) {
  ws_plan_t *plan = ws_plan_new("p", NULL);
  ws_block_t *block = ws_block_new("block", NULL);
  ws_sequence_t *seq = ws_sequence_new("seq", NULL);
  char err[512];

  (void)state;
  assert_int_equal(ws_sequence_add_action(
                       seq, test_action("probe", "ws.check.tcp",
                                        "{\"host\": \"127.0.0.1\", \"port\": 80}")),
                   0);
  assert_int_equal(ws_block_add_sequence(block, seq), 0);
  assert_int_equal(ws_plan_add_block(plan, block), 0);
  assert_int_equal(ws_plan_resolve(plan, g_reg, err, sizeof err), -1);
  test_assert_contains(err, "is a check plugin");
  ws_plan_free(plan);
}

/* ---------------------------------------------------- ws.check.exec */

/* ws.check.exec is ws.exec as a check: the very same request and response
** types (exec.h), defaults included. */
static void test_check_exec_types_match_exec(void **state) {
  (void)state;
  assert_non_null(ws_plugin_exec.request);
  assert_non_null(ws_plugin_exec.response);
  assert_ptr_equal(ws_plugin_check_exec.request, ws_plugin_exec.request);
  assert_ptr_equal(ws_plugin_check_exec.response, ws_plugin_exec.response);
}

static void test_check_exec_pass(void **state) {
  test_run_t run;
  json_t *resp;

  (void)state;
  run_check("ws.check.exec", json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo healthy"), 0,
            &run);
  resp = passed(&run);
  assert_int_equal(test_resp_int(resp, "code"), 0);
  assert_string_equal(test_resp_str(resp, "stdout"), "healthy\n");
  /* ok_codes defaulted to {0}, as for ws.exec */
  assert_int_equal(json_array_size(json_object_get(run.action->req, "ok_codes")), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(run.action->req, "ok_codes"),
                                                     0)), 0);
  test_run_free(&run);
}

static void test_check_exec_fail(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_check("ws.check.exec",
            json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo 'db unreachable' >&2; exit 3"), 0,
            &run);
  err = failed(&run);
  assert_code(err, "exit_code");
  test_assert_contains(err->msg, "exited with code 3 (expected 0)");
  test_assert_contains(err->msg, "db unreachable");
  test_run_free(&run);
}

static void test_check_exec_ok_codes(void **state) {
  test_run_t run;

  (void)state;
  run_check("ws.check.exec",
            json_pack("{s:[s,s,s],s:[i,i]}", "argv", "sh", "-c", "exit 3", "ok_codes", 0, 3), 0,
            &run);
  assert_int_equal(test_resp_int(passed(&run), "code"), 3);
  test_run_free(&run);
}

static void test_check_exec_timeout(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_check("ws.check.exec", json_pack("{s:[s,s]}", "argv", "sleep", "30"), 0.3, &run);
  err = failed(&run);
  assert_true(run.action->attempts[0].timed_out);
  assert_code(err, "timeout");
  assert_true(run.elapsed < 5);
  test_run_free(&run);
}

static void test_check_exec_validation(void **state) {
  (void)state;
  resolve_fails("ws.check.exec", json_pack("{s:[]}", "argv"), "req.argv");
  resolve_fails("ws.check.exec", json_pack("{s:[s],s:[i]}", "argv", "true", "ok_codes", 300),
                "req.ok_codes[1]");
  resolve_fails("ws.check.exec", json_pack("{s:s}", "argv", "true"), "req.argv");
}

/* ----------------------------------------------------- ws.check.tcp */

static void test_tcp_pass(void **state) {
  uv_loop_t loop;
  test_srv_t srv;
  test_run_t run;
  json_t *resp;
  char expect[64];

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_start(&srv, &loop);
  run_check_on(&loop, "ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", srv.port),
               0, &run);
  resp = passed(&run);
  snprintf(expect, sizeof expect, "127.0.0.1:%d", srv.port);
  assert_string_equal(test_resp_str(resp, "address"), expect);
  assert_true(test_resp_num(resp, "duration") >= 0 && test_resp_num(resp, "duration") < 5);
  spin_until(&loop, &srv.accepted, 2);
  assert_int_equal(srv.accepted, 1);
  srv_stop(&srv);
  test_close_loop(&loop);
  test_run_free(&run);
}

/* By name. Where localhost also resolves to ::1 (the server is on 127.0.0.1
** only), that address is refused and the next one is tried. */
static void test_tcp_name_tries_each_address(void **state) {
  uv_loop_t loop;
  test_srv_t srv;
  test_run_t run;
  char expect[64];

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_start(&srv, &loop);
  run_check_on(&loop, "ws.check.tcp", json_pack("{s:s,s:i}", "host", "localhost", "port", srv.port),
               0, &run);
  snprintf(expect, sizeof expect, "127.0.0.1:%d", srv.port);
  assert_string_equal(test_resp_str(passed(&run), "address"), expect);
  srv_stop(&srv);
  test_close_loop(&loop);
  test_run_free(&run);
}

static void test_tcp_refused(void **state) {
  test_run_t run;
  const ws_error_t *err;
  char expect[128];
  int port = closed_port();

  (void)state;
  run_check("ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", port), 0, &run);
  err = failed(&run);
  assert_code(err, "connect");
  snprintf(expect, sizeof expect, "cannot connect to 127.0.0.1:%d: connection refused", port);
  assert_string_equal(err->msg, expect);
  assert_false(err->permanent);
  test_run_free(&run);

  /* By name: the message also names the address(es) tried. */
  run_check("ws.check.tcp", json_pack("{s:s,s:i}", "host", "localhost", "port", port), 0, &run);
  err = failed(&run);
  assert_code(err, "connect");
  snprintf(expect, sizeof expect, "cannot connect to localhost:%d: connection refused (", port);
  assert_true(strncmp(err->msg, expect, strlen(expect)) == 0);
  snprintf(expect, sizeof expect, ":%d)", port);
  test_assert_contains(err->msg, expect);
  test_run_free(&run);
}

static void test_tcp_unresolvable(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  /* .invalid is reserved (RFC 6761): it never resolves. */
  run_check("ws.check.tcp", json_pack("{s:s,s:i}", "host", "nothing.invalid", "port", 80), 10,
            &run);
  err = failed(&run);
  assert_false(run.action->attempts[0].timed_out);
  assert_code(err, "resolve");
  test_assert_contains(err->msg,
                       "cannot connect to nothing.invalid:80: cannot resolve nothing.invalid");
  test_run_free(&run);
}

static void test_tcp_validation(void **state) {
  (void)state;
  resolve_fails("ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", 0),
                "req.port: 0 is not a TCP port (1 to 65535)");
  resolve_fails("ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", 65536),
                "req.port: 65536 is not a TCP port");
  resolve_fails("ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", -1),
                "req.port");
  resolve_fails("ws.check.tcp", json_pack("{s:s,s:s}", "host", "127.0.0.1", "port", "80"),
                "req.port");
  resolve_fails("ws.check.tcp", json_pack("{s:s,s:i}", "host", "", "port", 80), "req.host");
  resolve_fails("ws.check.tcp", json_pack("{s:i}", "port", 80), "req.host");
  resolve_fails("ws.check.tcp",
                json_pack("{s:s,s:i,s:b}", "host", "127.0.0.1", "port", 80, "tls", 1), "tls");
}

/*
** A connection that never completes: a raw listening socket with a backlog
** of 0 whose queue is already full, so the kernel drops further SYNs. The
** attempt times out, the cancel closes the socket, the run ends promptly and
** the loop closes.
*/
static void test_tcp_timeout_cancels(void **state) {
  struct sockaddr_in addr;
  socklen_t alen = sizeof addr;
  int lfd, fillers[4], i, port;
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(lfd >= 0);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(lfd, 0), 0);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
  port = ntohs(addr.sin_port);
  for (i = 0; i < 4; i++) { /* fill the accept queue (never accepted) */
    fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fillers[i] >= 0);
    if (connect(fillers[i], (struct sockaddr *)&addr, sizeof addr) != 0)
      assert_int_equal(errno, EINPROGRESS);
  }
  usleep(100 * 1000);

  run_check("ws.check.tcp", json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", port), 0.4, &run);
  err = failed(&run);
  assert_true(run.action->attempts[0].timed_out);
  assert_code(err, "timeout");
  assert_true(run.elapsed < 3);
  test_run_free(&run);

  for (i = 0; i < 4; i++)
    close(fillers[i]);
  close(lfd);
}

/* ---------------------------------------------------- ws.check.http */

/* True when libcurl is mapped into this process. */
static bool libcurl_mapped(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[4096];
  bool found = false;

  assert_non_null(f);
  while (!found && fgets(line, sizeof line, f) != NULL)
    found = strstr(line, "/libcurl") != NULL;
  fclose(f);
  return found;
}

/* The first attempt of a check against a closed port, with
** $WS_CHECK_HTTP_MODULE set to module (NULL: unset); returns its error
** (the run stays in *run). */
static const ws_error_t *http_with_module(const char *module, test_run_t *run) {
  char url[128];
  const ws_error_t *err;

  if (module != NULL)
    assert_int_equal(setenv("WS_CHECK_HTTP_MODULE", module, 1), 0);
  else
    assert_int_equal(unsetenv("WS_CHECK_HTTP_MODULE"), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
  run_check("ws.check.http", json_pack("{s:s}", "url", url), 0, run);
  assert_int_equal(unsetenv("WS_CHECK_HTTP_MODULE"), 0);
  err = failed(run);
  assert_int_equal(run->action->nattempts, 1); /* a module error is permanent */
  return err;
}

/* The definition is built in, libcurl is not: registering ws.check.http and
** validating requests load nothing; its module (and libcurl) loads when an
** attempt first starts, and an attempt that cannot load it fails for good,
** naming the file and why. The module then stays loaded, so this runs
** before every other ws.check.http test. */
static void test_http_module_on_first_use(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  assert_non_null(ws_registry_find(g_reg, "ws.check.http"));
  resolve_fails("ws.check.http", json_pack("{s:s}", "url", "http://[::1/"), "bad IPv6 address");
  assert_false(libcurl_mapped());

  err = http_with_module("/nonexistent/ws_check_http.so", &run);
  assert_code(err, "module");
  assert_true(err->permanent);
  test_assert_contains(err->msg, "ws.check.http: cannot load its libcurl module: "
                                 "/nonexistent/ws_check_http.so: ");
  test_assert_contains(err->msg, "No such file or directory");
  test_run_free(&run);

  err = http_with_module(EXAMPLE_SO, &run); /* a plugin library, but not this one */
  assert_code(err, "module");
  test_assert_contains(err->msg, EXAMPLE_SO ": does not define the plugin \"ws.check.http\"");
  test_run_free(&run);
  assert_false(libcurl_mapped());

  err = http_with_module(NULL, &run); /* the installed one, found next to this program */
  assert_code(err, "connect");
  test_assert_contains(err->msg, "GET http://127.0.0.1:");
  test_run_free(&run);
  assert_true(libcurl_mapped());
}

/* What the built-in definition accepts as a URL, without libcurl: what curl
** parses, http or https, with a host (the module parses it with curl again). */
static void test_http_url_rules(void **state) {
  static const char *const good[] = {
    "http://127.0.0.1/", "HTTPS://Example.COM", "http://user:pw@host:8080/p?q=a://b#f",
    "http://host:/", "http://host:00080/", "http://[::1]:8080/", "http://[fe80::1%25eth0]/",
    "http://h%C3%A9llo.example/", "http://h\xc3\xa9llo.example/", "http:///host/", "http://host?x",
  };
  static const struct { const char *url, *expect; } bad[] = {
    { "http://host:65536/", "bad port number" },
    { "http://host:8a/", "bad port number" },
    { "http://[::1]x/", "bad port number" },
    { "http://[::g]/", "bad IPv6 address" },
    { "http://[::1/", "bad IPv6 address" },
    { "http://ho<st/", "bad host name" },
    { "http://a@b@c/", "bad host name" },
    { "http://ho%2fst/", "bad host name" },
    { "http://:80/", "has no host" },
    { "http:////host/", "has no host" },
    { "http://host/a\tb", "a space or a control character" },
    { "h_ttp://host/", "scheme \"h_ttp\" is not supported" },
  };
  char err[512];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    json_t *req = json_pack("{s:s}", "url", good[i]);

    if (ws_request_check(&ws_plugin_check_http, &req, "req", err, sizeof err) != 0)
      fail_msg("%s was refused: %s", good[i], err);
    json_decref(req);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *req = json_pack("{s:s}", "url", bad[i].url);

    if (ws_request_check(&ws_plugin_check_http, &req, "req", err, sizeof err) == 0)
      fail_msg("%s was accepted (expected \"%s\")", bad[i].url, bad[i].expect);
    test_assert_contains(err, "req.url: ");
    test_assert_contains(err, bad[i].expect);
    json_decref(req);
  }
}

static void test_http_pass(void **state) {
  http_case_t hc;
  json_t *resp;

  (void)state;
  run_http(&hc, "http", "/ok", ", \"contains\": \"ok\"", 0);
  resp = passed(&hc.run);
  assert_int_equal(test_resp_int(resp, "status"), 200);
  assert_string_equal(test_resp_str(resp, "body"), "all ok");
  assert_false(test_resp_bool(resp, "body_truncated"));
  assert_true(test_resp_num(resp, "duration") >= 0 && test_resp_num(resp, "duration") < 5);
  assert_int_equal(hc.srv.requests, 1);
  test_assert_contains(hc.srv.last_head, "GET /ok HTTP/1.1\r\n");
  http_case_end(&hc);
}

static void test_http_wrong_status(void **state) {
  http_case_t hc;
  const ws_error_t *err;
  const ws_attempt_t *at;
  char expect[512];
  size_t i;
  bool logged = false;

  (void)state;
  run_http(&hc, "http", "/fail", "", 0);
  err = failed(&hc.run);
  assert_code(err, "status");
  snprintf(expect, sizeof expect, "GET %s: status 503, expected 200", hc.url);
  assert_string_equal(err->msg, expect);
  assert_false(err->permanent);
  at = &hc.run.action->attempts[0];
  for (i = 0; i < at->nlog; i++)
    logged = logged || strstr(at->log[i], "service down") != NULL;
  assert_true(logged); /* the start of the body is in the attempt's log */
  http_case_end(&hc);
}

static void test_http_expected_status(void **state) {
  http_case_t hc;

  (void)state;
  run_http(&hc, "http", "/fail", ", \"status\": 503, \"contains\": \"down\"", 0);
  assert_int_equal(test_resp_int(passed(&hc.run), "status"), 503);
  http_case_end(&hc);
}

static void test_http_contains_missing(void **state) {
  http_case_t hc;
  const ws_error_t *err;
  char expect[512];

  (void)state;
  run_http(&hc, "http", "/ok", ", \"contains\": \"healthy\"", 0);
  err = failed(&hc.run);
  assert_code(err, "contains");
  snprintf(expect, sizeof expect, "GET %s: body does not contain \"healthy\"", hc.url);
  assert_string_equal(err->msg, expect);
  http_case_end(&hc);
}

static void test_http_refused(void **state) {
  test_run_t run;
  const ws_error_t *err;
  char url[128], prefix[512];

  (void)state;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", closed_port());
  run_check("ws.check.http", json_pack("{s:s}", "url", url), 0, &run);
  err = failed(&run);
  assert_code(err, "connect");
  snprintf(prefix, sizeof prefix, "GET %s: ", url);
  assert_true(strncmp(err->msg, prefix, strlen(prefix)) == 0);
  assert_true(strlen(err->msg) > strlen(prefix)); /* curl's own words follow */
  test_run_free(&run);
}

static void test_http_unresolvable(void **state) {
  test_run_t run;
  const ws_error_t *err;

  (void)state;
  run_check("ws.check.http", json_pack("{s:s}", "url", "http://nothing.invalid/"), 10, &run);
  err = failed(&run);
  assert_false(run.action->attempts[0].timed_out);
  assert_code(err, "resolve");
  test_assert_contains(err->msg, "GET http://nothing.invalid/: ");
  test_assert_contains(err->msg, "nothing.invalid");
  test_run_free(&run);
}

/* The server never answers: the attempt times out, the cancel removes the
** transfer (the server sees the connection closed), the run ends promptly
** and the loop closes with nothing left on it. */
static void test_http_timeout_cancels(void **state) {
  http_case_t hc;
  const ws_error_t *err;

  (void)state;
  run_http(&hc, "http", "/slow", "", 0.5);
  err = failed(&hc.run);
  assert_true(hc.run.action->attempts[0].timed_out);
  assert_code(err, "timeout");
  assert_true(hc.run.elapsed >= 0.4);
  assert_true(hc.run.elapsed < 3);
  spin_until(hc.srv.loop, &hc.srv.slow_closed, 3);
  assert_int_equal(hc.srv.slow_closed, 1);
  http_case_end(&hc);
}

/* A forced stop cancels a check in flight the same way. */
typedef struct stop_ctx {
  ws_run_t *run;
  int done;
} stop_ctx_t;

/* The request is in: the check waits for the answer. Stop the run now. */
static void stop_on_slow_request(test_srv_t *srv) {
  stop_ctx_t *ctx = srv->ud;

  assert_int_equal(ws_run_stop(ctx->run, true), 0);
}

static void stop_run_done(ws_run_t *run, void *ud) {
  (void)run;
  ((stop_ctx_t *)ud)->done = 1;
}

static void test_http_forced_stop_cancels(void **state) {
  uv_loop_t loop;
  test_srv_t srv;
  ws_action_t *a;
  ws_plan_t *plan;
  ws_run_opts_t opts;
  stop_ctx_t ctx = { NULL, 0 };
  char err[512], url[128];
  uint64_t t0;
  double elapsed;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_start(&srv, &loop);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", srv.port);
  a = new_check("ws.check.http", json_pack("{s:s}", "url", url), 30);
  plan = checks_plan(&a, 1);
  assert_int_equal(ws_plan_resolve(plan, g_reg, err, sizeof err), 0);
  srv.on_slow = stop_on_slow_request;
  srv.ud = &ctx;
  memset(&opts, 0, sizeof opts);
  opts.ud = &ctx;
  ctx.run = ws_run_new(&loop, plan, g_reg, &opts, err, sizeof err);
  if (ctx.run == NULL)
    fail_msg("ws_run_new: %s", err);
  t0 = uv_hrtime();
  assert_int_equal(ws_run_start(ctx.run, stop_run_done), 0);
  while (!ctx.done)
    uv_run(&loop, UV_RUN_ONCE);
  elapsed = (double)(uv_hrtime() - t0) / 1e9;
  ws_run_free(ctx.run);
  assert_true(elapsed < 3);
  assert_int_equal(a->node.state.status, WS_STOPPED);
  assert_true(a->nattempts == 1);
  assert_non_null(a->attempts[0].err);
  assert_code(a->attempts[0].err, "cancelled");
  assert_int_equal(plan->node.state.status, WS_STOPPED); /* a stop, not a failed check */
  assert_int_equal(plan->reason, WS_REASON_STOPPED);
  assert_int_equal(plan->blocks[0]->node.state.status, WS_NOT_STARTED);
  spin_until(&loop, &srv.slow_closed, 3);
  assert_int_equal(srv.slow_closed, 1);
  srv_stop(&srv);
  test_close_loop(&loop);
  ws_plan_free(plan);
}

/* More body than is kept: 64 KiB are returned, the substring is still found
** beyond them (it is searched as the body streams). */
static void test_http_big_body(void **state) {
  http_case_t hc;
  json_t *resp;

  (void)state;
  run_http(&hc, "http", "/big", ", \"contains\": \"" NEEDLE "\"", 0);
  resp = passed(&hc.run);
  assert_true(test_resp_bool(resp, "body_truncated"));
  assert_int_equal(strlen(test_resp_str(resp, "body")), 64 * 1024);
  http_case_end(&hc);

  run_http(&hc, "http", "/big", "", 0); /* nothing to search: reading stops at 64 KiB */
  resp = passed(&hc.run);
  assert_true(test_resp_bool(resp, "body_truncated"));
  assert_int_equal(strlen(test_resp_str(resp, "body")), 64 * 1024);
  http_case_end(&hc);

  run_http(&hc, "http", "/big", ", \"contains\": \"needle-not-there\"", 0);
  assert_code(failed(&hc.run), "contains");
  http_case_end(&hc);
}

static void test_http_invalid_utf8(void **state) {
  http_case_t hc;

  (void)state;
  run_http(&hc, "http", "/bad-utf8", "", 0);
  assert_string_equal(test_resp_str(passed(&hc.run), "body"), "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  http_case_end(&hc);
}

static void test_http_headers_sent(void **state) {
  http_case_t hc;
  const char *body;

  (void)state;
  run_http(&hc, "http", "/headers",
           ", \"headers\": {\"X-Probe\": \"ws-test\", \"Accept\": \"text/plain\"}", 0);
  body = test_resp_str(passed(&hc.run), "body");
  test_assert_contains(body, "X-Probe: ws-test\r\n");
  test_assert_contains(body, "Accept: text/plain\r\n");
  http_case_end(&hc);
}

/* Redirects are not followed: the check sees the 302. */
static void test_http_no_redirect(void **state) {
  http_case_t hc;
  char expect[512];

  (void)state;
  run_http(&hc, "http", "/redirect", "", 0);
  snprintf(expect, sizeof expect, "GET %s: status 302, expected 200", hc.url);
  assert_string_equal(failed(&hc.run)->msg, expect);
  assert_int_equal(hc.srv.requests, 1);
  http_case_end(&hc);

  run_http(&hc, "http", "/redirect", ", \"status\": 302", 0);
  assert_int_equal(test_resp_int(passed(&hc.run), "status"), 302);
  http_case_end(&hc);
}

/* TLS to a server that does not speak it: curl's TLS error. */
static void test_http_tls_error(void **state) {
  http_case_t hc;
  const ws_error_t *err;
  char prefix[512];

  (void)state;
  run_http(&hc, "https", "/ok", ", \"insecure\": true", 5);
  err = failed(&hc.run);
  assert_false(hc.run.action->attempts[0].timed_out);
  assert_code(err, "tls");
  snprintf(prefix, sizeof prefix, "GET %s: ", hc.url);
  assert_true(strncmp(err->msg, prefix, strlen(prefix)) == 0);
  http_case_end(&hc);
}

/* A password in the URL never shows in messages. */
static void test_http_password_hidden(void **state) {
  http_case_t hc;
  const ws_error_t *err;

  (void)state;
  hc.srv.port = 0;
  {
    uv_loop_t *loop = malloc(sizeof *loop);
    char url[256];

    assert_non_null(loop);
    assert_int_equal(uv_loop_init(loop), 0);
    srv_start(&hc.srv, loop);
    snprintf(url, sizeof url, "http://probe:s3cr3t@127.0.0.1:%d/fail", hc.srv.port);
    run_check_on(loop, "ws.check.http", json_pack("{s:s}", "url", url), 0, &hc.run);
  }
  err = failed(&hc.run);
  assert_not_contains(err->msg, "s3cr3t");
  test_assert_contains(err->msg, "probe:xxx@127.0.0.1");
  test_assert_contains(err->msg, "status 503, expected 200");
  test_assert_contains(hc.srv.last_head, "Authorization: Basic "); /* it was still sent */
  http_case_end(&hc);
}

/* Many checks at once, in one checks object, on one loop: one shared curl
** multi handle, every result its own. */
static void test_http_concurrent(void **state) {
  enum { N = 24 };
  uv_loop_t loop;
  test_srv_t srv;
  ws_action_t *actions[N];
  test_run_t run;
  char url[128];
  int i;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_start(&srv, &loop);
  for (i = 0; i < N; i++) {
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", srv.port, i == N - 1 ? "fail" : "ok");
    actions[i] = new_check("ws.check.http", json_pack("{s:s}", "url", url), 0);
  }
  run_plan_on(&loop, checks_plan(actions, N), &run);
  for (i = 0; i < N - 1; i++) {
    assert_int_equal(actions[i]->node.state.status, WS_COMPLETED);
    assert_string_equal(test_resp_str(actions[i]->attempts[0].resp, "body"), "all ok");
  }
  assert_int_equal(actions[N - 1]->node.state.status, WS_FAILED);
  assert_code(actions[N - 1]->attempts[0].err, "status");
  assert_int_equal(run.plan->node.state.status, WS_FAILED);
  assert_int_equal(srv.requests, N);
  srv_stop(&srv);
  test_close_loop(&loop);
  test_run_free(&run);
}

/* Retries reuse nothing of a previous attempt: each opens its connection. */
static void test_http_retries(void **state) {
  uv_loop_t loop;
  test_srv_t srv;
  ws_action_t *a;
  test_run_t run;
  char url[128];

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  srv_start(&srv, &loop);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/fail", srv.port);
  a = new_check("ws.check.http", json_pack("{s:s}", "url", url), 0);
  a->retries = 2;
  a->has_retry = true;
  a->retry.initial = 0.01;
  a->retry.multiplier = 1;
  a->retry.jitter = 0;
  a->retry.max = 0.01;
  run_plan_on(&loop, checks_plan(&a, 1), &run);
  assert_int_equal(a->nattempts, 3);
  assert_int_equal(a->node.state.status, WS_FAILED);
  assert_int_equal(srv.requests, 3);
  spin_until(&loop, &srv.accepted, 1);
  assert_int_equal(srv.accepted, 3);
  srv_stop(&srv);
  test_close_loop(&loop);
  test_run_free(&run);
}

static void test_http_validation(void **state) {
  (void)state;
  resolve_fails("ws.check.http", json_pack("{s:s}", "url", "ftp://127.0.0.1/x"),
                "req.url: scheme \"ftp\" is not supported (http or https)");
  resolve_fails("ws.check.http", json_pack("{s:s}", "url", "127.0.0.1/x"),
                "req.url: \"127.0.0.1/x\" has no scheme");
  resolve_fails("ws.check.http", json_pack("{s:s}", "url", ""), "req.url: must not be empty");
  resolve_fails("ws.check.http", json_pack("{s:s}", "url", "http://exa mple/"), "req.url");
  resolve_fails("ws.check.http", json_pack("{}"), "req.url");
  resolve_fails("ws.check.http", json_pack("{s:s,s:i}", "url", "http://127.0.0.1/", "status", 42),
                "req.status: 42 is not an HTTP status (100 to 599)");
  resolve_fails("ws.check.http",
                json_pack("{s:s,s:{s:s}}", "url", "http://127.0.0.1/", "headers", "Bad Name", "x"),
                "req.headers: invalid header name \"Bad Name\"");
  resolve_fails("ws.check.http",
                json_pack("{s:s,s:{s:s}}", "url", "http://127.0.0.1/", "headers", "X-A",
                          "a\r\nX-Injected: 1"),
                "req.headers.X-A: must not contain a line break");
  resolve_fails("ws.check.http",
                json_pack("{s:s,s:{s:i}}", "url", "http://127.0.0.1/", "headers", "X-A", 1),
                "req.headers");
  resolve_fails("ws.check.http", json_pack("{s:s,s:i}", "url", "http://127.0.0.1/", "insecure", 1),
                "req.insecure");
  resolve_fails("ws.check.http",
                json_pack("{s:s,s:b}", "url", "http://127.0.0.1/", "follow", 1), "follow");
}

/* Defaults are filled in: status 200, insecure false. */
static void test_http_defaults(void **state) {
  json_t *req = json_pack("{s:s}", "url", "http://127.0.0.1/");
  char err[512];

  (void)state;
  assert_int_equal(ws_request_check(&ws_plugin_check_http, &req, "req", err, sizeof err), 0);
  assert_int_equal(json_integer_value(json_object_get(req, "status")), 200);
  assert_true(json_is_false(json_object_get(req, "insecure")));
  assert_null(json_object_get(req, "contains"));
  json_decref(req);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registered),
    cmocka_unit_test(test_check_refused_in_sequence),
    cmocka_unit_test(test_check_exec_types_match_exec),
    cmocka_unit_test(test_check_exec_pass),
    cmocka_unit_test(test_check_exec_fail),
    cmocka_unit_test(test_check_exec_ok_codes),
    cmocka_unit_test(test_check_exec_timeout),
    cmocka_unit_test(test_check_exec_validation),
    cmocka_unit_test(test_tcp_pass),
    cmocka_unit_test(test_tcp_name_tries_each_address),
    cmocka_unit_test(test_tcp_refused),
    cmocka_unit_test(test_tcp_unresolvable),
    cmocka_unit_test(test_tcp_validation),
    cmocka_unit_test(test_tcp_timeout_cancels),
    cmocka_unit_test(test_http_module_on_first_use), /* first: it sees the module load */
    cmocka_unit_test(test_http_pass),
    cmocka_unit_test(test_http_wrong_status),
    cmocka_unit_test(test_http_expected_status),
    cmocka_unit_test(test_http_contains_missing),
    cmocka_unit_test(test_http_refused),
    cmocka_unit_test(test_http_unresolvable),
    cmocka_unit_test(test_http_timeout_cancels),
    cmocka_unit_test(test_http_forced_stop_cancels),
    cmocka_unit_test(test_http_big_body),
    cmocka_unit_test(test_http_invalid_utf8),
    cmocka_unit_test(test_http_headers_sent),
    cmocka_unit_test(test_http_no_redirect),
    cmocka_unit_test(test_http_tls_error),
    cmocka_unit_test(test_http_password_hidden),
    cmocka_unit_test(test_http_concurrent),
    cmocka_unit_test(test_http_retries),
    cmocka_unit_test(test_http_validation),
    cmocka_unit_test(test_http_defaults),
    cmocka_unit_test(test_http_url_rules),
  };

  return cmocka_run_group_tests_name("ws.check.*", tests, setup_registry, teardown_registry);
}
