#include "http/cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

struct qs_cors {
  qs_slice_t *origins; /* normalized, pointing into text */
  size_t count;
  bool any; /* "*" in the list */
  char max_age[24];
  char *text;
};

/* An origin entry is "null" or scheme "://" host [":" port], without path. */
static bool origin_entry_valid(qs_slice_t o) {
  if (qs_slice_eq_cstr(o, "null")) return true;
  const char *sep = NULL;
  for (size_t i = 0; i + 2 < o.len; i++)
    if (o.ptr[i] == ':' && o.ptr[i + 1] == '/' && o.ptr[i + 2] == '/') {
      sep = o.ptr + i;
      break;
    }
  if (!sep || sep == o.ptr) return false;
  const char *host = sep + 3, *end = o.ptr + o.len;
  if (host == end) return false;
  for (const char *p = host; p < end; p++)
    if (*p == '/' || *p == '?' || *p == '#' || *p == ' ' || *p == '\r' || *p == '\n') return false;
  return true;
}

int qs_cors_create(const char *const *origins, size_t count, uint32_t max_age_s, qs_cors_t **out) {
  qs_cors_t *c = calloc(1, sizeof *c);
  if (!c) return QS_ENOMEM;
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += strlen(origins[i]);
  c->text = malloc(total + 1);
  c->origins = calloc(count ? count : 1, sizeof *c->origins);
  if (!c->text || !c->origins) {
    qs_cors_destroy(c);
    return QS_ENOMEM;
  }
  size_t off = 0;
  for (size_t i = 0; i < count; i++) {
    qs_slice_t o = qs_slice_from_cstr(origins[i]);
    if (o.len && o.ptr[o.len - 1] == '/') o.len--;
    if (qs_slice_eq_cstr(o, "*")) {
      c->any = true;
      continue;
    }
    if (!o.len || !origin_entry_valid(o)) {
      qs_cors_destroy(c);
      return QS_EINVAL;
    }
    memcpy(c->text + off, o.ptr, o.len);
    c->origins[c->count++] = qs_slice(c->text + off, o.len);
    off += o.len;
  }
  snprintf(c->max_age, sizeof c->max_age, "%u", max_age_s ? max_age_s : 600u);
  *out = c;
  return 0;
}

void qs_cors_destroy(qs_cors_t *cors) {
  if (!cors) return;
  free(cors->origins);
  free(cors->text);
  free(cors);
}

bool qs_cors_origin_allowed(const qs_cors_t *cors, qs_slice_t origin) {
  if (!origin.len) return false;
  if (cors->any) return true;
  for (size_t i = 0; i < cors->count; i++)
    if (qs_slice_eq_nocase(cors->origins[i], origin)) return true;
  return false;
}

static qs_http_header_t header(const char *name, qs_slice_t value) {
  return (qs_http_header_t){qs_slice_from_cstr(name), value};
}

int qs_cors_apply(const qs_cors_t *cors, const qs_http_request_t *req, qs_http_header_t *out, size_t cap,
                  bool *is_preflight) {
  if (cap < QS_CORS_MAX_HEADERS) return QS_EINVAL;
  bool preflight = qs_http_request_method_is(req, "OPTIONS") && req->has_origin &&
                   qs_http_request_header(req, "access-control-request-method", NULL);
  if (is_preflight) *is_preflight = preflight;
  if (!cors || (!cors->any && !cors->count)) return 0;
  size_t n = 0;
  /* With "*" and no credentials the answer is the same for every origin. */
  if (!cors->any) out[n++] = header("Vary", qs_slice_from_cstr("Origin"));
  if (!req->has_origin || !qs_cors_origin_allowed(cors, req->origin)) return (int)n;
  if (cors->any) {
    out[n++] = header("Access-Control-Allow-Origin", qs_slice_from_cstr("*"));
  } else {
    out[n++] = header("Access-Control-Allow-Origin", req->origin);
    out[n++] = header("Access-Control-Allow-Credentials", qs_slice_from_cstr("true"));
  }
  if (preflight) {
    out[n++] = header("Access-Control-Allow-Methods", qs_slice_from_cstr("GET, HEAD, POST, QUERY, OPTIONS"));
    out[n++] = header("Access-Control-Allow-Headers",
                      qs_slice_from_cstr("authorization, cache-control, last-event-id, content-type"));
    out[n++] = header("Access-Control-Max-Age", qs_slice_from_cstr(cors->max_age));
  } else {
    out[n++] = header("Access-Control-Expose-Headers",
                      qs_slice_from_cstr("Link, Mercure-Last-Event-ID, Last-Event-ID, WWW-Authenticate"));
  }
  return (int)n;
}
