/* The C side of the differential tests (differential.test.js): reads one JSON
 * request per line on stdin and writes one JSON line per request on stdout,
 * flushed, so that a single child process serves a whole test run.
 *
 *   {"op":"url","input":S,"base":S|null}
 *     -> {"ok":false,"where":"base"|"input","error":E}
 *      | {"ok":true,"href":..,"protocol":..,"username":..,"password":..,
 *         "host":..,"hostname":..,"port":..,"pathname":..,"search":..,"hash":..}
 *   {"op":"urlpattern","pattern":S,"base":S|null,
 *    "input":S,"inputBase":S|null}                         (one input), or
 *    "inputs":[{"input":S,"inputBase":S|null},...]}        (several)
 *     -> {"ok":false,"error":E,"reason":R}
 *      | {"ok":true,"patterns":{"protocol":..,...,"hash":..},"hasRegExpGroups":B,
 *         "results":[{"test":B|"limit","exec":null|
 *                      {"protocol":{"input":..,"groups":{"name":S|null}},...}}]}
 *   {"op":"uritemplate","template":S,"topic":S} or "topics":[S,...]
 *     -> {"ok":false,"error":E} | {"ok":true,"matches":[B|"limit",...]}
 *
 * Strings may hold U+0000 (JSON "\u0000"). A string the engine returns that is
 * not valid UTF-8 is written as {"invalidUtf8Hex":"..."}, which never equals
 * what JavaScript returns, so the test reports it. A malformed request gets
 * {"ok":false,"error":"bad request"}. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/slice.h"
#include "match/uritemplate.h"
#include "match/url.h"
#include "match/urlpattern.h"

#define ORACLE_MAX_OUT ((size_t)1 << 20)

static json_t *str_value(const char *p, size_t len) {
  json_t *s = json_stringn(p ? p : "", p ? len : 0);
  if (s) return s;
  /* Not valid UTF-8: a value JavaScript can never produce. */
  static const char hex[] = "0123456789abcdef";
  char *h = malloc(len * 2 + 1);
  if (!h) abort();
  for (size_t i = 0; i < len; i++) {
    h[2 * i] = hex[(unsigned char)p[i] >> 4];
    h[2 * i + 1] = hex[(unsigned char)p[i] & 15];
  }
  h[len * 2] = '\0';
  json_t *o = json_pack("{s:s}", "invalidUtf8Hex", h);
  free(h);
  return o;
}

static json_t *str_cstr(const char *s) { return str_value(s, s ? strlen(s) : 0); }

/* A request member that must be a string (or, when `nullable`, null/absent). */
static int get_string(json_t *req, const char *key, bool nullable, qs_slice_t *out, bool *present) {
  json_t *v = json_object_get(req, key);
  *present = false;
  if (!v || json_is_null(v)) return nullable ? 0 : -1;
  if (!json_is_string(v)) return -1;
  *out = (qs_slice_t){json_string_value(v), json_string_length(v)};
  *present = true;
  return 0;
}

typedef int (*getter_fn)(const qs_url_t *, qs_buf_t *);

static void set_getter(json_t *o, const char *key, getter_fn fn, const qs_url_t *url) {
  qs_buf_t b;
  qs_buf_init(&b, ORACLE_MAX_OUT);
  int rc = fn(url, &b);
  json_object_set_new(o, key,
                      rc == 0 ? str_value(b.ptr, b.len) : json_pack("{s:s}", "error", qs_strerror(rc)));
  qs_buf_dispose(&b);
}

static json_t *op_url(json_t *req) {
  qs_slice_t input, base;
  bool has_input, has_base;
  if (get_string(req, "input", false, &input, &has_input) || get_string(req, "base", true, &base, &has_base))
    return json_pack("{s:b,s:s}", "ok", 0, "error", "bad request");
  qs_url_t base_url = {0}, url = {0};
  if (has_base) {
    int rc = qs_url_parse(base, NULL, &base_url);
    if (rc != 0) return json_pack("{s:b,s:s,s:s}", "ok", 0, "where", "base", "error", qs_strerror(rc));
  }
  int rc = qs_url_parse(input, has_base ? &base_url : NULL, &url);
  qs_url_dispose(&base_url);
  if (rc != 0) return json_pack("{s:b,s:s,s:s}", "ok", 0, "where", "input", "error", qs_strerror(rc));
  json_t *o = json_pack("{s:b}", "ok", 1);
  json_object_set_new(o, "href", str_cstr(url.href));
  set_getter(o, "protocol", qs_url_get_protocol, &url);
  json_object_set_new(o, "username", str_cstr(url.username));
  json_object_set_new(o, "password", str_cstr(url.password));
  set_getter(o, "host", qs_url_get_host, &url);
  set_getter(o, "hostname", qs_url_get_hostname, &url);
  set_getter(o, "port", qs_url_get_port, &url);
  json_object_set_new(o, "pathname", str_cstr(url.path));
  set_getter(o, "search", qs_url_get_search, &url);
  set_getter(o, "hash", qs_url_get_hash, &url);
  qs_url_dispose(&url);
  return o;
}

static json_t *exec_result(const qs_urlpattern_result_t *r) {
  json_t *o = json_object();
  for (int c = 0; c < QS_URLPATTERN_COMPONENTS; c++) {
    json_t *groups = json_object();
    for (size_t i = 0; i < r->group_count[c]; i++) {
      const qs_urlpattern_group_t *g = &r->groups[c][i];
      char *name = strndup(g->name.ptr ? g->name.ptr : "", g->name.len);
      if (!name) abort();
      json_object_set_new(groups, name, g->matched ? str_value(g->value.ptr, g->value.len) : json_null());
      free(name);
    }
    json_t *comp = json_object();
    json_object_set_new(comp, "input", str_value(r->input[c].ptr, r->input[c].len));
    json_object_set_new(comp, "groups", groups);
    json_object_set_new(o, qs_urlpattern_component_name((qs_urlpattern_component_t)c), comp);
  }
  return o;
}

static json_t *run_input(const qs_urlpattern_t *p, json_t *item) {
  qs_slice_t input, base;
  bool has_input, has_base;
  if (!json_is_object(item) || get_string(item, "input", false, &input, &has_input) ||
      get_string(item, "inputBase", true, &base, &has_base))
    return json_pack("{s:s}", "error", "bad request");
  json_t *o = json_object();
  int t = qs_urlpattern_test(p, input, has_base ? &base : NULL);
  json_object_set_new(o, "test",
                      t == 1           ? json_true()
                      : t == 0         ? json_false()
                      : t == QS_ELIMIT ? json_string("limit")
                                       : json_string(qs_strerror(t)));
  qs_urlpattern_result_t r;
  memset(&r, 0, sizeof r);
  int e = qs_urlpattern_exec(p, input, has_base ? &base : NULL, NULL, &r);
  if (e == 1) {
    json_object_set_new(o, "exec", exec_result(&r));
    qs_urlpattern_result_dispose(&r);
  } else if (e == 0) {
    json_object_set_new(o, "exec", json_null());
  } else {
    json_object_set_new(o, "exec", json_pack("{s:s}", "error", qs_strerror(e)));
  }
  return o;
}

static json_t *op_urlpattern(json_t *req) {
  qs_slice_t pattern, base;
  bool has_pattern, has_base;
  if (get_string(req, "pattern", false, &pattern, &has_pattern) ||
      get_string(req, "base", true, &base, &has_base))
    return json_pack("{s:b,s:s}", "ok", 0, "error", "bad request");
  qs_urlpattern_t *p = NULL;
  const char *reason = NULL;
  int rc = qs_urlpattern_create(pattern, has_base ? &base : NULL, &p, &reason);
  if (rc != 0)
    return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", qs_strerror(rc), "reason", reason ? reason : "");
  json_t *o = json_pack("{s:b}", "ok", 1);
  json_t *patterns = json_object();
  for (int c = 0; c < QS_URLPATTERN_COMPONENTS; c++) {
    qs_slice_t s = qs_urlpattern_component_pattern(p, (qs_urlpattern_component_t)c);
    json_object_set_new(patterns, qs_urlpattern_component_name((qs_urlpattern_component_t)c),
                        str_value(s.ptr, s.len));
  }
  json_object_set_new(o, "patterns", patterns);
  json_object_set_new(o, "hasRegExpGroups", json_boolean(qs_urlpattern_has_regexp_groups(p)));
  json_t *results = json_array();
  json_t *inputs = json_object_get(req, "inputs");
  if (json_is_array(inputs)) {
    size_t i;
    json_t *item;
    json_array_foreach(inputs, i, item) json_array_append_new(results, run_input(p, item));
  } else if (json_object_get(req, "input")) {
    json_array_append_new(results, run_input(p, req));
  }
  json_object_set_new(o, "results", results);
  qs_urlpattern_destroy(p);
  return o;
}

static json_t *match_topic(const qs_uritemplate_t *t, json_t *topic) {
  if (!json_is_string(topic)) return json_string("bad request");
  int rc = qs_uritemplate_match(t, (qs_slice_t){json_string_value(topic), json_string_length(topic)});
  return rc == 1   ? json_true()
         : rc == 0 ? json_false()
                   : json_string(rc == QS_ELIMIT ? "limit" : qs_strerror(rc));
}

static json_t *op_uritemplate(json_t *req) {
  qs_slice_t tmpl;
  bool has_tmpl;
  if (get_string(req, "template", false, &tmpl, &has_tmpl))
    return json_pack("{s:b,s:s}", "ok", 0, "error", "bad request");
  qs_uritemplate_t *t = NULL;
  int rc = qs_uritemplate_create(tmpl, &t);
  if (rc != 0) return json_pack("{s:b,s:s}", "ok", 0, "error", qs_strerror(rc));
  json_t *matches = json_array();
  json_t *topics = json_object_get(req, "topics");
  if (json_is_array(topics)) {
    size_t i;
    json_t *item;
    json_array_foreach(topics, i, item) json_array_append_new(matches, match_topic(t, item));
  } else if (json_object_get(req, "topic")) {
    json_array_append_new(matches, match_topic(t, json_object_get(req, "topic")));
  }
  qs_slice_t re = qs_uritemplate_regex_source(t);
  json_t *o = json_pack("{s:b,s:o,s:o}", "ok", 1, "matches", matches, "regex", str_value(re.ptr, re.len));
  qs_uritemplate_destroy(t);
  return o;
}

int main(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n == 0 || (n == 1 && line[0] == '\n')) continue;
    json_error_t err;
    json_t *req = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
    json_t *resp;
    const char *op = req ? json_string_value(json_object_get(req, "op")) : NULL;
    if (!op)
      resp = json_pack("{s:b,s:s}", "ok", 0, "error", "bad request");
    else if (strcmp(op, "url") == 0)
      resp = op_url(req);
    else if (strcmp(op, "urlpattern") == 0)
      resp = op_urlpattern(req);
    else if (strcmp(op, "uritemplate") == 0)
      resp = op_uritemplate(req);
    else
      resp = json_pack("{s:b,s:s}", "ok", 0, "error", "unknown op");
    json_t *id = req ? json_object_get(req, "id") : NULL;
    if (id) json_object_set(resp, "id", id);
    char *text = json_dumps(resp, JSON_COMPACT);
    if (!text) abort();
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
    json_decref(resp);
    json_decref(req);
  }
  free(line);
  return 0;
}
