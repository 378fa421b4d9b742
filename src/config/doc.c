/* Text generated from the options table: --help, docs/configuration.md, the
 * start-up dump, and the derived hub URL. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "config/config_internal.h"

#define HELP_WIDTH 100
#define HELP_DESC_COLUMN 30

void qs_config_format_size(uint64_t bytes, char *out, size_t size) {
  static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
  for (int i = 0; i < 4; i++) {
    uint64_t mult = 1ull << (10 * (4 - i));
    if (bytes != 0 && bytes % mult == 0) {
      snprintf(out, size, "%" PRIu64 "%s", bytes / mult, units[i]);
      return;
    }
  }
  snprintf(out, size, "%" PRIu64, bytes);
}

void qs_config_format_duration(uint64_t ms, char *out, size_t size) {
  static const struct {
    uint64_t ms;
    const char *unit;
  } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  if (ms == 0) {
    snprintf(out, size, "0");
    return;
  }
  for (int i = 0; i < 4; i++) {
    if (ms % units[i].ms == 0) {
      snprintf(out, size, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
      return;
    }
  }
}

int qs_config_format_value(const qs_config_t *cfg, const qs_config_option_t *opt, qs_buf_t *out) {
  const void *field = qs_config_cfield(cfg, opt);
  char text[32];
  switch (opt->type) {
    case QS_OPT_BOOL:
      return qs_buf_append_cstr(out, *(const bool *)field ? "true" : "false");
    case QS_OPT_INT:
      return qs_buf_appendf(out, "%" PRId64, *(const int64_t *)field);
    case QS_OPT_SIZE:
      qs_config_format_size(*(const uint64_t *)field, text, sizeof text);
      return qs_buf_append_cstr(out, text);
    case QS_OPT_DURATION:
      qs_config_format_duration(*(const uint64_t *)field, text, sizeof text);
      return qs_buf_append_cstr(out, text);
    case QS_OPT_STRING: {
      const char *s = *(char *const *)field;
      return qs_buf_append_cstr(out, s ? s : "");
    }
    case QS_OPT_LIST: {
      const qs_config_list_t *list = field;
      for (size_t i = 0; i < list->count; i++) {
        int rc = qs_buf_appendf(out, "%s%s", i ? "," : "", list->items[i]);
        if (rc) return rc;
      }
      return 0;
    }
    case QS_OPT_ENUM: {
      int v = *(const int *)field, n = 0;
      while (opt->choices[n]) n++;
      return qs_buf_append_cstr(out, v >= 0 && v < n ? opt->choices[v] : "?");
    }
  }
  return QS_EINVAL;
}

const char *qs_config_metavar(const qs_config_option_t *opt, char *scratch, size_t scratch_size) {
  if (opt->metavar) return opt->metavar;
  switch (opt->type) {
    case QS_OPT_BOOL:
      return "";
    case QS_OPT_INT:
      return "N";
    case QS_OPT_SIZE:
      return "SIZE";
    case QS_OPT_DURATION:
      return "DURATION";
    case QS_OPT_LIST:
      return "LIST";
    case QS_OPT_STRING:
      return "VALUE";
    case QS_OPT_ENUM: {
      size_t used = 0;
      scratch[0] = '\0';
      for (int i = 0; opt->choices[i] && used < scratch_size; i++) {
        int n = snprintf(scratch + used, scratch_size - used, "%s%s", i ? "|" : "", opt->choices[i]);
        if (n < 0) break;
        used += (size_t)n;
      }
      return scratch;
    }
  }
  return "VALUE";
}

size_t qs_config_sections(const char **out, size_t max) {
  size_t count, n = 0;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    bool known = false;
    for (size_t j = 0; j < n && !known; j++) known = strcmp(out[j], opts[i].section) == 0;
    if (!known && n < max) out[n++] = opts[i].section;
  }
  return n;
}

static void append_choices(qs_buf_t *b, const char *const *choices, const char *quote) {
  for (size_t i = 0; choices[i]; i++) {
    const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
    qs_buf_appendf(b, "%s%s%s%s", sep, quote, choices[i], quote);
  }
}

/* ---- --help ---- */

/* Writes `text` word by word from column `col`, wrapping to `indent`; drops
 * the Markdown backticks of the table's help texts. */
static void wrap(FILE *out, const char *text, size_t col, size_t indent) {
  const char *p = text;
  bool first = true;
  while (*p) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, " ");
    if (len == 0) break;
    size_t visible = 0;
    for (size_t i = 0; i < len; i++) visible += p[i] != '`';
    if (!first && col + 1 + visible > HELP_WIDTH) {
      fprintf(out, "\n%*s", (int)indent, "");
      col = indent;
    } else if (!first) {
      fputc(' ', out);
      col++;
    }
    for (size_t i = 0; i < len; i++) {
      if (p[i] != '`') fputc(p[i], out);
    }
    col += visible;
    first = false;
    p += len;
  }
  fputc('\n', out);
}

static void help_entry(FILE *out, const char *flag, const char *desc) {
  int col = fprintf(out, "  %s", flag);
  if (col + 2 > HELP_DESC_COLUMN) {
    fprintf(out, "\n%*s", HELP_DESC_COLUMN, "");
  } else {
    fprintf(out, "%*s", HELP_DESC_COLUMN - col, "");
  }
  wrap(out, desc, HELP_DESC_COLUMN, HELP_DESC_COLUMN);
}

void qs_config_print_help(FILE *out) {
  fputs(
      "Usage: quicksilver [--config FILE] [--OPTION VALUE]...\n"
      "\n"
      "Quicksilver, a Mercure hub. Each option is also a directive of the configuration file\n"
      "(name value, one per line) and an environment variable (QUICKSILVER_<NAME>). Flags override\n"
      "the environment, which overrides the file. Write --name value or --name=value; dashes may\n"
      "replace underscores; --no-name turns a boolean off; repeat a list flag or separate its items\n"
      "with commas. Durations: 500ms, 25s, 10m, 1h. Sizes: 4096, 512KB, 1MiB.\n"
      "\n",
      out);
  help_entry(out, "--config FILE", "Read directives from FILE.");
  help_entry(out, "--help", "Print this help and exit.");
  help_entry(out, "--version", "Print the versions of the hub and of its libraries, and exit.");

  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  const char *secs[32];
  size_t nsecs = qs_config_sections(secs, 32);
  for (size_t s = 0; s < nsecs; s++) {
    fprintf(out, "\n%s:\n", secs[s]);
    for (size_t i = 0; i < count; i++) {
      const qs_config_option_t *opt = &opts[i];
      if (strcmp(opt->section, secs[s]) != 0) continue;
      char flag[128], scratch[96];
      if (opt->type == QS_OPT_BOOL) {
        snprintf(flag, sizeof flag, "--[no-]%s", opt->name);
      } else {
        snprintf(flag, sizeof flag, "--%s %s", opt->name, qs_config_metavar(opt, scratch, sizeof scratch));
      }
      qs_buf_t desc;
      qs_buf_init(&desc, 4096);
      qs_buf_append_cstr(&desc, opt->help);
      if (opt->choices && opt->type == QS_OPT_STRING) {
        qs_buf_append_cstr(&desc, " One of ");
        append_choices(&desc, opt->choices, "");
        qs_buf_append_cstr(&desc, ".");
      }
      if (opt->default_value[0]) qs_buf_appendf(&desc, " Default: %s.", opt->default_value);
      if (opt->env_alias) qs_buf_appendf(&desc, " Also read from $%s.", opt->env_alias);
      help_entry(out, flag, desc.ptr ? desc.ptr : "");
      qs_buf_dispose(&desc);
    }
  }
}

/* ---- docs/configuration.md ---- */

static void md_cell(FILE *out, const char *text) {
  for (const char *c = text; *c; c++) {
    if (*c == '|') fputc('\\', out);
    fputc(*c, out);
  }
}

static void md_kind(qs_buf_t *b, const qs_config_option_t *opt) {
  char bound[32];
  switch (opt->type) {
    case QS_OPT_BOOL:
      qs_buf_append_cstr(b, "boolean");
      return;
    case QS_OPT_INT:
      qs_buf_append_cstr(b, "integer");
      break;
    case QS_OPT_SIZE:
      qs_buf_append_cstr(b, "size");
      break;
    case QS_OPT_DURATION:
      qs_buf_append_cstr(b, "duration");
      break;
    case QS_OPT_LIST:
      qs_buf_append_cstr(b, "list");
      return;
    case QS_OPT_ENUM:
      append_choices(b, opt->choices, "`");
      return;
    case QS_OPT_STRING:
      if (opt->choices) {
        qs_buf_append_cstr(b, "one of ");
        append_choices(b, opt->choices, "`");
      } else {
        qs_buf_appendf(b, "string (%s)", opt->metavar ? opt->metavar : "text");
      }
      return;
  }
  if (opt->min > 0 || opt->max > 0) {
    if (opt->type == QS_OPT_SIZE) {
      qs_config_format_size((uint64_t)opt->min, bound, sizeof bound);
    } else if (opt->type == QS_OPT_DURATION) {
      qs_config_format_duration((uint64_t)opt->min, bound, sizeof bound);
    } else {
      snprintf(bound, sizeof bound, "%" PRId64, opt->min);
    }
    if (opt->max > 0) {
      qs_buf_appendf(b, ", %s to %" PRId64, bound, opt->max);
    } else {
      qs_buf_appendf(b, ", at least %s", bound);
    }
  }
}

void qs_config_write_markdown(FILE *out) {
  fputs(
      "# Configuration\n"
      "\n"
      "<!-- Generated from the options table in src/config/options.c by qs_config_write_markdown();\n"
      "     do not edit. The unit test unit/config/test_docs fails when this file is stale; run it with\n"
      "     QS_UPDATE_DOCS=1 to rewrite the file. -->\n"
      "\n"
      "Every setting has one name, the reference hub's directive spelling, used in the\n"
      "configuration file, in the environment and on the command line. Sources apply in this\n"
      "order, each overriding the ones before it:\n"
      "\n"
      "1. the defaults below;\n"
      "2. the configuration file named by `--config FILE`;\n"
      "3. the environment: `QUICKSILVER_<NAME>`, the option name in upper case (for example\n"
      "   `QUICKSILVER_HEARTBEAT=40s`), and the aliases listed below, which are the reference\n"
      "   hub's Docker variables. An empty variable counts as unset. When an option's\n"
      "   `QUICKSILVER_` variable and its alias are both set, the `QUICKSILVER_` one wins;\n"
      "4. command-line flags: `--name value` or `--name=value` (dashes may replace underscores).\n"
      "   A boolean flag alone turns the option on; `--no-name` turns it off.\n"
      "\n"
      "Other flags: `--config FILE`, `--help` (print the options and exit) and `--version` (print the "
      "versions of the hub and of its libraries, and exit).\n"
      "\n"
      "## The configuration file\n"
      "\n"
      "One directive per line, `name value...`, like the reference hub's Caddyfile `mercure { }`\n"
      "block without the braces. `#` at the start of a word begins a comment. A value with spaces\n"
      "goes in double quotes (`\\\"` and `\\\\` inside are a quote and a backslash) or in backticks\n"
      "(taken as is). A boolean directive alone means `true`. An unknown directive is an error.\n"
      "`publisher_jwt KEY ALG` and `subscriber_jwt KEY ALG` also set the algorithm.\n"
      "\n"
      "```\n"
      "# quicksilver.conf\n"
      "listen :3000\n"
      "hub_url https://example.com/.well-known/mercure\n"
      "publisher_jwt \"!ChangeThisMercureHubJWTSecretKey!\" HS256\n"
      "subscriber_jwt \"!ChangeThisMercureHubJWTSecretKey!\"\n"
      "anonymous\n"
      "cors_origins https://example.com https://app.example.com\n"
      "heartbeat 40s\n"
      "```\n"
      "\n"
      "## Values\n"
      "\n"
      "- **boolean**: `true`/`false`, `on`/`off`, `yes`/`no` or `1`/`0`.\n"
      "- **duration**: `0`, or numbers with units `ms`, `s`, `m`, `h` or `d`, such as `500ms`,\n"
      "  `25s`, `1h30m` or `1.5s`. A bare number other than 0 is an error.\n"
      "- **size**: bytes, with an optional unit: `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`,\n"
      "  `GiB` (powers of 1024), case-insensitive, such as `4096`, `512KB` or `1MiB`.\n"
      "- **list**: in the file, the values after the name, and repeated directives add to the list;\n"
      "  in the environment, items separated by commas or spaces; on the command line, items\n"
      "  separated by commas, and repeated flags add to the list. Unquoted items are also split\n"
      "  at commas. A source that sets a list replaces what earlier sources set.\n"
      "- Keys are never printed: the start-up log shows `<set>` instead.\n",
      out);

  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  const char *secs[32];
  size_t nsecs = qs_config_sections(secs, 32);
  for (size_t s = 0; s < nsecs; s++) {
    fprintf(out, "\n## %s\n\n| Option | Value | Default | Description |\n|---|---|---|---|\n", secs[s]);
    for (size_t i = 0; i < count; i++) {
      const qs_config_option_t *opt = &opts[i];
      if (strcmp(opt->section, secs[s]) != 0) continue;
      qs_buf_t b;
      qs_buf_init(&b, 8192);
      fprintf(out, "| `%s` | ", opt->name);
      md_kind(&b, opt);
      md_cell(out, b.ptr ? b.ptr : "");
      qs_buf_reset(&b);
      fputs(" | ", out);
      if (opt->default_value[0]) {
        fputc('`', out);
        md_cell(out, opt->default_value);
        fputc('`', out);
      } else {
        fputs("(empty)", out);
      }
      fputs(" | ", out);
      qs_buf_append_cstr(&b, opt->help);
      if (opt->env_alias) qs_buf_appendf(&b, " Also read from `%s`.", opt->env_alias);
      md_cell(out, b.ptr);
      fputs(" |\n", out);
      qs_buf_dispose(&b);
    }
  }

  fputs(
      "\n"
      "## Coming from the reference hub\n"
      "\n"
      "Some defaults differ from the reference hub's: `heartbeat` is 25s (40s there),\n"
      "`write_timeout` is off (600s there) and `max_topics_per_update` is 100 (1000 there). These\n"
      "reference hub directives are not recognized (an error): `name`, `public_urls`,\n"
      "`protocol_version_compatibility`, `subscriber_list_cache_size`, `debugger` and\n"
      "`playground`. Its `transport_url` (and `MERCURE_TRANSPORT_URL`) is read for a\n"
      "`redis://` URL, which means `transport redis` (see the option and docs/cluster.md); other\n"
      "schemes are refused. Its `issuer <id> { publisher { jwt KEY ALG } ... }` block is written\n"
      "on one line here: `issuer <id>;publisher_jwt=KEY;publisher_jwt_alg=ALG;...`. Its `transport`\n"
      "value `bolt` corresponds to `lmdb`. Its `local` transport keeps no history at all, while\n"
      "`memory` here keeps one, bounded by the History limits, until the hub stops; `transport\n"
      "memory` with `history_size 1` comes closest.\n",
      out);
}

/* ---- Start-up dump ---- */

int qs_config_dump(const qs_config_t *cfg, qs_buf_t *out) {
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  const char *secs[32];
  size_t nsecs = qs_config_sections(secs, 32);
  qs_buf_t value;
  qs_buf_init(&value, 64 * 1024);
  int rc = 0;
  for (size_t s = 0; s < nsecs && rc == 0; s++) {
    rc = qs_buf_appendf(out, "%s:", secs[s]);
    for (size_t i = 0; i < count && rc == 0; i++) {
      const qs_config_option_t *opt = &opts[i];
      if (strcmp(opt->section, secs[s]) != 0) continue;
      qs_buf_reset(&value);
      rc = qs_config_format_value(cfg, opt, &value);
      if (rc) break;
      const char *v = value.ptr ? value.ptr : "";
      if ((opt->flags & QS_OPT_SECRET) && v[0]) v = "<set>";
      bool quote = v[0] == '\0' || strpbrk(v, " \t\"") != NULL;
      rc = qs_buf_appendf(out, quote ? " %s=\"%s\"" : " %s=%s", opt->name, v);
    }
    if (rc == 0) rc = qs_buf_append_cstr(out, "\n");
  }
  qs_buf_dispose(&value);
  return rc;
}

/* ---- Derived hub URL ---- */

int qs_config_hub_url(const qs_config_t *cfg, uint16_t bound_port, qs_buf_t *out) {
  if (cfg->hub_url && cfg->hub_url[0]) return qs_buf_append_cstr(out, cfg->hub_url);
  char host[256];
  uint16_t port = 0;
  if (qs_config_split_listen(cfg->listen, host, sizeof host, &port) != 0) return QS_EINVAL;
  if (bound_port) port = bound_port;
  bool tls = cfg->tls_cert && cfg->tls_cert[0];
  bool any = host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
  const char *fmt = strchr(host, ':') ? "%s://[%s]:%u/.well-known/mercure" : "%s://%s:%u/.well-known/mercure";
  return qs_buf_appendf(out, fmt, tls ? "https" : "http", any ? "localhost" : host, (unsigned)port);
}
