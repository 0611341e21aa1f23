/*
** test_plugins.h - native plugins for the engine's tests. They wait on the
** engine clock (ws_call_sleep) and record what the engine asked of them.
**
** "test.work" request: name?, sleep=0, fail=false, permanent=false,
**   fail_times=0 (fail while ctx attempt <= fail_times), bad_response=false.
**   response: name?, attempt.
** "test.check" (a check plugin) request: name?, sleep=0, fail=false,
**   fail_from=0 (when > 0: fail from this call of the plugin on).
*/
#ifndef TEST_PLUGINS_H
#define TEST_PLUGINS_H

#include "workstream/engine.h"

#define TEST_MAX_CALLS 4096

typedef struct test_call_record {
  char name[64];
  int attempt;
  double started;
} test_call_record_t;

typedef struct test_stats {
  int calls, in_flight, peak, cancels;
  int check_calls;
  test_call_record_t log[TEST_MAX_CALLS]; /* test.work calls, in start order */
} test_stats_t;

extern test_stats_t test_stats;

void test_stats_reset(void);
/* Registers the built-ins and the test plugins in a new registry. */
ws_registry_t *test_registry(void);

/* Short builders: json requests from a format, e.g. req("{\"name\": %s}", ...) */
json_t *test_req(const char *fmt, ...);
ws_action_t *test_action(const char *name, const char *plugin, const char *req_json);

#endif
