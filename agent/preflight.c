/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preflight checks for `trustlinkctl check` (contract in preflight.h).
 *
 * Owns: running each check once, in order, and printing one line each.
 * Must never: print a PIN (identity messages are redacted at the source),
 * write to the token, or leave a connection open.
 */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <p11-kit/pkcs11.h>

#include "config.h"
#include "config_check.h"
#include "identity.h"
#include "rotation_chain.h"
#include "tls.h"

#define BROKER_TIMEOUT_S 10

static void line(FILE *out, const char *verdict, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void line(FILE *out, const char *verdict, const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(out, "%s %s: ", verdict, name);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

static bool check_signature(const struct agent_identity *id, char *detail, size_t len)
{
    unsigned char digest[32];
    unsigned char sig[256];
    size_t sig_len = sizeof(sig);
    EVP_PKEY_CTX *sctx = NULL, *vctx = NULL;
    EVP_PKEY *pub = X509_get0_pubkey(agent_identity_certificate(id));
    bool ok = false;

    if (RAND_bytes(digest, sizeof(digest)) != 1) {
        snprintf(detail, len, "no random digest");
        goto cleanup;
    }
    sctx = EVP_PKEY_CTX_new(agent_identity_key(id), NULL);
    if (!sctx || EVP_PKEY_sign_init(sctx) != 1 ||
        EVP_PKEY_sign(sctx, sig, &sig_len, digest, sizeof(digest)) != 1) {
        char reason[200] = "";
        ERR_error_string_n(ERR_peek_error(), reason, sizeof(reason));
        snprintf(detail, len, "the token did not sign: %s", reason);
        goto cleanup;
    }
    vctx = pub ? EVP_PKEY_CTX_new(pub, NULL) : NULL;
    if (!vctx || EVP_PKEY_verify_init(vctx) != 1 ||
        EVP_PKEY_verify(vctx, sig, sig_len, digest, sizeof(digest)) != 1) {
        snprintf(detail, len, "the signature does not verify with the certificate's public key");
        goto cleanup;
    }
    snprintf(detail, len, "signed a random SHA-256-sized digest on the token; verified with the "
                          "certificate (%zu-byte DER signature)",
             sig_len);
    ok = true;
cleanup:
    ERR_clear_error();
    EVP_PKEY_CTX_free(sctx);
    EVP_PKEY_CTX_free(vctx);
    return ok;
}

/* TCP connect with a deadline; the socket is returned blocking with
 * send/receive timeouts. */
static int connect_with_timeout(const char *host, unsigned port, char *detail, size_t len)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[8];
    int fd = -1;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(detail, len, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        struct pollfd p;
        struct timeval tv = {BROKER_TIMEOUT_S, 0};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
            soerr = errno;
        if (!soerr) {
            p.fd = fd;
            p.events = POLLOUT;
            if (poll(&p, 1, BROKER_TIMEOUT_S * 1000) != 1)
                soerr = ETIMEDOUT;
            else
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        }
        if (!soerr) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            break;
        }
        snprintf(detail, len, "cannot reach %s:%u: %s", host, port, strerror(soerr));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static bool check_broker(const struct agent_config *cfg, const struct agent_identity *id,
                         char *detail, size_t len)
{
    struct agent_tls_counters counters;
    struct agent_tls_failure failure;
    struct agent_tls *tls = NULL;
    SSL *ssl = NULL;
    int fd = -1;
    bool ok = false;
    char buf[1];

    memset(&counters, 0, sizeof(counters));
    tls = agent_tls_new(&cfg->broker, id, &counters, detail, len);
    if (!tls)
        goto cleanup;
    fd = connect_with_timeout(cfg->broker.host, cfg->broker.port, detail, len);
    if (fd < 0)
        goto cleanup;
    ssl = SSL_new(agent_tls_ctx(tls));
    if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
        SSL_set_tlsext_host_name(ssl, cfg->broker.host) != 1) {
        snprintf(detail, len, "OpenSSL: cannot set up the connection");
        goto cleanup;
    }
    if (SSL_connect(ssl) != 1) {
        agent_tls_take_failure(tls, &failure);
        if (failure.verify_error != X509_V_OK)
            snprintf(detail, len, "broker %s:%u not trusted: %s", cfg->broker.host,
                     cfg->broker.port, failure.verify_detail);
        else if (failure.alert >= 0)
            snprintf(detail, len, "broker refused the handshake (alert \"%s\")",
                     SSL_alert_desc_string_long(failure.alert));
        else
            snprintf(detail, len, "TLS handshake failed: %s",
                     failure.ssl_error[0] ? failure.ssl_error : "connection closed");
        goto cleanup;
    }
    /* TLS 1.3: the broker judges our certificate after our Finished; a
     * refusal arrives as an alert on the first read. Wait briefly. */
    {
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    if (SSL_peek(ssl, buf, sizeof(buf)) <= 0) {
        agent_tls_take_failure(tls, &failure);
        if (failure.alert >= 0) {
            snprintf(detail, len, "broker refused our certificate (alert \"%s\")",
                     SSL_alert_desc_string_long(failure.alert));
            goto cleanup;
        }
    }
    snprintf(detail, len, "mutual-TLS handshake with %s:%u (%s, %s) completed",
             cfg->broker.host, cfg->broker.port, SSL_get_version(ssl),
             SSL_session_reused(ssl) ? "resumed" : "full handshake, 1 token signature");
    ok = true;
cleanup:
    ERR_clear_error();
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (fd >= 0)
        close(fd);
    agent_tls_free(tls);
    return ok;
}

/* The PIN source of a check run outside the service (see preflight.h). */
static int override_pin_source(struct agent_identity_config *id, const char *pin_file)
{
    char fallback[PATH_MAX];

    if (!pin_file && id->pin_credential && !getenv("CREDENTIALS_DIRECTORY")) {
        int n = snprintf(fallback, sizeof(fallback), "%s/%s", AGENT_CREDENTIAL_SOURCE_DIR,
                         id->pin_credential);
        if (n > 0 && (size_t)n < sizeof(fallback) && access(fallback, R_OK) == 0)
            pin_file = fallback;
    }
    if (!pin_file)
        return 0;
    free(id->pin_file);
    free(id->pin_credential);
    id->pin_credential = NULL;
    id->pin_file = strdup(pin_file);
    return id->pin_file ? 0 : -1;
}

enum agent_preflight_result agent_preflight(const char *config_path, const char *pin_file,
                                            FILE *out)
{
    struct agent_config cfg;
    struct agent_identity *id = NULL;
    enum agent_identity_status st;
    enum agent_preflight_result result = AGENT_PREFLIGHT_FAIL;
    char err[1024];
    char detail[1024];
    bool files_ok;

    memset(&cfg, 0, sizeof(cfg));
    if (agent_config_load(config_path, &cfg, err, sizeof(err)) != 0) {
        line(out, "FAIL", "config", "%s", err);
        return AGENT_PREFLIGHT_CONFIG;
    }
    line(out, "PASS", "config", "%s is valid", config_path);
    if (override_pin_source(&cfg.identity, pin_file) != 0) {
        line(out, "FAIL", "key", "out of memory");
        goto cleanup;
    }
    /* What --check-config checks beyond the file. A failure here still
     * lets the token checks run (the identity load checks its own inputs:
     * module, URI, PIN source), so one run shows every problem; only the
     * broker check, which needs all of them, is skipped. */
    files_ok = agent_config_check_system(&cfg, err, sizeof(err)) == 0;
    if (files_ok)
        line(out, "PASS", "files", "the files, URIs, topics and PIN source the configuration "
                                   "names are usable");
    else
        line(out, "FAIL", "files", "%s", err);

    st = agent_identity_load(&cfg.identity, &id, err, sizeof(err));
    if (st != AGENT_IDENTITY_OK) {
        if (st == AGENT_IDENTITY_CERTIFICATE) {
            line(out, "PASS", "key", "identity.key resolves to exactly one safe private key");
            line(out, "FAIL", "certificate", "%s", err);
        } else {
            line(out, "FAIL", "key", "%s (%s)", err, agent_identity_status_name(st));
            line(out, "SKIP", "certificate", "needs the key");
        }
        line(out, "SKIP", "mechanism", "needs the key");
        line(out, "SKIP", "signature", "needs the key and certificate");
        line(out, "SKIP", "broker", "needs the key and certificate");
        goto cleanup;
    }
    line(out, "PASS", "key", "%s on token \"%s\" (%s): sensitive, not extractable, the only match",
         agent_identity_key_name(id), agent_identity_token_label(id), agent_identity_uri(id));
    {
        const ASN1_TIME *not_after = X509_get0_notAfter(agent_identity_certificate(id));
        int days = 0, secs = 0;
        char subject[256];

        ASN1_TIME_diff(&days, &secs, NULL, not_after);
        X509_NAME_oneline(X509_get_subject_name(agent_identity_certificate(id)), subject,
                          sizeof(subject));
        if (days < 0 || (days == 0 && secs < 0))
            line(out, "FAIL", "certificate", "%s matches the key but has expired", subject);
        else
            line(out, "PASS", "certificate", "%s matches the key; %d days to expiry", subject, days);
    }
    /* The daemon sends the chain its last rotation saved; so does the
     * broker check below. */
    {
        char desc[768];

        switch (rotation_chain_apply(cfg.rotation.state_dir, id, desc, sizeof(desc))) {
        case ROTATION_CHAIN_LOADED:
            line(out, "PASS", "chain", "%s", desc);
            break;
        case ROTATION_CHAIN_MISMATCH:
        case ROTATION_CHAIN_BAD:
            line(out, "WARN", "chain", "%s", desc);
            break;
        case ROTATION_CHAIN_NONE:
            break;
        }
    }
    if (agent_identity_has_mechanism(id, CKM_ECDSA)) {
        line(out, "PASS", "mechanism", "CKM_ECDSA is available for signing");
    } else {
        line(out, "FAIL", "mechanism", "the token does not offer CKM_ECDSA for signing");
        line(out, "SKIP", "signature", "needs CKM_ECDSA");
        line(out, "SKIP", "broker", "needs CKM_ECDSA");
        goto cleanup;
    }
    if (!check_signature(id, detail, sizeof(detail))) {
        line(out, "FAIL", "signature", "%s", detail);
        line(out, "SKIP", "broker", "needs a working signature");
        goto cleanup;
    }
    line(out, "PASS", "signature", "%s", detail);
    if (!files_ok) {
        line(out, "SKIP", "broker", "needs the files the configuration names");
        goto cleanup;
    }
    if (!check_broker(&cfg, id, detail, sizeof(detail))) {
        line(out, "FAIL", "broker", "%s", detail);
        goto cleanup;
    }
    line(out, "PASS", "broker", "%s", detail);
    result = AGENT_PREFLIGHT_PASS;
cleanup:
    agent_identity_free(id);
    agent_config_free(&cfg);
    return result;
}
