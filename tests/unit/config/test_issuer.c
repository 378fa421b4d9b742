/* The `issuer` option: qs_config_issuer_parse() and its use as a list option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "config/config.h"

static void items_parse_into_roles(void **state) {
  (void)state;
  qs_config_issuer_t is;
  const char *reason = NULL;
  assert_int_equal(qs_config_issuer_parse("https://idp.example;publisher_jwt=@/k.pem;publisher_jwt_alg=ES256;"
                                          "subscriber_jwks_url=https://idp.example/jwks;authorization_server",
                                          &is, &reason),
                   0);
  assert_true(qs_slice_eq_cstr(is.id, "https://idp.example"));
  assert_true(qs_slice_eq_cstr(is.publisher_jwt, "@/k.pem"));
  assert_true(qs_slice_eq_cstr(is.publisher_jwt_alg, "ES256"));
  assert_true(qs_slice_eq_cstr(is.subscriber_jwks_url, "https://idp.example/jwks"));
  assert_int_equal(is.subscriber_jwt.len, 0);
  assert_true(is.authorization_server);
  /* jwt, jwt_alg and jwks_url set both roles. */
  assert_int_equal(qs_config_issuer_parse("idp;jwt=secret=with=equals;jwt_alg=HS512", &is, &reason), 0);
  assert_true(qs_slice_eq_cstr(is.publisher_jwt, "secret=with=equals"));
  assert_true(qs_slice_eq_cstr(is.subscriber_jwt, "secret=with=equals"));
  assert_true(qs_slice_eq_cstr(is.subscriber_jwt_alg, "HS512"));
  assert_false(is.authorization_server);
}

static void bad_items_are_refused_without_their_keys(void **state) {
  (void)state;
  static const char *bad[] = {
      "",                                              /* no id */
      ";jwt=s",                                        /* empty id */
      "https://idp.example",                           /* no role */
      "idp;jwt=s;jwks_url=https://idp.example/jwks",   /* both for one role */
      "idp;jwt=s;jwt_alg=none",                        /* unknown algorithm */
      "idp;publisher_jwks_url=ftp://idp.example/jwks", /* not http(s) or file */
      "idp;jwt=",                                      /* empty value */
      "idp;key=s",                                     /* unknown setting */
      "idp;jwt=s;authorization_server=maybe",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    qs_config_issuer_t is;
    const char *reason = NULL;
    if (qs_config_issuer_parse(bad[i], &is, &reason) != QS_EINVAL) fail_msg("accepted '%s'", bad[i]);
    assert_non_null(reason);
    assert_null(strstr(reason, "s;")); /* reasons are static: no key bytes */
  }
}

static void issuers_come_from_flags_and_files(void **state) {
  (void)state;
  qs_config_t cfg;
  char err[512] = "";
  char *argv[] = {"quicksilver", "--issuer", "https://a;jwt=@/a.pem;jwt_alg=EdDSA", "--issuer",
                  "https://b;subscriber_jwks_url=file:///etc/b.json"};
  int rc = qs_config_load(&cfg, 5, argv, NULL, err, sizeof err);
  if (rc) fail_msg("%s", err);
  assert_int_equal(cfg.issuers.count, 2);
  assert_string_equal(cfg.issuers.items[1], "https://b;subscriber_jwks_url=file:///etc/b.json");
  qs_config_dispose(&cfg);
  assert_int_equal(qs_config_init_defaults(&cfg), 0);
  const char text[] =
      "issuer \"https://c;publisher_jwt=@/c.pem;publisher_jwt_alg=RS256\"\n"
      "issuer https://d;jwt=@/d.secret\n";
  assert_int_equal(qs_config_parse_text(&cfg, text, sizeof text - 1, "test.conf", err, sizeof err), 0);
  assert_int_equal(cfg.issuers.count, 2);
  assert_int_equal(qs_config_parse_text(&cfg, "issuer https://e\n", 17, "test.conf", err, sizeof err),
                   QS_EINVAL);
  assert_non_null(strstr(err, "line 1: issuer"));
  qs_config_dispose(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(items_parse_into_roles),
      cmocka_unit_test(bad_items_are_refused_without_their_keys),
      cmocka_unit_test(issuers_come_from_flags_and_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
