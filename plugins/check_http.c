/*
** plugins/check_http.c - the built-in check "ws.check.http": GET a URL and
** expect a status (and, optionally, a substring of the body).
**
** Request:  { url = "https://web1.example.net/health",  -- http:// or https://
**             status = 200,            -- the expected status (100..599)
**             contains = "ok",         -- optional: the body must contain it
**             headers = { ["X-Probe"] = "ws" },  -- optional request headers
**             insecure = false }       -- true: skip TLS certificate checks
** Response: { status = 200,            -- the response's status
**             duration = 0.012,        -- seconds, start to end of the transfer
**             body = "...",            -- the first 64 KiB at most, valid UTF-8
**                                      --   (invalid bytes become U+FFFD)
**             body_truncated = false } -- the body was longer than what is kept
**
** Redirects are not followed: a check sees what the server says (expect
** status = 301 to check a redirect). Each attempt opens its own connection
** (no reuse), so it checks that new connections are accepted. `contains` is
** searched in the whole body as it streams (only 64 KiB are kept); once
** 64 KiB are kept and nothing more is needed, the rest of the body is not
** read. The proxy environment variables apply as they do for curl.
**
** Errors (ws_call_fail):
**   "status"    retryable  GET http://h/x: status 503, expected 200
**   "contains"  retryable  GET http://h/x: body does not contain "ok"
**               (both log the start of the body as the attempt's log line)
**   "connect", "resolve", "tls", "http"
**               retryable  GET http://h/x: <curl's error text>
**   "url"       permanent  curl refused the URL
**   "cancelled" retryable  the engine cancelled the attempt (timeout, stop)
**   "module"    permanent  the libcurl module could not be loaded (its path and why)
**   "bad_request" permanent a request that skipped validation (defensive)
** A password in the URL is shown as "xxx" in messages.
**
** Design: this file is the definition, in the core: name, types and
** validation, all without libcurl, so that listing plugins, `--check` and
** building a plan cost nothing of it. libcurl and its dozens of libraries
** (TLS, Kerberos, LDAP...) would otherwise be loaded by every start of the
** host. The transfers are done by a module of their own, ws_check_http.so
** (check_http_curl.c), opened with ws_plugin_open when an attempt first
** starts and kept for the life of the process. It is found next to the
** other installed files, relative to the object that contains this code:
**   - an executable (wsrun, a test program) in <prefix>/bin:
**       <prefix>/bin/<WS_HTTP_MODULE_FROM_BIN>
**   - the Lua module in <prefix>/lib/lua/5.4/workstream/core.so:
**       <that directory>/<WS_HTTP_MODULE_FROM_LUA>
** (both relative paths come from CMake); $WS_CHECK_HTTP_MODULE, when set,
** names the module instead. The place is worked out at registration, so a
** later chdir cannot change what a relative path of the Lua module means.
** Loading is retried at each start until it succeeds: an attempt that
** cannot load it fails permanently, saying which file and why.
*/
#define _GNU_SOURCE /* dladdr1, dlinfo, strcasecmp */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <uv.h>

#include "builtins.h"
#include "workstream/engine.h"
#include "workstream/plugin.h"
#include "workstream/types.h"

#ifndef WS_HTTP_MODULE_FROM_BIN
#error "WS_HTTP_MODULE_FROM_BIN must give the module's path relative to <prefix>/bin"
#endif
#ifndef WS_HTTP_MODULE_FROM_LUA
#error "WS_HTTP_MODULE_FROM_LUA must give the module's path relative to core.so's directory"
#endif

#define HTTP_MODULE_ENV "WS_CHECK_HTTP_MODULE"

/* ------------------------------------------------------------------ types */

static const ws_type_t http_t_status = WS_DEFAULT(&ws_t_integer, "200");
static const ws_type_t http_t_contains = WS_OPTIONAL(&ws_t_string);
static const ws_type_t http_t_header_map = WS_MAP(&ws_t_string);
static const ws_type_t http_t_headers = WS_OPTIONAL(&http_t_header_map);
static const ws_type_t http_t_insecure = WS_DEFAULT(&ws_t_boolean, "false");

static const ws_field_t http_request_fields[] = {
  { "url", &ws_t_string },
  { "status", &http_t_status },
  { "contains", &http_t_contains },
  { "headers", &http_t_headers },
  { "insecure", &http_t_insecure },
  { NULL, NULL },
};
static const ws_type_t http_request_type = WS_RECORD(http_request_fields);

static const ws_field_t http_response_fields[] = {
  { "status", &ws_t_integer },
  { "duration", &ws_t_number },
  { "body", &ws_t_string },
  { "body_truncated", &ws_t_boolean },
  { NULL, NULL },
};
static const ws_type_t http_response_type = WS_RECORD(http_response_fields);

/* ------------------------------------------------------------ validation */

/* Bytes curl refuses in a host name, as written or percent-encoded (it takes
** the rest, UTF-8 included, for IDN). */
#define HTTP_HOST_REFUSED " /:#?!@{}[]\\$'\"^`*<>=;,+&()%"

static int http_hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A host name in [p, end): no refused byte, "%XX" decoded first. */
static bool http_host_ok(const char *p, const char *end) {
  for (; p < end; p++) {
    unsigned char c = (unsigned char)*p;

    if (c == '%') {
      if (end - p < 3 || http_hex(p[1]) < 0 || http_hex(p[2]) < 0)
        return false;
      c = (unsigned char)(http_hex(p[1]) * 16 + http_hex(p[2]));
      p += 2;
      if (c <= 0x20 || c == 0x7f)
        return false;
    }
    if (strchr(HTTP_HOST_REFUSED, (char)c) != NULL)
      return false;
  }
  return true;
}

static bool http_is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "[v6]" or "[v6%zone]" (the zone possibly written "%25zone"), the brackets
** included in [p, end). */
static bool http_ipv6_ok(const char *p, const char *end) {
  char addr[INET6_ADDRSTRLEN];
  struct in6_addr bin;
  const char *close = end - 1, *zone;
  size_t n;

  if (end - p < 4 || *close != ']')
    return false;
  p++;
  n = strspn(p, "0123456789abcdefABCDEF:.");
  zone = p + n;
  if (zone > close)
    zone = close;
  if (zone < close) {
    const char *z = zone + 1;

    if (*zone != '%')
      return false;
    if (close - z > 2 && strncmp(z, "25", 2) == 0)
      z += 2;
    if (close - z < 1 || close - z > 15)
      return false;
  }
  if ((size_t)(zone - p) >= sizeof addr)
    return false;
  memcpy(addr, p, (size_t)(zone - p));
  addr[zone - p] = '\0';
  return inet_pton(AF_INET6, addr, &bin) == 1;
}

/* The URL's problem in err ("req.url: ..."), or 0. What curl would refuse to
** parse, by its rules: http or https, a host, a port up to 65535, no space
** or control character anywhere. The module parses the URL with curl again
** before each transfer. */
static int http_check_url(const char *url, size_t len, char *err, size_t errlen) {
  const char *sep, *auth, *end, *host, *hend, *port, *at, *p;
  size_t slen;

  if (len == 0) {
    snprintf(err, errlen, "req.url: must not be empty");
    return -1;
  }
  if (strlen(url) != len) {
    snprintf(err, errlen, "req.url: must not contain a NUL byte");
    return -1;
  }
  sep = strstr(url, "://");
  if (sep == NULL) {
    snprintf(err, errlen, "req.url: \"%.200s\" has no scheme (http:// or https://)", url);
    return -1;
  }
  for (p = url; *p; p++) {
    if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
      snprintf(err, errlen,
               "req.url: \"%.200s\" is not a valid URL: it contains a space or a control "
               "character (percent-encode them)", url);
      return -1;
    }
  }
  slen = (size_t)(sep - url);
  if (!((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
        (slen == 5 && strncasecmp(url, "https", 5) == 0))) {
    snprintf(err, errlen, "req.url: scheme \"%.*s\" is not supported (http or https)",
             (int)(slen < 40 ? slen : 40), url);
    return -1;
  }

  /* The authority, [userinfo@]host[:port], ends the way curl ends it; like
  ** curl (and browsers), take "http:///host" for "http://host". */
  auth = sep + 3;
  if (*auth == '/')
    auth++;
  end = auth + strcspn(auth, "/?#");
  at = memchr(auth, '@', (size_t)(end - auth));
  host = at != NULL ? at + 1 : auth;
  if (*host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));

    if (close == NULL || !http_ipv6_ok(host, close + 1)) {
      snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL: bad IPv6 address", url);
      return -1;
    }
    hend = close + 1;
    if (hend < end && *hend != ':') {
      snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL: bad port number", url);
      return -1;
    }
  } else {
    hend = memchr(host, ':', (size_t)(end - host));
    if (hend == NULL)
      hend = end;
    if (hend == host) {
      snprintf(err, errlen, "req.url: \"%.200s\" has no host", url);
      return -1;
    }
    if (!http_host_ok(host, hend)) {
      snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL: bad host name", url);
      return -1;
    }
  }
  port = hend < end ? hend + 1 : end; /* an empty port means the default one */
  if (port < end) {
    unsigned long n = 0;

    for (p = port; p < end && n <= 65535; p++) {
      if (*p < '0' || *p > '9')
        break;
      n = n * 10 + (unsigned long)(*p - '0');
    }
    if (p < end || n > 65535) {
      snprintf(err, errlen, "req.url: \"%.200s\" is not a valid URL: bad port number", url);
      return -1;
    }
  }
  return 0;
}

static int http_validate(const ws_plugin_def_t *def, const json_t *req, char *err,
                         size_t errlen) {
  const json_t *url = json_object_get(req, "url");
  const json_t *status = json_object_get(req, "status");
  const json_t *contains = json_object_get(req, "contains");
  const json_t *headers = json_object_get(req, "headers");
  const json_t *insecure = json_object_get(req, "insecure");
  const char *name;
  json_t *v;

  (void)def;
  if (!json_is_string(url)) {
    snprintf(err, errlen, "req.url: expected string, got %s", url ? ws_json_typename(url) : "nil");
    return -1;
  }
  if (http_check_url(json_string_value(url), json_string_length(url), err, errlen) != 0)
    return -1;
  if (status != NULL && !json_is_integer(status)) {
    snprintf(err, errlen, "req.status: expected integer, got %s", ws_json_typename(status));
    return -1;
  }
  if (status != NULL && (json_integer_value(status) < 100 || json_integer_value(status) > 599)) {
    snprintf(err, errlen, "req.status: %" JSON_INTEGER_FORMAT
             " is not an HTTP status (100 to 599)", json_integer_value(status));
    return -1;
  }
  if (contains != NULL && !json_is_null(contains) && !json_is_string(contains)) {
    snprintf(err, errlen, "req.contains: expected string, got %s", ws_json_typename(contains));
    return -1;
  }
  if (insecure != NULL && !json_is_boolean(insecure)) {
    snprintf(err, errlen, "req.insecure: expected boolean, got %s", ws_json_typename(insecure));
    return -1;
  }
  if (headers == NULL || json_is_null(headers))
    return 0;
  if (!json_is_object(headers)) {
    snprintf(err, errlen, "req.headers: expected map, got %s", ws_json_typename(headers));
    return -1;
  }
  json_object_foreach((json_t *)headers, name, v) {
    const char *p, *s;
    size_t i, n;

    if (name[0] == '\0') {
      snprintf(err, errlen, "req.headers: a header name must not be empty");
      return -1;
    }
    for (p = name; *p; p++) {
      if (!http_is_tchar((unsigned char)*p)) {
        snprintf(err, errlen, "req.headers: invalid header name \"%.100s\"", name);
        return -1;
      }
    }
    if (!json_is_string(v)) {
      snprintf(err, errlen, "req.headers.%s: expected string, got %s", name,
               ws_json_typename(v));
      return -1;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    for (i = 0; i < n; i++) {
      if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
        snprintf(err, errlen, "req.headers.%s: must not contain a line break or a NUL byte",
                 name);
        return -1;
      }
    }
  }
  return 0;
}

/* ------------------------------------------------------------ the module */

static uv_once_t http_once = UV_ONCE_INIT;
static int http_lock_rc = -1;
static uv_mutex_t http_lock;             /* guards http_impl */
static const ws_plugin_def_t *http_impl; /* the module's ws.check.http, loaded and initialised */
static char *http_installed;             /* where the module is installed, or NULL ... */
static char http_installed_err[256];     /* ... and why not known */

/* dir + rel, with rel's leading "../" taken off dir (which is a real path),
** so that messages show a plain path. Malloc'd. */
static char *http_join(char *dir, const char *rel) {
  char *out;
  size_t len;

  while (strncmp(rel, "../", 3) == 0) {
    char *slash = strrchr(dir, '/');

    if (slash == NULL || slash == dir)
      break;
    *slash = '\0';
    rel += 3;
  }
  len = strlen(dir) + 1 + strlen(rel) + 1;
  out = malloc(len);
  if (out != NULL)
    snprintf(out, len, "%s/%s", dir, rel);
  return out;
}

/* Where the module is installed, relative to the object this code is in:
** the main program, or a shared object (the Lua module). */
static void http_locate(void) {
  char dir[PATH_MAX];
  Dl_info info;
  struct link_map *self = NULL, *main_map = NULL;
  void *main_handle = dlopen(NULL, RTLD_NOW);
  const char *rel;
  char *slash;

  if (main_handle != NULL) {
    if (dlinfo(main_handle, RTLD_DI_LINKMAP, &main_map) != 0)
      main_map = NULL;
    dlclose(main_handle);
  }
  if (!dladdr1((void *)http_locate, &info, (void **)&self, RTLD_DL_LINKMAP) || self == NULL) {
    snprintf(http_installed_err, sizeof http_installed_err,
             "cannot tell which file contains the engine (set $%s)", HTTP_MODULE_ENV);
    return;
  }
  if (self == main_map) {
    size_t len = sizeof dir;
    int rc = uv_exepath(dir, &len);

    if (rc != 0) {
      snprintf(http_installed_err, sizeof http_installed_err,
               "cannot find the program's path: %s (set $%s)", uv_strerror(rc), HTTP_MODULE_ENV);
      return;
    }
    rel = WS_HTTP_MODULE_FROM_BIN;
  } else {
    if (info.dli_fname == NULL || realpath(info.dli_fname, dir) == NULL) {
      snprintf(http_installed_err, sizeof http_installed_err,
               "cannot find the path of %s (set $%s)", info.dli_fname ? info.dli_fname : "?",
               HTTP_MODULE_ENV);
      return;
    }
    rel = WS_HTTP_MODULE_FROM_LUA;
  }
  slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
  http_installed = http_join(dir, rel);
  if (http_installed == NULL)
    snprintf(http_installed_err, sizeof http_installed_err, "out of memory");
}

static void http_setup(void) {
  http_lock_rc = uv_mutex_init(&http_lock);
  http_locate();
}

/* The module's definition of ws.check.http, loaded and initialised on first
** use. NULL with why in err (a failure is not remembered: the next start
** tries again). */
static const ws_plugin_def_t *http_load(char *err, size_t errlen) {
  const ws_plugin_def_t *impl;
  const char *path;
  char why[512];

  uv_once(&http_once, http_setup);
  if (http_lock_rc != 0) {
    snprintf(err, errlen, "ws.check.http: cannot create a mutex: %s", uv_strerror(http_lock_rc));
    return NULL;
  }
  uv_mutex_lock(&http_lock);
  impl = http_impl;
  if (impl != NULL) {
    uv_mutex_unlock(&http_lock);
    return impl;
  }
  path = getenv(HTTP_MODULE_ENV);
  if (path == NULL || path[0] == '\0')
    path = http_installed;
  why[0] = '\0';
  if (path == NULL) {
    snprintf(err, errlen, "ws.check.http: cannot find its libcurl module: %s",
             http_installed_err);
  } else if ((impl = ws_plugin_open(path, "ws.check.http", why, sizeof why)) == NULL) {
    snprintf(err, errlen, "ws.check.http: cannot load its libcurl module: %s", why);
  } else if (impl->start == NULL || impl->cancel == NULL) {
    snprintf(err, errlen, "ws.check.http: %s: the plugin it defines has no start or no cancel",
             path);
    impl = NULL;
  } else if (impl->init != NULL && impl->init(impl, why, sizeof why) != 0) {
    snprintf(err, errlen, "ws.check.http: %s: %s", path, why[0] ? why : "init failed");
    impl = NULL;
  }
  http_impl = impl;
  uv_mutex_unlock(&http_lock);
  return impl;
}

/* ---------------------------------------------------------- the plugin */

/* At registration: only where the module is, so that a relative path of the
** host is read before anything changes the working directory. */
static int http_init(const ws_plugin_def_t *def, char *err, size_t errlen) {
  (void)def;
  (void)err;
  (void)errlen;
  uv_once(&http_once, http_setup);
  return 0;
}

static int http_start(ws_call_t *call) {
  char why[1024];
  const ws_plugin_def_t *impl = http_load(why, sizeof why);

  if (impl == NULL) {
    ws_call_fail(call, 1, "module", "%s", why);
    return 0;
  }
  return impl->start(call);
}

/* Only an attempt that started is cancelled, so the module is loaded. */
static void http_cancel(ws_call_t *call) {
  const ws_plugin_def_t *impl;

  uv_mutex_lock(&http_lock);
  impl = http_impl;
  uv_mutex_unlock(&http_lock);
  if (impl != NULL)
    impl->cancel(call);
}

const ws_plugin_def_t ws_plugin_check_http = {
  .abi = WS_PLUGIN_ABI,
  .name = "ws.check.http",
  .descr = "Passes when a GET of url answers the expected status (default 200) and, "
           "optionally, a body containing a substring",
  .is_check = 1,
  .request = &http_request_type,
  .response = &http_response_type,
  .retry = NULL,
  .init = http_init,
  .validate = http_validate,
  .start = http_start,
  .cancel = http_cancel,
  .ud = NULL,
};
