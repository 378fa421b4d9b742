/* Feeds arbitrary bytes to the HTTP/1.x request parser as a connection
 * would: in pieces (the first byte picks the piece size), carrying
 * unconsumed bytes over, taking each request, and parsing its query and body
 * as forms. Small limits make the caps reachable. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/form.h"
#include "http/http1_internal.h"

static void use_request(qs_h1_request_t *r) {
  const qs_http_request_t *q = &r->pub;
  qs_slice_t values[4];
  qs_http_request_header_values(q, "x-multi", values, 4);
  qs_http_request_header(q, "content-type", NULL);
  qs_form_limits_t fl = {.max_pairs = 16, .max_bytes = 256};
  qs_form_t form;
  qs_form_init(&form);
  qs_form_parse(q->query, &fl, &form);
  qs_form_parse_append(q->body, &fl, &form);
  qs_form_get(&form, "match", NULL);
  qs_form_dispose(&form);
  qs_slice_t ct;
  if (qs_http_request_header(q, "content-type", &ct)) qs_form_content_type(ct);
  /* touch every byte the request claims to own */
  volatile size_t sum = q->method.len + q->path.len + q->query.len + q->origin.len;
  for (size_t i = 0; i < q->header_count; i++)
    sum += (size_t)q->headers[i].name.ptr[0] + q->headers[i].value.len;
  for (size_t i = 0; i < q->body.len; i++) sum += (unsigned char)q->body.ptr[i];
  (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)(data[0] % 64) + 1;
  data++, size--;
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  qs_http_limits_t limits;
  qs_http_limits_default(&limits);
  limits.max_header_bytes = 1024;
  limits.max_header_count = 16;
  limits.max_body_bytes = 512;
  qs_h1_parser_t *p = qs_h1_parser_create(&limits);
  size_t off = 0, avail = 0;
  while (p && off < size) {
    avail = avail + step > size - off ? size - off : avail + step;
    size_t used = 0;
    qs_h1_event_t ev = qs_h1_parser_feed(p, buf + off, avail, &used);
    off += used;
    avail -= used;
    if (ev == QS_H1_ERROR) {
      qs_h1_parser_status(p, NULL);
      break;
    }
    if (ev == QS_H1_REQUEST) {
      qs_h1_request_t *r = qs_h1_parser_take(p);
      use_request(r);
      bool stop = r->upgrade;
      qs_h1_request_destroy(r);
      if (stop) break;
    }
    if (ev == QS_H1_NEED_MORE && used == 0 && avail == size - off) break; /* nothing more to give */
  }
  qs_h1_parser_destroy(p);
  free(buf);
  return 0;
}
