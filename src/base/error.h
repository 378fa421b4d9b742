/* Error codes shared by every layer. Functions return 0 on success or one of
 * these negative codes; api/ turns them into HTTP statuses. */
#ifndef QS_BASE_ERROR_H
#define QS_BASE_ERROR_H

#define QS_ERRORS(X)                                    \
  X(QS_OK, 0, "success")                                \
  X(QS_ENOMEM, -1, "out of memory")                     \
  X(QS_EINVAL, -2, "invalid argument")                  \
  X(QS_ETOOBIG, -3, "input exceeds a configured limit") \
  X(QS_ENOTFOUND, -4, "not found")                      \
  X(QS_EPARSE, -5, "malformed input")                   \
  X(QS_EAUTH, -6, "authentication failed")              \
  X(QS_EFORBIDDEN, -7, "not authorized")                \
  X(QS_EIO, -8, "input/output error")                   \
  X(QS_ECLOSED, -9, "closed")                           \
  X(QS_ELIMIT, -10, "evaluation limit reached")         \
  X(QS_EFULL, -11, "storage full")                      \
  X(QS_EBUSY, -12, "too many connections")              \
  X(QS_EUNSUPPORTED, -13, "not supported")              \
  X(QS_EUNAVAILABLE, -14, "transport unavailable")

enum {
#define QS_ERROR_ENUM(name, value, text) name = value,
  QS_ERRORS(QS_ERROR_ENUM)
#undef QS_ERROR_ENUM
};

/* A static, human-readable description of `code` (never NULL). */
const char *qs_strerror(int code);

#endif
