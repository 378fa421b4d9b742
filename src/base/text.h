/* Character rules of the Mercure draft (Terminology, Security Considerations):
 * topics, matchers, ids and types must be valid UTF-8 without C0, DEL, C1 or
 * Unicode format (Cf) characters. */
#ifndef QS_BASE_TEXT_H
#define QS_BASE_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/slice.h"

/* True when `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool qs_utf8_valid(qs_slice_t s);

/* True when `cp` is a C0 control, DEL, a C1 control or of general category Cf. */
bool qs_codepoint_forbidden(uint32_t cp);

/* True when `s` is valid UTF-8 and holds no forbidden code point. On false,
 * `*reason` (if not NULL) points to a static explanation. */
bool qs_text_allowed(qs_slice_t s, const char **reason);

/* Decodes one UTF-8 sequence at s[*pos], advancing *pos; returns the code
 * point or -1 on malformed input. */
int32_t qs_utf8_next(qs_slice_t s, size_t *pos);

#endif
