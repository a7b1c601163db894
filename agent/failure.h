/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failure classes of a connection attempt and how each is handled.
 *
 * Owns: the mapping from what the libraries report (libmosquitto return
 * code, CONNACK code, the TLS layer's failure record, our certificate's
 * validity) to one class and one message a person can act on.
 * Must never: act on the failure (the agent does: backoff, re-init, exit).
 *
 *   network          backoff (reconnect.initial .. maximum)
 *   broker-refused   the broker refused our TLS handshake or MQTT CONNECT:
 *                    backoff with AGENT_FAILURE_REFUSED_PENALTY extra doublings
 *   broker-untrusted our verification of the broker failed (CA, name):
 *                    same longer backoff
 *   clock            a certificate is not valid yet: the clock is behind;
 *                    same longer backoff, reported as a clock problem
 *   token            the token failed to sign: module reload after the
 *                    token backoff (1 s, 2 s, then every 4 s), then reconnect
 *   config           cannot work without a config change: exit 78
 */
#ifndef TRUSTLINK_AGENT_FAILURE_H
#define TRUSTLINK_AGENT_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

struct agent_tls_failure;

#define AGENT_FAILURE_REFUSED_PENALTY 3u
#define AGENT_EXIT_CONFIG 78   /* EX_CONFIG: the unit must not restart on it */

enum agent_failure_class {
    AGENT_FAILURE_NONE = 0,
    AGENT_FAILURE_NETWORK,
    AGENT_FAILURE_BROKER_REFUSED,
    AGENT_FAILURE_BROKER_UNTRUSTED,
    AGENT_FAILURE_CLOCK,
    AGENT_FAILURE_TOKEN,
    AGENT_FAILURE_CONFIG,
};

struct agent_failure_input {
    int mosq_rc;                       /* MOSQ_ERR_* (0 if none) */
    int connack_rc;                    /* CONNACK / reason code, 0 if none */
    int saved_errno;                   /* for MOSQ_ERR_ERRNO */
    const struct agent_tls_failure *tls;  /* may be NULL */
    bool own_cert_not_yet_valid;       /* our certificate's notBefore is in the future */
    bool handshaking;                  /* no CONNACK yet on this connection: libmosquitto's
                                          MOSQ_ERR_ERRNO with EPROTO is then a TLS failure
                                          (it sets EPROTO on SSL errors; the broker's alert
                                          may be lost when it closes first) */
    const char *broker;                /* "host:port" for messages */
};

enum agent_failure_class agent_failure_classify(const struct agent_failure_input *in,
                                                char *msg, size_t msg_len);
const char *agent_failure_class_name(enum agent_failure_class c);
/* Extra backoff doublings for the class. */
unsigned agent_failure_penalty(enum agent_failure_class c);

#endif
