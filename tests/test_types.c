/*
** test_types.c - the type validator: every kind, paths in messages, defaults,
** normalisation.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "workstream/engine.h"
#include "workstream/types.h"

static const ws_type_t str_list = WS_LIST(&ws_t_string);
static const ws_type_t int_map = WS_MAP(&ws_t_integer);
static const char *const colours[] = {"red", "green", NULL};
static const ws_type_t colour = WS_ENUM(colours);
static const ws_type_t opt_str = WS_OPTIONAL(&ws_t_string);
static const ws_type_t dflt_codes_elem = WS_LIST(&ws_t_integer);
static const ws_type_t dflt_codes = WS_DEFAULT(&dflt_codes_elem, "[0]");
static const ws_type_t secret_str = WS_SECRET(&ws_t_string);
static const ws_field_t inner_fields[] = {{"port", &ws_t_integer}, {NULL, NULL}};
static const ws_type_t inner = WS_RECORD(inner_fields);
static const ws_type_t inner_list = WS_LIST(&inner);
static const ws_field_t fields[] = {
    {"host", &ws_t_string},  {"tags", &str_list},     {"limits", &int_map},
    {"colour", &colour},     {"note", &opt_str},      {"ok_codes", &dflt_codes},
    {"token", &secret_str},  {"targets", &inner_list}, {"ratio", &ws_t_number},
    {"flag", &ws_t_boolean}, {"anything", &ws_t_any}, {NULL, NULL}};
static const ws_type_t rec = WS_RECORD(fields);

static json_t *valid(void) {
  return json_pack("{s:s, s:[s,s], s:{s:i}, s:s, s:s, s:[{s:i}], s:f, s:b, s:n}", "host", "web1",
                   "tags", "a", "b", "limits", "cpu", 2, "colour", "red", "token", "t0p",
                   "targets", "port", 80, "ratio", 0.5, "flag", 1, "anything");
}

static char err[512];

static int check(json_t **v) { return ws_type_check(&rec, v, "req", err, sizeof err); }

static void accepts_valid_and_fills_defaults(void **state) {
  (void)state;
  json_t *v = valid();
  assert_int_equal(check(&v), 0);
  json_t *codes = json_object_get(v, "ok_codes");
  assert_true(json_is_array(codes));
  assert_int_equal(json_array_size(codes), 1);
  assert_int_equal(json_integer_value(json_array_get(codes, 0)), 0);
  assert_null(json_object_get(v, "note")); /* optional stays absent */
  json_decref(v);
}

static void expect_error(json_t *v, const char *msg) {
  assert_int_equal(check(&v), -1);
  assert_string_equal(err, msg);
  json_decref(v);
}

static void reports_paths(void **state) {
  (void)state;
  json_t *v = valid();
  json_array_set_new(json_object_get(v, "tags"), 1, json_integer(3));
  expect_error(v, "req.tags[2]: expected string, got integer");

  v = valid();
  json_object_set_new(json_array_get(json_object_get(v, "targets"), 0), "port", json_string("80"));
  expect_error(v, "req.targets[1].port: expected integer, got string");

  v = valid();
  json_object_set_new(json_object_get(v, "limits"), "mem", json_real(1.5));
  expect_error(v, "req.limits[\"mem\"]: expected integer, got number 1.5");

  v = valid();
  json_object_del(v, "host");
  expect_error(v, "req.host: missing required field");

  v = valid();
  json_object_set_new(v, "hots", json_string("x"));
  assert_int_equal(check(&v), -1);
  assert_non_null(strstr(err, "req: unknown field \"hots\""));
  json_decref(v);

  v = valid();
  json_object_set_new(v, "colour", json_string("blue"));
  expect_error(v, "req.colour: expected enum{\"red\", \"green\"}, got \"blue\"");

  v = valid();
  json_object_set_new(v, "flag", json_string("yes"));
  expect_error(v, "req.flag: expected boolean, got string");
}

static void normalises_lua_shapes(void **state) {
  (void)state;
  json_t *v = valid();
  json_object_set_new(v, "tags", json_object());        /* Lua {} */
  json_object_set_new(v, "ratio", json_integer(1));     /* number accepts integer */
  json_object_set_new(json_array_get(json_object_get(v, "targets"), 0), "port", json_real(443.0));
  assert_int_equal(check(&v), 0);
  assert_true(json_is_array(json_object_get(v, "tags")));
  json_t *port = json_object_get(json_array_get(json_object_get(v, "targets"), 0), "port");
  assert_true(json_is_integer(port));
  assert_int_equal(json_integer_value(port), 443);
  json_decref(v);
}

static void describes_types(void **state) {
  (void)state;
  char buf[256];
  assert_string_equal(ws_type_describe(&inner_list, buf, sizeof buf), "list(record{port = integer})");
  assert_string_equal(ws_type_describe(&dflt_codes, buf, sizeof buf), "default(list(integer), [0])");
  /* never overflows, always terminated */
  char tiny[8];
  ws_type_describe(&rec, tiny, sizeof tiny);
  assert_int_equal(strlen(tiny), 7);
}

/* A record that declares a field twice would check it against both types: a
** default filled for one fails the other when checked again. The registry
** vets a plugin's types once, so it refuses it there. */
static const ws_field_t twice_fields[] = {{"a", &opt_str}, {"a", &dflt_codes}, {NULL, NULL}};
static const ws_type_t twice = WS_RECORD(twice_fields);

static int no_start(ws_call_t *call) {
  (void)call;
  return -1;
}
static void no_cancel(ws_call_t *call) { (void)call; }

static void refuses_a_field_declared_twice(void **state) {
  (void)state;
  ws_plugin_def_t def = {.abi = WS_PLUGIN_ABI, .name = "test.twice", .request = &twice,
                         .response = &inner, .start = no_start, .cancel = no_cancel};
  ws_registry_t *r = ws_registry_new();
  assert_int_equal(ws_registry_add(r, &def, err, sizeof err), -1);
  assert_string_equal(err, "plugin \"test.twice\": request: field \"a\" is declared twice");
  def.request = &rec;
  assert_int_equal(ws_registry_add(r, &def, err, sizeof err), 0);
  ws_registry_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_valid_and_fills_defaults),
      cmocka_unit_test(reports_paths),
      cmocka_unit_test(normalises_lua_shapes),
      cmocka_unit_test(describes_types),
      cmocka_unit_test(refuses_a_field_declared_twice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
