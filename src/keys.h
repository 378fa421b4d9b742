/* The verification keys named by a configuration (publisher_jwt,
 * subscriber_jwt, JWK Set URLs, trusted issuers), handed to the key policy
 * of auth/key_set.h: shared by the hub and `quicksilver token inspect`, so
 * that both see the same keys. */
#ifndef QS_KEYS_H
#define QS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/key_set.h"
#include "config/config.h"

/* Whether the configuration names any key (else a development key is made). */
bool qs_keys_configured(const qs_config_t *cfg);

/* Resolves the keys of `cfg` into `keys` with qs_key_set_resolve (key files
 * read now; without any configured key, a random development secret serves
 * both roles). The key configs borrow from `cfg` and from `keys`, which must
 * outlive their use. Returns 0, or QS_EINVAL with `err` set (the message names
 * no key bytes); dispose `keys` with qs_key_set_dispose in both cases. */
int qs_keys_resolve(const qs_config_t *cfg, qs_key_set_t *keys, char *err, size_t errlen);

#endif
