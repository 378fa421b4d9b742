/* Internals of the Redis transport shared by its files (redis.c,
 * redis_publish.c, redis_entry.c, ...) and their unit tests. */
#ifndef QS_STORE_REDIS_INTERNAL_H
#define QS_STORE_REDIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "store/update.h"

/* Most topics an entry read from the stream may carry (a publish is bounded
 * by max_topics_per_update long before). */
#define QS_REDIS_MAX_TOPICS 4096

/* Most fields of an update's stream entry, for qs_redis_entry_encode. */
#define QS_REDIS_ENTRY_FIXED_FIELDS 12

/* Writes the field/value pairs of `update`'s stream entry into argv/lens
 * (cap slots, at least QS_REDIS_ENTRY_FIXED_FIELDS + 2 * topic_count),
 * borrowing the update's bytes and `numbers` (at least 48 bytes, for the
 * decimal fields), which must live until the command is sent. Fields: id,
 * topic (once per topic, in order), type, retry, private, created, data; the
 * optional ones only when set. Returns the number of slots used, or 0 when
 * `cap` is too small. */
size_t qs_redis_entry_encode(const qs_update_t *update, const char **argv, size_t *lens, size_t cap,
                             char *numbers);

/* Creates an update (one reference, seq 0) from the field/value pairs of a
 * stream entry (fields[i], values[i], i < count; borrowed). Unknown fields
 * are ignored, so later versions may add some. Returns 0, QS_EPARSE with a
 * static reason when the entry is not an update (no id or topic, CR or LF in
 * a line field, a bad number, too many topics), or QS_ENOMEM. */
int qs_redis_entry_decode(const qs_slice_t *fields, const qs_slice_t *values, size_t count, qs_update_t **out,
                          const char **reason);

/* A stream entry id "ms-seq" as two numbers; false when malformed. */
typedef struct {
  uint64_t ms;
  uint64_t seq;
} qs_redis_stream_id_t;
bool qs_redis_stream_id_parse(qs_slice_t text, qs_redis_stream_id_t *out);

#endif
