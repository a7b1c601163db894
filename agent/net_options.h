/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker connection's network options: ALPN protocol names (RFC 7301)
 * and a SOCKS5 proxy (RFC 1928, user/password authentication RFC 1929).
 *
 * Owns: nothing beyond the buffers it returns; proxy credentials are
 * zeroised by agent_proxy_auth_clear.
 * Must never: log a proxy password.
 */
#ifndef TRUSTLINK_AGENT_NET_OPTIONS_H
#define TRUSTLINK_AGENT_NET_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct agent_proxy_config;

#define AGENT_ALPN_MAX_NAMES 8
/* RFC 1929: user name and password of 1-255 bytes each. */
#define AGENT_PROXY_AUTH_MAX 255

/* A protocol name as ALPN and this agent accept it: 1-255 bytes of
 * printable ASCII without spaces (every registered name is). */
bool agent_alpn_name_ok(const char *name);

/* Encodes names into ALPN wire format (each a length byte then the name),
 * as SSL_CTX_set_alpn_protos takes it. 0, or -1 with err set. */
int agent_alpn_encode(const char *const *names, size_t n, unsigned char **wire, size_t *wire_len,
                      char *err, size_t err_len);

/* Parses "socks5://HOST:PORT" (HOST a name, an IPv4 address or [IPv6]).
 * 0 with *host (malloc'd) and *port set, or -1 with err set. */
int agent_proxy_parse(const char *url, char **host, unsigned *port, char *err, size_t err_len);

struct agent_proxy_auth {
    char user[AGENT_PROXY_AUTH_MAX + 1];
    char password[AGENT_PROXY_AUTH_MAX + 1];
    bool present;
};

/* Reads the proxy credentials named by cfg (a file, or a systemd
 * credential in $CREDENTIALS_DIRECTORY): line 1 the user, line 2 the
 * password. No source configured: 0 with auth->present false. */
int agent_proxy_auth_read(const struct agent_proxy_config *cfg, struct agent_proxy_auth *auth,
                          char *err, size_t err_len);
void agent_proxy_auth_clear(struct agent_proxy_auth *auth);

#endif
