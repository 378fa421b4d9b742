/* Loading the options table's values from defaults, a file, the environment
 * and the command line. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "config/config_internal.h"

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_VALUES_PER_LINE 256
#define ENV_PREFIX "QUICKSILVER_"

/* One source being applied: list options it has touched are replaced on
 * first touch and appended to afterwards. */
typedef struct {
  qs_config_t *cfg;
  unsigned char *lists_touched; /* one flag per table row */
  char *err;
  size_t errlen;
} source_t;

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return QS_EINVAL;
}

static size_t option_index(const qs_config_option_t *opt) {
  size_t count;
  return (size_t)(opt - qs_config_options(&count));
}

/* Records that a source (or the defaults, cleared afterwards) set `opt`. */
static void mark_set(qs_config_t *cfg, const qs_config_option_t *opt) {
  size_t idx = option_index(opt);
  cfg->set_rows[idx / 64] |= UINT64_C(1) << (idx % 64);
}

static bool row_was_set(const qs_config_t *cfg, const char *name) {
  size_t idx = option_index(qs_config_find_option(name));
  return (cfg->set_rows[idx / 64] >> (idx % 64)) & 1;
}

static int source_open(source_t *src, qs_config_t *cfg, char *err, size_t errlen) {
  size_t count;
  qs_config_options(&count);
  src->cfg = cfg;
  src->err = err;
  src->errlen = errlen;
  src->lists_touched = calloc(count, 1);
  return src->lists_touched ? 0 : QS_ENOMEM;
}

static void source_close(source_t *src) {
  free(src->lists_touched);
  src->lists_touched = NULL;
}

/* ---- Value parsers ---- */

static bool ascii_eq_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
  }
  return *a == *b;
}

static int parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"true", "on", "yes", "1"}, *const no[] = {"false", "off", "no", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (ascii_eq_nocase(s, yes[i])) return *out = true, 0;
    if (ascii_eq_nocase(s, no[i])) return *out = false, 0;
  }
  return QS_EINVAL;
}

static int parse_int(const char *s, int64_t *out) {
  if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1])))) return QS_EINVAL;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return QS_EINVAL;
  *out = v;
  return 0;
}

/* Reads digits and an optional fraction: whole, then frac/scale (scale a power
 * of ten up to 1e9; further fraction digits are ignored). */
static int parse_decimal(const char **pp, uint64_t *whole, uint64_t *frac, uint64_t *scale) {
  const char *p = *pp;
  bool digits = false;
  *whole = 0, *frac = 0, *scale = 1;
  for (; isdigit((unsigned char)*p); p++, digits = true) {
    if (__builtin_mul_overflow(*whole, 10, whole) || __builtin_add_overflow(*whole, *p - '0', whole))
      return QS_EINVAL;
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, digits = true) {
      if (*scale < 1000000000u) *frac = *frac * 10 + (uint64_t)(*p - '0'), *scale *= 10;
    }
  }
  if (!digits) return QS_EINVAL;
  *pp = p;
  return 0;
}

int qs_config_parse_duration(const char *s, uint64_t *out_ms) {
  static const struct {
    const char *unit;
    uint64_t ns;
  } units[] = {{"ns", 1},         {"us", 1000},       {"\xc2\xb5s", 1000},  {"ms", 1000000},
               {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000}, {"d", 86400000000000}};
  if (!s || !*s) return QS_EINVAL;
  if (strcmp(s, "0") == 0) return *out_ms = 0, 0;
  uint64_t total_ns = 0;
  const char *p = s;
  while (*p) {
    uint64_t whole, frac, scale;
    if (parse_decimal(&p, &whole, &frac, &scale)) return QS_EINVAL;
    size_t u = 0, n = sizeof units / sizeof units[0];
    /* "ms" must win over "m": a unit matches only when no letter follows it. */
    for (; u < n; u++) {
      size_t len = strlen(units[u].unit);
      if (strncmp(p, units[u].unit, len) == 0 && !isalpha((unsigned char)p[len])) break;
    }
    if (u == n) return QS_EINVAL;
    p += strlen(units[u].unit);
    uint64_t unit = units[u].ns, part;
    /* Units of a second or more are multiples of 1e9 and smaller ones are
     * powers of ten, so exactly one of these divisions is exact. */
    uint64_t frac_ns = unit >= scale ? frac * (unit / scale) : frac * unit / scale;
    if (__builtin_mul_overflow(whole, unit, &part) || __builtin_add_overflow(part, frac_ns, &part) ||
        __builtin_add_overflow(total_ns, part, &total_ns))
      return QS_EINVAL;
  }
  *out_ms = total_ns / 1000000 + (total_ns % 1000000 != 0);
  return 0;
}

int qs_config_parse_size(const char *s, uint64_t *out) {
  static const struct {
    const char *unit;
    uint64_t mult;
  } units[] = {{"", 1},
               {"b", 1},
               {"k", 1000},
               {"kb", 1000},
               {"ki", 1ull << 10},
               {"kib", 1ull << 10},
               {"m", 1000000},
               {"mb", 1000000},
               {"mi", 1ull << 20},
               {"mib", 1ull << 20},
               {"g", 1000000000},
               {"gb", 1000000000},
               {"gi", 1ull << 30},
               {"gib", 1ull << 30},
               {"t", 1000000000000},
               {"tb", 1000000000000},
               {"ti", 1ull << 40},
               {"tib", 1ull << 40}};
  if (!s) return QS_EINVAL;
  const char *p = s;
  uint64_t whole, frac, scale;
  if (parse_decimal(&p, &whole, &frac, &scale)) return QS_EINVAL;
  while (*p == ' ') p++;
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    if (!ascii_eq_nocase(p, units[u].unit)) continue;
    uint64_t mult = units[u].mult, v;
    uint64_t frac_bytes = (uint64_t)((long double)frac * (long double)mult / (long double)scale);
    if (__builtin_mul_overflow(whole, mult, &v) || __builtin_add_overflow(v, frac_bytes, &v))
      return QS_EINVAL;
    *out = v;
    return 0;
  }
  return QS_EINVAL;
}

/* ---- Setting one option ---- */

static const char *shown(const qs_config_option_t *opt, const char *value) {
  return (opt->flags & QS_OPT_SECRET) ? "<hidden>" : value;
}

static void choices_text(const char *const *choices, char *out, size_t size) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; choices[i] && used < size; i++) {
    int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", choices[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

static void format_bound(const qs_config_option_t *opt, int64_t v, char *out, size_t size) {
  if (opt->type == QS_OPT_SIZE) {
    qs_config_format_size((uint64_t)v, out, size);
  } else if (opt->type == QS_OPT_DURATION) {
    qs_config_format_duration((uint64_t)v, out, size);
  } else {
    snprintf(out, size, "%" PRId64, v);
  }
}

static int check_bounds(source_t *src, const char *prefix, const qs_config_option_t *opt, const char *value,
                        int64_t v) {
  char bound[32];
  if (v < opt->min) {
    format_bound(opt, opt->min, bound, sizeof bound);
    return fail(src->err, src->errlen, "%s'%s' is below the minimum %s", prefix, value, bound);
  }
  if (opt->max && v > opt->max) {
    format_bound(opt, opt->max, bound, sizeof bound);
    return fail(src->err, src->errlen, "%s'%s' is above the maximum %s", prefix, value, bound);
  }
  return 0;
}

static int set_string(char **field, const char *value) {
  char *copy = strdup(value);
  if (!copy) return QS_ENOMEM;
  free(*field);
  *field = copy;
  return 0;
}

static void list_clear(qs_config_list_t *list) {
  for (size_t i = 0; i < list->count; i++) free(list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = 0;
}

static int list_push(qs_config_list_t *list, const char *item, size_t len) {
  char *copy = strndup(item, len);
  if (!copy) return QS_ENOMEM;
  char **items = realloc(list->items, (list->count + 1) * sizeof *items);
  if (!items) {
    free(copy);
    return QS_ENOMEM;
  }
  items[list->count++] = copy;
  list->items = items;
  return 0;
}

/* Adds the items of `value` to a list option: split on commas, and on
 * whitespace too when `split_space`, unless `literal` (a quoted file value). */
static int add_list_items(source_t *src, const char *prefix, const qs_config_option_t *opt, const char *value,
                          bool literal, bool split_space) {
  qs_config_list_t *list = qs_config_field(src->cfg, opt);
  size_t idx = option_index(opt);
  mark_set(src->cfg, opt);
  if (!src->lists_touched[idx]) {
    list_clear(list);
    src->lists_touched[idx] = 1;
  }
  const char *p = value;
  while (*p) {
    size_t len = literal ? strlen(p) : strcspn(p, split_space ? ", \t\r\n" : ",");
    if (len > 0) {
      char item[2048];
      if (len >= sizeof item) return fail(src->err, src->errlen, "%sitem too long", prefix);
      memcpy(item, p, len);
      item[len] = '\0';
      const char *why = opt->validate ? opt->validate(item) : NULL;
      if (why) return fail(src->err, src->errlen, "%sinvalid item '%s': %s", prefix, shown(opt, item), why);
      int rc = list_push(list, p, len);
      if (rc) return rc;
    }
    p += len;
    if (*p) p++;
  }
  return 0;
}

/* Sets a non-list option from its text. `prefix` starts any error message. */
static int set_value(source_t *src, const char *prefix, const qs_config_option_t *opt, const char *value) {
  void *field = qs_config_field(src->cfg, opt);
  mark_set(src->cfg, opt);
  char list[256];
  switch (opt->type) {
    case QS_OPT_BOOL:
      if (parse_bool(value, field))
        return fail(src->err, src->errlen, "%sinvalid boolean '%s' (use true or false)", prefix, value);
      return 0;
    case QS_OPT_INT: {
      int64_t v;
      if (parse_int(value, &v)) return fail(src->err, src->errlen, "%sinvalid integer '%s'", prefix, value);
      if (check_bounds(src, prefix, opt, value, v)) return QS_EINVAL;
      *(int64_t *)field = v;
      return 0;
    }
    case QS_OPT_SIZE: {
      uint64_t v;
      if (qs_config_parse_size(value, &v) || v > INT64_MAX)
        return fail(src->err, src->errlen, "%sinvalid size '%s' (use e.g. 1MiB, 512KB or 4096)", prefix,
                    value);
      if (check_bounds(src, prefix, opt, value, (int64_t)v)) return QS_EINVAL;
      *(uint64_t *)field = v;
      return 0;
    }
    case QS_OPT_DURATION: {
      uint64_t v;
      if (qs_config_parse_duration(value, &v) || v > INT64_MAX)
        return fail(src->err, src->errlen, "%sinvalid duration '%s' (use e.g. 25s)", prefix, value);
      if (check_bounds(src, prefix, opt, value, (int64_t)v)) return QS_EINVAL;
      *(uint64_t *)field = v;
      return 0;
    }
    case QS_OPT_ENUM:
      for (int i = 0; opt->choices[i]; i++) {
        if (strcmp(value, opt->choices[i]) == 0) return *(int *)field = i, 0;
      }
      choices_text(opt->choices, list, sizeof list);
      return fail(src->err, src->errlen, "%sinvalid value '%s' (use one of %s)", prefix, value, list);
    case QS_OPT_STRING: {
      if (opt->choices) {
        bool found = false;
        for (int i = 0; opt->choices[i] && !found; i++) found = strcmp(value, opt->choices[i]) == 0;
        if (!found) {
          choices_text(opt->choices, list, sizeof list);
          return fail(src->err, src->errlen, "%sinvalid value '%s' (use one of %s)", prefix,
                      shown(opt, value), list);
        }
      }
      const char *why = opt->validate ? opt->validate(value) : NULL;
      if (why) return fail(src->err, src->errlen, "%sinvalid value '%s': %s", prefix, shown(opt, value), why);
      return set_string(field, value);
    }
    case QS_OPT_LIST:
      break;
  }
  return add_list_items(src, prefix, opt, value, false, false);
}

/* ---- Defaults and disposal ---- */

void qs_config_dispose(qs_config_t *cfg) {
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    void *field = qs_config_field(cfg, &opts[i]);
    if (opts[i].type == QS_OPT_STRING) {
      free(*(char **)field);
      *(char **)field = NULL;
    } else if (opts[i].type == QS_OPT_LIST) {
      list_clear(field);
    }
  }
  free(cfg->config_path);
  cfg->config_path = NULL;
}

int qs_config_init_defaults(qs_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  source_t src;
  char err[256];
  int rc = source_open(&src, cfg, err, sizeof err);
  for (size_t i = 0; i < count && rc == 0; i++) {
    /* A default that does not parse is a bug of the table, caught by the unit tests. */
    rc = set_value(&src, "", &opts[i], opts[i].default_value);
  }
  source_close(&src);
  /* Defaults are no source's choice. */
  memset(cfg->set_rows, 0, sizeof cfg->set_rows);
  return rc;
}

/* ---- Configuration file ---- */

typedef struct {
  char *s;
  bool quoted;
} token_t;

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits a NUL-terminated line in place. Returns 0, or QS_EINVAL with *why. */
static int tokenize(char *p, token_t *toks, size_t max, size_t *n, const char **why) {
  size_t count = 0;
  for (;;) {
    while (is_blank(*p)) p++;
    if (*p == '\0' || *p == '#') break;
    if (count == max) return *why = "too many values", QS_EINVAL;
    token_t *t = &toks[count++];
    if (*p == '"' || *p == '`') {
      char quote = *p++, *w = p;
      t->s = p;
      t->quoted = true;
      for (;;) {
        if (*p == '\0') return *why = "unterminated quote", QS_EINVAL;
        if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
          *w++ = p[1];
          p += 2;
        } else if (*p == quote) {
          p++;
          break;
        } else {
          *w++ = *p++;
        }
      }
      if (*p != '\0' && !is_blank(*p)) return *why = "a closing quote must end the value", QS_EINVAL;
      *w = '\0';
    } else {
      t->s = p;
      t->quoted = false;
      while (*p != '\0' && !is_blank(*p)) p++;
      if (*p != '\0') *p++ = '\0';
    }
  }
  *n = count;
  return 0;
}

static int apply_directive(source_t *src, const char *origin, size_t line_no, token_t *toks, size_t n) {
  char prefix[512];
  const qs_config_option_t *opt = qs_config_find_option(toks[0].s);
  if (!opt) {
    return fail(src->err, src->errlen, "%s line %zu: unknown directive '%.100s'", origin, line_no, toks[0].s);
  }
  snprintf(prefix, sizeof prefix, "%s line %zu: %s: ", origin, line_no, opt->name);
  size_t nv = n - 1;
  if (opt->type == QS_OPT_LIST) {
    if (nv == 0) return fail(src->err, src->errlen, "%smissing value", prefix);
    for (size_t i = 1; i < n; i++) {
      int rc = add_list_items(src, prefix, opt, toks[i].s, toks[i].quoted, false);
      if (rc) return rc;
    }
    return 0;
  }
  if (opt->type == QS_OPT_BOOL && nv == 0) return set_value(src, prefix, opt, "true");
  if (nv == 0) return fail(src->err, src->errlen, "%smissing value", prefix);
  if (nv > 2 || (nv == 2 && !opt->companion)) {
    return fail(src->err, src->errlen, "%sexpects %s value, got %zu", prefix,
                opt->companion ? "one or two" : "one", nv);
  }
  int rc = set_value(src, prefix, opt, toks[1].s);
  if (rc || nv == 1) return rc;
  const qs_config_option_t *companion = qs_config_find_option(opt->companion);
  snprintf(prefix, sizeof prefix, "%s line %zu: %s: ", origin, line_no, companion->name);
  return set_value(src, prefix, companion, toks[2].s);
}

int qs_config_parse_text(qs_config_t *cfg, const char *text, size_t len, const char *origin, char *err,
                         size_t errlen) {
  source_t src;
  int rc = source_open(&src, cfg, err, errlen);
  if (rc) return rc;
  token_t toks[MAX_VALUES_PER_LINE + 1];
  size_t line_no = 0, pos = 0;
  while (rc == 0 && pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t line_len = (nl ? (size_t)(nl - text) : len) - pos;
    line_no++;
    if (memchr(text + pos, '\0', line_len)) {
      rc = fail(err, errlen, "%s line %zu: NUL byte", origin, line_no);
      break;
    }
    char *line = strndup(text + pos, line_len);
    if (!line) {
      rc = QS_ENOMEM;
      break;
    }
    size_t n = 0;
    const char *why = NULL;
    if (tokenize(line, toks, MAX_VALUES_PER_LINE + 1, &n, &why)) {
      rc = fail(err, errlen, "%s line %zu: %s", origin, line_no, why);
    } else if (n > 0) {
      rc = apply_directive(&src, origin, line_no, toks, n);
    }
    free(line);
    pos += line_len + 1;
  }
  source_close(&src);
  return rc;
}

int qs_config_load_file(qs_config_t *cfg, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  char *text = malloc(MAX_FILE_BYTES + 1);
  if (!text) {
    fclose(f);
    return QS_ENOMEM;
  }
  size_t len = fread(text, 1, MAX_FILE_BYTES + 1, f);
  bool read_error = ferror(f);
  fclose(f);
  int rc;
  if (read_error) {
    rc = fail(err, errlen, "%s: read error", path);
  } else if (len > MAX_FILE_BYTES) {
    rc = fail(err, errlen, "%s: larger than 1 MiB", path);
  } else {
    rc = qs_config_parse_text(cfg, text, len, path, err, errlen);
  }
  free(text);
  return rc;
}

/* ---- Environment ---- */

static const char *env_lookup(char **env, const char *name) {
  size_t len = strlen(name);
  for (; env && *env; env++) {
    if (strncmp(*env, name, len) == 0 && (*env)[len] == '=') return *env + len + 1;
  }
  return NULL;
}

static int apply_env(source_t *src, char **env) {
  size_t count;
  const qs_config_option_t *opts = qs_config_options(&count);
  for (size_t i = 0; i < count; i++) {
    const qs_config_option_t *opt = &opts[i];
    char var[128], prefix[160];
    snprintf(var, sizeof var, ENV_PREFIX "%s", opt->name);
    for (char *c = var; *c; c++) *c = (char)toupper((unsigned char)*c);
    const char *value = env_lookup(env, var);
    if ((!value || !*value) && opt->env_alias) {
      value = env_lookup(env, opt->env_alias);
      snprintf(var, sizeof var, "%s", opt->env_alias);
    }
    if (!value || !*value) continue;
    snprintf(prefix, sizeof prefix, "%s: ", var);
    int rc = opt->type == QS_OPT_LIST ? add_list_items(src, prefix, opt, value, false, true)
                                      : set_value(src, prefix, opt, value);
    if (rc) return rc;
  }
  return 0;
}

/* ---- Command line ---- */

/* Walks the flags. With `config_only`, records --config and skips the rest;
 * otherwise applies table options and skips --config. */
static int apply_flags(source_t *src, int argc, char **argv, bool config_only) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
      return fail(src->err, src->errlen, "unexpected argument '%.100s' (options start with --)", arg);
    }
    char name[128];
    const char *eq = strchr(arg + 2, '=');
    size_t name_len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (name_len >= sizeof name) return fail(src->err, src->errlen, "%.100s: unknown option", arg);
    memcpy(name, arg + 2, name_len);
    name[name_len] = '\0';
    const char *value = eq ? eq + 1 : NULL;

    if (strcmp(name, "config") == 0) {
      if (!value && (value = i + 1 < argc ? argv[++i] : NULL) == NULL)
        return fail(src->err, src->errlen, "--config: missing value");
      if (config_only) {
        int rc = set_string(&src->cfg->config_path, value);
        if (rc) return rc;
      }
      continue;
    }
    const qs_config_option_t *opt = qs_config_find_option(name);
    bool negated = false;
    if (!opt && (strncmp(name, "no_", 3) == 0 || strncmp(name, "no-", 3) == 0)) {
      opt = qs_config_find_option(name + 3);
      if (opt && opt->type != QS_OPT_BOOL) opt = NULL;
      negated = opt != NULL;
    }
    if (!opt) return fail(src->err, src->errlen, "--%s: unknown option (see --help)", name);
    char prefix[160];
    snprintf(prefix, sizeof prefix, "--%s: ", negated ? name : opt->name);
    if (negated && value) return fail(src->err, src->errlen, "%stakes no value", prefix);
    if (opt->type == QS_OPT_BOOL && !value) value = negated ? "false" : "true";
    if (!value && (value = i + 1 < argc ? argv[++i] : NULL) == NULL)
      return fail(src->err, src->errlen, "%smissing value", prefix);
    if (config_only) continue;
    int rc = set_value(src, prefix, opt, value);
    if (rc) return rc;
  }
  return 0;
}

/* transport_url, the reference hub's spelling (its MERCURE_TRANSPORT_URL):
 * the option's check lets through redis:// URLs only, which stand for
 * `transport redis` with that redis_url. Our own options take precedence:
 * a redis_url set by any source is kept, and a transport set to something
 * else than redis is a contradiction, refused rather than guessed. */
static int resolve_transport_url(qs_config_t *cfg, char *err, size_t errlen) {
  if (cfg->transport_url[0] == '\0') return 0;
  if (row_was_set(cfg, "transport") && cfg->transport != QS_TRANSPORT_REDIS) {
    return fail(err, errlen,
                "transport_url (MERCURE_TRANSPORT_URL) names a Redis transport, but transport is set to %s; "
                "unset one of them",
                cfg->transport == QS_TRANSPORT_LMDB ? "lmdb" : "memory");
  }
  cfg->transport = QS_TRANSPORT_REDIS;
  if (row_was_set(cfg, "redis_url")) return 0;
  return set_string(&cfg->redis_url, cfg->transport_url);
}

/* Rules between options, checked once every source is applied. */
static int check_whole(const qs_config_t *cfg, char *err, size_t errlen) {
  if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
    return fail(err, errlen, "tls_cert and tls_key must be set together");
  if (cfg->transport == QS_TRANSPORT_LMDB && cfg->history_path[0] == '\0')
    return fail(err, errlen, "history_path: must not be empty with transport lmdb");
  return 0;
}

int qs_config_load(qs_config_t *cfg, int argc, char **argv, char **environ_like, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  int rc = qs_config_init_defaults(cfg);
  if (rc) return rc;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) cfg->help_requested = true;
    if (strcmp(argv[i], "--version") == 0) cfg->version_requested = true;
  }
  if (cfg->help_requested || cfg->version_requested) return 0;

  source_t src;
  rc = source_open(&src, cfg, err, errlen);
  if (rc) return rc;
  rc = apply_flags(&src, argc, argv, true);
  source_close(&src);
  if (rc == 0 && cfg->config_path) rc = qs_config_load_file(cfg, cfg->config_path, err, errlen);
  if (rc == 0 && (rc = source_open(&src, cfg, err, errlen)) == 0) {
    rc = apply_env(&src, environ_like);
    source_close(&src);
  }
  if (rc == 0 && (rc = source_open(&src, cfg, err, errlen)) == 0) {
    rc = apply_flags(&src, argc, argv, false);
    source_close(&src);
  }
  if (rc == 0) rc = resolve_transport_url(cfg, err, errlen);
  if (rc == 0) rc = check_whole(cfg, err, errlen);
  return rc;
}
