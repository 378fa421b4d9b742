#include "version_info.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <idn2.h>
#include <jansson.h>
#include <llhttp.h>
#include <lmdb.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <string.h>
#include <uv.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* One library: its run-time version (NULL when it reports none) and the one
 * of the headers it was built against. */
static void line(FILE *out, const char *name, const char *runtime, const char *built) {
  if (!runtime)
    fprintf(out, "  %-9s %s (from its headers: it reports no run-time version)\n", name, built);
  else if (strcmp(runtime, built) != 0)
    fprintf(out, "  %-9s %s (built against %s)\n", name, runtime, built);
  else
    fprintf(out, "  %-9s %s\n", name, runtime);
}

void qs_version_info_print(FILE *out) {
  fprintf(out, "quicksilver %s\n", QS_VERSION);
  fprintf(out, "libraries:\n");
  line(out, "libuv", uv_version_string(),
       STR(UV_VERSION_MAJOR) "." STR(UV_VERSION_MINOR) "." STR(UV_VERSION_PATCH));
  /* llhttp is compiled into the binary from Debian's sources. */
  line(out, "llhttp", NULL,
       STR(LLHTTP_VERSION_MAJOR) "." STR(LLHTTP_VERSION_MINOR) "." STR(LLHTTP_VERSION_PATCH));
  line(out, "nghttp2", nghttp2_version(0)->version_str, NGHTTP2_VERSION);
  line(out, "OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING), OPENSSL_VERSION_STR);
  line(out, "jansson", jansson_version_str(), JANSSON_VERSION);
  /* "10.42 2022-12-11": the version, then its date. */
  char pcre2[64] = "";
  if (pcre2_config(PCRE2_CONFIG_VERSION, pcre2) > 0) pcre2[strcspn(pcre2, " ")] = 0;
  line(out, "PCRE2", pcre2[0] ? pcre2 : NULL, STR(PCRE2_MAJOR) "." STR(PCRE2_MINOR));
  int major, minor, patch;
  mdb_version(&major, &minor, &patch);
  char lmdb[48];
  snprintf(lmdb, sizeof lmdb, "%d.%d.%d", major, minor, patch);
  line(out, "LMDB", lmdb, STR(MDB_VERSION_MAJOR) "." STR(MDB_VERSION_MINOR) "." STR(MDB_VERSION_PATCH));
  line(out, "libidn2", idn2_check_version(NULL), IDN2_VERSION);
  line(out, "hiredis", NULL, STR(HIREDIS_MAJOR) "." STR(HIREDIS_MINOR) "." STR(HIREDIS_PATCH));
  line(out, "libcurl", curl_version_info(CURLVERSION_NOW)->version, LIBCURL_VERSION);
}
