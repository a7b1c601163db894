/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Classifying connection failures (see failure.h).
 * Must never: depend on anything but its input (unit-tested as a table).
 */
#include "failure.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "tls.h"

const char *agent_failure_class_name(enum agent_failure_class c)
{
    switch (c) {
    case AGENT_FAILURE_NONE: return "none";
    case AGENT_FAILURE_NETWORK: return "network";
    case AGENT_FAILURE_BROKER_REFUSED: return "broker-refused";
    case AGENT_FAILURE_BROKER_UNTRUSTED: return "broker-untrusted";
    case AGENT_FAILURE_CLOCK: return "clock";
    case AGENT_FAILURE_TOKEN: return "token";
    case AGENT_FAILURE_CONFIG: return "config";
    }
    return "unknown";
}

unsigned agent_failure_penalty(enum agent_failure_class c)
{
    switch (c) {
    case AGENT_FAILURE_BROKER_REFUSED:
    case AGENT_FAILURE_BROKER_UNTRUSTED:
    case AGENT_FAILURE_CLOCK:
        return AGENT_FAILURE_REFUSED_PENALTY;
    default:
        return 0;
    }
}

enum agent_failure_class agent_failure_classify(const struct agent_failure_input *in,
                                                char *msg, size_t msg_len)
{
    const struct agent_tls_failure *tls = in->tls;
    const char *broker = in->broker ? in->broker : "the broker";
    /* libmosquitto reports SSL errors on read/write as MOSQ_ERR_ERRNO with
     * errno EPROTO; before CONNACK that is the handshake failing (e.g. the
     * broker refused our certificate and closed before its alert was read). */
    bool tls_broken = in->mosq_rc == MOSQ_ERR_TLS ||
                      (in->handshaking && in->mosq_rc == MOSQ_ERR_ERRNO &&
                       in->saved_errno == EPROTO);

    if (tls && tls->token_fault) {
        snprintf(msg, msg_len, "token error during the TLS handshake with %s (%s): the "
                               "PKCS#11 module will be re-initialised",
                 broker, tls->ssl_error[0] ? tls->ssl_error : "signature failed");
        return AGENT_FAILURE_TOKEN;
    }
    if (tls && (tls->verify_error == X509_V_ERR_CERT_NOT_YET_VALID ||
                tls->verify_error == X509_V_ERR_CRL_NOT_YET_VALID)) {
        snprintf(msg, msg_len, "clock problem: the certificate of %s is not valid yet (%s): the "
                               "system clock is probably behind; check NTP",
                 broker, tls->verify_detail);
        return AGENT_FAILURE_CLOCK;
    }
    if (tls && tls->verify_error != X509_V_OK) {
        snprintf(msg, msg_len, "broker %s is not trusted: %s: check broker.ca_file/ca_dir and "
                               "broker.host%s",
                 broker, tls->verify_detail,
                 tls->verify_error == X509_V_ERR_CERT_HAS_EXPIRED
                     ? " (or the system clock, if it is ahead)" : "");
        return AGENT_FAILURE_BROKER_UNTRUSTED;
    }
    if (in->own_cert_not_yet_valid &&
        ((tls && (tls->alert >= 0 || tls->failed)) || tls_broken || in->connack_rc != 0)) {
        snprintf(msg, msg_len, "clock problem: our certificate is not valid yet (notBefore is in "
                               "the future) and %s refused the connection: check the system "
                               "clock (NTP)",
                 broker);
        return AGENT_FAILURE_CLOCK;
    }
    if (tls && tls->alert >= 0) {
        snprintf(msg, msg_len, "broker %s refused the TLS handshake (alert \"%s\"): check that "
                               "it trusts the CA of our certificate and that the certificate "
                               "is valid",
                 broker, SSL_alert_desc_string_long(tls->alert));
        return AGENT_FAILURE_BROKER_REFUSED;
    }
    if (in->connack_rc != 0) {
        snprintf(msg, msg_len, "broker %s refused the MQTT connection: %s", broker,
                 mosquitto_connack_string(in->connack_rc));
        return AGENT_FAILURE_BROKER_REFUSED;
    }
    if (tls && tls->failed && tls->sent_alert > 0) {
        /* Our own alert (a fatal one is never close_notify, 0): we ended it. */
        snprintf(msg, msg_len,
                 "TLS handshake with %s failed: this agent ended it (alert \"%s\"): %s", broker,
                 SSL_alert_desc_string_long(tls->sent_alert),
                 tls->ssl_error[0] ? tls->ssl_error : "no detail from OpenSSL");
        return AGENT_FAILURE_BROKER_REFUSED;
    }
    if (tls_broken || (tls && tls->failed)) {
        snprintf(msg, msg_len, "TLS handshake with %s failed: %s", broker,
                 tls && tls->ssl_error[0] ? tls->ssl_error
                 : in->mosq_rc == MOSQ_ERR_ERRNO
                     ? "the broker closed the connection during the handshake (did it refuse "
                       "our certificate? check that it trusts the CA of our certificate)"
                     : "no detail from OpenSSL");
        return AGENT_FAILURE_BROKER_REFUSED;
    }
    if (in->mosq_rc == MOSQ_ERR_ERRNO) {
        snprintf(msg, msg_len, "cannot reach %s: %s", broker, strerror(in->saved_errno));
        return AGENT_FAILURE_NETWORK;
    }
    if (in->mosq_rc == MOSQ_ERR_EAI) {
        snprintf(msg, msg_len, "cannot resolve %s (DNS)", broker);
        return AGENT_FAILURE_NETWORK;
    }
    if (in->saved_errno != 0 && in->mosq_rc != MOSQ_ERR_KEEPALIVE) {
        /* libmosquitto reports a failed asynchronous connect with errno. */
        snprintf(msg, msg_len, "connection to %s failed: %s", broker, strerror(in->saved_errno));
        return AGENT_FAILURE_NETWORK;
    }
    snprintf(msg, msg_len, "connection to %s lost: %s (libmosquitto %d)", broker,
             in->mosq_rc ? mosquitto_strerror(in->mosq_rc) : "closed", in->mosq_rc);
    return AGENT_FAILURE_NETWORK;
}
