/*
** ws_uuid.c - UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 12 bits that
** count within the same millisecond (method 1, "fixed bit-length dedicated
** counter"), then 62 random bits. IDs made by one process sort by creation.
*/
#include <stdio.h>
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

void ws_uuid7(char out[WS_UUID_STRLEN + 1]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;

  unsigned char b[16];
  fill_random(b, sizeof b);
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

  snprintf(out, WS_UUID_STRLEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}
