#include "base/error.h"

const char *qs_strerror(int code) {
  switch (code) {
#define QS_ERROR_CASE(name, value, text) \
  case value:                            \
    return text;
    QS_ERRORS(QS_ERROR_CASE)
#undef QS_ERROR_CASE
  }
  return "unknown error";
}
