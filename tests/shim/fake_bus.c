/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scripted emu_wire peer (see fake_bus.h). One thread, poll() over the
 * listening socket and its clients; uses only socket calls (recv/send),
 * which the shim does not intercept, so it runs inside a process that has
 * the shim preloaded.
 */
#include "fake_bus.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "atecc608/emu_wire.h"

enum { FAKE_MAX_CLIENTS = 16 };

struct fake_bus {
    int listen_fd;
    int stop[2]; /* socketpair: a byte on stop[1] ends the thread */
    pthread_t thread;
    pthread_mutex_t lock;
    int drop;
    struct fake_txn log[FAKE_LOG_MAX];
    size_t log_len;
    int clients[FAKE_MAX_CLIENTS];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static bool recv_exact(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_reply(int fd, uint8_t result, const uint8_t *payload, size_t len)
{
    uint8_t hdr[EMU_WIRE_REPLY_HEADER] = { result, 0, (uint8_t)(len & 0xFF), (uint8_t)(len >> 8) };

    if (send(fd, hdr, sizeof hdr, MSG_NOSIGNAL) != (ssize_t)sizeof hdr)
        return false;
    return len == 0 || send(fd, payload, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* Serves one request; false closes the connection. */
static bool serve_one(struct fake_bus *bus, int fd)
{
    uint8_t hdr[EMU_WIRE_REQUEST_HEADER];
    static uint8_t payload[EMU_WIRE_PAYLOAD_MAX];
    uint8_t reply[EMU_WIRE_PAYLOAD_MAX];
    struct fake_txn t;
    size_t len;
    int drop;

    if (!recv_exact(fd, hdr, sizeof hdr))
        return false;
    len = (size_t)hdr[4] | (size_t)hdr[5] << 8;
    if (len > EMU_WIRE_PAYLOAD_MAX)
        return false;
    if (hdr[0] == EMU_WIRE_OP_WRITE && len > 0 && !recv_exact(fd, payload, len))
        return false;
    memset(&t, 0, sizeof t);
    t.op = hdr[0];
    t.addr = hdr[1];
    t.flags = hdr[2];
    t.len = len;
    if (hdr[0] == EMU_WIRE_OP_WRITE)
        memcpy(t.data, payload, len < FAKE_LOG_DATA ? len : FAKE_LOG_DATA);
    pthread_mutex_lock(&bus->lock);
    drop = bus->drop;
    if (!drop && bus->log_len < FAKE_LOG_MAX)
        bus->log[bus->log_len++] = t;
    pthread_mutex_unlock(&bus->lock);
    if (drop)
        return false;

    switch (hdr[0]) {
    case EMU_WIRE_OP_HELLO: {
        const uint8_t hello[EMU_WIRE_HELLO_PAYLOAD] = { EMU_WIRE_VERSION, 0, 0, 0, 0xA0, 0x86, 0x01, 0, 0, 0, 0, 0 };

        return send_reply(fd, EMU_WIRE_ACK, hello, sizeof hello);
    }
    case EMU_WIRE_OP_WRITE:
        if (hdr[1] == FAKE_ADDR_ACK)
            return send_reply(fd, EMU_WIRE_ACK, NULL, 0);
        if (hdr[1] == FAKE_ADDR_DATA_NAK && len > 0)
            return send_reply(fd, (hdr[2] & EMU_WIRE_IGNORE_NAK) ? EMU_WIRE_ACK : EMU_WIRE_NAK_DATA, NULL, 0);
        if (hdr[1] == FAKE_ADDR_DATA_NAK)
            return send_reply(fd, EMU_WIRE_ACK, NULL, 0);
        return send_reply(fd, (hdr[2] & EMU_WIRE_IGNORE_NAK) ? EMU_WIRE_ACK : EMU_WIRE_NAK_ADDR, NULL, 0);
    case EMU_WIRE_OP_READ:
        if (hdr[1] != FAKE_ADDR_ACK)
            return send_reply(fd, EMU_WIRE_NAK_ADDR, NULL, 0);
        for (size_t i = 0; i < len; i++)
            reply[i] = (uint8_t)i;
        return send_reply(fd, EMU_WIRE_ACK, reply, len);
    default: {
        static const char msg[] = "unknown op";

        send_reply(fd, EMU_WIRE_ERROR, (const uint8_t *)msg, sizeof msg - 1);
        return false;
    }
    }
}

static void *fake_bus_main(void *arg)
{
    struct fake_bus *bus = arg;

    for (;;) {
        struct pollfd pfd[2 + FAKE_MAX_CLIENTS];
        nfds_t n = 0;

        pfd[n].fd = bus->stop[0];
        pfd[n++].events = POLLIN;
        pfd[n].fd = bus->listen_fd;
        pfd[n++].events = POLLIN;
        for (size_t i = 0; i < FAKE_MAX_CLIENTS; i++) {
            pfd[n].fd = bus->clients[i];
            pfd[n++].events = POLLIN;
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN) {
            int c = accept(bus->listen_fd, NULL, NULL);

            for (size_t i = 0; c >= 0 && i < FAKE_MAX_CLIENTS; i++) {
                if (bus->clients[i] < 0) {
                    bus->clients[i] = c;
                    c = -1;
                }
            }
            if (c >= 0)
                close(c);
        }
        for (size_t i = 0; i < FAKE_MAX_CLIENTS; i++) {
            if (bus->clients[i] >= 0 && pfd[2 + i].revents && !serve_one(bus, bus->clients[i])) {
                close(bus->clients[i]);
                bus->clients[i] = -1;
            }
        }
    }
    return NULL;
}

struct fake_bus *fake_bus_start(const char *socket_path)
{
    struct fake_bus *bus = calloc(1, sizeof *bus);
    struct sockaddr_un sa;

    if (!bus || strlen(socket_path) >= sizeof sa.sun_path)
        goto fail_alloc;
    pthread_mutex_init(&bus->lock, NULL);
    for (size_t i = 0; i < FAKE_MAX_CLIENTS; i++)
        bus->clients[i] = -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, socket_path);
    strcpy(bus->path, socket_path);
    bus->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bus->listen_fd < 0)
        goto fail_alloc;
    if (bind(bus->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(bus->listen_fd, 16) != 0)
        goto fail_listen;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bus->stop) != 0)
        goto fail_listen;
    if (pthread_create(&bus->thread, NULL, fake_bus_main, bus) != 0)
        goto fail_pair;
    return bus;

fail_pair:
    close(bus->stop[0]);
    close(bus->stop[1]);
fail_listen:
    close(bus->listen_fd);
    unlink(socket_path);
fail_alloc:
    free(bus);
    return NULL;
}

void fake_bus_stop(struct fake_bus *bus)
{
    if (!bus)
        return;
    send(bus->stop[1], "x", 1, MSG_NOSIGNAL);
    pthread_join(bus->thread, NULL);
    for (size_t i = 0; i < FAKE_MAX_CLIENTS; i++) {
        if (bus->clients[i] >= 0)
            close(bus->clients[i]);
    }
    close(bus->stop[0]);
    close(bus->stop[1]);
    close(bus->listen_fd);
    unlink(bus->path);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

void fake_bus_set_drop(struct fake_bus *bus, int on)
{
    pthread_mutex_lock(&bus->lock);
    bus->drop = on;
    pthread_mutex_unlock(&bus->lock);
}

size_t fake_bus_log(struct fake_bus *bus, struct fake_txn *out, size_t cap)
{
    size_t n;

    pthread_mutex_lock(&bus->lock);
    n = bus->log_len < cap ? bus->log_len : cap;
    memcpy(out, bus->log, n * sizeof *out);
    pthread_mutex_unlock(&bus->lock);
    return n;
}

void fake_bus_clear(struct fake_bus *bus)
{
    pthread_mutex_lock(&bus->lock);
    bus->log_len = 0;
    pthread_mutex_unlock(&bus->lock);
}
