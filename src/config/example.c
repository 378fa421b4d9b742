/* The example configuration file, generated from the options table: the
 * packaged /etc/quicksilver/quicksilver.conf. */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

#define EXAMPLE_WIDTH 80

/* The one setting the file sets: the package's state folder. */
#define EXAMPLE_HISTORY_PATH "/var/lib/quicksilver/quicksilver.lmdb"

/* Writes `text` as "# " comment lines wrapped at EXAMPLE_WIDTH, without the
 * Markdown backticks. */
static void comment(FILE *out, const char *text) {
  size_t col = 0;
  for (const char *p = text; *p;) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, " ");
    if (len == 0) break;
    size_t visible = 0;
    for (size_t i = 0; i < len; i++) visible += p[i] != '`';
    if (col == 0) {
      fputs("#", out);
      col = 1;
    } else if (col + 1 + visible > EXAMPLE_WIDTH) {
      fputs("\n#", out);
      col = 1;
    }
    fputc(' ', out);
    col++;
    for (size_t i = 0; i < len; i++) {
      if (p[i] != '`') fputc(p[i], out);
    }
    col += visible;
    p += len;
  }
  if (col) fputc('\n', out);
}

/* A directive's value as the file reads it: quoted when empty or spaced. */
static void value(FILE *out, const char *v) {
  if (v[0] && !strpbrk(v, " \t\"#`")) {
    fputs(v, out);
    return;
  }
  fputc('"', out);
  for (const char *c = v; *c; c++) {
    if (*c == '"' || *c == '\\') fputc('\\', out);
    fputc(*c, out);
  }
  fputc('"', out);
}

void qs_config_write_example(FILE *out) {
  fputs(
      "# quicksilver.conf: the configuration of the Quicksilver Mercure hub.\n"
      "#\n"
      "# Generated from the options table in src/config/options.c by\n"
      "# qs_config_write_example(); quicksilver(1) and docs/configuration.md describe\n"
      "# every option. One directive per line: the name, then the value. Each\n"
      "# commented line shows an option at its default: remove the '#' and change the\n"
      "# value to set it. The environment overrides this file (QUICKSILVER_<NAME>, and\n"
      "# the reference hub's MERCURE_PUBLISHER_JWT_KEY, MERCURE_SUBSCRIBER_JWT_KEY and\n"
      "# their _ALG variables, for example from /etc/default/quicksilver), and flags\n"
      "# override both.\n"
      "#\n"
      "# No key is set here. Without one the hub makes a development key for one run\n"
      "# and logs tokens for it: set a key before real use, preferably from a file only\n"
      "# the hub can read, for example\n"
      "#   publisher_jwt @/etc/quicksilver/publisher.key\n"
      "#   subscriber_jwt @/etc/quicksilver/subscriber.key\n"
      "# then reload (SIGHUP: systemctl reload quicksilver).\n",
      out);

  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  const char *secs[32];
  size_t nsecs = qs_config_sections(secs, 32);
  for (size_t s = 0; s < nsecs; s++) {
    fprintf(out, "\n## %s\n", secs[s]);
    for (size_t i = 0; i < count; i++) {
      const qs_config_option_t *opt = &opts[i];
      if (strcmp(opt->section, secs[s]) != 0) continue;
      fputc('\n', out);
      comment(out, opt->help);
      if (strcmp(opt->name, "history_path") == 0) {
        fputs("# Set for the package's state folder (systemd's StateDirectory).\n", out);
        fprintf(out, "%s ", opt->name);
        value(out, EXAMPLE_HISTORY_PATH);
      } else {
        fprintf(out, "#%s ", opt->name);
        value(out, opt->default_value);
      }
      fputc('\n', out);
    }
  }
}
