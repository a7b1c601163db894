/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The atecc608-emu event loop and the emu_wire request handling.
 *
 * What wakes the process, all in emu_server_run: a new connection on the
 * listening socket, bytes from a client, a client hanging up, or SIGTERM /
 * SIGINT (delivered only inside ppoll, so a stop request is never lost
 * between the check and the wait). Single-threaded: requests from
 * different clients are served one at a time, in the order they complete,
 * which is how a single I2C bus serialises its masters.
 *
 * Owns client connections and their buffers. Never trusts a length from
 * the wire: the header is checked (op, reserved byte, address, flags,
 * length <= EMU_WIRE_PAYLOAD_MAX) before a payload byte is read. A
 * malformed request gets an ERROR reply with a message and the connection
 * is closed; the daemon carries on.
 */
#define _GNU_SOURCE /* ppoll and accept4: Linux-only daemon */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "atecc608/emu_wire.h"
#include "emu_server.h"
#include "emu_stats_wire.h"

enum {
    EMU_SERVER_CLIENTS_MAX = 32,
    EMU_SERVER_SEND_TIMEOUT_MS = 5000,
};

struct emu_client {
    int fd;
    uint8_t header[EMU_WIRE_REQUEST_HEADER];
    size_t header_len;
    size_t payload_need;  /* payload bytes this request carries */
    size_t payload_len;
    uint8_t payload[EMU_WIRE_PAYLOAD_MAX];
};

struct emu_server {
    struct emu_chip *chip;
    int listen_fd;
    struct emu_client *clients[EMU_SERVER_CLIENTS_MAX];
    size_t client_count;
    bool persist_warned;
};

/* Reply buffer: header + the largest payload. */
struct emu_reply {
    uint8_t result;
    size_t len;
    uint8_t payload[EMU_WIRE_PAYLOAD_MAX];
};

static void emu_put32(uint8_t *p, uint32_t value)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(value >> (8 * i));
}

static int emu_send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            if (poll(&pfd, 1, EMU_SERVER_SEND_TIMEOUT_MS) <= 0)
                return -1;
            continue;
        }
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int emu_reply_send(int fd, const struct emu_reply *reply)
{
    uint8_t header[EMU_WIRE_REPLY_HEADER] = {
        reply->result, 0, (uint8_t)(reply->len & 0xFF), (uint8_t)(reply->len >> 8),
    };

    if (emu_send_all(fd, header, sizeof(header)) != 0)
        return -1;
    return emu_send_all(fd, reply->payload, reply->len);
}

static void emu_reply_error(struct emu_reply *reply, const char *message)
{
    size_t len = strlen(message);

    if (len > sizeof(reply->payload))
        len = sizeof(reply->payload);
    reply->result = EMU_WIRE_ERROR;
    memcpy(reply->payload, message, len);
    reply->len = len;
}

static uint8_t emu_wire_result(enum emu_bus_result result)
{
    switch (result) {
    case EMU_BUS_ACK: return EMU_WIRE_ACK;
    case EMU_BUS_NAK_ADDR: return EMU_WIRE_NAK_ADDR;
    default: return EMU_WIRE_NAK_DATA;
    }
}

/* Checks a complete header; sets payload_need. NULL when valid. */
static const char *emu_header_check(struct emu_client *client)
{
    const uint8_t *h = client->header;
    size_t length = (size_t)h[4] | (size_t)h[5] << 8;

    if (h[3] != 0)
        return "malformed request: reserved byte must be 0";
    if (length > EMU_WIRE_PAYLOAD_MAX)
        return "malformed request: length exceeds EMU_WIRE_PAYLOAD_MAX (4096)";
    switch (h[0]) {
    case EMU_WIRE_OP_HELLO:
        if (length != 0)
            return "malformed HELLO: length must be 0";
        client->payload_need = 0;
        return NULL;
    case EMU_WIRE_OP_WRITE:
    case EMU_WIRE_OP_READ:
        if (h[1] > 0x7F)
            return "malformed request: address is not a 7-bit I2C address";
        if ((h[2] & ~EMU_WIRE_IGNORE_NAK) != 0 || (h[0] == EMU_WIRE_OP_READ && h[2] != 0))
            return "malformed request: unknown flags";
        client->payload_need = h[0] == EMU_WIRE_OP_WRITE ? length : 0;
        return NULL;
    case EMU_WIRE_OP_FAULT:
        if (length == 0)
            return "malformed FAULT: empty specification";
        client->payload_need = length;
        return NULL;
    case EMU_WIRE_OP_STATS:
        if (length != 0 || h[1] != 0 || h[2] != 0)
            return "malformed STATS: address, flags and length must be 0";
        client->payload_need = 0;
        return NULL;
    default:
        return "malformed request: unknown op (expected 'H', 'W', 'R', 'F' or 'S')";
    }
}

/* Executes a complete, valid request. false: the reply is an ERROR. */
static bool emu_request_run(struct emu_server *server, struct emu_client *client, struct emu_reply *reply)
{
    const uint8_t *h = client->header;
    size_t length = (size_t)h[4] | (size_t)h[5] << 8;
    char spec[EMU_WIRE_PAYLOAD_MAX + 1];
    char err[256];

    reply->result = EMU_WIRE_ACK;
    reply->len = 0;
    switch (h[0]) {
    case EMU_WIRE_OP_HELLO: {
        double scale = emu_chip_time_scale(server->chip) * 1000.0;
        emu_put32(reply->payload, EMU_WIRE_VERSION);
        emu_put32(reply->payload + 4, emu_chip_bus_hz(server->chip));
        emu_put32(reply->payload + 8, scale >= 4294967295.0 ? UINT32_MAX : (uint32_t)(scale + 0.5));
        reply->len = EMU_WIRE_HELLO_PAYLOAD;
        return true;
    }
    case EMU_WIRE_OP_WRITE:
        reply->result = emu_wire_result(emu_bus_write(server->chip, h[1], client->payload,
                                                      client->payload_len, h[2]));
        return true;
    case EMU_WIRE_OP_READ: {
        enum emu_bus_result result = emu_bus_read(server->chip, h[1], reply->payload, length);
        reply->result = emu_wire_result(result);
        reply->len = result == EMU_BUS_ACK ? length : 0;
        return true;
    }
    case EMU_WIRE_OP_STATS: {
        struct emu_stats stats;

        emu_stats_get(server->chip, &stats);
        reply->len = emu_wire_stats_encode(&stats, reply->payload, sizeof(reply->payload));
        return true;
    }
    default: /* FAULT */
        if (memchr(client->payload, '\0', client->payload_len) != NULL) {
            emu_reply_error(reply, "malformed FAULT: NUL byte in the specification");
            return false;
        }
        memcpy(spec, client->payload, client->payload_len);
        spec[client->payload_len] = '\0';
        if (emu_fault_add(server->chip, spec, err, sizeof(err)) != 0) {
            /* A rejected rule is an answer, not a protocol violation. */
            emu_reply_error(reply, err);
            return true;
        }
        return true;
    }
}

static void emu_client_close(struct emu_server *server, size_t index)
{
    struct emu_client *client = server->clients[index];

    close(client->fd);
    free(client);
    server->clients[index] = server->clients[server->client_count - 1];
    server->clients[server->client_count - 1] = NULL;
    server->client_count--;
}

static void emu_server_accept(struct emu_server *server)
{
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct emu_client *client;

    if (fd < 0)
        return; /* EAGAIN, ECONNABORTED, EMFILE: nothing to serve */
    if (server->client_count == EMU_SERVER_CLIENTS_MAX) {
        static const char message[] = "too many clients";
        uint8_t header[EMU_WIRE_REPLY_HEADER] = { EMU_WIRE_ERROR, 0, sizeof(message) - 1, 0 };
        (void)emu_send_all(fd, header, sizeof(header));
        (void)emu_send_all(fd, (const uint8_t *)message, sizeof(message) - 1);
        close(fd);
        return;
    }
    client = calloc(1, sizeof(*client));
    if (client == NULL) {
        close(fd);
        return;
    }
    client->fd = fd;
    server->clients[server->client_count++] = client;
}

/*
 * Reads what the client sent and serves complete requests. Returns false
 * when the connection must be closed (hang-up, error, malformed request).
 */
static bool emu_client_serve(struct emu_server *server, struct emu_client *client, struct emu_reply *reply)
{
    for (;;) {
        uint8_t *dst;
        size_t want;
        ssize_t n;

        if (client->header_len < EMU_WIRE_REQUEST_HEADER) {
            dst = client->header + client->header_len;
            want = EMU_WIRE_REQUEST_HEADER - client->header_len;
        } else {
            dst = client->payload + client->payload_len;
            want = client->payload_need - client->payload_len;
        }
        if (want > 0) {
            n = recv(client->fd, dst, want, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true;
            if (n <= 0)
                return false;
            if (client->header_len < EMU_WIRE_REQUEST_HEADER) {
                client->header_len += (size_t)n;
                if (client->header_len == EMU_WIRE_REQUEST_HEADER) {
                    const char *problem = emu_header_check(client);
                    if (problem != NULL) {
                        emu_reply_error(reply, problem);
                        (void)emu_reply_send(client->fd, reply);
                        return false;
                    }
                    client->payload_len = 0;
                }
            } else {
                client->payload_len += (size_t)n;
            }
            if (client->header_len < EMU_WIRE_REQUEST_HEADER || client->payload_len < client->payload_need)
                continue;
        }
        /* A complete request. */
        {
            bool keep = emu_request_run(server, client, reply);
            if (emu_reply_send(client->fd, reply) != 0 || !keep)
                return false;
        }
        client->header_len = 0;
        client->payload_len = 0;
        client->payload_need = 0;
        if (!server->persist_warned && emu_chip_last_error(server->chip) != NULL) {
            fprintf(stderr, "atecc608-emu: warning: chip state not saved: %s\n",
                    emu_chip_last_error(server->chip));
            server->persist_warned = true;
        }
    }
}

int emu_server_run(struct emu_chip *chip, int listen_fd, const volatile sig_atomic_t *stop,
                   const sigset_t *wait_mask)
{
    struct emu_server server = { .chip = chip, .listen_fd = listen_fd };
    struct pollfd fds[1 + EMU_SERVER_CLIENTS_MAX];
    struct emu_reply *reply = NULL;
    int rc = -1;

    reply = malloc(sizeof(*reply));
    if (reply == NULL) {
        fprintf(stderr, "atecc608-emu: out of memory\n");
        goto cleanup;
    }
    while (!*stop) {
        size_t nfds = 0;
        int ready;

        fds[nfds++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
        for (size_t i = 0; i < server.client_count; i++)
            fds[nfds++] = (struct pollfd){ .fd = server.clients[i]->fd, .events = POLLIN };
        ready = ppoll(fds, nfds, NULL, wait_mask);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "atecc608-emu: poll failed: %s\n", strerror(errno));
            goto cleanup;
        }
        /* Clients first, from the back, so closing one keeps indexes valid. */
        for (size_t i = server.client_count; i-- > 0;) {
            if (fds[1 + i].revents == 0)
                continue;
            if (!emu_client_serve(&server, server.clients[i], reply))
                emu_client_close(&server, i);
        }
        if ((fds[0].revents & POLLIN) != 0)
            emu_server_accept(&server);
    }
    rc = 0;
cleanup:
    while (server.client_count > 0)
        emu_client_close(&server, server.client_count - 1);
    free(reply);
    return rc;
}
