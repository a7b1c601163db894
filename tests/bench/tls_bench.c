/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS handshake benchmark (the second mode of the issue-6 benchmark): T
 * threads x H sequential TLS 1.3 handshakes with client authentication,
 * the client key on the token (libtrustlink-pkcs11.so through libp11's
 * PKCS11_* API, no engine), the client certificate from a PEM file, against
 * local `openssl s_server -rev` instances on loopback. One process runs one
 * phase; tests/bench/tls.sh sets up the emulator, the token, the test CA,
 * the servers, and runs each policy in a fresh process.
 *
 * What one handshake is here, wall clock: socket + connect, SSL_connect,
 * one "ping" line written and its reversed echo read back (so the server
 * has verified the client's CertificateVerify, and TLS 1.3 session tickets
 * have arrived), SSL_shutdown (close_notify), close. Each thread first does
 * one unmeasured warm-up handshake (full; in --resume mode it provides the
 * session the measured handshakes resume).
 *
 * Full mode: client session cache off, no session ever offered, so every
 * handshake is full and costs exactly one C_Sign (integration-facts §1).
 * --resume: each thread offers the newest session it got (SSL_set_session),
 * so measured handshakes resume and need no token signature (§3).
 * The C_Sign count comes from the driver's own counters, appended as a JSON
 * line to $TRUSTLINK_ATECC_STATS at C_Finalize (PKCS11_CTX_unload); the
 * warm-up handshakes that were full are subtracted.
 *
 * The chip-limited bound: one signature per full handshake, so handshakes/s
 * can never exceed the chip's signatures/s, computed exactly as in
 * sign_bench.c (Nonce + Sign at the emulator's timing x typical factor,
 * plus the bus time of both packets and both responses).
 *
 * Never a CTest test: it runs in real time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "atecc608/protocol.h"
#include "bench_util.h"
#include "emu_datasheet.h" /* the emulated chip's own times: its limit */

enum {
    MAX_THREADS = 16,
    MAX_HANDSHAKES = 4096,
    IO_TIMEOUT_S = 20,
};

#define TYPICAL_FACTOR 0.6

struct opts {
    const char *module;
    const char *token;
    const char *pin;
    const char *key_label;
    const char *cert;
    const char *ca;
    const char *json;
    const char *stats;
    const char *policy;
    const char *export_pubkey;
    unsigned ports[MAX_THREADS];
    unsigned n_ports;
    unsigned threads;
    unsigned handshakes;
    unsigned bus_hz;
    bool resume;
    bool header;
};

struct worker {
    SSL_CTX *ctx;
    unsigned port;
    bool resume;
    unsigned count;
    pthread_barrier_t *start;
    double *lat;
    unsigned failures;
    unsigned reused;          /* measured handshakes that resumed */
    unsigned warmup_full;     /* warm-up handshakes that were full */
    char error[256];
    double t_end;
};

static double bus_ms(unsigned bytes, unsigned bus_hz)
{
    return (double)(bytes + 1u) * 9.0 / bus_hz * 1e3;
}

/* Same floor as sign_bench.c: one signature can never take less. */
static double chip_ms(unsigned bus_hz)
{
    double exec = TYPICAL_FACTOR * (emu_exec_max_ms(ATECC_OP_NONCE, 0) +
                                    emu_exec_max_ms(ATECC_OP_SIGN, 0));
    double bus = bus_ms(1 + ATECC_PKT_OVERHEAD + ATECC_DIGEST_SIZE, bus_hz) +
                 bus_ms(ATECC_RSP_STATUS_COUNT, bus_hz) + bus_ms(1 + ATECC_PKT_OVERHEAD, bus_hz) +
                 bus_ms(ATECC_P256_SIGNATURE_SIZE + 3, bus_hz);

    return exec + bus;
}

static void ssl_error(char *buf, size_t len, const char *what, SSL *ssl, int ret)
{
    unsigned long e = ERR_peek_error();
    char reason[200] = "";

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(buf, len, "%s: SSL_get_error %d, errno %d (%s)%s%s", what,
             ssl != NULL ? SSL_get_error(ssl, ret) : 0, errno, strerror(errno),
             reason[0] ? ", " : "", reason);
    if (ssl != NULL && SSL_get_verify_result(ssl) != X509_V_OK)
        snprintf(buf + strlen(buf), len - strlen(buf), ", verify: %s",
                 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
    ERR_clear_error();
}

static int tcp_connect(unsigned port)
{
    struct sockaddr_in sa;
    struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Bounded waits: a stuck server or token fails the handshake. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One handshake: connect, SSL_connect, ping/echo, close_notify, close.
 * *sess: offered if not NULL (resume mode) and replaced by the newest. */
static int handshake(struct worker *w, SSL_SESSION **sess, bool *reused, char *err, size_t len)
{
    static const char ping[] = "ping\n";
    char buf[64];
    size_t got = 0;
    SSL *ssl = NULL;
    int fd = -1;
    int ret;
    int rc = -1;

    *reused = false;
    fd = tcp_connect(w->port);
    if (fd < 0) {
        snprintf(err, len, "connect 127.0.0.1:%u: %s", w->port, strerror(errno));
        goto cleanup;
    }
    ssl = SSL_new(w->ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        ssl_error(err, len, "SSL_new", NULL, 0);
        goto cleanup;
    }
    if (w->resume && *sess != NULL && SSL_set_session(ssl, *sess) != 1) {
        ssl_error(err, len, "SSL_set_session", ssl, 0);
        goto cleanup;
    }
    ret = SSL_connect(ssl);
    if (ret != 1) {
        ssl_error(err, len, "SSL_connect", ssl, ret);
        goto cleanup;
    }
    ret = SSL_write(ssl, ping, sizeof(ping) - 1);
    if (ret != (int)sizeof(ping) - 1) {
        ssl_error(err, len, "SSL_write", ssl, ret);
        goto cleanup;
    }
    /* The echo proves the server accepted our certificate and signature. */
    while (got < sizeof(ping) - 1) {
        ret = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got));
        if (ret <= 0) {
            ssl_error(err, len, "SSL_read (server refused us?)", ssl, ret);
            goto cleanup;
        }
        got += (size_t)ret;
    }
    if (memcmp(buf, "gnip\n", 5) != 0) {
        snprintf(err, len, "unexpected echo from s_server -rev");
        goto cleanup;
    }
    *reused = SSL_session_reused(ssl) == 1;
    if (w->resume) {
        SSL_SESSION *s = SSL_get1_session(ssl);

        if (s != NULL && SSL_SESSION_is_resumable(s)) {
            SSL_SESSION_free(*sess);
            *sess = s;
        } else {
            SSL_SESSION_free(s);
        }
    }
    SSL_shutdown(ssl);  /* close_notify; the session stays resumable */
    rc = 0;
cleanup:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    SSL_SESSION *sess = NULL;
    bool reused = false;
    bool ok;

    /* Warm-up: not measured. A full handshake in both modes. */
    ok = handshake(w, &sess, &reused, w->error, sizeof(w->error)) == 0;
    if (ok && !reused)
        w->warmup_full++;
    if (!ok)
        w->failures = w->count;
    pthread_barrier_wait(w->start);
    for (unsigned n = 0; ok && n < w->count; n++) {
        char err[256];
        double t0 = now_s();
        int r = handshake(w, &sess, &reused, err, sizeof(err));

        w->lat[n] = (now_s() - t0) * 1e3;
        if (r != 0) {
            w->failures++;
            if (w->error[0] == '\0')
                snprintf(w->error, sizeof(w->error), "%s", err);
        } else if (reused) {
            w->reused++;
        }
    }
    w->t_end = now_s();
    SSL_SESSION_free(sess);
    return NULL;
}

static void p11_errors(const char *what)
{
    unsigned long e;

    fprintf(stderr, "trustlink-tls-bench: %s\n", what);
    while ((e = ERR_get_error()) != 0) {
        char buf[256];

        ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "  %s\n", buf);
    }
}

static int parse_ports(const char *s, struct opts *o)
{
    char *copy = strdup(s);
    char *save = NULL;
    int rc = 0;

    o->n_ports = 0;
    if (copy == NULL)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        unsigned long v = strtoul(t, NULL, 10);

        if (o->n_ports >= MAX_THREADS || v == 0 || v > 65535) {
            rc = -1;
            break;
        }
        o->ports[o->n_ports++] = (unsigned)v;
    }
    free(copy);
    return o->n_ports > 0 ? rc : -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trustlink-tls-bench --module LIB --token LABEL --pin PIN --cert CLIENT.pem\n"
            "         --ca CA.pem --ports P1[,P2...] [--threads T] [--handshakes H]\n"
            "         [--key-label device] [--bus-hz 100000] [--resume] [--json FILE.jsonl]\n"
            "         [--stats FILE] [--header]\n"
            "One phase: T threads x H sequential TLS 1.3 handshakes with the client key on\n"
            "the token (libp11), thread i against 127.0.0.1:P[i %% n] (one s_server -rev\n"
            "per port). Full handshakes unless --resume. The driver policy is whatever\n"
            "TRUSTLINK_SIGN_POLICY says (reported). C_Sign is counted from the driver's\n"
            "stats file (--stats, default $TRUSTLINK_ATECC_STATS). Prints one table row\n"
            "(--header: the header first) and appends one JSON line to --json.\n"
            "Normally run by tests/bench/tls.sh, which does the whole setup.\n"
            "   or: trustlink-tls-bench --module LIB --token LABEL --pin PIN\n"
            "         [--key-label device] --export-pubkey OUT.pem\n"
            "writes the token's public key of that label as PEM (for the client cert).\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->key_label = "device";
    o->threads = 1;
    o->handshakes = 10;
    o->bus_hz = 100000;
    o->stats = getenv("TRUSTLINK_ATECC_STATS");
    o->policy = getenv("TRUSTLINK_SIGN_POLICY") ? getenv("TRUSTLINK_SIGN_POLICY") : "tuned";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--resume") == 0) {
            o->resume = true;
            continue;
        } else if (strcmp(a, "--header") == 0) {
            o->header = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "trustlink-tls-bench: %s: unknown, or needs a value\n", a);
            return -1;
        }
        i++;
        if (strcmp(a, "--module") == 0)
            o->module = v;
        else if (strcmp(a, "--token") == 0)
            o->token = v;
        else if (strcmp(a, "--pin") == 0)
            o->pin = v;
        else if (strcmp(a, "--key-label") == 0)
            o->key_label = v;
        else if (strcmp(a, "--cert") == 0)
            o->cert = v;
        else if (strcmp(a, "--ca") == 0)
            o->ca = v;
        else if (strcmp(a, "--json") == 0)
            o->json = v;
        else if (strcmp(a, "--stats") == 0)
            o->stats = v;
        else if (strcmp(a, "--export-pubkey") == 0)
            o->export_pubkey = v;
        else if (strcmp(a, "--ports") == 0) {
            if (parse_ports(v, o) != 0) {
                fprintf(stderr, "trustlink-tls-bench: bad --ports %s\n", v);
                return -1;
            }
        } else if (strcmp(a, "--threads") == 0)
            o->threads = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--handshakes") == 0)
            o->handshakes = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--bus-hz") == 0)
            o->bus_hz = (unsigned)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "trustlink-tls-bench: unknown option %s\n", a);
            return -1;
        }
    }
    if (o->module == NULL || o->token == NULL || o->pin == NULL) {
        fprintf(stderr, "trustlink-tls-bench: --module, --token and --pin are required\n");
        return -1;
    }
    if (o->export_pubkey != NULL)
        return 0;
    if (o->cert == NULL || o->ca == NULL || o->n_ports == 0) {
        fprintf(stderr, "trustlink-tls-bench: --module, --token, --pin, --cert, --ca and "
                        "--ports are required\n");
        return -1;
    }
    if (o->threads == 0 || o->threads > MAX_THREADS || o->handshakes == 0 ||
        o->threads * o->handshakes > MAX_HANDSHAKES || o->bus_hz == 0) {
        fprintf(stderr, "trustlink-tls-bench: need 1..%d threads, handshakes >= 1, at most %d "
                        "in total, bus-hz > 0\n", MAX_THREADS, MAX_HANDSHAKES);
        return -1;
    }
    return 0;
}

/* The public key object of the key's label, as PEM (the test CA certifies
 * it). pkcs11-tool --read-object --type pubkey would do, but OpenSC 0.23's
 * conversion reads freed memory (ASan: heap-use-after-free in pkcs11-tool
 * before EVP_PKEY_fromdata), so the ASan run could not use it. */
static int export_pubkey(const struct opts *o, PKCS11_SLOT *slot)
{
    PKCS11_KEY *keys = NULL;
    unsigned n = 0;
    EVP_PKEY *pub = NULL;
    FILE *f = NULL;
    int rc = -1;

    if (PKCS11_enumerate_public_keys(slot->token, &keys, &n) != 0) {
        p11_errors("PKCS11_enumerate_public_keys failed");
        goto cleanup;
    }
    for (unsigned i = 0; i < n && pub == NULL; i++)
        if (keys[i].label != NULL && strcmp(keys[i].label, o->key_label) == 0)
            pub = PKCS11_get_public_key(&keys[i]);
    if (pub == NULL) {
        fprintf(stderr, "trustlink-tls-bench: no public key labelled '%s' (%u public keys)\n",
                o->key_label, n);
        goto cleanup;
    }
    f = fopen(o->export_pubkey, "w");
    if (f == NULL) {
        perror(o->export_pubkey);
        goto cleanup;
    }
    if (PEM_write_PUBKEY(f, pub) != 1) {
        p11_errors("PEM_write_PUBKEY failed");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    EVP_PKEY_free(pub);
    return rc;
}

static SSL_CTX *make_ctx(const struct opts *o, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        goto fail;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        goto fail;
    /* Certificate first, then the token key (the other order drops the key). */
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
        p11_errors("cannot load the client certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        p11_errors("the token key does not match the client certificate");
        goto fail;
    }
    if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
        p11_errors("cannot load the CA file");
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), "127.0.0.1") != 1)
        goto fail;
    if (o->resume) {
        /* Sessions are kept per thread by hand (SSL_get1_session). */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int main(int argc, char **argv)
{
    struct opts o;
    PKCS11_CTX *p11 = NULL;
    PKCS11_SLOT *slots = NULL;
    PKCS11_SLOT *slot = NULL;
    PKCS11_KEY *keys = NULL;
    unsigned n_slots = 0;
    unsigned n_keys = 0;
    EVP_PKEY *pkey = NULL;
    SSL_CTX *ctx = NULL;
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    unsigned started = 0;
    pthread_barrier_t start;
    bool barrier = false;
    static double lat[MAX_HANDSHAKES];
    unsigned total;
    unsigned failures = 0;
    unsigned reused = 0;
    unsigned warmup_full = 0;
    const char *first_error = NULL;
    double t0 = 0;
    double t_end = 0;
    char stats_line[2048];
    double sigs = -1;
    double wakes = -1;
    int rc = 1;

    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    total = o.threads * o.handshakes;
    if (o.stats != NULL)
        unlink(o.stats);  /* only this process's C_Finalize line */

    p11 = PKCS11_CTX_new();
    if (p11 == NULL || PKCS11_CTX_load(p11, o.module) != 0) {
        p11_errors("PKCS11_CTX_load failed (module, or TRUSTLINK_PKCS11_CONF?)");
        goto cleanup;
    }
    if (PKCS11_enumerate_slots(p11, &slots, &n_slots) != 0) {
        p11_errors("PKCS11_enumerate_slots failed");
        goto cleanup;
    }
    for (unsigned i = 0; i < n_slots && slot == NULL; i++)
        if (slots[i].token != NULL && strcmp(slots[i].token->label, o.token) == 0)
            slot = &slots[i];
    if (slot == NULL) {
        fprintf(stderr, "trustlink-tls-bench: no token labelled '%s' (%u slots)\n", o.token,
                n_slots);
        goto cleanup;
    }
    if (PKCS11_login(slot, 0, o.pin) != 0) {
        p11_errors("PKCS11_login failed");
        goto cleanup;
    }
    if (o.export_pubkey != NULL) {
        rc = export_pubkey(&o, slot) == 0 ? 0 : 1;
        goto cleanup;
    }
    if (PKCS11_enumerate_keys(slot->token, &keys, &n_keys) != 0) {
        p11_errors("PKCS11_enumerate_keys failed");
        goto cleanup;
    }
    for (unsigned i = 0; i < n_keys && pkey == NULL; i++)
        if (keys[i].label != NULL && strcmp(keys[i].label, o.key_label) == 0)
            pkey = PKCS11_get_private_key(&keys[i]);
    if (pkey == NULL) {
        fprintf(stderr, "trustlink-tls-bench: no private key labelled '%s' on '%s' (%u keys)\n",
                o.key_label, o.token, n_keys);
        goto cleanup;
    }
    ERR_clear_error();
    ctx = make_ctx(&o, pkey);
    if (ctx == NULL)
        goto cleanup;

    if (pthread_barrier_init(&start, NULL, o.threads + 1) != 0)
        goto cleanup;
    barrier = true;
    for (unsigned i = 0; i < o.threads; i++) {
        w[i] = (struct worker){ .ctx = ctx, .port = o.ports[i % o.n_ports], .resume = o.resume,
                                .count = o.handshakes, .start = &start,
                                .lat = &lat[i * o.handshakes] };
        if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0)
            break;
        started++;
    }
    if (started != o.threads) {
        /* The barrier would never open: nothing else to do but leave. */
        fprintf(stderr, "trustlink-tls-bench: pthread_create failed\n");
        _exit(1);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        failures += w[i].failures;
        reused += w[i].reused;
        warmup_full += w[i].warmup_full;
        if (first_error == NULL && w[i].error[0] != '\0')
            first_error = w[i].error;
        if (w[i].t_end > t_end)
            t_end = w[i].t_end;
    }
    if (first_error != NULL)
        fprintf(stderr, "trustlink-tls-bench: %u of %u handshakes failed; first: %s\n", failures,
                total, first_error);
    rc = failures == 0 ? 0 : 1;
cleanup:
    if (barrier)
        pthread_barrier_destroy(&start);
    /* Teardown order (integration-facts §1): SSL_CTX, key, slots, unload. */
    SSL_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    if (slots != NULL)
        PKCS11_release_all_slots(p11, slots, n_slots);
    if (p11 != NULL) {
        PKCS11_CTX_unload(p11);  /* C_Finalize: the driver writes its counters */
        PKCS11_CTX_free(p11);
    }
    if (rc != 0 || o.export_pubkey != NULL || t_end <= t0)
        return rc != 0 ? 1 : 0;

    if (o.stats != NULL && read_last_line(o.stats, stats_line, sizeof(stats_line)) == 0) {
        double s = json_num(stats_line, "signatures", -1.0);
        double wp = json_num(stats_line, "wake_pulses", -1.0);

        if (s >= 0)
            sigs = s - warmup_full;
        if (wp >= 0)
            wakes = wp;
    } else {
        fprintf(stderr, "trustlink-tls-bench: no driver counters in %s (C_Sign not counted)\n",
                o.stats ? o.stats : "(TRUSTLINK_ATECC_STATS unset)");
    }
    {
        double secs = t_end - t0;
        double rate = total / secs;
        double cms = chip_ms(o.bus_hz);
        double limit = 1e3 / cms;
        double p50 = percentile(lat, total, 0.50);
        double p99 = percentile(lat, total, 0.99);
        double pmax = percentile(lat, total, 1.0);
        const char *mode = o.resume ? "resumed" : "full";
        char sig_s[32];
        char ratio_s[16];

        snprintf(ratio_s, sizeof(ratio_s), "%.3f", rate / limit);
        if (sigs >= 0)
            snprintf(sig_s, sizeof(sig_s), "%.0f (%.2f)", sigs, sigs / total);
        else
            snprintf(sig_s, sizeof(sig_s), "n/a");
        if (o.header)
            printf("| bus | policy | handshake | callers | handshakes | hs/s | limit hs/s | x limit "
                   "| p50 ms | p99 ms | reused | C_Sign (per hs) |\n"
                   "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        printf("| %u kHz | %s | %s | %u | %u | %.2f | %.2f | %s | %.1f | %.1f | %u | %s |\n",
               o.bus_hz / 1000, o.policy, mode, o.threads, total, rate, limit,
               o.resume ? "-" : ratio_s, p50, p99, reused, sig_s);
        fflush(stdout);
        if (o.json != NULL) {
            FILE *f = fopen(o.json, "a");

            if (f == NULL) {
                perror(o.json);
                return 1;
            }
            fprintf(f,
                    "{\"bus_hz\":%u,\"policy\":\"%s\",\"handshake\":\"%s\",\"threads\":%u,"
                    "\"handshakes\":%u,\"failures\":%u,\"reused\":%u,\"seconds\":%.3f,"
                    "\"handshakes_per_s\":%.3f,\"chip_ms_per_sig\":%.3f,"
                    "\"limit_handshakes_per_s\":%.3f,\"ratio_to_limit\":%.4f,\"p50_ms\":%.2f,"
                    "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"c_sign\":%.0f,\"c_sign_per_handshake\":%.3f,"
                    "\"driver_wake_pulses_incl_warmup\":%.0f}\n",
                    o.bus_hz, o.policy, mode, o.threads, total, failures, reused, secs, rate, cms,
                    limit, rate / limit, p50, p99, pmax, sigs, sigs >= 0 ? sigs / total : -1.0,
                    wakes);
            if (fclose(f) != 0)
                return 1;
        }
    }
    return 0;
}
