/*
** plugins/check_http_curl.c - the transfers of "ws.check.http", with libcurl:
** a module of its own, ws_check_http.so, which the definition in the core
** (check_http.c: name, types, validation; the request, the response and the
** errors are described there) loads when an attempt first starts. It is a plugin library like any external
** one (WS_PLUGIN_ENTRY, the ABI check, the engine's symbols taken from the
** host); its one definition carries only what runs the transfers: init,
** start and cancel. The request has been type-checked and validated against
** the core's definition; start still parses the URL with curl (a "url"
** error if curl disagrees) and runs that validation again (defensive).
**
** Design: libcurl's multi interface, driven by the engine's libuv loop.
** Each loop gets one curl multi handle, created with its first transfer and
** released with its last one (nothing stays on the loop between runs, so
** the host can close it). CURLMOPT_SOCKETFUNCTION maps curl's sockets onto
** uv_poll_t handles, CURLMOPT_TIMERFUNCTION onto one uv_timer_t; both call
** curl_multi_socket_action, then finished transfers are collected with
** curl_multi_info_read. Nothing blocks the loop: name resolution runs on
** curl's resolver thread, and CURLOPT_QUICK_EXIT keeps a cancel from
** waiting for a resolution in progress. Cancel removes the easy handle from
** the multi (curl closes its connection at once) and completes the call.
** The registry of multi handles is shared by every loop of the process and
** guarded by a mutex; a multi handle itself is used only on its loop.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "sigpipe.h"
#include "utf8.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

#define HTTP_BODY_CAP (64 * 1024) /* body bytes kept in the response */
#define HTTP_EXCERPT_MAX 300      /* body bytes quoted in the log of a failed check */
#define HTTP_SHOWN_MAX 200        /* bytes of `contains` quoted in a message */
#define HTTP_USER_AGENT "workstream ws.check.http"

/* ------------------------------------------------------------------ state */

typedef struct http_multi http_multi_t;
typedef struct http_xfer http_xfer_t;

/* One socket of curl's, watched by a poll handle. */
typedef struct http_sock {
  uv_poll_t poll;
  http_multi_t *m;
  curl_socket_t fd;
  struct http_sock *prev, *next; /* in m->socks while open */
} http_sock_t;

/* The curl multi handle of one loop. */
struct http_multi {
  uv_loop_t *loop;
  CURLM *curlm;        /* NULL once released */
  uv_timer_t timer;    /* curl's timeout */
  http_xfer_t *xfers;  /* transfers in the multi */
  unsigned nxfers;
  unsigned live;       /* handles not yet closed: the timer and the socks */
  bool released;       /* out of the registry; freed when live reaches 0 */
  http_sock_t *socks;
  http_multi_t *next;  /* the registry */
};

/* One attempt: one easy handle. */
struct http_xfer {
  ws_call_t *call;
  http_multi_t *m;
  http_xfer_t *prev, *next; /* in m->xfers */
  CURL *easy;
  struct curl_slist *headers;
  char *url_shown; /* the URL for messages, password hidden */
  long expect;     /* the expected status */

  const char *contains; /* borrowed from the request (valid until completion) */
  size_t contains_len;
  bool found;
  char *carry;      /* the last contains_len - 1 bytes seen, for matches across chunks */
  size_t carry_len;
  char *window;     /* scratch: carry + the start of a chunk */

  char *body;       /* the kept bytes: body[0..len) */
  size_t len, size;
  bool truncated;   /* more bytes came than were kept */
  bool stopped;     /* we stopped reading on purpose (nothing more needed) */
  bool oom;
  uint64_t t0;
  char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------- global state */

static uv_once_t http_once = UV_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;
static int http_lock_rc = -1;
static uv_mutex_t http_lock;          /* guards http_multis */
static http_multi_t *http_multis;     /* one per loop with transfers */

static void http_global_init(void) {
  http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  http_lock_rc = uv_mutex_init(&http_lock);
}

/* ------------------------------------------------------------ the URL */

/* What curl thinks of the URL (the core validated it by the same rules):
** 0, or -1 with the problem in err ("req.url: ..."). */
static int http_check_url(const char *url, char *err, size_t errlen) {
  CURLU *u;
  CURLUcode rc;
  char *scheme = NULL, *host = NULL;
  int bad = 0;

  u = curl_url();
  if (u == NULL) {
    snprintf(err, errlen, "req.url: out of memory");
    return -1;
  }
  rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000
    snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL: %s", url,
             curl_url_strerror(rc));
#else
    snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL (error %d)", url, (int)rc);
#endif
    bad = -1;
  } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL ||
             (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
    snprintf(err, errlen, "req.url: scheme \"%s\" is not supported (http or https)",
             scheme ? scheme : "?");
    bad = -1;
  } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL ||
             host[0] == '\0') {
    snprintf(err, errlen, "req.url: \"%.200s\" has no host", url);
    bad = -1;
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return bad;
}

/* ------------------------------------------------------------ messages */

/* The URL as messages show it: a password is replaced by "xxx". Malloc'd. */
static char *http_url_shown(const char *url) {
  CURLU *u = curl_url();
  char *pw = NULL, *shown = NULL, *out;

  if (u == NULL)
    return NULL;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) != CURLUE_OK) {
    curl_url_cleanup(u); /* no password (or no valid URL): shown as given */
    return strdup(url);
  }
  curl_free(pw);
  if (curl_url_set(u, CURLUPART_PASSWORD, "xxx", 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK && shown != NULL)
    out = strdup(shown);
  else
    out = strdup("(a URL with a password)");
  curl_free(shown);
  curl_url_cleanup(u);
  return out;
}

/* The error code for a curl result, and whether retrying is pointless. */
static const char *http_curl_code(CURLcode rc, int *permanent) {
  *permanent = 0;
  switch (rc) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    *permanent = 1;
    return "url";
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return "resolve";
  case CURLE_COULDNT_CONNECT:
    return "connect";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    return "tls";
  default:
    return "http";
  }
}

/* ---------------------------------------------------------- the body */

/* Streams a chunk through the search for `contains`, matches that straddle
** chunks included (the last contains_len - 1 bytes are carried over). */
static void http_search(http_xfer_t *x, const char *p, size_t n) {
  size_t k = x->contains_len, keep;

  if (x->contains == NULL || x->found || n == 0)
    return;
  if (x->carry_len > 0) {
    size_t take = n < k - 1 ? n : k - 1;

    memcpy(x->window, x->carry, x->carry_len);
    memcpy(x->window + x->carry_len, p, take);
    if (memmem(x->window, x->carry_len + take, x->contains, k) != NULL) {
      x->found = true;
      return;
    }
  }
  if (memmem(p, n, x->contains, k) != NULL) {
    x->found = true;
    return;
  }
  if (k <= 1)
    return;
  if (n >= k - 1) {
    memcpy(x->carry, p + n - (k - 1), k - 1);
    x->carry_len = k - 1;
    return;
  }
  keep = k - 1 - n < x->carry_len ? k - 1 - n : x->carry_len;
  memmove(x->carry, x->carry + x->carry_len - keep, keep);
  memcpy(x->carry + keep, p, n);
  x->carry_len = keep + n;
}

/* CURLOPT_WRITEFUNCTION: keeps up to HTTP_BODY_CAP bytes, searches all. */
static size_t http_on_body(char *p, size_t size, size_t nmemb, void *ud) {
  http_xfer_t *x = ud;
  size_t n = size * nmemb, room = HTTP_BODY_CAP - x->len, keep = n < room ? n : room;

  if (keep > 0 && x->size - x->len < keep) {
    size_t want = x->size ? x->size : 4096;
    char *grown;

    while (want - x->len < keep)
      want *= 2;
    if (want > HTTP_BODY_CAP)
      want = HTTP_BODY_CAP;
    grown = realloc(x->body, want);
    if (grown == NULL) {
      x->oom = true;
      return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    x->body = grown;
    x->size = want;
  }
  if (keep > 0) {
    memcpy(x->body + x->len, p, keep);
    x->len += keep;
  }
  if (keep < n)
    x->truncated = true;
  http_search(x, p, n);
  if (x->truncated && (x->contains == NULL || x->found)) {
    x->stopped = true; /* all we need is known: stop reading */
    return 0;
  }
  return n;
}

/* -------------------------------------------------------- the multi */

static void http_multi_drive(http_multi_t *m, curl_socket_t fd, int flags);

static void http_multi_on_close(http_multi_t *m) {
  if (--m->live == 0 && m->released)
    free(m);
}

static void http_sock_on_close(uv_handle_t *h) {
  http_sock_t *sock = h->data;
  http_multi_t *m = sock->m;

  free(sock);
  http_multi_on_close(m);
}

static void http_timer_on_close(uv_handle_t *h) { http_multi_on_close(h->data); }

/* Stops watching a socket (curl is about to close it, or the multi is gone). */
static void http_sock_close(http_sock_t *sock) {
  http_multi_t *m = sock->m;

  if (sock->prev != NULL)
    sock->prev->next = sock->next;
  else
    m->socks = sock->next;
  if (sock->next != NULL)
    sock->next->prev = sock->prev;
  sock->prev = sock->next = NULL;
  uv_close((uv_handle_t *)&sock->poll, http_sock_on_close);
}

static void http_on_poll(uv_poll_t *h, int status, int events) {
  http_sock_t *sock = h->data;
  int flags = 0;

  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  }
  http_multi_drive(sock->m, sock->fd, flags);
}

static void http_on_timeout(uv_timer_t *t) {
  http_multi_drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear about a socket. */
static int http_on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  http_multi_t *m = userp;
  http_sock_t *sock = socketp;
  int events = 0;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (sock != NULL) {
      if (m->curlm != NULL)
        curl_multi_assign(m->curlm, s, NULL);
      http_sock_close(sock);
    }
    return 0;
  }
  if (sock == NULL) {
    if (m->curlm == NULL)
      return -1;
    sock = calloc(1, sizeof *sock);
    if (sock == NULL)
      return -1;
    if (uv_poll_init_socket(m->loop, &sock->poll, s) != 0) {
      free(sock);
      return -1;
    }
    sock->poll.data = sock;
    sock->m = m;
    sock->fd = s;
    sock->next = m->socks;
    if (m->socks != NULL)
      m->socks->prev = sock;
    m->socks = sock;
    m->live++;
    curl_multi_assign(m->curlm, s, sock);
  }
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  return uv_poll_start(&sock->poll, events, http_on_poll) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced at each call; -1 deletes it. */
static int http_on_timer(CURLM *curlm, long timeout_ms, void *userp) {
  http_multi_t *m = userp;

  (void)curlm;
  if (m->released)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&m->timer);
  else
    uv_timer_start(&m->timer, http_on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* The multi of a loop, created with its first transfer. NULL when out of memory. */
static http_multi_t *http_multi_get(uv_loop_t *loop) {
  http_multi_t *m;

  uv_mutex_lock(&http_lock);
  for (m = http_multis; m != NULL; m = m->next)
    if (m->loop == loop)
      break;
  uv_mutex_unlock(&http_lock);
  if (m != NULL)
    return m;

  m = calloc(1, sizeof *m);
  if (m == NULL)
    return NULL;
  m->loop = loop;
  m->curlm = curl_multi_init();
  if (m->curlm == NULL || uv_timer_init(loop, &m->timer) != 0) {
    if (m->curlm != NULL)
      curl_multi_cleanup(m->curlm);
    free(m);
    return NULL;
  }
  m->timer.data = m;
  m->live = 1;
  if (curl_multi_setopt(m->curlm, CURLMOPT_SOCKETFUNCTION, http_on_socket) != CURLM_OK ||
      curl_multi_setopt(m->curlm, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
      curl_multi_setopt(m->curlm, CURLMOPT_TIMERFUNCTION, http_on_timer) != CURLM_OK ||
      curl_multi_setopt(m->curlm, CURLMOPT_TIMERDATA, m) != CURLM_OK) {
    curl_multi_cleanup(m->curlm);
    m->curlm = NULL;
    m->released = true;
    uv_close((uv_handle_t *)&m->timer, http_timer_on_close); /* frees m */
    return NULL;
  }
  uv_mutex_lock(&http_lock);
  m->next = http_multis;
  http_multis = m;
  uv_mutex_unlock(&http_lock);
  return m;
}

/* The last transfer is gone: the multi leaves the registry and the loop. */
static void http_multi_release(http_multi_t *m) {
  http_multi_t **pp;
  CURLM *curlm = m->curlm;

  uv_mutex_lock(&http_lock);
  for (pp = &http_multis; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  }
  uv_mutex_unlock(&http_lock);
  m->released = true;
  m->curlm = NULL;
  curl_multi_cleanup(curlm); /* may still tell us to forget sockets */
  while (m->socks != NULL)   /* defensive: sockets curl did not tell us about */
    http_sock_close(m->socks);
  uv_close((uv_handle_t *)&m->timer, http_timer_on_close); /* m is freed in the last close */
}

/* ------------------------------------------------------ one transfer */

static void http_xfer_free(http_xfer_t *x) {
  if (x->easy != NULL)
    curl_easy_cleanup(x->easy);
  curl_slist_free_all(x->headers);
  free(x->url_shown);
  free(x->carry);
  free(x->body);
  free(x);
}

/* Takes the transfer out of its multi (curl closes its connection now). The
** multi is released by the caller, once done with it, if this was its last. */
static void http_xfer_detach(http_xfer_t *x) {
  http_multi_t *m = x->m;

  curl_multi_remove_handle(m->curlm, x->easy);
  if (x->prev != NULL)
    x->prev->next = x->next;
  else
    m->xfers = x->next;
  if (x->next != NULL)
    x->next->prev = x->prev;
  x->prev = x->next = NULL;
  m->nxfers--;
  if (x->call != NULL)
    ws_call_set_data(x->call, NULL);
}

/* Logs the start of the body of a response that failed the check. */
static void http_log_body(const http_xfer_t *x) {
  char *excerpt;

  if (x->len == 0) {
    ws_call_log(x->call, "the response body is empty");
    return;
  }
  excerpt = wsp_utf8_excerpt(x->body, x->len, HTTP_EXCERPT_MAX);
  if (excerpt != NULL)
    ws_call_log(x->call, "response body%s: %s", x->truncated ? " (start)" : "", excerpt);
  free(excerpt);
}

/* Completes the call of a finished transfer (exactly once). */
static void http_xfer_report(http_xfer_t *x, CURLcode rc, long status, double duration) {
  ws_call_t *call = x->call;

  if (x->oom) {
    ws_call_fail(call, 0, "ENOMEM", "GET %s: out of memory while reading the body", x->url_shown);
    return;
  }
  if (rc == CURLE_WRITE_ERROR && x->stopped)
    rc = CURLE_OK; /* we stopped reading: the rest of the body was not needed */
  if (rc != CURLE_OK) {
    int permanent;
    const char *code = http_curl_code(rc, &permanent);

    ws_call_fail(call, permanent, code, "GET %s: %s", x->url_shown,
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    return;
  }
  if (status != x->expect) {
    http_log_body(x);
    ws_call_fail(call, 0, "status", "GET %s: status %ld, expected %ld", x->url_shown, status,
                 x->expect);
    return;
  }
  if (x->contains != NULL && !x->found) {
    char *needle = wsp_utf8_excerpt(x->contains, x->contains_len, HTTP_SHOWN_MAX);

    http_log_body(x);
    ws_call_fail(call, 0, "contains", "GET %s: body does not contain \"%s\"", x->url_shown,
                 needle ? needle : "...");
    free(needle);
    return;
  }
  {
    json_t *resp = json_object();
    json_t *body = wsp_utf8_json(x->body ? x->body : "", x->len, x->truncated);

    if (resp == NULL || body == NULL ||
        json_object_set_new(resp, "status", json_integer(status)) != 0 ||
        json_object_set_new(resp, "duration", json_real(duration)) != 0 ||
        json_object_set(resp, "body", body) != 0 ||
        json_object_set_new(resp, "body_truncated", json_boolean(x->truncated)) != 0) {
      json_decref(resp);
      json_decref(body);
      ws_call_fail(call, 0, "ENOMEM", "GET %s: status %ld, but out of memory", x->url_shown,
                   status);
      return;
    }
    json_decref(body);
    ws_call_succeed(call, resp);
  }
}

/* A transfer curl reports done: complete its call, then let it go. */
static void http_xfer_done(http_xfer_t *x, CURLcode rc) {
  http_multi_t *m = x->m;
  long status = 0;
  double duration = (double)(uv_hrtime() - x->t0) / 1e9;

  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  http_xfer_detach(x);
  http_xfer_report(x, rc, status, duration);
  http_xfer_free(x);
  if (m->nxfers == 0)
    http_multi_release(m);
}

/* Lets curl act on a socket event or its timeout, then completes what ended. */
static void http_multi_drive(http_multi_t *m, curl_socket_t fd, int flags) {
  int running = 0, left;
  CURLMcode mrc;
  CURLMsg *msg;

  if (m->curlm == NULL)
    return;
  mrc = curl_multi_socket_action(m->curlm, fd, flags, &running);
  while (m->curlm != NULL && (msg = curl_multi_info_read(m->curlm, &left)) != NULL) {
    if (msg->msg == CURLMSG_DONE) {
      CURL *easy = msg->easy_handle;
      CURLcode rc = msg->data.result;
      char *priv = NULL;

      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      if (priv != NULL)
        http_xfer_done((http_xfer_t *)(void *)priv, rc); /* msg is invalid after this */
    }
  }
  if (mrc != CURLM_OK && m->curlm != NULL) {
    /* The multi is unusable (a callback of ours failed, out of memory):
    ** fail every transfer in it, which releases it. */
    while (m->xfers != NULL) {
      http_xfer_t *x = m->xfers;

      http_xfer_detach(x);
      ws_call_fail(x->call, 0, "http", "GET %s: %s", x->url_shown, curl_multi_strerror(mrc));
      http_xfer_free(x);
      if (m->nxfers == 0) {
        http_multi_release(m);
        break;
      }
    }
  }
}

/* ---------------------------------------------------------- the plugin */

/* Sets up the easy handle of a transfer. 0, or -1 when curl refused (out of memory). */
static int http_xfer_setup(http_xfer_t *x, const json_t *req) {
  const json_t *headers = json_object_get(req, "headers");
  const char *name;
  json_t *v;
  bool ok = true;

  x->easy = curl_easy_init();
  if (x->easy == NULL)
    return -1;
  json_object_foreach((json_t *)headers, name, v) {
    size_t len = strlen(name) + json_string_length(v) + 3;
    char *line = malloc(len);
    struct curl_slist *l;

    if (line == NULL)
      return -1;
    /* "Name;" is how curl sends a header with an empty value. */
    if (json_string_length(v) == 0)
      snprintf(line, len, "%s;", name);
    else
      snprintf(line, len, "%s: %s", name, json_string_value(v));
    l = curl_slist_append(x->headers, line);
    free(line);
    if (l == NULL)
      return -1;
    x->headers = l;
  }

#define HTTP_SETOPT(opt, val) ok = ok && curl_easy_setopt(x->easy, opt, val) == CURLE_OK
  HTTP_SETOPT(CURLOPT_URL, json_string_value(json_object_get(req, "url")));
  HTTP_SETOPT(CURLOPT_HTTPGET, 1L);
  HTTP_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
  HTTP_SETOPT(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  HTTP_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  HTTP_SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  HTTP_SETOPT(CURLOPT_FRESH_CONNECT, 1L);
  HTTP_SETOPT(CURLOPT_FORBID_REUSE, 1L);
  HTTP_SETOPT(CURLOPT_USERAGENT, HTTP_USER_AGENT);
  HTTP_SETOPT(CURLOPT_WRITEFUNCTION, http_on_body);
  HTTP_SETOPT(CURLOPT_WRITEDATA, x);
  HTTP_SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
  HTTP_SETOPT(CURLOPT_PRIVATE, (char *)x);
  if (x->headers != NULL)
    HTTP_SETOPT(CURLOPT_HTTPHEADER, x->headers);
  if (json_is_true(json_object_get(req, "insecure"))) {
    HTTP_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
    HTTP_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
  }
#undef HTTP_SETOPT
#if LIBCURL_VERSION_NUM >= 0x075700
  /* Cancel must not wait for a name resolution in progress on curl's
  ** resolver thread (the thread cleans up after itself). Best effort: an
  ** older runtime library may not know the option. */
  (void)curl_easy_setopt(x->easy, CURLOPT_QUICK_EXIT, 1L);
#endif
  return ok ? 0 : -1;
}

/* Ignores SIGPIPE process-wide unless the host chose a disposition (as
** ws.exec does): a TLS library writing to a closed connection must not kill
** the engine. Then initialises libcurl, once per process. */
static int http_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  const curl_version_info_data *vi;
  const char *const *p;
  bool has_http = false;

  (void)def;
  if (wsp_ignore_sigpipe(err, errlen)) return -1;
  uv_once(&http_once, http_global_init);
  if (http_global_rc != CURLE_OK) {
    snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(http_global_rc));
    return -1;
  }
  if (http_lock_rc != 0) {
    snprintf(err, errlen, "cannot create a mutex: %s", uv_strerror(http_lock_rc));
    return -1;
  }
  vi = curl_version_info(CURLVERSION_NOW);
  for (p = vi ? vi->protocols : NULL; p != NULL && *p != NULL; p++)
    has_http = has_http || strcmp(*p, "http") == 0;
  if (!has_http) {
    snprintf(err, errlen, "libcurl %s has no HTTP support", vi ? vi->version : "?");
    return -1;
  }
  return 0;
}

static int http_start(ws_call_t *call) {
  const ws_plugin_def_t *def = ws_call_plugin(call); /* the core's, with the validation */
  const json_t *req = ws_call_request(call);
  const json_t *contains = json_object_get(req, "contains");
  const json_t *status = json_object_get(req, "status");
  http_multi_t *m;
  http_xfer_t *x;
  CURLMcode mrc;
  char why[512];

  if (def->validate != NULL && def->validate(def, req, why, sizeof why) != 0) {
    ws_call_fail(call, 1, "bad_request", "%s", why);
    return 0;
  }
  if (http_check_url(json_string_value(json_object_get(req, "url")), why, sizeof why) != 0) {
    ws_call_fail(call, 1, "url", "%s", why);
    return 0;
  }
  uv_once(&http_once, http_global_init); /* init ran when the module was loaded; be sure */
  if (http_global_rc != CURLE_OK || http_lock_rc != 0) {
    ws_call_fail(call, 1, "init", "libcurl could not be initialised");
    return 0;
  }

  x = calloc(1, sizeof *x);
  if (x == NULL)
    return UV_ENOMEM;
  x->call = call;
  x->expect = json_is_integer(status) ? (long)json_integer_value(status) : 200;
  x->url_shown = http_url_shown(json_string_value(json_object_get(req, "url")));
  if (json_is_string(contains)) {
    x->contains = json_string_value(contains);
    x->contains_len = json_string_length(contains);
    if (x->contains_len > 1) {
      x->carry = malloc(3 * (x->contains_len - 1));
      x->window = x->carry + (x->contains_len - 1);
    }
    if (x->contains_len == 0)
      x->found = true;
  }
  if (x->url_shown == NULL || (x->contains_len > 1 && x->carry == NULL) ||
      http_xfer_setup(x, req) != 0) {
    http_xfer_free(x);
    return UV_ENOMEM;
  }

  m = http_multi_get(ws_call_loop(call));
  if (m == NULL) {
    http_xfer_free(x);
    return UV_ENOMEM;
  }
  x->m = m;
  x->next = m->xfers;
  if (m->xfers != NULL)
    m->xfers->prev = x;
  m->xfers = x;
  m->nxfers++;
  ws_call_set_data(call, x);
  x->t0 = uv_hrtime();
  mrc = curl_multi_add_handle(m->curlm, x->easy);
  if (mrc != CURLM_OK) {
    http_xfer_detach(x);
    ws_call_fail(call, 0, "http", "GET %s: cannot start the transfer: %s", x->url_shown,
                 curl_multi_strerror(mrc));
    http_xfer_free(x);
    if (m->nxfers == 0)
      http_multi_release(m);
  }
  return 0;
}

/* Removes the transfer from the multi (curl closes its connection at once)
** and completes the call. */
static void http_cancel(ws_call_t *call) {
  http_xfer_t *x = ws_call_data(call);
  http_multi_t *m;

  if (x == NULL)
    return;
  m = x->m;
  http_xfer_detach(x);
  ws_call_fail(call, 0, "cancelled", "GET %s: cancelled", x->url_shown);
  http_xfer_free(x);
  if (m->nxfers == 0)
    http_multi_release(m);
}

/* Only what runs transfers: the name, types and validation are the core's. */
static const ws_plugin_def_t http_impl = {
  .abi = WS_PLUGIN_ABI,
  .name = "ws.check.http",
  .descr = "the libcurl transfers of the built-in ws.check.http (not a plugin to load)",
  .is_check = 1,
  .init = http_init,
  .start = http_start,
  .cancel = http_cancel,
};

static const ws_plugin_def_t *const http_defs[] = { &http_impl, NULL };

const ws_plugin_def_t *const *WS_PLUGIN_ENTRY(int *abi) {
  *abi = WS_PLUGIN_ABI;
  return http_defs;
}
