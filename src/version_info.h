/* `quicksilver --version`: the hub's version and those of the libraries it
 * runs with, as each library reports itself at run time (the version the
 * build compiled against is added when it differs, or stands alone for a
 * library that reports none). */
#ifndef QS_VERSION_INFO_H
#define QS_VERSION_INFO_H

#include <stdio.h>

/* Writes the version lines to `out`. */
void qs_version_info_print(FILE *out);

#endif
