/* Text generated from the options table: --help, docs/configuration.md, the
 * manual page docs/quicksilver.1 and the example docs/quicksilver.conf. Run
 * with QS_UPDATE_DOCS=1 to rewrite the three files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#define DOC_PATH QS_SOURCE_DIR "/docs/configuration.md"
#define MAN_PATH QS_SOURCE_DIR "/docs/quicksilver.1"
#define EXAMPLE_PATH QS_SOURCE_DIR "/docs/quicksilver.conf"

/* Captures what `write` prints; the caller frees the result. */
static char *capture(void (*write)(FILE *)) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  write(f);
  fclose(f);
  return text;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);
  return text;
}

static void help_lists_every_option_with_its_default(void **state) {
  (void)state;
  char *help = capture(qs_config_print_help);
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    char flag[128];
    snprintf(flag, sizeof flag, opts[i].type == QS_OPT_BOOL ? "--[no-]%s" : "--%s", opts[i].name);
    const char *at = strstr(help, flag);
    if (!at) print_error("--help lacks '%s'\n", flag);
    assert_non_null(at);
    assert_true(at[strlen(flag)] == ' ' || at[strlen(flag)] == '\n');
  }
  assert_non_null(strstr(help, "--config FILE"));
  assert_non_null(strstr(help, "--version"));
  assert_non_null(strstr(help, "Default: 25s."));
  assert_non_null(strstr(help, "$MERCURE_PUBLISHER_JWT_KEY."));
  assert_non_null(strstr(help, "\nLimits:\n"));
  assert_null(strstr(help, "`")); /* Markdown quotes are dropped */
  /* Every line fits in 100 columns. */
  for (char *line = help; *line;) {
    size_t len = strcspn(line, "\n");
    if (len > 100) print_error("long line: %.*s\n", (int)len, line);
    assert_true(len <= 100);
    line += len + (line[len] == '\n');
  }
  free(help);
}

static void markdown_documents_every_option(void **state) {
  (void)state;
  char *doc = capture(qs_config_write_markdown);
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    char row[128];
    snprintf(row, sizeof row, "\n| `%s` | ", opts[i].name);
    if (!strstr(doc, row)) print_error("docs lack a row for %s\n", opts[i].name);
    assert_non_null(strstr(doc, row));
    if (opts[i].env_alias) assert_non_null(strstr(doc, opts[i].env_alias));
  }
  free(doc);
}

/* Compares the committed file at `path` with what `write` generates;
 * rewrites it first when QS_UPDATE_DOCS=1. */
static void assert_committed_matches(const char *path, void (*write)(FILE *)) {
  char *generated = capture(write);
  const char *update = getenv("QS_UPDATE_DOCS");
  if (update && strcmp(update, "1") == 0) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(generated, f);
    fclose(f);
  }
  char *committed = read_file(path);
  if (!committed) print_error("cannot read %s\n", path);
  assert_non_null(committed);
  if (strcmp(committed, generated) != 0) {
    size_t line = 1, i = 0;
    while (committed[i] && committed[i] == generated[i]) line += committed[i++] == '\n';
    print_error("%s is stale from line %zu; rerun this test with QS_UPDATE_DOCS=1 and commit the file\n",
                path, line);
  }
  assert_string_equal(committed, generated);
  free(committed);
  free(generated);
}

static void committed_docs_match_the_table(void **state) {
  (void)state;
  assert_committed_matches(DOC_PATH, qs_config_write_markdown);
}

static void committed_man_page_matches_the_table(void **state) {
  (void)state;
  assert_committed_matches(MAN_PATH, qs_config_write_man);
}

static void committed_example_matches_the_table(void **state) {
  (void)state;
  assert_committed_matches(EXAMPLE_PATH, qs_config_write_example);
}

static void man_page_documents_every_option(void **state) {
  (void)state;
  char *man = capture(qs_config_write_man);
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    char flag[160] = ".TP\n\\fB\\-\\-";
    size_t n = strlen(flag);
    for (const char *c = opts[i].name; *c && n + 3 < sizeof flag; c++) {
      if (*c == '-') flag[n++] = '\\';
      flag[n++] = *c;
    }
    flag[n] = '\0';
    if (!strstr(man, flag)) print_error("the man page lacks --%s\n", opts[i].name);
    assert_non_null(strstr(man, flag));
  }
  assert_non_null(strstr(man, ".TH QUICKSILVER 1 "));
  assert_null(strstr(man, "`")); /* Markdown quotes are turned into bold */
  free(man);
}

/* Removes the '#' of every commented directive ("#name value"), keeping the
 * prose comments ("# text"). */
static void uncomment_directives(char *text) {
  char *out = text;
  for (char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    bool directive = p[0] == '#' && p[1] >= 'a' && p[1] <= 'z';
    if (directive) p++, len--;
    memmove(out, p, len);
    out += len;
    p += len;
    if (*p == '\n') *out++ = *p++;
  }
  *out = '\0';
}

static void example_sets_only_history_path_and_every_line_is_valid(void **state) {
  (void)state;
  char *example = capture(qs_config_write_example);
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    char line[128];
    snprintf(line, sizeof line, strcmp(opts[i].name, "history_path") == 0 ? "\n%s " : "\n#%s ", opts[i].name);
    if (!strstr(example, line)) print_error("the example lacks '%s'\n", line + 1);
    assert_non_null(strstr(example, line));
  }
  assert_null(strstr(example, "`"));

  qs_config_t defaults, as_is, uncommented;
  char err[256] = "";
  assert_int_equal(qs_config_init_defaults(&defaults), 0);
  assert_int_equal(qs_config_init_defaults(&as_is), 0);
  assert_int_equal(qs_config_init_defaults(&uncommented), 0);
  int rc = qs_config_parse_text(&as_is, example, strlen(example), "example", err, sizeof err);
  if (rc) print_error("as generated: %s\n", err);
  assert_int_equal(rc, 0);
  assert_string_equal(as_is.history_path, "/var/lib/quicksilver/quicksilver.lmdb");
  /* Every commented line, uncommented, sets its option to the default. */
  uncomment_directives(example);
  rc = qs_config_parse_text(&uncommented, example, strlen(example), "example", err, sizeof err);
  if (rc) print_error("uncommented: %s\n", err);
  assert_int_equal(rc, 0);
  qs_buf_t want, got;
  qs_buf_init(&want, 1 << 20);
  qs_buf_init(&got, 1 << 20);
  free(defaults.history_path);
  defaults.history_path = strdup(as_is.history_path);
  assert_int_equal(qs_config_dump(&defaults, &want), 0);
  assert_int_equal(qs_config_dump(&uncommented, &got), 0);
  assert_string_equal(got.ptr, want.ptr);
  qs_buf_dispose(&want);
  qs_buf_dispose(&got);
  qs_config_dispose(&defaults);
  qs_config_dispose(&as_is);
  qs_config_dispose(&uncommented);
  free(example);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(help_lists_every_option_with_its_default),
      cmocka_unit_test(markdown_documents_every_option),
      cmocka_unit_test(committed_docs_match_the_table),
      cmocka_unit_test(committed_man_page_matches_the_table),
      cmocka_unit_test(committed_example_matches_the_table),
      cmocka_unit_test(man_page_documents_every_option),
      cmocka_unit_test(example_sets_only_history_path_and_every_line_is_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
