/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The footprint floor for trustlinkd: the smallest OpenSSL 3 program that
 * holds one mutual-TLS connection (key in a PEM file, no PKCS#11, no MQTT,
 * no JSON). tests/bench/footprint.sh measures it beside trustlinkd in the
 * same run, so the agent's PSS is read against what OpenSSL alone costs on
 * the same machine at the same moment (file-backed PSS depends on what
 * else maps the libraries).
 *
 *   trustlink-tls-floor HOST PORT CAFILE CERTFILE KEYFILE
 *
 * Connects, verifies the server against CAFILE and HOST, prints
 * "connected TLSv1.x" and holds the connection until stdin closes or
 * SIGTERM.
 */
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_tcp(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *list = NULL, *ai;
    int fd = -1;

    if (getaddrinfo(host, port, &hints, &list) != 0)
        return -1;
    for (ai = list; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    return fd;
}

int main(int argc, char **argv)
{
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    int fd = -1, status = 1;
    char byte;

    if (argc != 6) {
        fprintf(stderr, "usage: trustlink-tls-floor HOST PORT CAFILE CERTFILE KEYFILE\n");
        return 2;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_load_verify_file(ctx, argv[3]) ||
        !SSL_CTX_use_certificate_chain_file(ctx, argv[4]) ||
        !SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM)) {
        fprintf(stderr, "trustlink-tls-floor: loading the CA, certificate or key failed\n");
        goto cleanup;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    fd = connect_tcp(argv[1], argv[2]);
    if (fd < 0) {
        fprintf(stderr, "trustlink-tls-floor: cannot connect to %s:%s\n", argv[1], argv[2]);
        goto cleanup;
    }
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set1_host(ssl, argv[1]) || SSL_connect(ssl) != 1) {
        fprintf(stderr, "trustlink-tls-floor: TLS handshake failed\n");
        ERR_print_errors_fp(stderr);
        goto cleanup;
    }
    printf("connected %s\n", SSL_get_version(ssl));
    fflush(stdout);
    while (read(STDIN_FILENO, &byte, 1) > 0)
        ;
    status = 0;
cleanup:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    return status;
}
