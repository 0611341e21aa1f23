/*
** ws_utf8.c - checking and repairing UTF-8 text that plugins hand the engine.
**
** Everything the engine keeps is stored and shown as JSON, which holds only
** valid UTF-8. A plugin's response is checked (an invalid string fails the
** attempt, like any other bad response); its free text (error messages and
** codes, log lines) is repaired instead, so that what it says is not lost.
** Valid means what jansson accepts: no overlong forms, no surrogates, nothing
** beyond U+10FFFF.
*/
#include <stdint.h>
#include <string.h>
#include "ws_internal.h"

size_t ws__utf8_seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1Fu, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0Fu, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool ws__utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) { /* most text is ASCII */
      i++;
      continue;
    }
    size_t len = ws__utf8_seq_len(p + i, n - i);
    if (!len) return false;
    i += len;
  }
  return true;
}

char *ws__utf8_repair(char *s) {
  if (!s) return s;
  unsigned char *p = (unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t len = ws__utf8_seq_len(p + i, n - i);
    if (len) i += len;
    else p[i++] = '?';
  }
  return s;
}
