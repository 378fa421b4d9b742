/* GET /.well-known/oauth-protected-resource<hub path>: OAuth 2.0 Protected
 * Resource Metadata (RFC 9728; Mercure draft, Protected Resource Metadata). */
#include <jansson.h>
#include <stdlib.h>

#include "api/api_internal.h"

void qs_api_metadata(qs_api_worker_t *worker, qs_http_request_t *req) {
  const qs_api_t *api = worker->api;
  const qs_config_t *config = api->config;
  json_t *doc = json_object();
  const char *resource = config->resource_identifier[0] ? config->resource_identifier : api->hub_url;
  json_object_set_new(doc, "resource", json_string(resource));
  /* RFC 6750 methods only: the cookie is advertised by mercure_cookie (Mercure draft). */
  json_object_set_new(doc, "bearer_methods_supported", json_pack("[s]", "header"));
  /* Issuers marked `authorization_server` (REF); omitted when none. */
  json_t *servers = json_array();
  for (size_t i = 0; servers && i < config->issuers.count; i++) {
    qs_config_issuer_t issuer;
    const char *reason;
    if (qs_config_issuer_parse(config->issuers.items[i], &issuer, &reason) == 0 &&
        issuer.authorization_server)
      json_array_append_new(servers, json_stringn(issuer.id.ptr, issuer.id.len));
  }
  if (json_array_size(servers))
    json_object_set_new(doc, "authorization_servers", servers);
  else
    json_decref(servers);
  json_object_set_new(doc, "authorization_details_types_supported",
                      json_pack("[s]", "https://mercure.rocks/authorization-detail"));
  json_object_set_new(doc, "mercure_cookie", json_string(config->cookie_name));
  json_object_set_new(doc, "mercure_matcher_types_supported", json_pack("[s,s]", "exact", "urlpattern"));
  if (config->subscriptions) json_object_set_new(doc, "mercure_subscriptions", json_true());
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  qs_api_headers_t h;
  qs_api_headers_init(&h, api, req);
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr("application/json"));
  qs_http_respond(req, 200, h.items, h.count, qs_slice_from_cstr(body ? body : "{}"));
  free(body);
}
