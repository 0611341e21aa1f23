/*
** fuzz_common.h - what the fuzz targets share: reading the input bytes as a
** stream of choices, a Lua state set up like wsrun's, and a small stack
** machine that builds arbitrary Lua values from bytes.
**
** A broken invariant is reported with wsf_fail, which aborts: libFuzzer
** records the input as a crash, exactly as for a sanitizer report.
*/
#ifndef WS_FUZZ_COMMON_H
#define WS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

/* The input, consumed from the front. Reading past the end gives zeros. */
typedef struct wsf_in {
  const uint8_t *p;
  size_t n;
} wsf_in_t;

uint8_t wsf_u8(wsf_in_t *in);
uint64_t wsf_u64(wsf_in_t *in);
/* Up to max bytes (fewer at the end); returns how many, *out points at them. */
size_t wsf_take(wsf_in_t *in, size_t max, const uint8_t **out);
/* Bytes up to the next `sep` (consumed, not included) or the end. */
size_t wsf_until(wsf_in_t *in, uint8_t sep, const uint8_t **out);

/* Whether WSF_VERBOSE is set: targets then say what each input did, to
** check that a seed goes where it was meant to. */
bool wsf_verbose(void);

/* Aborts with a message: an invariant does not hold for this input. */
void wsf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A Lua state with the standard libraries, package.path on the source tree's
** lua/ and workstream.core preloaded from the binary (as wsrun does). No
** external C module or plugin can be loaded from it. */
lua_State *wsf_lua_new(void);

/* Loads and runs the Lua file at path in L, which must return a function: a
** registry reference to it. Fails (wsf_fail) otherwise. */
int wsf_lua_harness(lua_State *L, const char *path);

/* The path of a new SQLite file in a temporary directory of its own (in
** /dev/shm when it can be written), removed with its -wal and -shm at exit. */
const char *wsf_temp_db(void);

/* Lua coverage for libFuzzer: the Lua interpreter is not instrumented, so
** without this a target that runs Lua code is blind to what that code does.
** While on, a line hook counts each (function, line) step after the previous
** one in libFuzzer's extra counters, as clang's instrumentation counts edges. */
void wsf_lua_coverage(lua_State *L, bool on);

/* Runs fn(L, ud) under lua_pcall; returns the status (the error stays on the
** stack when not LUA_OK). */
int wsf_lua_protected(lua_State *L, int (*fn)(lua_State *L), void *ud);

/* The value machine. Each step reads an opcode and changes the Lua stack
** above `base`: pushes scalars (huge integers, NaN, infinities, strings with
** NUL bytes or invalid UTF-8, words of a vocabulary), makes tables, stores
** values in them under any key (cycles included), and so on. Opcodes past the
** built-in ones go to `extra` (may be NULL), for the target's own operations
** such as calling a constructor. The stack never grows past base + 48. Raises
** Lua errors only for memory: run it under wsf_lua_protected. */
typedef struct wsf_machine {
  lua_State *L;
  wsf_in_t *in;
  int base;
  const char *const *words; /* the vocabulary */
  size_t nwords;
  int nextra; /* opcodes handled by extra */
  void (*extra)(struct wsf_machine *m, int op);
  void *ud;
} wsf_machine_t;

#define WSF_STACK_MAX 48

/* Runs steps until the input is consumed. */
void wsf_machine_run(wsf_machine_t *m);
/* The number of values on the machine's stack. */
int wsf_machine_depth(const wsf_machine_t *m);
/* A word of the vocabulary, chosen by the next byte. */
const char *wsf_word(wsf_machine_t *m);

#endif
