/* Bounded PCRE2 regular expressions for the pattern matchers. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

#include "base/error.h"
#include "match/urlpattern_internal.h"

struct qs_regex {
  pcre2_code *code;
  pcre2_match_context *mctx; /* read-only after creation: holds the limits */
  uint32_t groups;
};

int qs_regex_compile(qs_slice_t source, unsigned flags, qs_regex_t **out) {
  *out = NULL;
  qs_regex_t *re = calloc(1, sizeof *re);
  if (!re) return QS_ENOMEM;
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_compile_context *cctx = NULL;
  uint32_t options = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
  if (flags & QS_REGEX_JS) {
    /* ECMAScript reads `[]` as the empty class and `[^]` as any character. */
    options |= PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS;
    cctx = pcre2_compile_context_create(NULL);
    if (!cctx) {
      free(re);
      return QS_ENOMEM;
    }
    pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
  }
  re->code =
      pcre2_compile((PCRE2_SPTR)(source.ptr ? source.ptr : ""), source.len, options, &err, &offset, cctx);
  pcre2_compile_context_free(cctx);
  if (!re->code) {
    free(re);
    return err == PCRE2_ERROR_NOMEMORY ? QS_ENOMEM : QS_EPARSE;
  }
  /* Back-references make matching exponential whatever the engine; the
   * patterns we generate never contain one, so any is a user's. */
  uint32_t backrefs = 0;
  pcre2_pattern_info(re->code, PCRE2_INFO_BACKREFMAX, &backrefs);
  if (backrefs > 0) {
    qs_regex_destroy(re);
    return QS_EPARSE;
  }
  pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->groups);
  re->mctx = pcre2_match_context_create(NULL);
  if (!re->mctx) {
    qs_regex_destroy(re);
    return QS_ENOMEM;
  }
  pcre2_set_match_limit(re->mctx, QS_REGEX_MATCH_LIMIT);
  pcre2_set_depth_limit(re->mctx, QS_REGEX_DEPTH_LIMIT);
  pcre2_set_heap_limit(re->mctx, QS_REGEX_HEAP_LIMIT_KB);
  /* JIT is an optimisation: when it is unavailable the interpreter runs
   * under the same limits. */
  (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
  *out = re;
  return 0;
}

void qs_regex_destroy(qs_regex_t *re) {
  if (!re) return;
  pcre2_match_context_free(re->mctx);
  pcre2_code_free(re->code);
  free(re);
}

uint32_t qs_regex_group_count(const qs_regex_t *re) { return re->groups; }

int qs_regex_match(const qs_regex_t *re, qs_slice_t subject, qs_slice_t *groups, size_t max_groups) {
  pcre2_match_data *md = pcre2_match_data_create(re->groups + 1, NULL);
  if (!md) return QS_ENOMEM;
  const char *base = subject.ptr ? subject.ptr : "";
  int rc = pcre2_match(re->code, (PCRE2_SPTR)base, subject.len, 0, PCRE2_ANCHORED, md, re->mctx);
  int result;
  if (rc >= 0) {
    result = 1;
    if (groups) {
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      uint32_t pairs = pcre2_get_ovector_count(md);
      for (size_t i = 0; i < max_groups; i++) {
        size_t pair = i + 1;
        if (pair < pairs && pair < (size_t)rc && ov[2 * pair] != PCRE2_UNSET) {
          groups[i] = (qs_slice_t){base + ov[2 * pair], ov[2 * pair + 1] - ov[2 * pair]};
        } else {
          groups[i] = (qs_slice_t){NULL, 0};
        }
      }
    }
  } else if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL ||
             (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)) {
    /* Invalid UTF-8 in the subject cannot match a UTF-mode pattern. */
    result = 0;
  } else if (rc == PCRE2_ERROR_NOMEMORY) {
    result = QS_ENOMEM;
  } else {
    /* MATCHLIMIT, DEPTHLIMIT, HEAPLIMIT, JIT_STACKLIMIT and anything else:
     * the evaluation was cut short. */
    result = QS_ELIMIT;
  }
  pcre2_match_data_free(md);
  return result;
}
