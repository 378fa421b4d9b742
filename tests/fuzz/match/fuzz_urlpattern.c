/* Fuzzes URL Pattern compilation and matching: the input is a pattern, a
 * newline, then a topic; both go through the urlpattern matcher with a fixed
 * hub URL, and the topic is also tested against the pattern with test() and
 * exec(), interpreted and JIT-compiled, which must agree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "match/matcher.h"
#include "match/urlpattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  const char *nl = memchr(p, '\n', size);
  qs_slice_t pattern = {p, nl ? (size_t)(nl - p) : size};
  qs_slice_t topic = nl ? (qs_slice_t){nl + 1, size - pattern.len - 1} : pattern;
  qs_match_options_t options = {.hub_url = qs_slice_from_cstr("https://example.com/.well-known/mercure"),
                                .max_pattern_bytes = 4096};
  qs_matcher_t *m = NULL;
  if (qs_matcher_create(QS_MATCH_URLPATTERN, pattern, &options, &m, NULL) == 0) {
    (void)qs_matcher_match(m, topic);
    qs_matcher_destroy(m);
  }
  qs_urlpattern_t *up = NULL;
  if (qs_urlpattern_create(pattern, &options.hub_url, &up, NULL) == 0) {
    for (int c = 0; c < QS_URLPATTERN_COMPONENTS; c++) (void)qs_urlpattern_component_pattern(up, c);
    int tested = qs_urlpattern_test(up, topic, &options.hub_url);
    qs_urlpattern_result_t r;
    int executed = qs_urlpattern_exec(up, topic, &options.hub_url, NULL, &r);
    if (executed == 1) qs_urlpattern_result_dispose(&r);
    /* exec() and test() agree, except where exec() (which needs captures,
     * so has no DFA fallback) hit a limit that test() got past. */
    if (executed >= 0 && tested >= 0 && executed != tested) abort();
    if (tested == 0 && executed == QS_ELIMIT) abort();
    /* JIT code answers as the interpreter does. */
    qs_urlpattern_jit(up);
    int jitted = qs_urlpattern_test(up, topic, &options.hub_url);
    if (jitted >= 0 && tested >= 0 && jitted != tested) abort();
    qs_urlpattern_destroy(up);
  }
  return 0;
}
