/* WHATWG URL parser: the full web-platform-tests urltestdata.json suite, plus
 * checks of the URL Pattern canonicalizers and the percent-encode helpers. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/error.h"
#include "match/url.h"

/* Entries counted as not applicable, each with its reason. Empty: every
 * entry of urltestdata.json is run. (The "searchParams" member of a few
 * entries describes URLSearchParams, an API rather than the parser; the other
 * members of those entries are checked.) */
static const struct {
  const char *input;
  const char *reason;
} not_applicable[] = {{NULL, NULL}};

static const char *na_reason(const char *input, size_t len) {
  for (size_t i = 0; not_applicable[i].input; i++)
    if (strlen(not_applicable[i].input) == len && memcmp(not_applicable[i].input, input, len) == 0)
      return not_applicable[i].reason;
  return NULL;
}

/* JSON with a lone UTF-16 surrogate escape ("\uD800") is valid JSON but
 * jansson refuses it; the URL API sees such strings as USVStrings, where a
 * lone surrogate becomes U+FFFD, so the escape is rewritten to "\uFFFD". */
static void replace_lone_surrogates(char *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] != 'u' || i + 6 > n) {
      i++; /* skip the escaped character */
      continue;
    }
    unsigned v = (unsigned)strtoul((char[5]){s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0}, NULL, 16);
    if (v >= 0xD800 && v <= 0xDBFF) {
      unsigned next = 0;
      if (i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u')
        next = (unsigned)strtoul((char[5]){s[i + 8], s[i + 9], s[i + 10], s[i + 11], 0}, NULL, 16);
      if (next >= 0xDC00 && next <= 0xDFFF) {
        i += 11; /* a valid pair */
        continue;
      }
      memcpy(s + i + 2, "FFFD", 4);
    } else if (v >= 0xDC00 && v <= 0xDFFF) {
      memcpy(s + i + 2, "FFFD", 4);
    }
    i += 5;
  }
}

static json_t *load_testdata(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  size_t got = fread(text, 1, (size_t)size, f);
  fclose(f);
  replace_lone_surrogates(text, got);
  json_error_t err;
  json_t *root = json_loadb(text, got, JSON_ALLOW_NUL, &err);
  free(text);
  if (!root) fprintf(stderr, "%s:%d: %s\n", path, err.line, err.text);
  return root;
}

static qs_slice_t jslice(json_t *s) { return qs_slice(json_string_value(s), json_string_length(s)); }

typedef int (*getter_t)(const qs_url_t *, qs_buf_t *);

static int get_href(const qs_url_t *u, qs_buf_t *o) { return qs_buf_append_cstr(o, u->href); }
static int get_username(const qs_url_t *u, qs_buf_t *o) { return qs_buf_append_cstr(o, u->username); }
static int get_password(const qs_url_t *u, qs_buf_t *o) { return qs_buf_append_cstr(o, u->password); }
static int get_pathname(const qs_url_t *u, qs_buf_t *o) { return qs_buf_append_cstr(o, u->path); }

static const struct {
  const char *name;
  getter_t get;
} getters[] = {
    {"href", get_href},         {"protocol", qs_url_get_protocol}, {"username", get_username},
    {"password", get_password}, {"host", qs_url_get_host},         {"hostname", qs_url_get_hostname},
    {"port", qs_url_get_port},  {"pathname", get_pathname},        {"search", qs_url_get_search},
    {"hash", qs_url_get_hash},
};

/* Runs one entry; returns true when it behaves as expected, printing why not. */
static bool run_entry(json_t *entry, size_t index) {
  json_t *input = json_object_get(entry, "input");
  json_t *base_value = json_object_get(entry, "base");
  bool expect_failure = json_is_true(json_object_get(entry, "failure"));
  qs_url_t base, url;
  bool have_base = json_is_string(base_value);
  int rc = 0;
  if (have_base) rc = qs_url_parse(jslice(base_value), NULL, &base);
  /* new URL(input, base) throws when the base itself fails to parse. */
  if (rc == 0)
    rc = qs_url_parse(jslice(input), have_base ? &base : NULL, &url);
  else
    qs_url_dispose(&base), have_base = false;
  bool ok = true;
  if (expect_failure || rc != 0) {
    if (!(expect_failure && rc == QS_EPARSE)) {
      printf("entry %zu input \"%s\" base \"%s\": expected %s, got %s\n", index, json_string_value(input),
             have_base ? json_string_value(base_value) : "(null)", expect_failure ? "failure" : "success",
             rc == 0 ? url.href : qs_strerror(rc));
      ok = false;
    }
  } else {
    for (size_t g = 0; g < sizeof getters / sizeof getters[0]; g++) {
      json_t *expected = json_object_get(entry, getters[g].name);
      if (!json_is_string(expected)) continue;
      qs_buf_t got;
      qs_buf_init(&got, 1 << 24);
      int grc = getters[g].get(&url, &got);
      if (grc != 0 || !qs_slice_eq(qs_buf_slice(&got), jslice(expected))) {
        printf("entry %zu input \"%s\": %s expected \"%s\", got \"%s\"\n", index, json_string_value(input),
               getters[g].name, json_string_value(expected), got.ptr ? got.ptr : "");
        ok = false;
      }
      qs_buf_dispose(&got);
    }
  }
  if (rc == 0) qs_url_dispose(&url);
  if (have_base) qs_url_dispose(&base);
  return ok;
}

/* U+0000 is a forbidden host code point; it must never cut a non-ASCII
 * domain short (libidn2 reads C strings), which would confuse hosts. */
static void nul_in_a_non_ascii_domain_fails(void **state) {
  (void)state;
  const char *inputs[] = {"http://a\0\xc3\xbc.com/", "http://\xc3\xbc\0.com/",
                          "file://\0@\xc4\xb0stanbul.tr"};
  const size_t lens[] = {16, 15, 21};
  for (size_t i = 0; i < 3; i++) {
    qs_url_t url;
    int rc = qs_url_parse(qs_slice(inputs[i], lens[i]), NULL, &url);
    if (rc == 0) {
      fail_msg("input %zu parsed as %s", i, url.href);
      qs_url_dispose(&url);
    }
  }
}

static void urltestdata_all_entries_pass(void **state) {
  (void)state;
  json_t *root = load_testdata(QS_SHARED_DIR "/testdata/wpt/urltestdata.json");
  assert_non_null(root);
  assert_true(json_is_array(root));
  size_t passed = 0, failed = 0, na = 0, comments = 0, index;
  json_t *entry;
  json_array_foreach(root, index, entry) {
    if (json_is_string(entry)) {
      comments++;
      continue;
    }
    json_t *input = json_object_get(entry, "input");
    assert_true(json_is_string(input));
    if (na_reason(json_string_value(input), json_string_length(input))) {
      na++;
      continue;
    }
    if (run_entry(entry, index))
      passed++;
    else
      failed++;
  }
  printf("urltestdata: %zu passed, %zu not applicable (none excluded), %zu failed, %zu comments\n", passed,
         na, failed, comments);
  json_decref(root);
  assert_int_equal(failed, 0);
  assert_true(passed > 600);
}

/* ---- Canonicalizers ---- */

typedef int (*canon_t)(qs_slice_t, qs_buf_t *);

static void expect_canon(canon_t fn, const char *value, int want_rc, const char *want) {
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  int rc = fn(qs_slice_from_cstr(value), &out);
  if (rc != want_rc || (rc == 0 && !qs_slice_eq_cstr(qs_buf_slice(&out), want)))
    fail_msg("value \"%s\": want rc %d \"%s\", got rc %d \"%s\"", value, want_rc, want ? want : "", rc,
             out.ptr ? out.ptr : "");
  qs_buf_dispose(&out);
}

typedef int (*canon_proto_t)(qs_slice_t, qs_slice_t, qs_buf_t *);

static void expect_canon_proto(canon_proto_t fn, const char *value, const char *protocol, int want_rc,
                               const char *want) {
  qs_buf_t out;
  qs_buf_init(&out, 4096);
  int rc = fn(qs_slice_from_cstr(value), qs_slice_from_cstr(protocol), &out);
  if (rc != want_rc || (rc == 0 && !qs_slice_eq_cstr(qs_buf_slice(&out), want)))
    fail_msg("value \"%s\" protocol \"%s\": want rc %d \"%s\", got rc %d \"%s\"", value, protocol, want_rc,
             want ? want : "", rc, out.ptr ? out.ptr : "");
  qs_buf_dispose(&out);
}

static void canonicalize_protocol_lowercases_and_rejects_invalid(void **state) {
  (void)state;
  expect_canon(qs_url_canonicalize_protocol, "HTTPS", 0, "https");
  expect_canon(qs_url_canonicalize_protocol, "web+Foo", 0, "web+foo");
  expect_canon(qs_url_canonicalize_protocol, "", 0, "");
  expect_canon(qs_url_canonicalize_protocol, "1http", QS_EPARSE, NULL);
  expect_canon(qs_url_canonicalize_protocol, "ht tp", QS_EPARSE, NULL);
}

static void canonicalize_userinfo_percent_encodes(void **state) {
  (void)state;
  expect_canon(qs_url_canonicalize_username, "a b:c@d", 0, "a%20b%3Ac%40d");
  expect_canon(qs_url_canonicalize_password, "p\xC3\xA9/", 0, "p%C3%A9%2F");
  expect_canon(qs_url_canonicalize_username, "", 0, "");
}

static void canonicalize_hostname_parses_hosts(void **state) {
  (void)state;
  expect_canon_proto(qs_url_canonicalize_hostname, "EXAMPLE.com", "https", 0, "example.com");
  expect_canon_proto(qs_url_canonicalize_hostname, "0x7f.1", "http", 0, "127.0.0.1");
  expect_canon_proto(qs_url_canonicalize_hostname, "[0:0::1]", "http", 0, "[::1]");
  expect_canon_proto(qs_url_canonicalize_hostname, "a b", "https", QS_EPARSE, NULL);
  expect_canon_proto(qs_url_canonicalize_hostname, "host:8080", "https", QS_EPARSE, NULL);
  /* Without a special protocol the host is opaque: case and percent kept. */
  expect_canon_proto(qs_url_canonicalize_hostname, "Ex%41mple", "", 0, "Ex%41mple");
  expect_canon_proto(qs_url_canonicalize_hostname, "caf\xC3\xA9.example", "https", 0, "xn--caf-dma.example");
  /* The hostname ends at a path delimiter, as in the hostname state. */
  expect_canon_proto(qs_url_canonicalize_hostname, "example.com/path", "https", 0, "example.com");
}

static void canonicalize_ipv6_hostname_checks_characters(void **state) {
  (void)state;
  expect_canon(qs_url_canonicalize_ipv6_hostname, "[::AB]", 0, "[::ab]");
  expect_canon(qs_url_canonicalize_ipv6_hostname, "[::g]", QS_EPARSE, NULL);
}

static void canonicalize_port_drops_default_and_checks_range(void **state) {
  (void)state;
  expect_canon_proto(qs_url_canonicalize_port, "8080", "", 0, "8080");
  expect_canon_proto(qs_url_canonicalize_port, "80", "http", 0, "");
  expect_canon_proto(qs_url_canonicalize_port, "80", "", 0, "80");
  expect_canon_proto(qs_url_canonicalize_port, "0443", "https", 0, "");
  expect_canon_proto(qs_url_canonicalize_port, "8080x", "", 0, "8080");
  expect_canon_proto(qs_url_canonicalize_port, "x", "", QS_EPARSE, NULL);
  expect_canon_proto(qs_url_canonicalize_port, "65536", "", QS_EPARSE, NULL);
  expect_canon_proto(qs_url_canonicalize_port, "", "http", 0, "");
}

static void canonicalize_pathname_resolves_dots_and_encodes(void **state) {
  (void)state;
  expect_canon(qs_url_canonicalize_pathname, "/a/./b/../c", 0, "/a/c");
  expect_canon(qs_url_canonicalize_pathname, "/a b/\xC3\xA9", 0, "/a%20b/%C3%A9");
  expect_canon(qs_url_canonicalize_pathname, "foo/bar", 0, "foo/bar");
  expect_canon(qs_url_canonicalize_pathname, "/a?b#c", 0, "/a%3Fb%23c");
  expect_canon(qs_url_canonicalize_pathname, "/%2e%2E/x", 0, "/x");
  expect_canon(qs_url_canonicalize_opaque_pathname, "a b\x01/../c", 0, "a b%01/../c");
}

static void canonicalize_search_and_hash_encode(void **state) {
  (void)state;
  expect_canon_proto(qs_url_canonicalize_search, "a=b c&d='#", "", 0, "a=b%20c&d='%23");
  expect_canon_proto(qs_url_canonicalize_search, "d='", "https", 0, "d=%27");
  expect_canon(qs_url_canonicalize_hash, "a b`#c", 0, "a%20b%60#c");
}

/* ---- Parsing API ---- */

static void parse_resolves_relative_reference(void **state) {
  (void)state;
  qs_url_t base, url;
  assert_int_equal(qs_url_parse(qs_slice_from_cstr("https://hub.example/.well-known/mercure"), NULL, &base),
                   0);
  assert_int_equal(qs_url_parse(qs_slice_from_cstr("../books/1?x#y"), &base, &url), 0);
  assert_string_equal(url.href, "https://hub.example/books/1?x#y");
  assert_string_equal(url.scheme, "https");
  assert_string_equal(url.host, "hub.example");
  assert_int_equal(url.port, -1);
  assert_string_equal(url.path, "/books/1");
  assert_string_equal(url.query, "x");
  assert_string_equal(url.fragment, "y");
  assert_false(url.opaque_path);
  qs_url_dispose(&url);
  qs_url_dispose(&url); /* twice is harmless */
  qs_url_dispose(&base);
}

static void parse_does_not_need_nul_termination(void **state) {
  (void)state;
  const char text[] = "http://a/bXXXX";
  qs_url_t url;
  assert_int_equal(qs_url_parse(qs_slice(text, 10), NULL, &url), 0);
  assert_string_equal(url.href, "http://a/b");
  qs_url_dispose(&url);
}

static void parse_rejects_relative_without_base_and_oversized_input(void **state) {
  (void)state;
  qs_url_t url;
  assert_int_equal(qs_url_parse(qs_slice_from_cstr("/just/a/path"), NULL, &url), QS_EPARSE);
  assert_null(url.href);
  size_t big = QS_URL_MAX_INPUT_BYTES + 1;
  char *text = malloc(big);
  memset(text, 'a', big);
  memcpy(text, "http://x/", 9);
  assert_int_equal(qs_url_parse(qs_slice(text, big), NULL, &url), QS_ETOOBIG);
  free(text);
}

static void special_schemes_and_default_ports(void **state) {
  (void)state;
  assert_true(qs_url_is_special_scheme(qs_slice_from_cstr("wss")));
  assert_false(qs_url_is_special_scheme(qs_slice_from_cstr("HTTP")));
  assert_false(qs_url_is_special_scheme(qs_slice_from_cstr("urn")));
  assert_int_equal(qs_url_default_port(qs_slice_from_cstr("https")), 443);
  assert_int_equal(qs_url_default_port(qs_slice_from_cstr("ftp")), 21);
  assert_int_equal(qs_url_default_port(qs_slice_from_cstr("file")), -1);
}

static void percent_encode_and_decode(void **state) {
  (void)state;
  qs_buf_t out;
  qs_buf_init(&out, 256);
  assert_int_equal(qs_url_percent_encode(qs_slice_from_cstr("a b/+\xC3\xA9"), QS_URL_SET_COMPONENT, &out), 0);
  assert_string_equal(out.ptr, "a%20b%2F%2B%C3%A9");
  qs_buf_reset(&out);
  assert_int_equal(qs_url_percent_decode(qs_slice_from_cstr("%41%zz%4"), &out), 0);
  assert_string_equal(out.ptr, "A%zz%4");
  qs_buf_dispose(&out);
  assert_true(qs_url_in_encode_set('\'', QS_URL_SET_SPECIAL_QUERY));
  assert_false(qs_url_in_encode_set('\'', QS_URL_SET_QUERY));
}

static void expect_href(const char *input, const char *want) {
  qs_url_t url;
  int rc = qs_url_parse(qs_slice_from_cstr(input), NULL, &url);
  if (want == NULL) {
    if (rc != QS_EPARSE) fail_msg("\"%s\": want failure, got rc %d", input, rc);
    if (rc == 0) qs_url_dispose(&url);
    return;
  }
  if (rc != 0) fail_msg("\"%s\": want \"%s\", got rc %d", input, want, rc);
  if (strcmp(url.href, want) != 0) fail_msg("\"%s\": want \"%s\", got \"%s\"", input, want, url.href);
  qs_url_dispose(&url);
}

static void idna_follows_uts46_where_libidn2_is_stricter(void **state) {
  (void)state;
  /* Symbols are valid in UTS #46 (IDNA2008 refuses them). */
  expect_href("http://\xE2\x98\x83.com/", "http://xn--n3h.com/");
  expect_href("http://xn--n3h.com/", "http://xn--n3h.com/");
  /* CheckHyphens is false. */
  expect_href("http://-\xC3\xB6.com/", "http://xn----1ga.com/");
  /* Non-transitional: sharp s is kept. */
  expect_href("http://fa\xC3\x9F.de/", "http://xn--fa-hia.de/");
  /* Invalid Punycode, an all-ASCII A-label and a lone zero width joiner fail. */
  expect_href("http://xn--a.com/", NULL);
  expect_href("http://xn--ab--.com/", NULL);
  expect_href("http://a.b\xE2\x80\x8D/", NULL);
  /* A noncharacter is disallowed. */
  expect_href("http://\xEF\xB7\x90zyx.com/", NULL);
}

static void non_ascii_label_keeps_ascii_symbols(void **state) {
  (void)state;
  /* UseSTD3ASCIIRules=false: ! $ & ' ( ) * + , ; = ~ are valid in a label and
   * a label mixing them with non-ASCII is Punycode-encoded as it is. */
  expect_href("http://\xC3\xBC~x/", "http://xn--~x-wka/");
  expect_href("http://\xC3\xBC!x/", "http://xn--!x-wka/");
  expect_href("http://\xC3\xBC'x/", "http://xn--'x-wka/");
  expect_href("http://\xC3\xBC=x/", "http://xn--=x-wka/");
  expect_href("http://\xC3\x9C~x/", "http://xn--~x-wka/");
  expect_href("http://~\xC3\xBC.com/", "http://xn--~-eha.com/");
  expect_href("http://\xC3\x9F~/", "http://xn--~-pfa/");
  /* The A-label is kept as it is; a zero width joiner still fails. */
  expect_href("http://xn--~x-wka/", "http://xn--~x-wka/");
  expect_href("http://\xC3\xBC~x\xE2\x80\x8D/", NULL);
}

static void opaque_path_space_before_query_survives_reparsing(void **state) {
  (void)state;
  expect_href("sc:a b ?q", "sc:a b%20?q");
  expect_href("sc:a b%20?q", "sc:a b%20?q");
  expect_href("sc:a  #f", "sc:a %20#f");
}

static void ipv4_and_ipv6_forms(void **state) {
  (void)state;
  expect_href("http://0x7f.1/", "http://127.0.0.1/");
  expect_href("http://017700000001/", "http://127.0.0.1/");
  expect_href("http://4294967296/", NULL);
  expect_href("http://[0:0:0:0:0:0:13.1.68.3]/", "http://[::d01:4403]/");
  expect_href("http://[1:0:0:2::3:0]/", "http://[1::2:0:0:3:0]/");
  expect_href("http://[1::2::3]/", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(urltestdata_all_entries_pass),
      cmocka_unit_test(nul_in_a_non_ascii_domain_fails),
      cmocka_unit_test(non_ascii_label_keeps_ascii_symbols),
      cmocka_unit_test(canonicalize_protocol_lowercases_and_rejects_invalid),
      cmocka_unit_test(canonicalize_userinfo_percent_encodes),
      cmocka_unit_test(canonicalize_hostname_parses_hosts),
      cmocka_unit_test(canonicalize_ipv6_hostname_checks_characters),
      cmocka_unit_test(canonicalize_port_drops_default_and_checks_range),
      cmocka_unit_test(canonicalize_pathname_resolves_dots_and_encodes),
      cmocka_unit_test(canonicalize_search_and_hash_encode),
      cmocka_unit_test(parse_resolves_relative_reference),
      cmocka_unit_test(parse_does_not_need_nul_termination),
      cmocka_unit_test(parse_rejects_relative_without_base_and_oversized_input),
      cmocka_unit_test(special_schemes_and_default_ports),
      cmocka_unit_test(percent_encode_and_decode),
      cmocka_unit_test(idna_follows_uts46_where_libidn2_is_stricter),
      cmocka_unit_test(opaque_path_space_before_query_survives_reparsing),
      cmocka_unit_test(ipv4_and_ipv6_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
