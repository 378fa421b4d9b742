/* GET / (and its scripts and style sheet): the operator's panel and a small
 * client. The page says what this hub is, charts what it does (from
 * /metrics, polled by /panel.js), lists the active subscriptions, explains a
 * pasted token (api/panel.c verifies it) and lets a person subscribe and
 * publish from the browser. Everything it uses is served here: the files of
 * src/api/assets/, embedded in the binary at build time. The
 * Content-Security-Policy (default-src 'self') allows nothing else, inline
 * scripts included. */

#include "api/api_internal.h"

static const struct {
  const char *path;
  const char *type;
  const char *body;
  const size_t *len;
} assets[] = {
    {"/", "text/html; charset=utf-8", qs_asset_index_html, &qs_asset_index_html_len},
    {"/ui.css", "text/css; charset=utf-8", qs_asset_ui_css, &qs_asset_ui_css_len},
    {"/ui.js", "text/javascript; charset=utf-8", qs_asset_ui_js, &qs_asset_ui_js_len},
    {"/panel.js", "text/javascript; charset=utf-8", qs_asset_panel_js, &qs_asset_panel_js_len},
};

bool qs_api_is_ui_path(qs_slice_t path) {
  for (size_t i = 0; i < sizeof assets / sizeof *assets; i++)
    if (qs_slice_eq_cstr(path, assets[i].path)) return true;
  return false;
}

void qs_api_ui(qs_api_worker_t *worker, qs_http_request_t *req) {
  size_t i = 0;
  while (i + 1 < sizeof assets / sizeof *assets && !qs_slice_eq_cstr(req->path, assets[i].path)) i++;
  if (!qs_slice_eq_cstr(req->path, assets[i].path)) i = 0;
  qs_api_headers_t h;
  qs_api_headers_init(&h, worker->api, req);
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr(assets[i].type));
  qs_http_respond(req, 200, h.items, h.count, qs_slice(assets[i].body, *assets[i].len));
}
