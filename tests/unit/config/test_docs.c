/* Text generated from the options table: --help and docs/configuration.md.
 * Run with QS_UPDATE_DOCS=1 to rewrite docs/configuration.md. */
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

static void committed_docs_match_the_table(void **state) {
  (void)state;
  char *generated = capture(qs_config_write_markdown);
  const char *update = getenv("QS_UPDATE_DOCS");
  if (update && strcmp(update, "1") == 0) {
    FILE *f = fopen(DOC_PATH, "wb");
    assert_non_null(f);
    fputs(generated, f);
    fclose(f);
  }
  char *committed = read_file(DOC_PATH);
  if (!committed) print_error("cannot read %s\n", DOC_PATH);
  assert_non_null(committed);
  if (strcmp(committed, generated) != 0) {
    size_t line = 1, i = 0;
    while (committed[i] && committed[i] == generated[i]) line += committed[i++] == '\n';
    print_error("%s is stale from line %zu; rerun this test with QS_UPDATE_DOCS=1 and commit the file\n",
                DOC_PATH, line);
  }
  assert_string_equal(committed, generated);
  free(committed);
  free(generated);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(help_lists_every_option_with_its_default),
      cmocka_unit_test(markdown_documents_every_option),
      cmocka_unit_test(committed_docs_match_the_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
