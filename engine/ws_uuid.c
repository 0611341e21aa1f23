/*
** ws_uuid.c - UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 12 bits that
** count within the same millisecond (method 1, "fixed bit-length dedicated
** counter"), then 62 random bits. IDs made by one process sort by creation.
*/
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "ws_internal.h"

static uint64_t last_ms;
static uint16_t counter;

static void fill_random(unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r > 0) got += (size_t)r;
    /* EINTR: try again; getrandom cannot fail otherwise on Linux >= 3.17 */
  }
}

/* Random bytes are drawn 4 KiB at a time (a syscall per ID cost as much as
** the rest of making it). A forked child must not reuse its parent's. */
static unsigned char pool[4096];
static size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_drop(void) { pool_left = 0; }
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_drop); }

static void take_random(unsigned char *buf, size_t n) {
  pthread_once(&pool_once, pool_init);
  if (pool_left < n) {
    fill_random(pool, sizeof pool);
    pool_left = sizeof pool;
  }
  memcpy(buf, pool + sizeof pool - pool_left, n);
  pool_left -= n;
}

void ws_uuid7(char out[WS_UUID_STRLEN + 1]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;

  unsigned char b[16];
  take_random(b, sizeof b);
  if (ms > last_ms) {
    last_ms = ms;
    counter = (uint16_t)(((unsigned)b[6] << 8 | b[7]) & 0x07ff); /* random start, room to count */
  } else if (++counter > 0x0fff) {
    last_ms++; /* counter overflow: borrow the next millisecond, keep order */
    counter = 0;
  }
  ms = last_ms;

  for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (40 - 8 * i));
  b[6] = (unsigned char)(0x70 | (counter >> 8));
  b[7] = (unsigned char)(counter & 0xff);
  b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));

  static const char hex[] = "0123456789abcdef";
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[b[i] >> 4];
    *o++ = hex[b[i] & 15];
  }
  *o = '\0';
}
