/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's SSL_CTX (see tls.h).
 *
 * Callbacks run inside SSL_connect/SSL_read/SSL_write called by
 * libmosquitto on the loop thread; they only record into struct
 * agent_tls, found through the SSL_CTX's ex_data on every call (never a
 * pointer kept elsewhere: an SSL may outlive its agent_tls).
 * Must never: call tls_set/tls_opts_set on libmosquitto; block.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "identity.h"
#include "log.h"

struct agent_tls {
    SSL_CTX *ctx;
    SSL_SESSION *session;        /* newest session, our own copy */
    struct agent_tls_counters *counters;
    struct agent_tls_failure failure;
};

static pthread_once_t ex_index_once = PTHREAD_ONCE_INIT;
static int ctx_ex_index = -1;    /* written once under ex_index_once */

static void make_ex_index(void)
{
    ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static struct agent_tls *tls_of(const SSL *ssl)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex_index);
}

static void reset_failure(struct agent_tls_failure *f)
{
    memset(f, 0, sizeof(*f));
    f->verify_error = X509_V_OK;
    f->alert = -1;
    f->sent_alert = -1;
}

static int verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct agent_tls *tls = ssl ? tls_of(ssl) : NULL;

    if (!ok && tls && tls->failure.verify_error == X509_V_OK) {
        int error = X509_STORE_CTX_get_error(store);
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        char subject[160] = "?";

        if (cert)
            X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
        tls->failure.verify_error = error;
        snprintf(tls->failure.verify_detail, sizeof(tls->failure.verify_detail),
                 "%s (depth %d, %s)", X509_verify_cert_error_string(error),
                 X509_STORE_CTX_get_error_depth(store), subject);
    }
    return ok;
}

/* The state is looked up through the context on every call, never kept
 * as the callback argument: an SSL copies its context's callback argument
 * when it is made, and libmosquitto may keep an SSL after agent_tls_free. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    struct agent_tls *tls;

    (void)version;
    (void)arg;
    if (!write_p || content_type != SSL3_RT_HANDSHAKE || len == 0 ||
        ((const unsigned char *)buf)[0] != SSL3_MT_CERTIFICATE_VERIFY)
        return;
    tls = tls_of(ssl);
    if (tls)
        tls->counters->signatures++;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *session)
{
    struct agent_tls *tls = tls_of(ssl);
    SSL_SESSION *copy;

    if (!tls)
        return 0;
    /* A copy: OpenSSL marks the live object non-resumable when the
     * connection ends without close_notify (integration-facts.md 3). */
    copy = SSL_SESSION_dup(session);
    if (!copy)
        return 0;
    SSL_SESSION_free(tls->session);
    tls->session = copy;
    return 0;  /* we did not keep a reference to session itself */
}

static void info_cb(const SSL *ssl_const, int where, int ret)
{
    SSL *ssl = (SSL *)ssl_const;
    struct agent_tls *tls = tls_of(ssl);

    if (!tls)
        return;
    if ((where & SSL_CB_HANDSHAKE_START) && SSL_get_session(ssl) == NULL && tls->session) {
        /* libmosquitto makes a fresh SSL per connection and never sets a
         * session: offer ours here, before the ClientHello is built. */
        SSL_set_session(ssl, tls->session);
    }
    if (where & SSL_CB_HANDSHAKE_DONE) {
        if (SSL_session_reused(ssl))
            tls->counters->resumed_handshakes++;
        else
            tls->counters->full_handshakes++;
    }
    /* SSL_CB_READ_ALERT and SSL_CB_WRITE_ALERT share the SSL_CB_ALERT bit:
     * test the direction on its own, or our alert passes for the broker's. */
    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        int *slot = (where & SSL_CB_READ) ? &tls->failure.alert : &tls->failure.sent_alert;

        if (*slot < 0)
            *slot = ret & 0xff;
        tls->failure.failed = true;
    }
    if ((where & SSL_CB_EXIT) && ret <= 0 && ERR_peek_error() != 0) {
        /* Inspect before libmosquitto drains the queue into its log. */
        unsigned long first = ERR_peek_error();

        tls->failure.failed = true;
        if (agent_identity_error_queue_has_token_fault())
            tls->failure.token_fault = true;
        if (!tls->failure.ssl_error[0])
            ERR_error_string_n(first, tls->failure.ssl_error, sizeof(tls->failure.ssl_error));
        tls->counters->failed_handshakes++;
    }
}

static int configure_verification(SSL_CTX *ctx, const struct agent_broker_config *broker,
                                  char *err, size_t err_len)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, broker->host, addr) == 1 ||
                 inet_pton(AF_INET6, broker->host, addr) == 1;

    if (SSL_CTX_load_verify_locations(ctx, broker->ca_file, broker->ca_dir) != 1) {
        char reason[200];

        ERR_error_string_n(ERR_peek_last_error(), reason, sizeof(reason));
        ERR_clear_error();
        snprintf(err, err_len, "cannot load the broker CA (broker.ca_file %s, broker.ca_dir %s): %s",
                 broker->ca_file ? broker->ca_file : "-", broker->ca_dir ? broker->ca_dir : "-",
                 reason);
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    /* libmosquitto (WITH_DEFAULTS=0) checks no name: we must. */
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, broker->host) != 1
              : X509_VERIFY_PARAM_set1_host(param, broker->host, 0) != 1) {
        snprintf(err, err_len, "cannot set the broker name check for %s", broker->host);
        return -1;
    }
    if (!is_ip)
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_CTX_set_min_proto_version(
            ctx, broker->tls_min_version == AGENT_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
        snprintf(err, err_len, "cannot set the minimum TLS version");
        return -1;
    }
    /* broker.alpn: offered in the ClientHello (e.g. AWS IoT's MQTT on 443
     * needs "x-amzn-mqtt-ca"). Unlike most of OpenSSL, 0 is success here. */
    if (broker->alpn_len > 0 &&
        SSL_CTX_set_alpn_protos(ctx, broker->alpn, (unsigned int)broker->alpn_len) != 0) {
        snprintf(err, err_len, "cannot set the ALPN protocol names");
        return -1;
    }
    return 0;
}

static int configure_identity(SSL_CTX *ctx, X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key,
                              const char *key_name, char *err, size_t err_len)
{
    char reason[200] = "";

    /* Certificate first: key first would be dropped silently (facts 1). */
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_set1_chain(ctx, chain) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_error_string_n(ERR_peek_last_error(), reason, sizeof(reason));
        ERR_clear_error();
        snprintf(err, err_len, "the TLS context refuses the identity (key %s): %s", key_name,
                 reason);
        return -1;
    }
    return 0;
}

struct agent_tls *agent_tls_new(const struct agent_broker_config *broker,
                                const struct agent_identity *identity,
                                struct agent_tls_counters *counters, char *err, size_t err_len)
{
    return agent_tls_new_for_key(broker, agent_identity_certificate(identity),
                                 agent_identity_chain(identity), agent_identity_key(identity),
                                 agent_identity_key_name(identity), counters, err, err_len);
}

struct agent_tls *agent_tls_new_for_key(const struct agent_broker_config *broker, X509 *cert,
                                        STACK_OF(X509) *chain, EVP_PKEY *key,
                                        const char *key_name,
                                        struct agent_tls_counters *counters, char *err,
                                        size_t err_len)
{
    struct agent_tls *tls = NULL;
    struct agent_tls *result = NULL;

    pthread_once(&ex_index_once, make_ex_index);
    if (ctx_ex_index < 0) {
        snprintf(err, err_len, "OpenSSL: no ex_data index");
        goto cleanup;
    }
    tls = calloc(1, sizeof(*tls));
    if (!tls) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    tls->counters = counters;
    reset_failure(&tls->failure);
    tls->ctx = SSL_CTX_new(TLS_client_method());
    if (!tls->ctx) {
        snprintf(err, err_len, "OpenSSL: cannot create a TLS context");
        goto cleanup;
    }
    if (SSL_CTX_set_ex_data(tls->ctx, ctx_ex_index, tls) != 1) {
        snprintf(err, err_len, "OpenSSL: cannot attach state to the TLS context");
        goto cleanup;
    }
    if (configure_verification(tls->ctx, broker, err, err_len) != 0 ||
        configure_identity(tls->ctx, cert, chain, key, key_name, err, err_len) != 0)
        goto cleanup;
    /* An idle connection holds no record buffers (~33 kB): the agent is
     * idle between heartbeats, and buffers are cheap to get again. */
    SSL_CTX_set_mode(tls->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(tls->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(tls->ctx, new_session_cb);
    SSL_CTX_set_info_callback(tls->ctx, info_cb);
    SSL_CTX_set_msg_callback(tls->ctx, msg_cb);
    result = tls;
    tls = NULL;
cleanup:
    agent_tls_free(tls);
    return result;
}

void agent_tls_free(struct agent_tls *tls)
{
    if (!tls)
        return;
    if (tls->ctx) {
        /* libmosquitto may still hold a reference (and SSLs made from it):
         * every callback must find no state. */
        SSL_CTX_set_ex_data(tls->ctx, ctx_ex_index, NULL);
        SSL_CTX_set_msg_callback(tls->ctx, NULL);
        SSL_CTX_free(tls->ctx);
    }
    SSL_SESSION_free(tls->session);
    free(tls);
}

SSL_CTX *agent_tls_ctx(const struct agent_tls *tls)
{
    return tls->ctx;
}

void agent_tls_forget_session(struct agent_tls *tls)
{
    SSL_SESSION_free(tls->session);
    tls->session = NULL;
}

bool agent_tls_has_session(const struct agent_tls *tls)
{
    return tls->session != NULL;
}

void agent_tls_take_failure(struct agent_tls *tls, struct agent_tls_failure *out)
{
    *out = tls->failure;
    reset_failure(&tls->failure);
}
