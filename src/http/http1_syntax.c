/* RFC 9112 message-head syntax, one byte at a time (see http1_syntax.h).
 *
 *   request-line = method SP request-target SP HTTP-version CRLF   (3)
 *   field-line   = field-name ":" OWS field-value OWS CRLF         (5)
 *
 * One space exactly between the parts, CRLF exactly as line end (a bare CR
 * or LF is refused rather than read as a line end, 2.2), no whitespace
 * before a field's colon (5.1), no obs-fold (5.2). Empty lines before the
 * request line are skipped (2.2). */
#include "http/http1_syntax.h"

#include "http/http.h"

enum {
  S_START = 0,    /* before the request line (empty lines allowed) */
  S_START_LF,     /* an empty line's CR was seen */
  S_METHOD,       /* in the method */
  S_TARGET_BEGIN, /* after the method's SP */
  S_TARGET,       /* in the request target */
  S_VERSION,      /* after the target's SP: "HTTP/x.y" */
  S_LINE_LF,      /* a line's CR was seen */
  S_FIELD_BEGIN,  /* at the start of a field line, or of the final empty line */
  S_FIELD_NAME,   /* in a field name */
  S_FIELD_VALUE,  /* after the colon */
  S_END_LF,       /* the final empty line's CR was seen */
  S_DONE,         /* the head is complete */
  S_FAILED,
};

static const char http_slash[] = "HTTP/";

void qs_h1_syntax_reset(qs_h1_syntax_t *syntax) { *syntax = (qs_h1_syntax_t){0}; }

bool qs_h1_syntax_head_done(const qs_h1_syntax_t *syntax) { return syntax->state == S_DONE; }

bool qs_h1_syntax_line_done(const qs_h1_syntax_t *syntax) {
  return syntax->state >= S_FIELD_BEGIN && syntax->state != S_FAILED;
}

static int fail(qs_h1_syntax_t *x, int status, const char *why, const char **reason) {
  x->state = S_FAILED;
  x->status = (uint16_t)status;
  x->reason = *reason = why;
  return status;
}

static bool is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

/* VCHAR or obs-text: what a request target or a field value is made of. */
static bool is_field_char(unsigned char ch) { return ch > 0x20 && ch != 0x7f; }

/* One byte of "HTTP/" DIGIT "." DIGIT; returns 0 or a status. */
static int version_byte(qs_h1_syntax_t *x, unsigned char ch, const char **reason) {
  unsigned pos = x->version_pos;
  if (pos < 5) {
    if (ch != (unsigned char)http_slash[pos]) {
      if (pos == 0 && (ch == ' ' || ch == '\t'))
        return fail(x, 400, "more than one space in the request line", reason);
      return fail(x, 400, "malformed HTTP version in the request line", reason);
    }
  } else if (pos == 5 || pos == 7) {
    if (!is_digit(ch)) return fail(x, 400, "malformed HTTP version in the request line", reason);
    x->version[pos == 5 ? 0 : 1] = (char)ch;
  } else if (pos == 6) {
    if (ch != '.') return fail(x, 400, "malformed HTTP version in the request line", reason);
  } else if (ch == '\r') {
    /* RFC 9110 15.6.6: a major version the server does not support. */
    if (x->version[0] != '1' || (x->version[1] != '0' && x->version[1] != '1'))
      return fail(x, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here (HTTP/2 needs the connection preface)",
                  reason);
    x->state = S_LINE_LF;
    return 0;
  } else {
    return fail(x, 400, "the request line must end with CRLF right after the version", reason);
  }
  x->version_pos++;
  return 0;
}

int qs_h1_syntax_check(qs_h1_syntax_t *x, const char *ptr, size_t len, const char **reason) {
  if (x->state == S_FAILED) {
    *reason = x->reason;
    return x->status;
  }
  for (size_t i = 0; i < len && x->state != S_DONE; i++) {
    unsigned char ch = (unsigned char)ptr[i];
    switch (x->state) {
      case S_START:
        if (ch == '\r') {
          x->state = S_START_LF;
        } else if (qs_http_is_tchar(ch)) {
          x->state = S_METHOD;
        } else {
          return fail(x, 400, "not an HTTP request (the request line must start with a method)", reason);
        }
        break;
      case S_START_LF:
        if (ch != '\n') return fail(x, 400, "a bare CR before the request line", reason);
        x->state = S_START;
        break;
      case S_METHOD:
        if (ch == ' ') {
          x->state = S_TARGET_BEGIN;
        } else if (!qs_http_is_tchar(ch)) {
          return fail(x, 400, "malformed request line (method)", reason);
        }
        break;
      case S_TARGET_BEGIN:
        if (ch == ' ' || ch == '\t') return fail(x, 400, "more than one space in the request line", reason);
        if (!is_field_char(ch)) return fail(x, 400, "malformed request line (target)", reason);
        x->state = S_TARGET;
        break;
      case S_TARGET:
        if (ch == ' ') {
          x->state = S_VERSION;
        } else if (ch == '\r' || ch == '\n') {
          return fail(x, 400, "HTTP/0.9 requests are not supported (the request line has no version)",
                      reason);
        } else if (!is_field_char(ch)) {
          return fail(x, 400, "invalid character in the request target", reason);
        }
        break;
      case S_VERSION: {
        int rc = version_byte(x, ch, reason);
        if (rc) return rc;
        break;
      }
      case S_LINE_LF:
        if (ch != '\n') return fail(x, 400, "a bare CR in the request head (lines end with CRLF)", reason);
        x->state = S_FIELD_BEGIN;
        break;
      case S_FIELD_BEGIN:
        if (ch == '\r') {
          x->state = S_END_LF;
        } else if (ch == ' ' || ch == '\t') {
          return fail(x, 400, "obsolete line folding (a field line starting with whitespace)", reason);
        } else if (ch == ':') {
          return fail(x, 400, "a header field with an empty name", reason);
        } else if (qs_http_is_tchar(ch)) {
          x->state = S_FIELD_NAME;
        } else if (ch == '\n') {
          return fail(x, 400, "a bare LF in the request head (lines end with CRLF)", reason);
        } else {
          return fail(x, 400, "invalid character in a header field name", reason);
        }
        break;
      case S_FIELD_NAME:
        if (ch == ':') {
          x->state = S_FIELD_VALUE;
        } else if (ch == ' ' || ch == '\t') {
          return fail(x, 400, "whitespace in a header field name or before its colon", reason);
        } else if (ch == '\r' || ch == '\n') {
          return fail(x, 400, "a header field line without a colon", reason);
        } else if (!qs_http_is_tchar(ch)) {
          return fail(x, 400, "invalid character in a header field name", reason);
        }
        break;
      case S_FIELD_VALUE:
        if (ch == '\r') {
          x->state = S_LINE_LF;
        } else if (ch == '\n') {
          return fail(x, 400, "a bare LF in the request head (lines end with CRLF)", reason);
        } else if (ch != ' ' && ch != '\t' && !is_field_char(ch)) {
          return fail(x, 400, "a control character in a header field value", reason);
        }
        break;
      case S_END_LF:
        if (ch != '\n') return fail(x, 400, "a bare CR in the request head (lines end with CRLF)", reason);
        x->state = S_DONE;
        break;
      default:
        break;
    }
  }
  return 0;
}
