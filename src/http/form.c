#include "http/form.h"
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

void qs_form_init(qs_form_t *form) { *form = (qs_form_t){0}; }

void qs_form_dispose(qs_form_t *form) {
  free(form->pairs);
  free(form->bytes);
  qs_form_init(form);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* WHATWG "percent-decode" after '+' -> space; writes at most len bytes. */
static size_t decode(const char *in, size_t len, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '+') {
      out[o++] = ' ';
    } else if (c == '%' && i + 2 < len && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out[o++] = (char)(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return o;
}

/* Counts the non-empty '&'-separated pieces. */
static size_t count_pieces(qs_slice_t in) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= in.len; i++) {
    if (i == in.len || in.ptr[i] == '&') {
      if (i > start) n++;
      start = i + 1;
    }
  }
  return n;
}

int qs_form_parse_append(qs_slice_t input, const qs_form_limits_t *limits, qs_form_t *form) {
  size_t old_bytes = 0;
  for (size_t i = 0; i < form->count; i++) old_bytes += form->pairs[i].name.len + form->pairs[i].value.len;
  if (limits && (input.len > limits->max_bytes || old_bytes + input.len > limits->max_bytes))
    return QS_ETOOBIG;
  size_t pieces = count_pieces(input);
  if (limits && (pieces > limits->max_pairs || form->count + pieces > limits->max_pairs)) return QS_ETOOBIG;
  if (!pieces) return 0;

  /* One block holds every decoded byte (decoding never grows), so existing
   * pairs are moved into the new block. */
  char *bytes = malloc(old_bytes + input.len + 1);
  qs_form_pair_t *pairs = malloc((form->count + pieces) * sizeof *pairs);
  if (!bytes || !pairs) {
    free(bytes);
    free(pairs);
    return QS_ENOMEM;
  }
  size_t o = 0, n = 0;
  for (size_t i = 0; i < form->count; i++) {
    const qs_form_pair_t *p = &form->pairs[i];
    if (p->name.len) memcpy(bytes + o, p->name.ptr, p->name.len);
    pairs[n].name = qs_slice(bytes + o, p->name.len);
    o += p->name.len;
    if (p->value.len) memcpy(bytes + o, p->value.ptr, p->value.len);
    pairs[n].value = qs_slice(bytes + o, p->value.len);
    o += p->value.len;
    n++;
  }
  size_t start = 0;
  for (size_t i = 0; i <= input.len; i++) {
    if (i < input.len && input.ptr[i] != '&') continue;
    if (i > start) {
      const char *piece = input.ptr + start;
      size_t len = i - start;
      const char *eq = memchr(piece, '=', len);
      size_t name_len = eq ? (size_t)(eq - piece) : len;
      size_t d = decode(piece, name_len, bytes + o);
      pairs[n].name = qs_slice(bytes + o, d);
      o += d;
      if (eq) {
        d = decode(eq + 1, len - name_len - 1, bytes + o);
        pairs[n].value = qs_slice(bytes + o, d);
        o += d;
      } else {
        pairs[n].value = qs_slice(bytes + o, 0);
      }
      n++;
    }
    start = i + 1;
  }
  free(form->pairs);
  free(form->bytes);
  form->pairs = pairs;
  form->bytes = bytes;
  form->count = n;
  return 0;
}

int qs_form_parse(qs_slice_t input, const qs_form_limits_t *limits, qs_form_t *form) {
  qs_form_dispose(form);
  return qs_form_parse_append(input, limits, form);
}

bool qs_form_get(const qs_form_t *form, const char *name, qs_slice_t *value) {
  for (size_t i = 0; i < form->count; i++) {
    if (qs_slice_eq_cstr(form->pairs[i].name, name)) {
      if (value) *value = form->pairs[i].value;
      return true;
    }
  }
  return false;
}

size_t qs_form_count(const qs_form_t *form, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < form->count; i++)
    if (qs_slice_eq_cstr(form->pairs[i].name, name)) n++;
  return n;
}

/* RFC 9110 §8.3.1: media-type = type "/" subtype parameters. Only the type
 * and subtype decide; parameters (charset=...) are allowed and ignored. */
int qs_form_content_type(qs_slice_t ct) {
  size_t i = 0;
  while (i < ct.len && (ct.ptr[i] == ' ' || ct.ptr[i] == '\t')) i++;
  size_t type_start = i;
  while (i < ct.len && qs_http_is_tchar((unsigned char)ct.ptr[i])) i++;
  if (i == type_start || i >= ct.len || ct.ptr[i] != '/') return QS_EPARSE;
  i++;
  size_t sub_start = i;
  while (i < ct.len && qs_http_is_tchar((unsigned char)ct.ptr[i])) i++;
  if (i == sub_start) return QS_EPARSE;
  qs_slice_t media = qs_slice(ct.ptr + type_start, i - type_start);
  while (i < ct.len && (ct.ptr[i] == ' ' || ct.ptr[i] == '\t')) i++;
  if (i < ct.len && ct.ptr[i] != ';') return QS_EPARSE;
  return qs_slice_eq_nocase(media, qs_slice_from_cstr("application/x-www-form-urlencoded")) ? 1 : 0;
}
