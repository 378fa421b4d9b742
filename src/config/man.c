/* The manual page quicksilver(1), generated from the options table like
 * --help and docs/configuration.md. */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* Writes `text` for roff: backslashes escaped, `code` in bold, and a line
 * that would start with a control character guarded. `dash_minus` writes
 * '-' as a minus sign (for flags, which users type). */
static void roff_text(FILE *out, const char *text, bool dash_minus) {
  if (text[0] == '.' || text[0] == '\'') fputs("\\&", out);
  bool bold = false;
  for (const char *c = text; *c; c++) {
    if (*c == '\\') {
      fputs("\\e", out);
    } else if (*c == '`') {
      fputs(bold ? "\\fR" : "\\fB", out);
      bold = !bold;
    } else if (*c == '-' && (dash_minus || bold)) {
      fputs("\\-", out);
    } else {
      fputc(*c, out);
    }
  }
  if (bold) fputs("\\fR", out);
}

/* One option as a tagged paragraph: flag, value, then help, choices, default
 * and environment variables. */
static void man_option(FILE *out, const qs_config_option_t *opt) {
  char scratch[96];
  fputs(".TP\n", out);
  if (opt->type == QS_OPT_BOOL) {
    fputs("\\fB\\-\\-", out);
    roff_text(out, opt->name, true);
    fputs("\\fR, \\fB\\-\\-no\\-", out);
    roff_text(out, opt->name, true);
    fputs("\\fR\n", out);
  } else {
    fputs("\\fB\\-\\-", out);
    roff_text(out, opt->name, true);
    fputs("\\fR \\fI", out);
    roff_text(out, qs_config_metavar(opt, scratch, sizeof scratch), false);
    fputs("\\fR\n", out);
  }
  roff_text(out, opt->help, false);
  if (opt->choices && opt->type == QS_OPT_STRING) {
    fputs(" One of", out);
    for (size_t i = 0; opt->choices[i]; i++) {
      fputs(i == 0 ? " " : opt->choices[i + 1] ? ", " : " or ", out);
      roff_text(out, opt->choices[i], false);
    }
    fputc('.', out);
  }
  fputc('\n', out);
  fputs(".br\nDefault: ", out);
  if (opt->default_value[0]) {
    fputs("\\fB", out);
    roff_text(out, opt->default_value, true);
    fputs("\\fR", out);
  } else {
    fputs("empty", out);
  }
  fputs(". Environment: \\fBQUICKSILVER_", out);
  for (const char *c = opt->name; *c; c++) fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, out);
  fputs("\\fR", out);
  if (opt->env_alias) fprintf(out, " or \\fB%s\\fR", opt->env_alias);
  fputs(".\n", out);
}

void qs_config_write_man(FILE *out) {
  fputs(
      ".\\\" Generated from the options table in src/config/options.c by qs_config_write_man(); do not\n"
      ".\\\" edit. The unit test unit/config/test_docs fails when this file is stale; run it with\n"
      ".\\\" QS_UPDATE_DOCS=1 to rewrite the file.\n"
      ".TH QUICKSILVER 1 \"\" \"Quicksilver " QS_VERSION
      "\" \"User Commands\"\n"
      ".\\\" Option and variable names are neither hyphenated nor stretched.\n"
      ".nh\n"
      ".ad l\n"
      ".SH NAME\n"
      "quicksilver \\- a Mercure hub\n"
      ".SH SYNOPSIS\n"
      ".B quicksilver\n"
      "[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-\\fR\\fIoption\\fR \\fIvalue\\fR]...\n"
      ".br\n"
      ".B quicksilver token\n"
      "[\\fB\\-\\-help\\fR] ...\n"
      ".SH DESCRIPTION\n"
      "\\fBquicksilver\\fR is a hub of the Mercure protocol: publishers POST updates to it, and\n"
      "subscribers receive them over server-sent events, with a history kept for reconnection.\n"
      ".PP\n"
      "Each option is also a directive of the configuration file (\\fIname value\\fR, one per\n"
      "line) and an environment variable (\\fBQUICKSILVER_\\fR\\fINAME\\fR, the name in upper\n"
      "case). Flags override the environment, which overrides the file; an empty variable counts\n"
      "as unset. Write \\fB\\-\\-\\fR\\fIname value\\fR or "
      "\\fB\\-\\-\\fR\\fIname\\fR\\fB=\\fR\\fIvalue\\fR;\n"
      "dashes may replace underscores; \\fB\\-\\-no\\-\\fR\\fIname\\fR turns a boolean off; repeat a\n"
      "list flag or separate its items with commas. Durations: 500ms, 25s, 10m, 1h. Sizes: 4096,\n"
      "512KB, 1MiB.\n"
      ".PP\n"
      "\\fBquicksilver token\\fR mints a token for development and scripts; \\fBquicksilver token\n"
      "\\-\\-help\\fR describes it.\n"
      ".SH OPTIONS\n"
      ".TP\n"
      "\\fB\\-\\-config\\fR \\fIFILE\\fR\n"
      "Read directives from \\fIFILE\\fR.\n"
      ".TP\n"
      "\\fB\\-\\-help\\fR\n"
      "Print the options and exit.\n"
      ".TP\n"
      "\\fB\\-\\-version\\fR\n"
      "Print the version and exit.\n",
      out);

  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  const char *secs[32];
  size_t nsecs = qs_config_sections(secs, 32);
  for (size_t s = 0; s < nsecs; s++) {
    fputs(".SS ", out);
    roff_text(out, secs[s], false);
    fputc('\n', out);
    for (size_t i = 0; i < count; i++) {
      if (strcmp(opts[i].section, secs[s]) == 0) man_option(out, &opts[i]);
    }
  }

  fputs(
      ".SH SIGNALS\n"
      ".TP\n"
      "\\fBSIGTERM\\fR, \\fBSIGINT\\fR\n"
      "Stop gracefully: event streams end cleanly, publishes in progress are answered and the\n"
      "history is flushed.\n"
      ".TP\n"
      "\\fBSIGHUP\\fR\n"
      "Read the configuration again and apply the keys (key files read again, JWK Sets fetched\n"
      "again) and the certificate; other settings apply at the next start.\n"
      ".SH SYSTEMD\n"
      "When \\fBNOTIFY_SOCKET\\fR is set, the hub tells the service manager it is ready once every\n"
      "worker listens, that it reloads around \\fBSIGHUP\\fR and that it stops on \\fBSIGTERM\\fR\n"
      "(\\fBType=notify\\fR).\n"
      ".SH FILES\n"
      ".TP\n"
      ".I /etc/quicksilver/quicksilver.conf\n"
      "The configuration the packaged service reads (every option commented at its default).\n"
      ".TP\n"
      ".I /etc/default/quicksilver\n"
      "Environment of the packaged service: \\fBQUICKSILVER_\\fR\\fINAME\\fR and the reference hub's\n"
      "\\fBMERCURE_\\fR variables.\n"
      ".TP\n"
      ".I /var/lib/quicksilver\n"
      "The packaged service's LMDB history.\n"
      ".SH SEE ALSO\n"
      "The Mercure protocol: https://mercure.rocks/spec\n",
      out);
}
