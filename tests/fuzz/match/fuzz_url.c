/* Fuzz target for the WHATWG URL parser: parses arbitrary bytes without a base
 * and against a few bases, and checks that a successful parse is stable:
 * parsing the serialization again gives the same serialization. The first
 * byte chooses the base; the rest is the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "match/url.h"

static const char *const bases[] = {
    NULL,
    "http://user:pass@example.org:8080/foo/bar?q#f",
    "file:///C:/dir/file",
    "sc://opaque.host/a/b",
    "about:blank",
    "https://[::1]/",
};

static void check_idempotent(const qs_url_t *url) {
  qs_url_t again;
  int rc = qs_url_parse(qs_slice_from_cstr(url->href), NULL, &again);
  if (rc != 0) {
    fprintf(stderr, "re-parsing \"%s\" failed: %s\n", url->href, qs_strerror(rc));
    abort();
  }
  if (strcmp(again.href, url->href) != 0) {
    fprintf(stderr, "not idempotent: \"%s\" became \"%s\"\n", url->href, again.href);
    abort();
  }
  qs_url_dispose(&again);
}

/* Runs every canonicalizer on the input: none may crash, and each result must
 * be accepted again unchanged by the same canonicalizer where the spec makes
 * that so (search and hash are stable under re-encoding). */
static void run_canonicalizers(qs_slice_t in) {
  qs_buf_t out, again;
  qs_buf_init(&out, 1 << 24);
  qs_buf_init(&again, 1 << 24);
  (void)qs_url_canonicalize_protocol(in, &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_username(in, &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_hostname(in, qs_slice_from_cstr("https"), &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_hostname(in, qs_slice_from_cstr(""), &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_ipv6_hostname(in, &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_port(in, qs_slice_from_cstr("http"), &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_pathname(in, &out);
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_opaque_pathname(in, &out);
  qs_buf_reset(&out);
  if (qs_url_canonicalize_hash(in, &out) == 0) {
    if (qs_url_canonicalize_hash(qs_buf_slice(&out), &again) != 0 ||
        !qs_slice_eq(qs_buf_slice(&out), qs_buf_slice(&again)))
      abort();
  }
  qs_buf_reset(&out);
  (void)qs_url_canonicalize_search(in, qs_slice_from_cstr("https"), &out);
  qs_buf_dispose(&out);
  qs_buf_dispose(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const char *base_text = bases[data[0] % (sizeof bases / sizeof bases[0])];
  qs_slice_t input = qs_slice((const char *)data + 1, size - 1);
  qs_url_t base, url;
  if (base_text && qs_url_parse(qs_slice_from_cstr(base_text), NULL, &base) != 0) abort();
  if (qs_url_parse(input, NULL, &url) == 0) {
    check_idempotent(&url);
    qs_url_dispose(&url);
  }
  if (base_text && qs_url_parse(input, &base, &url) == 0) {
    check_idempotent(&url);
    qs_url_dispose(&url);
  }
  if (base_text) qs_url_dispose(&base);
  run_canonicalizers(input);
  return 0;
}
