/*
** ws_loader.c - external plugins: shared objects loaded at run time.
**
** A plugin library exports ws_plugin_entry (plugin.h), which reports the ABI
** it was built for and returns its definitions. Loading a file registers all
** of its plugins or none of them, and a file that fails is unloaded again. A
** file that loaded stays loaded for the life of the process: definitions,
** their types and their functions live in it, and registries and plans point
** at them. ws_plugin_open opens a library the same way but only hands back
** one of its definitions (a built-in's implementation, loaded on first use).
**
** Plugins do not link the engine: the host process provides ws_call_* and the
** types. Two things make sure it can:
**   - the table below references the whole plugin API, so a host that links
**     this file links all of it, even what the host itself never calls (a
**     static library contributes only the objects something references);
**   - a host that is itself a shared object loaded privately (the Lua module,
**     which `require` opens with RTLD_LOCAL) would hide the engine from the
**     plugins it loads; before the first load, the object that contains the
**     engine is promoted to the global scope (a no-op for an executable,
**     which must export its symbols instead: ENABLE_EXPORTS / -rdynamic).
*/
#define _GNU_SOURCE /* dladdr1, dlinfo, RTLD_NOLOAD */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ws_internal.h"

/* ------------------------------------------------- the host's side */

typedef void (*ws__api_fn)(void);

/* Every function and object of plugin.h and types.h. Never read. */
__attribute__((used)) static const ws__api_fn ws__plugin_api_fns[] = {
    (ws__api_fn)ws_call_loop,       (ws__api_fn)ws_call_request,   (ws__api_fn)ws_call_plugin,
    (ws__api_fn)ws_call_attempt,    (ws__api_fn)ws_call_deadline,  (ws__api_fn)ws_call_now,
    (ws__api_fn)ws_call_action_id,  (ws__api_fn)ws_call_plan_id,   (ws__api_fn)ws_call_data,
    (ws__api_fn)ws_call_set_data,   (ws__api_fn)ws_call_sleep,     (ws__api_fn)ws_call_log,
    (ws__api_fn)ws_call_succeed,    (ws__api_fn)ws_call_fail,      (ws__api_fn)ws_call_failv,
    (ws__api_fn)ws_type_check,      (ws__api_fn)ws_type_describe,  (ws__api_fn)ws_json_typename,
};
__attribute__((used)) static const void *const ws__plugin_api_data[] = {
    &ws_t_any, &ws_t_string, &ws_t_integer, &ws_t_number, &ws_t_boolean,
};

static uv_once_t export_once = UV_ONCE_INIT;

/* Promotes the object that contains the engine to the global scope, so that
** libraries loaded later resolve ws_call_* and the types against it. Nothing
** to do in the main program, which is global already (and must export its
** symbols). The handle is kept: the engine must outlive the plugins bound to
** it. A failure here surfaces as an undefined symbol when a plugin is loaded,
** which dl_failure explains. */
static void export_engine(void) {
  Dl_info info;
  struct link_map *self = NULL, *main_map = NULL;
  void *main_handle = dlopen(NULL, RTLD_NOW);
  if (main_handle) {
    if (dlinfo(main_handle, RTLD_DI_LINKMAP, &main_map)) main_map = NULL;
    dlclose(main_handle);
  }
  if (dladdr1((void *)ws_registry_load, &info, (void **)&self, RTLD_DL_LINKMAP) && self &&
      self != main_map && info.dli_fname && info.dli_fname[0])
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  (void)dlerror(); /* nothing to report either way */
}

/* ----------------------------------------------------------- one file */

/* "<path>: <what dlerror says>", without dlerror's own copy of the file name. */
static void dl_failure(const char *path, const char *file, char *err, size_t errlen) {
  const char *msg = dlerror();
  if (!msg) msg = "cannot load (no reason given)";
  size_t flen = strlen(file);
  if (strncmp(msg, file, flen) == 0 && strncmp(msg + flen, ": ", 2) == 0) msg += flen + 2;
  const char *hint = "";
  if (strstr(msg, "undefined symbol: ws_"))
    hint = " (the host does not provide it: a plugin built for a newer Workstream, or a host "
           "that does not export the engine)";
  snprintf(err, errlen, "%s: %s%s", path, msg, hint);
}

/* Opens a plugin library and reads its definitions: the entry point, the ABI
** it reports and that of each definition. 0 with the library and its array,
** or -1 with a message that starts with the path (the library is closed). */
static int open_library(const char *path, void **libp, const ws_plugin_def_t *const **defsp,
                        size_t *np, char *err, size_t errlen) {
  if (!path || !*path) {
    snprintf(err, errlen, "plugin library: empty path");
    return -1;
  }
  uv_once(&export_once, export_engine);

  /* dlopen searches the library path for a name without a '/'; a user who
  ** names a plugin file means that file. */
  char *dotted = strchr(path, '/') ? NULL : ws__asprintf("./%s", path);
  const char *file = dotted ? dotted : path;
  (void)dlerror();
  void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    dl_failure(path, file, err, errlen);
    free(dotted);
    return -1;
  }
  free(dotted);

  /* dlsym on a handle looks in the library (and its dependencies) only,
  ** never in the host. */
  ws_plugin_entry_fn entry = (ws_plugin_entry_fn)dlsym(lib, WS_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    snprintf(err, errlen, "%s: not a Workstream plugin (no %s)", path, WS_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  int abi = INT_MIN;
  const ws_plugin_def_t *const *defs = entry(&abi);
  if (abi == INT_MIN) {
    snprintf(err, errlen, "%s: %s did not report the plugin ABI it was built for", path,
             WS_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  if (abi != WS_PLUGIN_ABI) { /* then nothing else of it can be trusted: do not read defs */
    snprintf(err, errlen,
             "%s: built for plugin ABI %d, this engine has %d; rebuild it against this "
             "version's workstream/plugin.h",
             path, abi, WS_PLUGIN_ABI);
    goto fail;
  }
  size_t n = 0;
  while (defs && defs[n]) n++;
  if (n == 0) {
    snprintf(err, errlen, "%s: defines no plugins (%s returned an empty list)", path,
             WS_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    if (defs[i]->abi != WS_PLUGIN_ABI) {
      snprintf(err, errlen,
               "%s: plugin \"%s\" was built for plugin ABI %d, this engine has %d; rebuild it "
               "against this version's workstream/plugin.h",
               path, defs[i]->name ? defs[i]->name : "?", defs[i]->abi, WS_PLUGIN_ABI);
      goto fail;
    }
  *libp = lib;
  *defsp = defs;
  *np = n;
  return 0;

fail:
  dlclose(lib);
  return -1;
}

int ws_registry_load(ws_registry_t *r, const char *path, char *err, size_t errlen) {
  char why[512];
  void *lib;
  const ws_plugin_def_t *const *defs;
  size_t n;

  if (open_library(path, &lib, &defs, &n, err, errlen)) return -1;
  if (ws__registry_add_all(r, defs, n, why, sizeof why)) {
    snprintf(err, errlen, "%s: %s", path, why);
    dlclose(lib);
    return -1;
  }
  return 0; /* lib stays loaded: the registry points into it */
}

const ws_plugin_def_t *ws_plugin_open(const char *path, const char *name, char *err,
                                      size_t errlen) {
  void *lib;
  const ws_plugin_def_t *const *defs;
  size_t n;

  if (open_library(path, &lib, &defs, &n, err, errlen)) return NULL;
  for (size_t i = 0; i < n; i++)
    if (defs[i]->name && strcmp(defs[i]->name, name) == 0) return defs[i]; /* lib stays */
  snprintf(err, errlen, "%s: does not define the plugin \"%s\"", path, name);
  dlclose(lib);
  return NULL;
}

/* ---------------------------------------------------------- search path */

typedef struct dir_id {
  dev_t dev;
  ino_t ino;
} dir_id_t;

typedef struct path_loader {
  ws_registry_t *reg;
  dir_id_t *seen; /* directories already loaded */
  size_t nseen;
  char *err;
  size_t errlen;
} path_loader_t;

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_library_name(const char *name) {
  size_t len = strlen(name);
  return name[0] != '.' && len > 3 && strcmp(name + len - 3, ".so") == 0;
}

static int load_dir(path_loader_t *pl, const char *dir) {
  struct stat st;
  if (stat(dir, &st)) {
    if (errno == ENOENT || errno == ENOTDIR) return 0; /* not there: normal */
    snprintf(pl->err, pl->errlen, "%s: cannot read plugin directory: %s", dir, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(pl->err, pl->errlen,
             "%s: not a directory (a plugin search path lists directories)", dir);
    return -1;
  }
  for (size_t i = 0; i < pl->nseen; i++)
    if (pl->seen[i].dev == st.st_dev && pl->seen[i].ino == st.st_ino) return 0;
  pl->seen = ws__realloc(pl->seen, (pl->nseen + 1) * sizeof *pl->seen);
  pl->seen[pl->nseen++] = (dir_id_t){st.st_dev, st.st_ino};

  DIR *d = opendir(dir);
  if (!d) {
    snprintf(pl->err, pl->errlen, "%s: cannot read plugin directory: %s", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t nnames = 0;
  int rc = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(d);
    if (!de) {
      if (errno) {
        snprintf(pl->err, pl->errlen, "%s: cannot read plugin directory: %s", dir,
                 strerror(errno));
        rc = -1;
      }
      break;
    }
    if (is_library_name(de->d_name)) ws__push((void ***)&names, &nnames, ws__strdup(de->d_name));
  }
  closedir(d);
  if (nnames) qsort(names, nnames, sizeof *names, by_name);

  size_t dlen = strlen(dir);
  const char *sep = dir[dlen - 1] == '/' ? "" : "/";
  for (size_t i = 0; rc == 0 && i < nnames; i++) {
    char *file = ws__asprintf("%s%s%s", dir, sep, names[i]);
    /* a subdirectory or a device named *.so is not ours; a file that cannot
    ** be examined is left to dlopen, which says why */
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
      free(file);
      continue;
    }
    rc = ws_registry_load(pl->reg, file, pl->err, pl->errlen);
    free(file);
  }
  for (size_t i = 0; i < nnames; i++) free(names[i]);
  free(names);
  return rc;
}

int ws_registry_load_path(ws_registry_t *r, const char *search_path, char *err, size_t errlen) {
  path_loader_t pl = {r, NULL, 0, err, errlen};
  int rc = 0;
  const char *p = search_path ? search_path : "";
  while (rc == 0) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len) {
      char *dir = ws__asprintf("%.*s", (int)len, p);
      rc = load_dir(&pl, dir);
      free(dir);
    }
    if (!end) break;
    p = end + 1;
  }
  free(pl.seen);
  return rc;
}
