/* Folder-internal pieces of the URL parser shared by url.c, url_host.c and
 * url_percent.c. Not part of match/'s contract. */
#ifndef QS_MATCH_URL_INTERNAL_H
#define QS_MATCH_URL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/percent.h"
#include "base/slice.h"
#include "match/url.h"

/* Every working buffer of a parse may grow to this many bytes: the input limit
 * times the worst expansion (one input byte to a 9-byte "%EF%BF%BD"). */
#define URL_MAX_WORK_BYTES (QS_URL_MAX_INPUT_BYTES * 9 + 64)

/* Longest non-ASCII or "xn--" domain label handled; longer ones fail (UTS #46
 * without VerifyDnsLength sets no limit, DNS allows 63 bytes). It bounds the
 * quadratic Punycode work. */
#define URL_MAX_IDN_LABEL_BYTES 4096

/* True for ASCII letters and digits. */
static inline bool url_is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool url_is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool url_is_hex(int c) { return qs_hex_digit_value(c) >= 0; }
static inline int url_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Appends `in` to `out` with every malformed UTF-8 sequence replaced by
 * U+FFFD ("UTF-8 decode without BOM", minus the BOM removal, then encode). */
int qs_url_utf8_sanitize(qs_slice_t in, qs_buf_t *out);

/* The host parser (URL Standard, "host parsing") on `input` (UTF-8, borrowed).
 * Appends the serialized host to `out` (an empty string for an empty opaque
 * host). Returns 0, QS_EPARSE on failure, QS_ETOOBIG or QS_ENOMEM. */
int qs_url_host_parse(qs_slice_t input, bool is_opaque, qs_buf_t *out);

/* "domain to ASCII" with beStrict false on an already percent-decoded,
 * well-formed UTF-8 domain. Appends the result to `out`. */
int qs_url_domain_to_ascii(qs_slice_t domain, qs_buf_t *out);

#endif
