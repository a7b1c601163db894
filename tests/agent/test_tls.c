/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the agent's TLS context (agent/tls.c): whole handshakes in
 * memory (a BIO pair, no socket) between an agent_tls client and an
 * OpenSSL server made here, with certificates from the rotation tests'
 * factory. Covers what only a handshake shows: the signature counter, the
 * callbacks once the agent_tls is gone while a connection made from it
 * lives on, and whose alert ended a failed handshake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "test_certs.h"
#include "tls.h"

#define DAY 86400L
/* libssl checks validity against the wall clock: certificates valid from
 * ten years before NOW until 2099 cover any run of these tests. */
#define FROM (-3650 * DAY)
#define UNTIL "20991231235959Z"

struct fixture {
    EVP_PKEY *ca_key, *stranger_ca_key, *broker_key, *device_key;
    X509 *ca, *stranger_ca;
    X509 *broker_cert;          /* from ca: the agent trusts it */
    X509 *stranger_broker_cert; /* from stranger_ca: the agent does not */
    X509 *device_cert;          /* from ca: the broker trusts it */
    X509 *stranger_device_cert; /* from stranger_ca: the broker does not */
    char ca_file[64];
    struct agent_broker_config broker;
    struct agent_tls_counters counters;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->ca_key = new_key();
    f->stranger_ca_key = new_key();
    f->broker_key = new_key();
    f->device_key = new_key();
    f->ca = test_cert(&(struct test_cert_spec){.key = f->ca_key, .subject = "CN=tls test CA",
                                               .not_before = FROM, .not_after_at = UNTIL,
                                               .is_ca = 1});
    /* Same name, other key: only the signature tells them apart. */
    f->stranger_ca = test_cert(&(struct test_cert_spec){
        .key = f->stranger_ca_key, .subject = "CN=tls test CA", .not_before = FROM,
        .not_after_at = UNTIL, .is_ca = 1});
    f->broker_cert = test_cert(&(struct test_cert_spec){
        .key = f->broker_key, .subject = "CN=broker", .san = "IP:127.0.0.1", .issuer = f->ca,
        .issuer_key = f->ca_key, .not_before = FROM, .not_after_at = UNTIL, .eku = "serverAuth"});
    f->stranger_broker_cert = test_cert(&(struct test_cert_spec){
        .key = f->broker_key, .subject = "CN=broker", .san = "IP:127.0.0.1",
        .issuer = f->stranger_ca, .issuer_key = f->stranger_ca_key,
        .not_before = FROM, .not_after_at = UNTIL,
        .eku = "serverAuth"});
    f->device_cert = test_cert(&(struct test_cert_spec){
        .key = f->device_key, .subject = "CN=device-001", .issuer = f->ca,
        .issuer_key = f->ca_key, .not_before = FROM, .not_after_at = UNTIL, .eku = "clientAuth"});
    f->stranger_device_cert = test_cert(&(struct test_cert_spec){
        .key = f->device_key, .subject = "CN=device-001", .issuer = f->stranger_ca,
        .issuer_key = f->stranger_ca_key, .not_before = FROM, .not_after_at = UNTIL,
        .eku = "clientAuth"});
    strcpy(f->ca_file, "/tmp/tls-test-ca-XXXXXX");
    write_cert_file(f->ca, f->ca_file);
    f->broker.host = "127.0.0.1";
    f->broker.port = 8883;
    f->broker.ca_file = f->ca_file;
    f->broker.tls_min_version = AGENT_TLS_1_2;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->ca_file);
    X509_free(f->ca);
    X509_free(f->stranger_ca);
    X509_free(f->broker_cert);
    X509_free(f->stranger_broker_cert);
    X509_free(f->device_cert);
    X509_free(f->stranger_device_cert);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->stranger_ca_key);
    EVP_PKEY_free(f->broker_key);
    EVP_PKEY_free(f->device_key);
    free(f);
    return 0;
}

/* A broker that asks for a client certificate and trusts only the
 * fixture's CA; max_version 0 = any. */
static SSL *broker_ssl(struct fixture *f, X509 *cert, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl;

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, f->broker_key), 1);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), f->ca), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (max_version)
        assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_CTX_free(ctx); /* the SSL keeps its reference */
    return ssl;
}

static struct agent_tls *device_tls(struct fixture *f, X509 *cert)
{
    char err[256] = "";
    struct agent_tls *tls = agent_tls_new_for_key(&f->broker, cert, NULL, f->device_key,
                                                  "test key", &f->counters, err, sizeof(err));

    if (!tls)
        print_error("agent_tls_new_for_key: %s\n", err);
    assert_non_null(tls);
    return tls;
}

/* One step of one end: 1 done, 0 wants more, -1 failed. */
static int step(SSL *ssl, bool handshaking)
{
    unsigned char byte;
    int rc = handshaking ? SSL_do_handshake(ssl) : SSL_read(ssl, &byte, 1);

    if (rc == 1)
        return 1;
    return SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ ? 0 : -1;
}

/* Runs the handshake over a BIO pair, each end until it completes or
 * fails (so the end that did not fail reads the other's alert), then a few
 * reads each way so that post-handshake messages (tickets) and a TLS 1.3
 * server's verdict on our certificate, sent after our Finished, arrive.
 * Returns 1 when both ends completed and nothing failed. */
static int handshake(SSL *client, SSL *server)
{
    BIO *cb = NULL, *sb = NULL;
    int client_state = 0, server_state = 0;

    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    for (int round = 0; round < 50 && (client_state == 0 || server_state == 0); round++) {
        if (client_state == 0)
            client_state = step(client, true);
        if (server_state == 0)
            server_state = step(server, true);
    }
    for (int round = 0; round < 3; round++) {
        if (client_state == 1 && step(client, false) < 0)
            client_state = -1;
        if (server_state == 1 && step(server, false) < 0)
            server_state = -1;
    }
    ERR_clear_error();
    return client_state == 1 && server_state == 1;
}

static void good_handshake_counts_one_signature(void **state)
{
    struct fixture *f = *state;
    struct agent_tls *tls = device_tls(f, f->device_cert);
    SSL *client = SSL_new(agent_tls_ctx(tls));
    SSL *server = broker_ssl(f, f->broker_cert, 0);
    struct agent_tls_failure failure;

    assert_non_null(client);
    assert_int_equal(handshake(client, server), 1);
    assert_int_equal(f->counters.signatures, 1);
    assert_int_equal(f->counters.full_handshakes, 1);
    agent_tls_take_failure(tls, &failure);
    assert_false(failure.failed);
    assert_int_equal(failure.alert, -1);
    assert_int_equal(failure.sent_alert, -1);
    SSL_free(client);
    SSL_free(server);
    agent_tls_free(tls);
}

/* libmosquitto may keep an SSL made from our context after the agent
 * freed its agent_tls (the context is reference-counted). Its callbacks
 * must then find no state: the message callback used to keep a raw
 * pointer to the freed agent_tls (a use after free ASan reports, and a
 * write through a stale counters pointer without it). */
static void connection_outliving_the_tls_object(void **state)
{
    struct fixture *f = *state;
    struct agent_tls *tls = device_tls(f, f->device_cert);
    SSL *client = SSL_new(agent_tls_ctx(tls));
    SSL *server = broker_ssl(f, f->broker_cert, 0);

    assert_non_null(client);
    agent_tls_free(tls);
    assert_int_equal(handshake(client, server), 1);
    assert_int_equal(f->counters.signatures, 0);
    assert_int_equal(f->counters.full_handshakes, 0);
    SSL_free(client);
    SSL_free(server);
}

/* We do not trust the broker: our verification fails and *we* send the
 * fatal alert. It must not be recorded as the broker's refusal. */
static void our_own_alert_is_not_the_brokers(void **state)
{
    struct fixture *f = *state;
    struct agent_tls *tls = device_tls(f, f->device_cert);
    SSL *client = SSL_new(agent_tls_ctx(tls));
    SSL *server = broker_ssl(f, f->stranger_broker_cert, 0);
    struct agent_tls_failure failure;

    assert_int_equal(handshake(client, server), 0);
    agent_tls_take_failure(tls, &failure);
    assert_true(failure.failed);
    assert_int_not_equal(failure.verify_error, X509_V_OK);
    assert_int_equal(failure.alert, -1);
    /* decrypt_error: the certificate names our CA but its signature fails. */
    assert_int_equal(failure.sent_alert, SSL_AD_DECRYPT_ERROR);
    SSL_free(client);
    SSL_free(server);
    agent_tls_free(tls);
}

/* The broker does not trust us (our certificate names its CA, but the
 * signature fails: decrypt_error): its fatal alert is the broker's. */
static void brokers_alert_is_recorded(void **state)
{
    struct fixture *f = *state;
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        struct agent_tls *tls = device_tls(f, f->stranger_device_cert);
        SSL *client = SSL_new(agent_tls_ctx(tls));
        SSL *server = broker_ssl(f, f->broker_cert, versions[i]);
        struct agent_tls_failure failure;

        assert_int_equal(handshake(client, server), 0);
        agent_tls_take_failure(tls, &failure);
        assert_true(failure.failed);
        assert_int_equal(failure.verify_error, X509_V_OK);
        if (failure.alert != SSL_AD_DECRYPT_ERROR)
            print_error("TLS version %x: alert %d\n", (unsigned)versions[i], failure.alert);
        assert_int_equal(failure.alert, SSL_AD_DECRYPT_ERROR);
        assert_int_equal(failure.sent_alert, -1);
        SSL_free(client);
        SSL_free(server);
        agent_tls_free(tls);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(good_handshake_counts_one_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_outliving_the_tls_object, setup, teardown),
        cmocka_unit_test_setup_teardown(our_own_alert_is_not_the_brokers, setup, teardown),
        cmocka_unit_test_setup_teardown(brokers_alert_is_recorded, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
