/* The RFC 9112 syntax of an HTTP/1.x message head (request line and field
 * lines), checked byte by byte before llhttp sees the bytes: llhttp 8 accepts
 * forms that a front proxy may read differently (repeated spaces in the
 * request line, bare LF line ends, obs-fold, whitespace before a colon,
 * HTTP/0.9), and there is no option to relax these checks. Only http1_parser.c
 * includes this. */
#ifndef QS_HTTP_HTTP1_SYNTAX_H
#define QS_HTTP_HTTP1_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the checker is in a message head; zero-initialized = before a request line. */
typedef struct {
  uint8_t state;
  uint8_t version_pos; /* bytes of "HTTP/x.y" seen */
  char version[2];     /* the major and minor digits */
  uint16_t status;     /* once failed: the status answered */
  const char *reason;  /* once failed: why */
} qs_h1_syntax_t;

/* Back to "before a request line", for the next message. */
void qs_h1_syntax_reset(qs_h1_syntax_t *syntax);

/* True once the head's final empty line has been checked: the bytes that
 * follow are the body, which llhttp frames (chunk syntax included, in its
 * strict mode). */
bool qs_h1_syntax_head_done(const qs_h1_syntax_t *syntax);

/* True once the request line has been checked whole. */
bool qs_h1_syntax_line_done(const qs_h1_syntax_t *syntax);

/* Checks `len` bytes that continue the head. Stops after the head's final
 * CRLF (the bytes after it are not examined). Returns 0, or the status to
 * answer (400; 505 for an HTTP version other than 1.0 and 1.1) with a
 * static *reason; once it failed it keeps failing. */
int qs_h1_syntax_check(qs_h1_syntax_t *syntax, const char *ptr, size_t len, const char **reason);

#endif
