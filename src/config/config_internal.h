/* Helpers shared by the files of src/config/ only. */
#ifndef QS_CONFIG_CONFIG_INTERNAL_H
#define QS_CONFIG_CONFIG_INTERNAL_H

#include <stdint.h>

#include "base/buf.h"
#include "config/config.h"

/* Validators named in the table: NULL when `value` is fine, else a static reason. */
const char *qs_config_check_listen(const char *value);
const char *qs_config_check_admin_listen(const char *value);
const char *qs_config_check_http_url(const char *value);
const char *qs_config_check_cookie_name(const char *value);
const char *qs_config_check_origin(const char *value);
const char *qs_config_check_issuer(const char *value);
const char *qs_config_check_jwks_url(const char *value);
const char *qs_config_check_transport_url(const char *value);

/* Splits a listen address into host (without brackets) and port. `host` gets
 * at most `host_size - 1` bytes. Returns 0 or QS_EINVAL. */
int qs_config_split_listen(const char *listen, char *host, size_t host_size, uint16_t *port);

/* Appends the value of `opt` in `cfg` in the syntax users write (durations and
 * sizes in their largest exact unit, lists comma-separated). Secrets are not
 * masked here. Returns 0 or a qs_buf_append error. */
int qs_config_format_value(const qs_config_t *cfg, const qs_config_option_t *opt, qs_buf_t *out);

/* Writes a size in its largest exact binary unit ("1MiB", "16KiB", "1000"). */
void qs_config_format_size(uint64_t bytes, char *out, size_t size);

/* Writes a duration in its largest exact unit ("0", "2ms", "25s", "10m", "1h"). */
void qs_config_format_duration(uint64_t ms, char *out, size_t size);

/* The placeholder --help shows for `opt`'s value ("" for booleans). */
const char *qs_config_metavar(const qs_config_option_t *opt, char *scratch, size_t scratch_size);

/* Writes the table's sections, in table order without repeats, to out[0..max);
 * returns how many. The strings are static. */
size_t qs_config_sections(const char **out, size_t max);

/* The field of `opt` inside `cfg`. */
static inline void *qs_config_field(qs_config_t *cfg, const qs_config_option_t *opt) {
  return (char *)cfg + opt->offset;
}
static inline const void *qs_config_cfield(const qs_config_t *cfg, const qs_config_option_t *opt) {
  return (const char *)cfg + opt->offset;
}

#endif
