/* Bounded PCRE2 regular expressions for the pattern matchers. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/error.h"
#include "match/urlpattern_internal.h"

struct qs_regex {
  pcre2_code *code;
  uint32_t groups;
};

/* Shared by every regex (the limits are the same for all): the match
 * context, read-only once created, and a per-thread match data block reused
 * across calls, so that a match allocates nothing (the interpreter keeps its
 * backtracking frames in the match data). */
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *shared_mctx;
static pthread_key_t md_key;
static bool md_key_ok;

static void free_match_data(void *md) { pcre2_match_data_free(md); }

/* See QS_REGEX_MAX_CALLOUT: a nonzero return fails the path here. */
static int empty_group_callout(pcre2_callout_block *b, void *data) {
  (void)data;
  uint32_t n = b->callout_number;
  if (n == 0 || n >= b->capture_top) return 0;
  return b->offset_vector[2 * n] == b->offset_vector[2 * n + 1] ? 1 : 0;
}

static void init_shared(void) {
  shared_mctx = pcre2_match_context_create(NULL);
  if (shared_mctx) {
    pcre2_set_callout(shared_mctx, empty_group_callout, NULL);
    pcre2_set_match_limit(shared_mctx, QS_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(shared_mctx, QS_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(shared_mctx, QS_REGEX_HEAP_LIMIT_KB);
  }
  md_key_ok = pthread_key_create(&md_key, free_match_data) == 0;
}

/* This thread's match data with room for `pairs` pairs; NULL on ENOMEM.
 * When `*owned` is set on return the caller frees it (no per-thread slot). */
static pcre2_match_data *thread_match_data(uint32_t pairs, bool *owned) {
  *owned = false;
  if (md_key_ok) {
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (md && pcre2_get_ovector_count(md) >= pairs) return md;
    uint32_t want = pairs < 16 ? 16 : pairs;
    pcre2_match_data *bigger = pcre2_match_data_create(want, NULL);
    if (bigger && pthread_setspecific(md_key, bigger) == 0) {
      pcre2_match_data_free(md);
      return bigger;
    }
    pcre2_match_data_free(bigger);
  }
  *owned = true;
  return pcre2_match_data_create(pairs, NULL);
}

int qs_regex_compile(qs_slice_t source, unsigned flags, qs_regex_t **out) {
  *out = NULL;
  qs_regex_t *re = calloc(1, sizeof *re);
  if (!re) return QS_ENOMEM;
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_compile_context *cctx = NULL;
  /* Anchored at compile time: JIT code ignores a match-time PCRE2_ANCHORED
   * (the interpreter would run instead). */
  uint32_t options = PCRE2_UTF | PCRE2_ANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
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
  pthread_once(&shared_once, init_shared);
  if (!shared_mctx) {
    qs_regex_destroy(re);
    return QS_ENOMEM;
  }
  /* JIT is an optimisation: when it is unavailable the interpreter runs
   * under the same limits. JIT code costs a few KB of executable memory per
   * regex, so it is only made when asked for. */
  if (flags & QS_REGEX_JIT) qs_regex_jit(re);
  *out = re;
  return 0;
}

void qs_regex_jit(qs_regex_t *re) {
  if (re) (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
}

void qs_regex_destroy(qs_regex_t *re) {
  if (!re) return;
  pcre2_code_free(re->code);
  free(re);
}

size_t qs_regex_size(const qs_regex_t *re) {
  size_t size = 0, jit = 0;
  pcre2_pattern_info(re->code, PCRE2_INFO_SIZE, &size);
  pcre2_pattern_info(re->code, PCRE2_INFO_JITSIZE, &jit);
  return sizeof *re + size + jit;
}

uint32_t qs_regex_group_count(const qs_regex_t *re) { return re->groups; }

/* Workspace of the DFA matcher, in ints. It holds the alternatives alive at
 * one subject position (two lists of three ints per alternative), so its
 * size bounds the work done per subject character; a pattern that needs more
 * is cut short (PCRE2_ERROR_DFA_WSSIZE) like one that exhausts match_limit.
 * The size given for a subject keeps characters x alternatives near
 * QS_REGEX_MATCH_LIMIT, the work backtracking may do: about as many
 * microseconds. */
enum { DFA_WORKSPACE_MAX_INTS = 2048, DFA_WORKSPACE_MIN_INTS = 64, DFA_INTS_PER_ALTERNATIVE = 6 };

static size_t dfa_workspace_ints(size_t subject_len) {
  size_t ints = (size_t)QS_REGEX_MATCH_LIMIT * DFA_INTS_PER_ALTERNATIVE / (subject_len + 1);
  if (ints > DFA_WORKSPACE_MAX_INTS) return DFA_WORKSPACE_MAX_INTS;
  return ints < DFA_WORKSPACE_MIN_INTS ? DFA_WORKSPACE_MIN_INTS : ints;
}

/* Whether `subject` matches, by PCRE2's DFA matcher: it scans the subject
 * once, keeping every alternative alive at once, so its cost grows with
 * subject length times the alternatives alive (bounded by the workspace)
 * instead of with the number of ways to split the subject. It finds no
 * captures, and a callout sees none (so empty_group_callout lets every path
 * through, which changes captures but never whether there is a match).
 * Returns 1, 0, QS_ELIMIT or QS_ENOMEM. */
static int dfa_test(const qs_regex_t *re, const char *subject, size_t len, pcre2_match_data *md) {
  int workspace[DFA_WORKSPACE_MAX_INTS];
  int rc = pcre2_dfa_match(re->code, (PCRE2_SPTR)subject, len, 0, PCRE2_DFA_SHORTEST, md, shared_mctx,
                           workspace, dfa_workspace_ints(len));
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL) return 0;
  return rc == PCRE2_ERROR_NOMEMORY ? QS_ENOMEM : QS_ELIMIT;
}

int qs_regex_match(const qs_regex_t *re, qs_slice_t subject, qs_slice_t *groups, size_t max_groups) {
  bool owned;
  pcre2_match_data *md = thread_match_data(re->groups + 1, &owned);
  if (!md) return QS_ENOMEM;
  const char *base = subject.ptr ? subject.ptr : "";
  int rc = pcre2_match(re->code, (PCRE2_SPTR)base, subject.len, 0, 0, md, shared_mctx);
  int result;
  bool cut_short = false;
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
     * the evaluation was cut short. Backtracking explodes on nested
     * repetitions that the DFA matcher walks in one pass; when no capture
     * is wanted, it decides (under the same limits). */
    cut_short = true;
    result = groups ? QS_ELIMIT : dfa_test(re, base, subject.len, md);
  }
  /* The match data keeps the interpreter's backtracking frames for the next
   * match; after a match cut short by a limit they may be large (up to
   * heap_limit), so this thread starts afresh. */
  if (!owned && (cut_short || result < 0)) {
    pthread_setspecific(md_key, NULL);
    owned = true;
  }
  if (owned) pcre2_match_data_free(md);
  return result;
}
