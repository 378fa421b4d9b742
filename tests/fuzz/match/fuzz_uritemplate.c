/* Fuzzes URI Template compilation and matching: the input is a template, a
 * newline, then a topic; both go through the legacy matcher and the
 * template API directly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "match/matcher.h"
#include "match/uritemplate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  const char *nl = memchr(p, '\n', size);
  qs_slice_t tmpl = {p, nl ? (size_t)(nl - p) : size};
  qs_slice_t topic = nl ? (qs_slice_t){nl + 1, size - tmpl.len - 1} : tmpl;
  qs_match_options_t options = {.hub_url = qs_slice_from_cstr("https://example.com/.well-known/mercure"),
                                .max_pattern_bytes = 4096};
  qs_matcher_t *m = NULL;
  if (qs_matcher_create(QS_MATCH_LEGACY, tmpl, &options, &m, NULL) == 0) {
    (void)qs_matcher_match(m, topic);
    (void)qs_matcher_literal_prefix(m);
    qs_matcher_destroy(m);
  }
  qs_uritemplate_t *t = NULL;
  if (qs_uritemplate_create(tmpl, &t) == 0) {
    (void)qs_uritemplate_match(t, topic);
    qs_uritemplate_destroy(t);
  }
  return 0;
}
