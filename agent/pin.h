/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the token PIN comes from: pin-source=file: in the key URI, else
 * identity.pin_file, else a systemd credential
 * ($CREDENTIALS_DIRECTORY/<identity.pin_credential>). Never argv, never a
 * pin-value in the config (refused). A PIN file must be a regular file
 * owned by root or the agent's user with no access for others.
 *
 * Owns: the PIN buffer, zeroised (OPENSSL_cleanse) when freed.
 * Must never: log or print the PIN, or leave a copy in a stack buffer.
 */
#ifndef TRUSTLINK_AGENT_PIN_H
#define TRUSTLINK_AGENT_PIN_H

#include <stdbool.h>
#include <stddef.h>

struct p11_kit_uri;
struct agent_identity_config;

#define AGENT_PIN_MAX 256

struct agent_pin {
    char value[AGENT_PIN_MAX + 1];
    bool present;              /* false: no PIN configured anywhere */
    const char *source;        /* "pin-source in identity.key", a path, ... (static or cfg) */
};

/* Fills pin. 0 on success (pin->present may be false); -1 with err set
 * (missing or unreadable file, empty, too long). */
int agent_pin_read(const struct agent_identity_config *cfg, struct p11_kit_uri *key_uri,
                   struct agent_pin *pin, char *err, size_t err_len);
/* Zeroises pin. */
void agent_pin_clear(struct agent_pin *pin);

#endif
