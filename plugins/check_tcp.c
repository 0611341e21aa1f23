/*
** plugins/check_tcp.c - the built-in check "ws.check.tcp": can we open a TCP
** connection to host:port?
**
** Request:  { host = "db1.example.net",  -- a name or an IPv4/IPv6 address
**             port = 5432 }               -- 1..65535
** Response: { address = "192.0.2.7:5432", -- the address that accepted ("[v6]:port")
**             duration = 0.0012 }         -- seconds from the start of the attempt
**                                         --   (resolution included) to the connection
**
** The check passes as soon as one connection is established; the connection
** is then closed at once (nothing is sent).
**
** Errors (ws_call_fail), all retryable (a later attempt may well succeed):
**   "resolve"    the name did not resolve:
**                "cannot connect to db1.example.net:5432: cannot resolve db1.example.net:
**                 unknown node or service"
**   "connect"    no address accepted; the message names host, port and the
**                last error: "cannot connect to 127.0.0.1:9: connection refused"
**                (for a name that resolved, the address tried last is added)
**   "cancelled"  the engine cancelled the attempt (timeout, forced stop)
**   "bad_request" (permanent) a request that skipped validation (defensive)
**
** Design: everything on the engine's loop. uv_getaddrinfo resolves (on
** libuv's thread pool, so the loop never blocks), then each resolved address
** is tried in turn with uv_tcp_connect on a fresh uv_tcp_t. Cancel cancels
** the resolution (uv_cancel) or closes the socket; the call completes in the
** last callback, once every handle is closed, so nothing of an attempt
** outlives it. One exception, forced by getaddrinfo itself: a resolution
** already running on the thread pool cannot be interrupted, so a cancel then
** completes the call at once and the state is freed when the resolution
** returns (the loop keeps running until then; the attempt does not wait).
*/
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <jansson.h>
#include <uv.h>

#include "builtins.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

#define TCP_HOST_MAX 255 /* a DNS name is at most 253 characters */

/* ------------------------------------------------------------------ types */

static const ws_field_t tcp_request_fields[] = {
  { "host", &ws_t_string },
  { "port", &ws_t_integer },
  { NULL, NULL },
};
static const ws_type_t tcp_request_type = WS_RECORD(tcp_request_fields);

static const ws_field_t tcp_response_fields[] = {
  { "address", &ws_t_string },
  { "duration", &ws_t_number },
  { NULL, NULL },
};
static const ws_type_t tcp_response_type = WS_RECORD(tcp_response_fields);

/* ------------------------------------------------------- per-call state */

typedef enum tcp_phase {
  TCP_RESOLVING, /* uv_getaddrinfo in flight */
  TCP_CONNECTING, /* uv_tcp_connect in flight on tcp */
  TCP_CLOSING,   /* tcp is closing; what next is in `next` */
  TCP_DONE       /* the outcome is known; the call completes */
} tcp_phase_t;

typedef struct tcp_state {
  ws_call_t *call; /* NULL once completed (a cancelled resolution still running) */
  char host[TCP_HOST_MAX + 1];
  char target[TCP_HOST_MAX + 16]; /* "host:port", "[v6]:port": for messages */
  int port;
  bool host_is_address; /* host is a numeric address, not a name */

  uv_getaddrinfo_t gai;
  struct addrinfo *addrs; /* the resolution's result (freed with the state) */
  struct addrinfo *cur;   /* the address being tried */
  unsigned ntried;

  uv_tcp_t tcp;
  uv_connect_t conn;

  tcp_phase_t phase;
  bool cancelled;
  bool connected;
  int last_err;           /* the last resolution or connection error (UV_E*) */
  char last_addr[64];     /* the address of the last connection attempt */
  char code[16];          /* the error code when failed */
  uint64_t t0, t1;        /* uv_hrtime: start, connection */
} tcp_state_t;

/* ------------------------------------------------------------ helpers */

/* "ip:port" or "[ip6]:port" of a socket address. */
static void tcp_format_addr(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN];

  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

    if (uv_ip6_name(s6, ip, sizeof ip) != 0)
      snprintf(ip, sizeof ip, "?");
    snprintf(buf, len, "[%s]:%d", ip, ntohs(s6->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

    if (uv_ip4_name(s4, ip, sizeof ip) != 0)
      snprintf(ip, sizeof ip, "?");
    snprintf(buf, len, "%s:%d", ip, ntohs(s4->sin_port));
  } else {
    snprintf(buf, len, "(address family %d)", (int)sa->sa_family);
  }
}

static void tcp_state_free(tcp_state_t *st) {
  if (st->addrs != NULL)
    uv_freeaddrinfo(st->addrs);
  free(st);
}

/* ----------------------------------------------------------- validation */

static int tcp_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                        size_t errlen) {
  const json_t *host = json_object_get(req, "host");
  const json_t *port = json_object_get(req, "port");

  (void)def;
  if (!json_is_string(host)) {
    snprintf(err, errlen, "req.host: expected string, got %s",
             host ? ws_json_typename(host) : "nil");
    return -1;
  }
  if (json_string_length(host) == 0) {
    snprintf(err, errlen, "req.host: must not be empty");
    return -1;
  }
  if (json_string_length(host) > TCP_HOST_MAX) {
    snprintf(err, errlen, "req.host: too long (%zu bytes, at most %d)", json_string_length(host),
             TCP_HOST_MAX);
    return -1;
  }
  if (strlen(json_string_value(host)) != json_string_length(host)) {
    snprintf(err, errlen, "req.host: must not contain a NUL byte");
    return -1;
  }
  if (!json_is_integer(port)) {
    snprintf(err, errlen, "req.port: expected integer, got %s",
             port ? ws_json_typename(port) : "nil");
    return -1;
  }
  if (json_integer_value(port) < 1 || json_integer_value(port) > 65535) {
    snprintf(err, errlen, "req.port: %" JSON_INTEGER_FORMAT " is not a TCP port (1 to 65535)",
             json_integer_value(port));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------- outcome */

/* Completes the call from the final state (exactly once), then frees it. */
static void tcp_finish(tcp_state_t *st) {
  ws_call_t *call = st->call;

  st->phase = TCP_DONE;
  if (call == NULL) { /* completed already, at cancel time */
    tcp_state_free(st);
    return;
  }
  st->call = NULL;
  ws_call_set_data(call, NULL);

  if (st->cancelled) {
    ws_call_fail(call, 0, "cancelled", "connection to %s cancelled", st->target);
  } else if (st->connected) {
    json_t *resp = json_pack("{s:s,s:f}", "address", st->last_addr, "duration",
                             (double)(st->t1 - st->t0) / 1e9);

    if (resp != NULL)
      ws_call_succeed(call, resp);
    else
      ws_call_fail(call, 0, "ENOMEM", "connected to %s but out of memory", st->target);
  } else if (strcmp(st->code, "resolve") == 0) {
    ws_call_fail(call, 0, "resolve", "cannot connect to %s: cannot resolve %s: %s", st->target,
                 st->host, uv_strerror(st->last_err));
  } else if (st->host_is_address || st->ntried == 0) {
    ws_call_fail(call, 0, "connect", "cannot connect to %s: %s", st->target,
                 uv_strerror(st->last_err));
  } else if (st->ntried == 1) {
    ws_call_fail(call, 0, "connect", "cannot connect to %s: %s (address %s)", st->target,
                 uv_strerror(st->last_err), st->last_addr);
  } else {
    ws_call_fail(call, 0, "connect", "cannot connect to %s: %s (tried %u addresses, the last %s)",
                 st->target, uv_strerror(st->last_err), st->ntried, st->last_addr);
  }
  tcp_state_free(st);
}

/* ---------------------------------------------------------- connecting */

static void tcp_try_next(tcp_state_t *st);

static void tcp_on_close(uv_handle_t *h) {
  tcp_state_t *st = h->data;

  if (st->connected || st->cancelled || st->cur == NULL) {
    tcp_finish(st);
    return;
  }
  st->cur = st->cur->ai_next;
  tcp_try_next(st);
}

static void tcp_close(tcp_state_t *st) {
  st->phase = TCP_CLOSING;
  uv_close((uv_handle_t *)&st->tcp, tcp_on_close);
}

static void tcp_on_connect(uv_connect_t *req, int status) {
  tcp_state_t *st = req->data;

  if (status == 0 && !st->cancelled) {
    st->connected = true;
    st->t1 = uv_hrtime();
  } else if (status != 0 && status != UV_ECANCELED) {
    st->last_err = status;
  }
  if (!uv_is_closing((uv_handle_t *)&st->tcp))
    tcp_close(st); /* the next address (if any) is tried once it is closed */
}

/* Connects to the next resolved address (TCP, IPv4 or IPv6), or reports the
** last error when none is left. */
static void tcp_try_next(tcp_state_t *st) {
  uv_loop_t *loop = ws_call_loop(st->call);
  int rc;

  while (st->cur != NULL &&
         (st->cur->ai_family != AF_INET && st->cur->ai_family != AF_INET6))
    st->cur = st->cur->ai_next;
  if (st->cur == NULL) {
    if (st->last_err == 0)
      st->last_err = UV_EAI_ADDRFAMILY; /* resolved, but to nothing we can use */
    snprintf(st->code, sizeof st->code, "connect");
    tcp_finish(st);
    return;
  }
  st->ntried++;
  tcp_format_addr(st->cur->ai_addr, st->last_addr, sizeof st->last_addr);
  rc = uv_tcp_init(loop, &st->tcp);
  if (rc != 0) { /* cannot happen on Unix; without a handle there is nothing to close */
    st->last_err = rc;
    snprintf(st->code, sizeof st->code, "connect");
    tcp_finish(st);
    return;
  }
  st->tcp.data = st;
  st->conn.data = st;
  st->phase = TCP_CONNECTING;
  rc = uv_tcp_connect(&st->conn, &st->tcp, st->cur->ai_addr, tcp_on_connect);
  if (rc != 0) { /* e.g. no route for this family: try the next address */
    st->last_err = rc;
    tcp_close(st);
  }
}

static void tcp_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  tcp_state_t *st = req->data;

  st->addrs = res;
  if (st->call == NULL) { /* cancelled while resolving, and completed then */
    tcp_finish(st);
    return;
  }
  if (st->cancelled) {
    tcp_finish(st);
    return;
  }
  if (status != 0) {
    st->last_err = status;
    snprintf(st->code, sizeof st->code, "resolve");
    tcp_finish(st);
    return;
  }
  st->cur = res;
  tcp_try_next(st);
}

/* ---------------------------------------------------------- the plugin */

static int tcp_start(ws_call_t *call) {
  const json_t *req = ws_call_request(call);
  struct addrinfo hints;
  struct in6_addr a6;
  struct in_addr a4;
  char service[8];
  tcp_state_t *st;
  char why[256];
  int rc;

  if (tcp_validate(ws_call_plugin(call), req, why, sizeof why) != 0) {
    ws_call_fail(call, 1, "bad_request", "%s", why);
    return 0;
  }
  st = calloc(1, sizeof *st);
  if (st == NULL)
    return UV_ENOMEM;
  st->call = call;
  st->port = (int)json_integer_value(json_object_get(req, "port"));
  snprintf(st->host, sizeof st->host, "%s", json_string_value(json_object_get(req, "host")));
  if (uv_inet_pton(AF_INET6, st->host, &a6) == 0) {
    st->host_is_address = true;
    snprintf(st->target, sizeof st->target, "[%s]:%d", st->host, st->port);
  } else {
    st->host_is_address = uv_inet_pton(AF_INET, st->host, &a4) == 0;
    snprintf(st->target, sizeof st->target, "%s:%d", st->host, st->port);
  }
  snprintf(service, sizeof service, "%d", st->port);

  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;

  st->gai.data = st;
  st->phase = TCP_RESOLVING;
  st->t0 = uv_hrtime();
  ws_call_set_data(call, st);
  rc = uv_getaddrinfo(ws_call_loop(call), &st->gai, tcp_on_resolved, st->host, service, &hints);
  if (rc != 0) {
    /* The callback will never run: this attempt failed to resolve. */
    st->last_err = rc;
    snprintf(st->code, sizeof st->code, "resolve");
    tcp_finish(st);
  }
  return 0;
}

static void tcp_cancel(ws_call_t *call) {
  tcp_state_t *st = ws_call_data(call);

  if (st == NULL || st->cancelled || st->phase == TCP_DONE)
    return;
  st->cancelled = true;
  switch (st->phase) {
  case TCP_RESOLVING:
    if (uv_cancel((uv_req_t *)&st->gai) != 0) {
      /* Already running on the thread pool: getaddrinfo cannot be stopped.
      ** Complete now; tcp_on_resolved frees the state when it returns. */
      st->call = NULL;
      ws_call_set_data(call, NULL);
      ws_call_fail(call, 0, "cancelled", "connection to %s cancelled while resolving %s",
                   st->target, st->host);
    }
    /* else tcp_on_resolved runs soon with UV_EAI_CANCELED and completes */
    break;
  case TCP_CONNECTING:
    tcp_close(st); /* the connect callback runs with UV_ECANCELED, then the close */
    break;
  case TCP_CLOSING: /* tcp_on_close sees the flag */
  case TCP_DONE:
    break;
  }
}

const ws_plugin_def_t ws_plugin_check_tcp = {
  .abi = WS_PLUGIN_ABI,
  .name = "ws.check.tcp",
  .descr = "Passes when a TCP connection to host:port can be established (each resolved "
           "address is tried in turn)",
  .is_check = 1,
  .request = &tcp_request_type,
  .response = &tcp_response_type,
  .retry = NULL,
  .init = NULL,
  .validate = tcp_validate,
  .start = tcp_start,
  .cancel = tcp_cancel,
  .ud = NULL,
};
