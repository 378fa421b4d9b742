/* GET / (and its scripts and style sheet): the operator's panel and a small
 * client. The page says what this hub is, charts what it does (from
 * /metrics, polled by /panel.js), lists the active subscriptions, explains a
 * pasted token (api/panel.c verifies it) and lets a person subscribe and
 * publish from the browser. Everything it uses is served here, embedded in
 * the binary; the Content-Security-Policy (default-src 'self') allows
 * nothing else, inline scripts included. */
#include <string.h>

#include "api/api_internal.h"

static const char page_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Quicksilver Mercure hub</title>\n"
    "<link rel=\"stylesheet\" href=\"/ui.css\"></head>\n"
    "<body><main>\n"
    "<h1>Quicksilver <small id=\"version\">" QS_VERSION
    "</small></h1>\n"
    "<p>A <a href=\"https://mercure.rocks\">Mercure</a> hub: publishers <code>POST</code> updates to <code "
    "id=\"hub-url\"></code>, subscribers keep a Server-Sent Events stream open on it.</p>\n"
    "<section id=\"panel\" data-state=\"loading\"><h2>Live</h2>\n"
    "<p id=\"panel-status\" role=\"status\">Connecting to the hub...</p>\n"
    "<div class=\"charts\">\n"
    "<figure class=\"chart\" id=\"chart-connections\"><figcaption>Open connections <b "
    "class=\"now\"></b></figcaption><canvas role=\"img\"></canvas></figure>\n"
    "<figure class=\"chart\" id=\"chart-subscribers\"><figcaption>Subscribers <b "
    "class=\"now\"></b></figcaption><canvas role=\"img\"></canvas></figure>\n"
    "<figure class=\"chart\" id=\"chart-publishes\"><figcaption>Publishes per second <b "
    "class=\"now\"></b></figcaption><canvas role=\"img\"></canvas></figure>\n"
    "<figure class=\"chart\" id=\"chart-deliveries\"><figcaption>Deliveries per second <b "
    "class=\"now\"></b></figcaption><canvas role=\"img\"></canvas></figure>\n"
    "</div>\n"
    "<p class=\"note\">The last five minutes, sampled every second from <a href=\"/metrics\">/metrics</a> "
    "while this page is open.</p>\n"
    "</section>\n"
    "<section id=\"subscriptions\"><h2>Active subscriptions</h2>\n"
    "<p id=\"subscriptions-off\">The <code>subscriptions</code> option is off: the hub keeps no list of "
    "subscriptions.</p>\n"
    "<div id=\"subscriptions-on\" hidden>\n"
    "<form id=\"subscriptions-form\">\n"
    "<label>Subscriber token granting <code>/.well-known/mercure/subscriptions/*</code> (kept in this page "
    "only)<input id=\"subscriptions-token\" name=\"token\" autocomplete=\"off\" "
    "spellcheck=\"false\"></label>\n"
    "<button type=\"submit\">Show</button>\n"
    "</form>\n"
    "<p id=\"subscriptions-status\" role=\"status\"></p>\n"
    "<table><thead><tr><th>Selector</th><th>Subscriber</th><th>Payload</th></tr></thead><tbody "
    "id=\"subscriptions-list\"></tbody></table>\n"
    "</div></section>\n"
    "<section id=\"token\"><h2>Explain a token</h2>\n"
    "<p>Decoded in this page; verified by this hub only (<code>POST /panel/token</code>), as "
    "<code>quicksilver token inspect</code> does. This hub expects <code>aud</code> <code "
    "id=\"expected-aud\"></code>.</p>\n"
    "<form id=\"token-form\">\n"
    "<label>Token<textarea name=\"token\" rows=\"3\" autocomplete=\"off\" "
    "spellcheck=\"false\"></textarea></label>\n"
    "<label>Topics to check (optional, one per line)<textarea name=\"topics\" "
    "rows=\"1\"></textarea></label>\n"
    "<button type=\"submit\">Explain</button>\n"
    "</form>\n"
    "<p id=\"token-status\" role=\"status\"></p>\n"
    "<div id=\"token-explain\"></div></section>\n"
    "<section><h2>Subscribe</h2>\n"
    "<form id=\"subscribe\">\n"
    "<label>Topic selectors (one per line)<textarea name=\"topics\" rows=\"2\">*</textarea></label>\n"
    "<label>Subscriber token (optional; sent as <code>Authorization: Bearer</code>)<input name=\"token\" "
    "autocomplete=\"off\"></label>\n"
    "<button type=\"submit\">Subscribe</button> <button type=\"button\" id=\"unsubscribe\">Stop</button>\n"
    "</form>\n"
    "<p id=\"subscribe-status\" role=\"status\">Not subscribed.</p>\n"
    "<ol id=\"events\"></ol></section>\n"
    "<section><h2>Publish</h2>\n"
    "<form id=\"publish\">\n"
    "<label>Topic<input name=\"topic\" value=\"https://example.com/books/1\"></label>\n"
    "<label>Data<textarea name=\"data\" rows=\"3\">{\"hello\":\"world\"}</textarea></label>\n"
    "<label><input type=\"checkbox\" name=\"private\"> Private</label>\n"
    "<label>Publisher token<input name=\"token\" autocomplete=\"off\"></label>\n"
    "<button type=\"submit\">Publish</button>\n"
    "</form>\n"
    "<p id=\"publish-status\" role=\"status\"></p></section>\n"
    "<p>Tokens: <code>quicksilver token --help</code>. Metrics at <a href=\"/metrics\">/metrics</a>.</p>\n"
    "</main><script src=\"/ui.js\"></script><script src=\"/panel.js\"></script></body></html>\n";

static const char page_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}\n"
    "main{max-width:60rem;margin:0 auto;padding:1rem 1.5rem}\n"
    "h1 small{font-size:.5em;color:#667}\n"
    "section{background:#fff;border:1px solid #dde;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}\n"
    "label{display:block;margin:.5rem 0}\n"
    "input:not([type=checkbox]),textarea{display:block;width:100%;box-sizing:border-box;font:inherit}\n"
    "#events li{font-family:monospace;white-space:pre-wrap;border-bottom:1px solid #eee}\n"
    "[role=status]{overflow-wrap:anywhere}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:.75rem}\n"
    ".chart{margin:0;border:1px solid #e4e6eb;border-radius:4px;padding:.25rem .5rem}\n"
    ".chart figcaption{font-size:.9rem;color:#445}\n"
    ".chart figcaption b{float:right;font-variant-numeric:tabular-nums;color:#1d232b}\n"
    ".chart canvas{display:block;width:100%;height:8rem}\n"
    ".note{font-size:.85rem;color:#667}\n"
    "table{border-collapse:collapse;width:100%;font-size:.85rem}\n"
    "th,td{text-align:left;border-bottom:1px solid #eee;padding:.2rem .4rem;overflow-wrap:anywhere}\n"
    "#token-explain ul{list-style:none;padding:0}\n"
    "#token-explain li{padding:.2rem 0;border-bottom:1px solid #f0f0f3;overflow-wrap:anywhere}\n"
    "#token-explain pre{margin:.2rem 0;background:#f6f7f9;padding:.4rem;overflow:auto}\n"
    "#token-explain .ok b{color:#1a7f37}\n"
    "#token-explain .bad b{color:#cf222e}\n"
    "#token-explain .warn b{color:#9a6700}\n";

static const struct {
  const char *path;
  const char *type;
  const char *body;
  const size_t *len; /* NULL: strlen(body) */
} assets[] = {
    {"/", "text/html; charset=utf-8", page_html, NULL},
    {"/ui.css", "text/css; charset=utf-8", page_css, NULL},
    {"/ui.js", "text/javascript; charset=utf-8", qs_api_ui_js, &qs_api_ui_js_len},
    {"/panel.js", "text/javascript; charset=utf-8", qs_api_panel_js, &qs_api_panel_js_len},
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
  size_t len = assets[i].len ? *assets[i].len : strlen(assets[i].body);
  qs_http_respond(req, 200, h.items, h.count, qs_slice(assets[i].body, len));
}
