/* WHATWG URL parsing (URL Standard, https://url.spec.whatwg.org/, "URL parsing"):
 * the basic URL parser with its state machine, host parsing (domains through
 * UTS #46 via libidn2, IPv4 in all its number forms, IPv6, opaque hosts), the
 * URL serializer, and the component canonicalizers the URL Pattern Standard
 * (https://urlpattern.spec.whatwg.org/, "Canonicalization") defines by running
 * the basic URL parser with a state override on a dummy URL.
 *
 * Input is UTF-8 bytes, never assumed NUL-terminated. Invalid UTF-8 sequences
 * are read as U+FFFD, as a USVString conversion would. Nothing here keeps state
 * between calls: every function is safe to call from any thread. */
#ifndef QS_MATCH_URL_H
#define QS_MATCH_URL_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/slice.h"

/* Longest input the parser accepts; longer input fails with QS_ETOOBIG. */
#define QS_URL_MAX_INPUT_BYTES ((size_t)64 * 1024)

/* A parsed URL. Every string is owned by the record, NUL-terminated, and freed
 * by qs_url_dispose. */
typedef struct qs_url {
  char *scheme;   /* without ':' , lowercase */
  char *username; /* possibly empty, percent-encoded */
  char *password; /* possibly empty, percent-encoded */
  char *host;     /* serialized host ("[::1]" for IPv6), NULL when the host is null */
  int port;       /* -1 when null (default ports are null) */
  char *path;     /* serialized path ("/a/b", or the opaque path) */
  bool opaque_path;
  char *query;    /* without '?', NULL when null */
  char *fragment; /* without '#', NULL when null */
  char *href;     /* the full serialization */
} qs_url_t;

/* ---- Canonicalizers of the URL Pattern Standard ("Canonicalization") ----
 * Each takes a component value (borrowed for the call) and appends its
 * canonical form to `out` (which the caller initialized and owns; on failure
 * `out` may hold a partial result that the caller should discard). An empty
 * value yields an empty result. They return 0, QS_EPARSE where the spec throws
 * a TypeError, QS_ETOOBIG when `out` would pass its maximum or the value is
 * longer than QS_URL_MAX_INPUT_BYTES, or QS_ENOMEM. */

/* "canonicalize a protocol": parses value + "://dummy.invalid/" and yields the
 * scheme (lowercased). Fails unless value is a valid scheme. */
int qs_url_canonicalize_protocol(qs_slice_t value, qs_buf_t *out);

/* "canonicalize a username": "set the username" on a dummy URL, i.e. the value
 * percent-encoded with the userinfo percent-encode set. Never QS_EPARSE. */
int qs_url_canonicalize_username(qs_slice_t value, qs_buf_t *out);

/* "canonicalize a password": as for the username. */
int qs_url_canonicalize_password(qs_slice_t value, qs_buf_t *out);

/* "canonicalize a hostname": runs the basic URL parser with hostname state as
 * state override on a dummy URL whose scheme is `protocol` (may be empty: a
 * non-special dummy URL, whose host is parsed as an opaque host). Yields the
 * serialized host, or nothing when the host is null. A value with a ':'
 * outside brackets fails, as the hostname state does under an override. The
 * hostname state stops at '/', '?' and '#' ("bad/hostname" gives "bad") and
 * tabs and newlines are removed first, as web-platform-tests expect. */
int qs_url_canonicalize_hostname(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out);

/* True for the URL Standard's "forbidden host code point"s: U+0000, tab, LF,
 * CR, space, # / : < > ? @ [ \\ ] ^ |. */
bool qs_url_forbidden_host_code_point(unsigned char c);

/* "canonicalize an IPv6 hostname": accepts only '[', ']', ':' and ASCII hex
 * digits, lowercasing the digits. */
int qs_url_canonicalize_ipv6_hostname(qs_slice_t value, qs_buf_t *out);

/* "canonicalize a port": runs the basic URL parser with port state as state
 * override on a dummy URL whose scheme is `protocol` (may be empty). Yields the
 * port number in decimal, or nothing when it is the scheme's default port.
 * Leading digits are read up to the first non-digit, as the port state does
 * under an override ("8080x" gives "8080"); a value starting with a non-digit,
 * or a number above 65535, fails. */
int qs_url_canonicalize_port(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out);

/* "canonicalize a pathname": runs the basic URL parser with path start state
 * as state override on a dummy URL with no scheme (so '\\' is an ordinary
 * code point; dot segments are resolved; '?' and '#' are percent-encoded),
 * prefixing "/-" when value does not start with '/' and removing that prefix
 * from the result. */
int qs_url_canonicalize_pathname(qs_slice_t value, qs_buf_t *out);

/* "canonicalize an opaque pathname": runs the basic URL parser with opaque path
 * state as state override (C0 control percent-encode set). */
int qs_url_canonicalize_opaque_pathname(qs_slice_t value, qs_buf_t *out);

/* "canonicalize a search": runs the basic URL parser with query state as state
 * override on a dummy URL whose scheme is `protocol` (may be empty: the
 * non-special query percent-encode set; a special scheme also encodes '\''). */
int qs_url_canonicalize_search(qs_slice_t value, qs_slice_t protocol, qs_buf_t *out);

/* "canonicalize a hash": runs the basic URL parser with fragment state as
 * state override (fragment percent-encode set). */
int qs_url_canonicalize_hash(qs_slice_t value, qs_buf_t *out);

/* ---- Parsing ---- */

/* The basic URL parser (URL Standard, "basic URL parser") on `input` with an
 * optional `base` (NULL when none; borrowed for the call). Returns 0 with `out`
 * filled (the caller disposes it), QS_EPARSE when the spec returns failure,
 * QS_ETOOBIG for input past QS_URL_MAX_INPUT_BYTES, or QS_ENOMEM; on error
 * `out` holds nothing to free (disposing it is harmless). */
int qs_url_parse(qs_slice_t input, const qs_url_t *base, qs_url_t *out);

/* Frees every string of `url` and resets it to empty (NULL is fine; calling it
 * twice is fine). */
void qs_url_dispose(qs_url_t *url);

/* True for the special schemes: ftp, file, http, https, ws, wss (exact,
 * lowercase match). */
bool qs_url_is_special_scheme(qs_slice_t scheme);

/* The default port of a special scheme (21, 80, 443, 80, 443), -1 when none
 * (including file). */
int qs_url_default_port(qs_slice_t scheme);

/* ---- URL API getters (URL Standard, "API") ----
 * Each appends the value the URL interface's getter returns to `out` (0,
 * QS_ETOOBIG or QS_ENOMEM). `url` is borrowed for the call. */

/* "protocol": scheme followed by ':'. */
int qs_url_get_protocol(const qs_url_t *url, qs_buf_t *out);
/* "host": host and ":port" when the port is not null; empty when the host is null. */
int qs_url_get_host(const qs_url_t *url, qs_buf_t *out);
/* "hostname": the serialized host, empty when null. */
int qs_url_get_hostname(const qs_url_t *url, qs_buf_t *out);
/* "port": decimal port, empty when null. */
int qs_url_get_port(const qs_url_t *url, qs_buf_t *out);
/* "search": '?' and the query, empty when the query is null or empty. */
int qs_url_get_search(const qs_url_t *url, qs_buf_t *out);
/* "hash": '#' and the fragment, empty when the fragment is null or empty. */
int qs_url_get_hash(const qs_url_t *url, qs_buf_t *out);

/* ---- Percent-encoding (URL Standard, "Percent-encoded bytes") ---- */

typedef enum {
  QS_URL_SET_C0_CONTROL,     /* C0 controls and every byte above 0x7E */
  QS_URL_SET_FRAGMENT,       /* C0 control + space " < > ` */
  QS_URL_SET_QUERY,          /* C0 control + space " # < > */
  QS_URL_SET_SPECIAL_QUERY,  /* query + ' */
  QS_URL_SET_PATH,           /* query + ? ` { } */
  QS_URL_SET_USERINFO,       /* path + / : ; = @ [ \ ] ^ | */
  QS_URL_SET_COMPONENT,      /* userinfo + $ % & + , */
  QS_URL_SET_FORM_URLENCODED /* component + ! ' ( ) ~ */
} qs_url_encode_set_t;

/* True when the byte `c` is in the percent-encode `set`. */
bool qs_url_in_encode_set(unsigned char c, qs_url_encode_set_t set);

/* Appends `in` (UTF-8 bytes, borrowed) to `out`, writing each byte of `set` as
 * "%XX" (uppercase hex). Returns 0, QS_ETOOBIG or QS_ENOMEM. */
int qs_url_percent_encode(qs_slice_t in, qs_url_encode_set_t set, qs_buf_t *out);

/* Appends the percent-decoding of `in` (URL Standard, "percent-decode"): "%XX"
 * with two hex digits becomes that byte, anything else is copied. Returns 0,
 * QS_ETOOBIG or QS_ENOMEM. */
int qs_url_percent_decode(qs_slice_t in, qs_buf_t *out);

#endif
