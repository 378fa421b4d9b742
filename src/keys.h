/* The verification keys named by a configuration (publisher_jwt,
 * subscriber_jwt, JWK Set URLs, trusted issuers), read into the form the
 * verifier takes: shared by the hub and `quicksilver token inspect`, so that
 * both see the same keys. */
#ifndef QS_KEYS_H
#define QS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "base/buf.h"
#include "config/config.h"

#define QS_KEYS_MAX 64

typedef struct {
  qs_auth_key_config_t publisher[QS_KEYS_MAX];
  qs_auth_key_config_t subscriber[QS_KEYS_MAX];
  size_t publisher_count, subscriber_count;
  qs_buf_t material[2 * QS_KEYS_MAX]; /* key bytes read from the configuration (@FILE or inline) */
  size_t material_count;
  char dev_secret[65]; /* set when no key was configured */
} qs_keys_t;

/* Whether the configuration names any key (else a development key is made). */
bool qs_keys_configured(const qs_config_t *cfg);

/* Reads the keys of `cfg` into `keys` (key files read now); without any
 * configured key, a random development secret (keys->dev_secret) serves
 * both roles. The key configs borrow from `cfg` and from `keys`, which must
 * outlive their use. Returns 0, or -1 with `err` set (the message names no
 * key bytes); dispose `keys` in both cases. */
int qs_keys_resolve(const qs_config_t *cfg, qs_keys_t *keys, char *err, size_t errlen);

/* Frees the key bytes read by qs_keys_resolve. */
void qs_keys_dispose(qs_keys_t *keys);

#endif
