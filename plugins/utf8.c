/*
** plugins/utf8.c - bytes to valid UTF-8 text (see utf8.h).
*/
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

typedef enum utf8_class { UTF8_VALID, UTF8_INVALID, UTF8_INCOMPLETE } utf8_class_t;

/*
** Classifies the sequence starting at s[0] (n >= 1 bytes available) by the
** table of well-formed UTF-8 byte sequences (Unicode, table 3-7). *len gets
** the length of the valid sequence, or of the maximal invalid subpart to
** replace by one U+FFFD. INCOMPLETE: the input ends inside a sequence that
** was well-formed so far.
*/
static utf8_class_t utf8_classify(const unsigned char *s, size_t n, size_t *len) {
  unsigned char lead = s[0], lo = 0x80, hi = 0xBF;
  size_t follow, i;

  *len = 1;
  if (lead < 0x80)
    return UTF8_VALID;
  if (lead >= 0xC2 && lead <= 0xDF) {
    follow = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    follow = 2;
    if (lead == 0xE0)
      lo = 0xA0; /* no overlongs */
    else if (lead == 0xED)
      hi = 0x9F; /* no surrogates */
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    follow = 3;
    if (lead == 0xF0)
      lo = 0x90; /* no overlongs */
    else if (lead == 0xF4)
      hi = 0x8F; /* nothing beyond U+10FFFF */
  } else {
    return UTF8_INVALID; /* 0x80..0xC1, 0xF5..0xFF never start a sequence */
  }
  for (i = 1; i <= follow; i++) {
    if (i >= n) {
      *len = i;
      return UTF8_INCOMPLETE;
    }
    if (s[i] < lo || s[i] > hi) {
      *len = i;
      return UTF8_INVALID;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  *len = i;
  return UTF8_VALID;
}

static const char utf8_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
#define UTF8_REPLACEMENT_LEN (sizeof utf8_replacement - 1)

char *wsp_utf8_clean(const char *bytes, size_t n, bool cut, size_t *outlen) {
  const unsigned char *s = (const unsigned char *)bytes;
  size_t i, len, size = 0, bad = 0;
  char *out, *p;

  /* First pass: the output size (each invalid subpart grows to 3 bytes at most). */
  for (i = 0; i < n; i += len) {
    utf8_class_t c = utf8_classify(s + i, n - i, &len);

    if (c == UTF8_INCOMPLETE && cut) {
      n = i;
      break;
    }
    if (c == UTF8_VALID) {
      size += len;
    } else {
      size += UTF8_REPLACEMENT_LEN;
      bad++;
    }
  }
  out = malloc(size + 1);
  if (out == NULL)
    return NULL;
  if (bad == 0) {
    if (n > 0)
      memcpy(out, bytes, n);
  } else {
    p = out;
    for (i = 0; i < n; i += len) {
      if (utf8_classify(s + i, n - i, &len) == UTF8_VALID) {
        memcpy(p, bytes + i, len);
        p += len;
      } else {
        memcpy(p, utf8_replacement, UTF8_REPLACEMENT_LEN);
        p += UTF8_REPLACEMENT_LEN;
      }
    }
  }
  out[size] = '\0';
  *outlen = size;
  return out;
}

json_t *wsp_utf8_json(const char *bytes, size_t n, bool cut) {
  size_t len;
  char *text = wsp_utf8_clean(bytes, n, cut, &len);
  json_t *j;

  if (text == NULL)
    return NULL;
  j = json_stringn_nocheck(text, len);
  free(text);
  return j;
}

static bool utf8_is_space_or_control(unsigned char c) { return c < 0x20 || c == 0x7F || c == ' '; }

char *wsp_utf8_excerpt(const char *bytes, size_t n, size_t max) {
  size_t len, i, j;
  bool more = n > max;
  char *text = wsp_utf8_clean(bytes, more ? max : n, more, &len);

  if (text == NULL)
    return NULL;
  /* Control characters become spaces; leading, trailing and repeated blanks go. */
  for (i = 0, j = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];

    if (utf8_is_space_or_control(c)) {
      if (j > 0 && text[j - 1] != ' ')
        text[j++] = ' ';
    } else {
      text[j++] = (char)c;
    }
  }
  while (j > 0 && text[j - 1] == ' ')
    j--;
  text[j] = '\0';
  if (more) {
    char *longer = realloc(text, j + 4);

    if (longer == NULL) {
      free(text);
      return NULL;
    }
    memcpy(longer + j, "...", 4);
    text = longer;
  }
  return text;
}
