/*
** plugins/utf8.h - bytes from the outside world (a process's output, an HTTP
** body) turned into text that JSON can hold: valid UTF-8.
**
** Internal to the built-in plugins (the wsp_ prefix); not part of the engine's API.
*/
#ifndef WORKSTREAM_PLUGINS_UTF8_H
#define WORKSTREAM_PLUGINS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/*
** A copy of bytes[0..n) with every invalid UTF-8 sequence replaced by U+FFFD
** (one per maximal invalid subpart, as the Unicode standard recommends; no
** overlongs, surrogates or code points beyond U+10FFFF). When `cut` is true the
** bytes are the start of a longer text, so a character split at the end is
** dropped rather than replaced. The result is NUL-terminated (it may also
** contain NUL bytes from the input); its length goes to *outlen.
** NULL only when out of memory.
*/
char *wsp_utf8_clean(const char *bytes, size_t n, bool cut, size_t *outlen);

/* The same, as a JSON string. NULL only when out of memory. */
json_t *wsp_utf8_json(const char *bytes, size_t n, bool cut);

/*
** At most max bytes of the start of bytes[0..n) as one line for a message:
** valid UTF-8, control characters (line breaks included) shown as spaces,
** runs of white space squeezed, "..." appended when something was left out.
** Malloc'd and NUL-terminated; NULL only when out of memory.
*/
char *wsp_utf8_excerpt(const char *bytes, size_t n, size_t max);

#endif
