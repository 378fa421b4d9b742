/* GET / (and its script and style sheet): a small page that says what this
 * hub is and lets a person subscribe and publish from the browser. Everything
 * it uses is served here; the Content-Security-Policy allows nothing else. */
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
    "<p>A <a href=\"https://mercure.rocks\">Mercure</a> hub: publishers <code>POST</code> updates to "
    "<code id=\"hub-url\"></code>, subscribers keep a Server-Sent Events stream open on it.</p>\n"
    "<section><h2>Subscribe</h2>\n"
    "<form id=\"subscribe\">\n"
    "<label>Topic selectors (one per line)<textarea name=\"topics\" rows=\"2\">*</textarea></label>\n"
    "<label>Subscriber token (optional; sent as <code>Authorization: Bearer</code>)"
    "<input name=\"token\" autocomplete=\"off\"></label>\n"
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
    "</main><script src=\"/ui.js\"></script></body></html>\n";

static const char page_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}\n"
    "main{max-width:48rem;margin:0 auto;padding:1rem 1.5rem}\n"
    "h1 small{font-size:.5em;color:#667}\n"
    "section{background:#fff;border:1px solid #dde;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}\n"
    "label{display:block;margin:.5rem 0}\n"
    "input:not([type=checkbox]),textarea{display:block;width:100%;box-sizing:border-box;font:inherit}\n"
    "#events li{font-family:monospace;white-space:pre-wrap;border-bottom:1px solid #eee}\n"
    "[role=status]{overflow-wrap:anywhere}\n";

/* The stream is read with fetch() so a bearer token can be sent. */
static const char page_js[] =
    "'use strict';\n"
    "const hub = new URL('/.well-known/mercure', location.href);\n"
    "document.getElementById('hub-url').textContent = hub.href;\n"
    "let controller = null;\n"
    "const status = (id, text) => { document.getElementById(id).textContent = text; };\n"
    "function addEvent(text) {\n"
    "  const li = document.createElement('li'); li.textContent = text;\n"
    "  document.getElementById('events').prepend(li);\n"
    "}\n"
    "function parseEvents(buffer, onEvent) {\n"
    "  let index;\n"
    "  while ((index = buffer.search(/\\r\\n\\r\\n|\\n\\n|\\r\\r/)) >= 0) {\n"
    "    const block = buffer.slice(0, index); buffer = buffer.slice(index).replace(/^(\\r\\n|\\n|\\r){2}/, "
    "'');\n"
    "    const event = { id: '', type: 'message', data: [] };\n"
    "    for (const line of block.split(/\\r\\n|\\n|\\r/)) {\n"
    "      if (line.startsWith(':') || line === '') continue;\n"
    "      const colon = line.indexOf(':');\n"
    "      const field = colon < 0 ? line : line.slice(0, colon);\n"
    "      let value = colon < 0 ? '' : line.slice(colon + 1); if (value.startsWith(' ')) value = "
    "value.slice(1);\n"
    "      if (field === 'data') event.data.push(value); else if (field === 'id') event.id = value;\n"
    "      else if (field === 'event') event.type = value;\n"
    "    }\n"
    "    if (event.data.length) onEvent(event);\n"
    "  }\n"
    "  return buffer;\n"
    "}\n"
    "document.getElementById('subscribe').addEventListener('submit', async (e) => {\n"
    "  e.preventDefault();\n"
    "  if (controller) controller.abort();\n"
    "  controller = new AbortController();\n"
    "  const form = new FormData(e.target);\n"
    "  const url = new URL(hub);\n"
    "  for (const t of form.get('topics').split('\\n').map((s) => s.trim()).filter(Boolean))\n"
    "    url.searchParams.append(/\\/:[A-Za-z_]/.test(t) ? 'match_urlpattern' : 'match', t);\n"
    "  const headers = {};\n"
    "  if (form.get('token')) headers.Authorization = 'Bearer ' + form.get('token');\n"
    "  try {\n"
    "    const response = await fetch(url, { headers, signal: controller.signal });\n"
    "    if (!response.ok) { status('subscribe-status', 'Refused: ' + response.status + ' ' + (await "
    "response.text())); return; }\n"
    "    status('subscribe-status', 'Subscribed to ' + url.search);\n"
    "    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();\n"
    "    let buffer = '';\n"
    "    for (;;) {\n"
    "      const { value, done } = await reader.read();\n"
    "      if (done) break;\n"
    "      buffer = parseEvents(buffer + value, (ev) => addEvent((ev.type !== 'message' ? ev.type + ' ' : "
    "'') + ev.id + '\\n' + ev.data.join('\\n')));\n"
    "    }\n"
    "    status('subscribe-status', 'The hub closed the stream.');\n"
    "  } catch (err) { if (err.name !== 'AbortError') status('subscribe-status', 'Error: ' + err.message); "
    "}\n"
    "});\n"
    "document.getElementById('unsubscribe').addEventListener('click', () => {\n"
    "  if (controller) controller.abort(); controller = null; status('subscribe-status', 'Not "
    "subscribed.');\n"
    "});\n"
    "document.getElementById('publish').addEventListener('submit', async (e) => {\n"
    "  e.preventDefault();\n"
    "  const form = new FormData(e.target);\n"
    "  const body = new URLSearchParams({ topic: form.get('topic'), data: form.get('data') });\n"
    "  if (form.get('private')) body.append('private', 'on');\n"
    "  const response = await fetch(hub, { method: 'POST', body, headers: { Authorization: 'Bearer ' + "
    "form.get('token') } });\n"
    "  const text = await response.text();\n"
    "  status('publish-status', response.ok ? 'Published: ' + text : 'Refused: ' + response.status + ' ' + "
    "text);\n"
    "});\n";

void qs_api_ui(qs_api_worker_t *worker, qs_http_request_t *req) {
  qs_api_headers_t h;
  qs_api_headers_init(&h, worker->api, req);
  const char *type = "text/html; charset=utf-8";
  qs_slice_t body = qs_slice(page_html, sizeof page_html - 1);
  if (qs_slice_eq_cstr(req->path, "/ui.js")) {
    type = "text/javascript; charset=utf-8";
    body = qs_slice(page_js, sizeof page_js - 1);
  } else if (qs_slice_eq_cstr(req->path, "/ui.css")) {
    type = "text/css; charset=utf-8";
    body = qs_slice(page_css, sizeof page_css - 1);
  }
  qs_api_headers_add(&h, "Content-Type", qs_slice_from_cstr(type));
  qs_http_respond(req, 200, h.items, h.count, body);
}
