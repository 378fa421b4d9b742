/* RFC 6570 URI Templates as legacy selectors: every expansion example of
 * RFC 6570 §3.2 must be matched by its template, and what an expansion can
 * never produce must not be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/error.h"
#include "match/uritemplate.h"

/* The RFC's variables (§3.2):
 *   count := ("one", "two", "three")     dom := ("example", "com")
 *   dub := "me/too"  hello := "Hello World!"  half := "50%"  var := "value"
 *   who := "fred"  base := "http://example.com/home/"  path := "/foo/bar"
 *   list := ("red", "green", "blue")  keys := [("semi",";"),("dot","."),("comma",",")]
 *   v := "6"  x := "1024"  y := "768"  empty := ""  empty_keys := []  undef := null
 * and the expansions the RFC gives for them. */
typedef struct {
  const char *tmpl;
  const char *expansion;
} example_t;

static const example_t rfc_examples[] = {
    /* §3.2.1 variable expansion */
    {"{count}", "one,two,three"},
    {"{count*}", "one,two,three"},
    {"{/count}", "/one,two,three"},
    {"{/count*}", "/one/two/three"},
    {"{;count}", ";count=one,two,three"},
    {"{;count*}", ";count=one;count=two;count=three"},
    {"{?count}", "?count=one,two,three"},
    {"{?count*}", "?count=one&count=two&count=three"},
    {"{&count*}", "&count=one&count=two&count=three"},
    /* §3.2.2 simple string expansion */
    {"{var}", "value"},
    {"{hello}", "Hello%20World%21"},
    {"{half}", "50%25"},
    {"O{empty}X", "OX"},
    {"O{undef}X", "OX"},
    {"{x,y}", "1024,768"},
    {"{x,hello,y}", "1024,Hello%20World%21,768"},
    {"?{x,empty}", "?1024,"},
    {"?{x,undef}", "?1024"},
    {"?{undef,y}", "?768"},
    {"{var:3}", "val"},
    {"{var:30}", "value"},
    {"{list}", "red,green,blue"},
    {"{list*}", "red,green,blue"},
    {"{keys}", "semi,%3B,dot,.,comma,%2C"},
    {"{keys*}", "semi=%3B,dot=.,comma=%2C"},
    /* §3.2.3 reserved expansion */
    {"{+var}", "value"},
    {"{+hello}", "Hello%20World!"},
    {"{+half}", "50%25"},
    {"{base}index", "http%3A%2F%2Fexample.com%2Fhome%2Findex"},
    {"{+base}index", "http://example.com/home/index"},
    {"O{+empty}X", "OX"},
    {"O{+undef}X", "OX"},
    {"{+path}/here", "/foo/bar/here"},
    {"here?ref={+path}", "here?ref=/foo/bar"},
    {"up{+path}{var}/here", "up/foo/barvalue/here"},
    {"{+x,hello,y}", "1024,Hello%20World!,768"},
    {"{+path,x}/here", "/foo/bar,1024/here"},
    {"{+path:6}/here", "/foo/b/here"},
    {"{+list}", "red,green,blue"},
    {"{+list*}", "red,green,blue"},
    {"{+keys}", "semi,;,dot,.,comma,,"},
    {"{+keys*}", "semi=;,dot=.,comma=,"},
    /* §3.2.4 fragment expansion */
    {"{#var}", "#value"},
    {"{#hello}", "#Hello%20World!"},
    {"{#half}", "#50%25"},
    {"foo{#empty}", "foo#"},
    {"foo{#undef}", "foo"},
    {"{#x,hello,y}", "#1024,Hello%20World!,768"},
    {"{#path,x}/here", "#/foo/bar,1024/here"},
    {"{#path:6}/here", "#/foo/b/here"},
    {"{#list}", "#red,green,blue"},
    {"{#list*}", "#red,green,blue"},
    {"{#keys}", "#semi,;,dot,.,comma,,"},
    {"{#keys*}", "#semi=;,dot=.,comma=,"},
    /* §3.2.5 label expansion */
    {"{.who}", ".fred"},
    {"{.who,who}", ".fred.fred"},
    {"{.half,who}", ".50%25.fred"},
    {"www{.dom*}", "www.example.com"},
    {"X{.var}", "X.value"},
    {"X{.empty}", "X."},
    {"X{.undef}", "X"},
    {"X{.var:3}", "X.val"},
    {"X{.list}", "X.red,green,blue"},
    {"X{.list*}", "X.red.green.blue"},
    {"X{.keys}", "X.semi,%3B,dot,.,comma,%2C"},
    {"X{.keys*}", "X.semi=%3B.dot=..comma=%2C"},
    {"X{.empty_keys}", "X"},
    {"X{.empty_keys*}", "X"},
    /* §3.2.6 path segment expansion */
    {"{/who}", "/fred"},
    {"{/who,who}", "/fred/fred"},
    {"{/half,who}", "/50%25/fred"},
    {"{/who,dub}", "/fred/me%2Ftoo"},
    {"{/var}", "/value"},
    {"{/var,empty}", "/value/"},
    {"{/var,undef}", "/value"},
    {"{/var,x}/here", "/value/1024/here"},
    {"{/var:1,var}", "/v/value"},
    {"{/list}", "/red,green,blue"},
    {"{/list*}", "/red/green/blue"},
    {"{/list*,path:4}", "/red/green/blue/%2Ffoo"},
    {"{/keys}", "/semi,%3B,dot,.,comma,%2C"},
    {"{/keys*}", "/semi=%3B/dot=./comma=%2C"},
    /* §3.2.7 path-style parameter expansion */
    {"{;who}", ";who=fred"},
    {"{;half}", ";half=50%25"},
    {"{;empty}", ";empty"},
    {"{;v,empty,who}", ";v=6;empty;who=fred"},
    {"{;v,bar,who}", ";v=6;who=fred"},
    {"{;x,y}", ";x=1024;y=768"},
    {"{;x,y,empty}", ";x=1024;y=768;empty"},
    {"{;x,y,undef}", ";x=1024;y=768"},
    {"{;hello:5}", ";hello=Hello"},
    {"{;list}", ";list=red,green,blue"},
    {"{;list*}", ";list=red;list=green;list=blue"},
    {"{;keys}", ";keys=semi,%3B,dot,.,comma,%2C"},
    {"{;keys*}", ";semi=%3B;dot=.;comma=%2C"},
    /* §3.2.8 form-style query expansion */
    {"{?who}", "?who=fred"},
    {"{?half}", "?half=50%25"},
    {"{?x,y}", "?x=1024&y=768"},
    {"{?x,y,empty}", "?x=1024&y=768&empty="},
    {"{?x,y,undef}", "?x=1024&y=768"},
    {"{?var:3}", "?var=val"},
    {"{?list}", "?list=red,green,blue"},
    {"{?list*}", "?list=red&list=green&list=blue"},
    {"{?keys}", "?keys=semi,%3B,dot,.,comma,%2C"},
    {"{?keys*}", "?semi=%3B&dot=.&comma=%2C"},
    /* §3.2.9 form-style query continuation */
    {"{&who}", "&who=fred"},
    {"{&half}", "&half=50%25"},
    {"?fixed=yes{&x}", "?fixed=yes&x=1024"},
    {"{&x,y,empty}", "&x=1024&y=768&empty="},
    {"{&var:3}", "&var=val"},
    {"{&list}", "&list=red,green,blue"},
    {"{&list*}", "&list=red&list=green&list=blue"},
    {"{&keys}", "&keys=semi,%3B,dot,.,comma,%2C"},
    {"{&keys*}", "&semi=%3B&dot=.&comma=%2C"},
    /* §1.2 level examples and Mercure shapes */
    {"http://example.com/~{username}/", "http://example.com/~fred/"},
    {"http://example.com/dictionary/{term:1}/{term}", "http://example.com/dictionary/c/cat"},
    {"http://example.com/search{?q,lang}", "http://example.com/search?q=cat&lang=en"},
    {"https://example.com/books/{id}.jsonld", "https://example.com/books/1.jsonld"},
    {"https://example.com/users/{id}/books{/book}", "https://example.com/users/dunglas/books/1"},
};

static qs_uritemplate_t *compile(const char *tmpl) {
  qs_uritemplate_t *t = NULL;
  int rc = qs_uritemplate_create(qs_slice_from_cstr(tmpl), &t);
  if (rc != 0) fail_msg("template \"%s\" refused: %d", tmpl, rc);
  return t;
}

static void check(const char *tmpl, const char *topic, int want) {
  qs_uritemplate_t *t = compile(tmpl);
  int got = qs_uritemplate_match(t, qs_slice_from_cstr(topic));
  if (got != want) {
    qs_slice_t re = qs_uritemplate_regex_source(t);
    fail_msg("template \"%s\" topic \"%s\": got %d, want %d (regex %.*s)", tmpl, topic, got, want,
             (int)re.len, re.ptr);
  }
  qs_uritemplate_destroy(t);
}

/* Long values stay under the evaluation limits: value runs are unrolled. */
static void test_long_values_match(void **state) {
  (void)state;
  static char topic[20002];
  memset(topic, 'x', 20000);
  topic[20000] = '\0';
  check("{a}", topic, 1);
  topic[1000] = '\0';
  check("{a}{b}", topic, 1);
  memcpy(topic + 1000, ".json", 6);
  check("{+a}{+b}.json", topic, 1);
  topic[500] = '-';
  check("{a}-{b}.json", topic, 1);
  topic[500] = '/';
  check("{a}", topic, 0); /* '/' never in a simple value */
}

/* Reserved expressions whose classes overlap the literals between them
 * give backtracking so many ways to split a topic that it gives up before
 * finding this valid expansion (found by the differential test); the DFA
 * matcher that then decides finds it. */
static void test_expansion_beyond_backtracking_limits_matches(void **state) {
  (void)state;
  check("){+id}{+id1:1,b}{+keys}.json{?var*,v.w,a*}",
        ")%C3%BC,%F0%9F%92%A9*?,[).json?var=%C3%BC%3A%5D%60%7B%3D0%F0%9F%92%A9%27-%7C%2C"
        "&var=%28%5D%C3%BC%5EZ%24&v.w=a%20b2,%5E%23,%C3%BC7,~%5D%23a%3F&a=%24%20%5E%2C"
        "&a=%E2%82%AC%F0%9F%92%A9%25e2%2582%25ac.%23%3C%C3%BC%20%5B%2C%2B&a=",
        1);
  /* The same topic with a character no expression allows: no match. */
  check("){+id}{+id1:1,b}{+keys}.json{?var*,v.w,a*}",
        ")%C3%BC,%F0%9F%92%A9*?,[).json?var=%C3%BC%3A%5D%60%7B%3D0%F0%9F%92%A9%27-%7C%2C"
        "&var=%28%5D%C3%BC%5EZ%24&v.w=a%20b2,%5E%23,%C3%BC7,~%5D%23a%3F&a=%24%20%5E%2C"
        "&a=%E2%82%AC%F0%9F%92%A9%25e2%2582%25ac.%23%3C%C3%BC%20%5B%2C%2B&a=\"",
        0);
}

static void test_rfc6570_expansions_match(void **state) {
  (void)state;
  size_t n = sizeof rfc_examples / sizeof *rfc_examples;
  for (size_t i = 0; i < n; i++) check(rfc_examples[i].tmpl, rfc_examples[i].expansion, 1);
  printf("checked %zu RFC 6570 expansions\n", n);
}

static void test_every_expression_is_optional(void **state) {
  (void)state;
  check("{var}", "", 1);
  check("https://example.com/{a}/{b}", "https://example.com//", 1);
  check("{/list*}", "", 1);
  check("{?x,y}", "", 1);
  check("{#frag}", "", 1);
}

static void test_non_matches(void **state) {
  (void)state;
  /* A simple variable never crosses a "/" nor takes reserved characters. */
  check("https://example.com/books/{id}", "https://example.com/books/1/2", 0);
  check("{var}", "a?b", 0);
  check("{var}", "a#b", 0);
  check("{var}", "a b", 0);
  check("{var}", "caf\xc3\xa9", 0);
  check("{var}", "%zz", 0);
  check("{var}", "%4", 0);
  check("{/var}", "/a/b", 0);
  check("{.var}", ".a/b", 0);
  check("{;x}", ";y=1", 0);
  check("{?x,y}", "?z=1", 0);
  check("{?x}", "?x=a/b", 0);
  check("{&x}", "?x=1", 0);
  check("{#var}", "value", 0);
  check("{/var}", "value", 0);
  /* Literals are matched literally. */
  check("a.b{var}", "aXb", 0);
  check("a+b{var}", "aab", 0);
  check("(x){var}", "x", 0);
  check("https://example.com/books/{id}", "https://example.org/books/1", 0);
  check("https://example.com/books/{id}", "xhttps://example.com/books/1", 0);
  check("https://example.com/books/{id}", "https://example.com/books/1x/", 0);
}

static void test_reserved_expansion_crosses_slashes(void **state) {
  (void)state;
  check("https://example.com/{+path}", "https://example.com/a/b/c?d=e#f", 1);
  check("https://example.com/{#path}", "https://example.com/#a/b", 1);
  check("{+path}", "a b", 0);
  check("{+path}", "caf\xc3\xa9", 0);
}

static void test_literal_non_ascii_is_quoted(void **state) {
  (void)state;
  check("https://example.com/caf\xc3\xa9/{id}", "https://example.com/caf\xc3\xa9/1", 1);
  check("https://example.com/%C3%A9/{id}", "https://example.com/%C3%A9/1", 1);
}

static void test_invalid_templates_are_refused(void **state) {
  (void)state;
  const char *bad[] = {"{",       "}",        "{}",     "{var",     "var}",    "{=var}",
                       "{!var}",  "{@var}",   "{|var}", "{,var}",   "{var:0}", "{var:10000}",
                       "{a b}",   "{a..b}",   "{.}",    "{var*:3}", "{{var}}", "a b{var}",
                       "a'{var}", "%zz{var}", "a<{x}",  "{var,}",   "{,}",     "{var:}",
                       "{x}%",    "{va-r}",   "{var}}", "{%zz}",    "{x:3*}",  "a\\{x}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    qs_uritemplate_t *t = (qs_uritemplate_t *)&t;
    int rc = qs_uritemplate_create(qs_slice_from_cstr(bad[i]), &t);
    if (rc != QS_EPARSE) fail_msg("template \"%s\": got %d, want QS_EPARSE", bad[i], rc);
    assert_null(t);
  }
  /* Valid edge cases. */
  const char *good[] = {"{a.b}", "{%41b}", "{_}", "{x:9999}", "{x,y*,z:1}", "no-expression", "{A1}"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) qs_uritemplate_destroy(compile(good[i]));
}

static void test_literal_prefix(void **state) {
  (void)state;
  qs_uritemplate_t *t = compile("https://example.com/books/{id}{?q}");
  assert_true(qs_slice_eq_cstr(qs_uritemplate_literal_prefix(t), "https://example.com/books/"));
  qs_uritemplate_destroy(t);
  t = compile("{id}/x");
  assert_int_equal(qs_uritemplate_literal_prefix(t).len, 0);
  qs_uritemplate_destroy(t);
}

/* Many adjacent expressions compete for the same characters; a long
 * topic that fails at its end must come back (no match or limit) instead of
 * exploring every split. */
static void test_pathological_template_is_bounded(void **state) {
  (void)state;
  char tmpl[512] = "";
  for (int i = 0; i < 30; i++) strcat(tmpl, "{a}");
  char topic[4096];
  memset(topic, 'a', sizeof topic - 2);
  topic[sizeof topic - 2] = '/';
  topic[sizeof topic - 1] = '\0';
  qs_uritemplate_t *t = compile(tmpl);
  clock_t start = clock();
  int rc = qs_uritemplate_match(t, qs_slice_from_cstr(topic));
  double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
  printf("pathological template: rc %d after %.3f s\n", rc, seconds);
  if (rc != 0 && rc != QS_ELIMIT) fail_msg("got %d, want 0 or QS_ELIMIT", rc);
  qs_uritemplate_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc6570_expansions_match),
      cmocka_unit_test(test_long_values_match),
      cmocka_unit_test(test_expansion_beyond_backtracking_limits_matches),
      cmocka_unit_test(test_every_expression_is_optional),
      cmocka_unit_test(test_non_matches),
      cmocka_unit_test(test_reserved_expansion_crosses_slashes),
      cmocka_unit_test(test_literal_non_ascii_is_quoted),
      cmocka_unit_test(test_invalid_templates_are_refused),
      cmocka_unit_test(test_literal_prefix),
      cmocka_unit_test(test_pathological_template_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
