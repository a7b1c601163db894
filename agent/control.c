/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server of trustlinkd (see control.h for the contract and
 * the protocol).
 *
 * Owns: the client connections: their input buffers, line framing,
 * deadlines (per line and idle) and slots (some kept for root and the
 * agent's user). What a line means is control_request.c's; replies
 * (output, held replies) are control_reply.c's; the socket file is
 * control_listen.c's; who a peer is and what it may do is
 * control_peer.c's.
 * Must never: block (every fd is O_NONBLOCK and every write is
 * MSG_DONTWAIT), let a buffer grow past its bound, or call into MQTT, TLS
 * or PKCS#11 other than through the handlers.
 */
#define _GNU_SOURCE /* accept4 */
#include "control.h"
#include "clock.h"
#include "control_internal.h"
#include "control_request.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <json-c/json.h>

enum {
    CONTROL_DEFAULT_MAX_CLIENTS = 16,
    CONTROL_DEFAULT_MAX_LINE = 65536,
    CONTROL_DEFAULT_IDLE_MS = 30000,
    CONTROL_DEFAULT_LINE_MS = 5000,
    /* Input consumed per client per dispatch, so that one flooding client
     * cannot starve the loop; poll is level-triggered, the rest waits. */
    CONTROL_READ_BUDGET = 64 * 1024,
    CONTROL_READ_CHUNK = 16 * 1024,
    /* Input buffers start small and are given back when idle, so 16
     * quiet clients do not pin 16 x max_line of memory. */
    CONTROL_IN_INITIAL = 4096,
    /* After EMFILE/ENFILE the listening socket stays readable; stop
     * polling it for a while instead of spinning. */
    CONTROL_ACCEPT_PAUSE_MS = 1000,
};

struct agent_control *agent_control_open(const struct agent_control_config *config,
                                         const struct agent_control_handlers *handlers,
                                         char *err, size_t err_len)
{
    struct agent_control *control = NULL;
    size_t i;

    if (config == NULL || config->path == NULL || handlers == NULL || handlers->status == NULL ||
        handlers->publish == NULL || handlers->reconnect == NULL) {
        snprintf(err, err_len, "agent_control_open: missing path or handler");
        return NULL;
    }
    control = calloc(1, sizeof(*control));
    if (control == NULL)
        goto nomem;
    control->listener.fd = -1;
    control->handlers = *handlers;
    control->peer_cred = config->peer_cred;
    control->peer_cred_ctx = config->peer_cred_ctx;
    control->max_clients = config->max_clients ? config->max_clients : CONTROL_DEFAULT_MAX_CLIENTS;
    control->reserved_clients = config->reserved_clients ? config->reserved_clients
                                                         : control->max_clients / 4;
    control->max_line = config->max_line ? config->max_line : CONTROL_DEFAULT_MAX_LINE;
    control->idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms
                                                       : CONTROL_DEFAULT_IDLE_MS;
    control->line_timeout_ms = config->line_timeout_ms ? config->line_timeout_ms
                                                       : CONTROL_DEFAULT_LINE_MS;
    if (control->max_clients > 4096 || control->max_line > 16u * 1024 * 1024 ||
        control->reserved_clients >= control->max_clients) {
        snprintf(err, err_len, "control socket limits out of range (max_clients <= 4096, "
                               "reserved_clients < max_clients, max_line <= 16 MiB)");
        goto fail;
    }
    control->clients = calloc(control->max_clients, sizeof(*control->clients));
    if (control->clients == NULL)
        goto nomem;
    for (i = 0; i < control->max_clients; i++)
        control->clients[i].fd = -1;
    if (control_acl_init(&control->acl, config) != 0)
        goto nomem;
    if (control_listener_open(&control->listener, config->path, config->mode,
                              (int)(control->max_clients < 64 ? 64 : control->max_clients), err,
                              err_len) < 0)
        goto fail;
    return control;

nomem:
    snprintf(err, err_len, "out of memory setting up the control socket");
fail:
    agent_control_close(control);
    return NULL;
}

void agent_control_close(struct agent_control *control)
{
    size_t i;

    if (control == NULL)
        return;
    for (i = 0; control->clients != NULL && i < control->max_clients; i++)
        control_client_free(&control->clients[i]);
    control_listener_close(&control->listener);
    control_acl_free(&control->acl);
    free(control->clients);
    free(control);
}

/* ---- requests ------------------------------------------------------- */

/* Handles one line (without its '\n'). -1 when the client was closed. */
static int handle_line(struct agent_control *control, struct control_client *c, const char *line,
                       size_t len)
{
    struct control_peer peer = control_acl_rights(&control->acl, c->cred_ok ? &c->cred : NULL);
    struct json_object *req = NULL;
    struct json_object *reply = NULL;
    struct json_object *id = NULL;
    char err[CONTROL_ERR_LEN] = "";
    uint64_t ticket;
    int rc;

    if (control_request_is_blank(line, len))
        return 0;
    rc = control_request_parse(line, len, &req, &id, err, sizeof(err));
    if (rc == -2) {
        control_client_close(control, c, err);
        return -1;
    }
    if (rc < 0)
        return control_reply_error(control, c, NULL, err);
    rc = -1;
    reply = control_make_reply(true, id);
    if (reply == NULL) {
        control_client_close(control, c, "out of memory");
        goto cleanup;
    }
    if (control_request_run(&control->handlers, &peer, req, reply, err, sizeof(err)) < 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "command failed");
        rc = control_reply_error(control, c, id, err);
        goto cleanup;
    }
    /* Accepted but not finished (fsync mode: not on disk yet): the reply
     * is held and the other clients are served meanwhile. */
    ticket = control->handlers.reply_ticket ? control->handlers.reply_ticket(control->handlers.ctx)
                                            : 0;
    if (ticket != 0)
        rc = control_client_hold(control, c, reply, id, ticket);
    else
        rc = control_client_queue(control, c, reply);
cleanup:
    json_object_put(reply);
    json_object_put(req);
    return rc;
}

/* Deadlines after input was framed. A request (line_done) restarts the
 * idle deadline. A line is given line_timeout_ms from its first byte to
 * be complete, however it trickles in: otherwise one byte every few
 * seconds would hold a slot for good. */
static void client_track_line(const struct agent_control *control, struct control_client *c,
                              bool line_done)
{
    bool partial = c->in_len > 0 && c->in[c->in_len - 1] != '\n';
    uint64_t now = agent_monotonic_ms();

    if (line_done)
        c->idle_deadline_ms = now + control->idle_timeout_ms;
    if (partial && (line_done || c->line_deadline_ms == 0))
        c->line_deadline_ms = now + control->line_timeout_ms;
    else if (!partial && line_done)
        c->line_deadline_ms = 0;
}

/* The line deadline counts only while the client is being read: while
 * its replies wait (or it is closing) the idle deadline alone decides. */
static bool client_line_deadline_applies(const struct control_client *c)
{
    return c->line_deadline_ms != 0 && !control_client_has_replies(c) && !c->closing &&
           c->line_deadline_ms < c->idle_deadline_ms;
}

static uint64_t client_deadline(const struct control_client *c)
{
    return client_line_deadline_applies(c) ? c->line_deadline_ms : c->idle_deadline_ms;
}

/* Frames and runs the complete lines in the input buffer, as far as the
 * output bound allows. -1 when the client was closed. */
static int client_process_input(struct agent_control *control, struct control_client *c)
{
    size_t start = 0;

    while (!c->closing && start < c->in_len && !control_client_backpressured(c)) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        size_t len;

        if (nl == NULL)
            break;
        len = (size_t)(nl - (c->in + start));
        if (handle_line(control, c, c->in + start, len) < 0)
            return -1;
        start += len + 1;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
    }
    client_track_line(control, c, start > 0);
    if (!c->closing && c->in_len >= control->max_line && memchr(c->in, '\n', c->in_len) == NULL) {
        char msg[96];

        snprintf(msg, sizeof(msg), "request line longer than %zu bytes; closing the connection",
                 control->max_line);
        if (control_reply_error(control, c, NULL, msg) < 0)
            return -1;
        c->closing = true;
        c->in_len = 0;
    }
    return 0;
}

/* Runs buffered requests and sends their replies until no complete line
 * is left or the client stops taking output. Without this loop, requests
 * held back by backpressure would wait for a POLLIN that never comes once
 * the client has sent everything. -1 when the client was closed. */
static int client_run(struct agent_control *control, struct control_client *c)
{
    for (;;) {
        size_t before = c->in_len;

        if (client_process_input(control, c) < 0 || control_client_flush(control, c) < 0)
            return -1;
        if (c->closing || control_client_backpressured(c) || c->in_len == 0 || c->in_len == before ||
            memchr(c->in, '\n', c->in_len) == NULL)
            return 0;
    }
}

/* Makes room for more input; false when out of memory. */
static bool client_grow_input(const struct agent_control *control, struct control_client *c)
{
    size_t cap;
    char *p;

    if (c->in_len < c->in_cap)
        return true;
    cap = c->in_cap ? c->in_cap * 2 : CONTROL_IN_INITIAL;
    if (cap > control->max_line)
        cap = control->max_line;
    p = realloc(c->in, cap);
    if (p == NULL)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

static void client_read(struct agent_control *control, struct control_client *c)
{
    size_t budget = CONTROL_READ_BUDGET;

    while (budget > 0 && !c->closing && !control_client_backpressured(c)) {
        size_t room;
        ssize_t n;

        if (!client_grow_input(control, c)) {
            control_client_close(control, c, "out of memory for its input");
            return;
        }
        room = c->in_cap - c->in_len;
        if (room == 0)
            break; /* full of complete lines waiting for output room */
        if (room > CONTROL_READ_CHUNK)
            room = CONTROL_READ_CHUNK;
        if (room > budget)
            room = budget;
        n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            control_client_close(control, c, strerror(errno));
            return;
        }
        if (n == 0) {
            /* Peer shut its side: answer what is complete, then close
             * once the replies are out. */
            c->closing = true;
            break;
        }
        c->in_len += (size_t)n;
        budget -= (size_t)n;
        if (client_run(control, c) < 0)
            return;
    }
    if (c->in_len == 0 && c->in_cap > CONTROL_IN_KEEP) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    control_client_flush(control, c);
}

/* ---- accept --------------------------------------------------------- */

static void refuse_client(int fd, size_t limit, size_t reserved)
{
    char line[256];
    int len;

    if (reserved == 0)
        len = snprintf(line, sizeof(line),
                       "{\"ok\":false,\"error\":\"too many control clients (limit %zu); try "
                       "again later\"}\n",
                       limit);
    else
        len = snprintf(line, sizeof(line),
                       "{\"ok\":false,\"error\":\"too many control clients (limit %zu, of "
                       "which %zu are kept for root and the agent's user); try again later\"}\n",
                       limit, reserved);
    /* Best effort: a fresh socket's buffer takes a short line. */
    if (len > 0 && send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        (void)0;
    close(fd);
}

/* A free slot for this peer, or NULL: everyone shares max_clients -
 * reserved_clients slots, root and the agent's user may also take the
 * reserved ones. */
static struct control_client *find_free_slot(struct agent_control *control, bool privileged)
{
    struct control_client *free_slot = NULL;
    size_t used = 0;
    size_t i;

    for (i = 0; i < control->max_clients; i++) {
        if (control->clients[i].fd >= 0)
            used++;
        else if (free_slot == NULL)
            free_slot = &control->clients[i];
    }
    if (!privileged && used >= control->max_clients - control->reserved_clients)
        return NULL;
    return free_slot;
}

static bool peer_cred_get(const struct agent_control *control, int fd,
                          struct agent_control_cred *cred)
{
    if (control->peer_cred != NULL)
        return control->peer_cred(control->peer_cred_ctx, fd, cred) == 0;
    return control_peer_cred_read(fd, cred) == 0;
}

static void accept_clients(struct agent_control *control)
{
    size_t tries;

    for (tries = 0; tries < control->max_clients + 8; tries++) {
        struct agent_control_cred cred = {.pid = 0};
        struct control_client *c;
        bool cred_ok;
        bool privileged;
        uint64_t now;
        int fd;

        fd = accept4(control->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                control_log(control, LOG_WARNING, "control: cannot accept: %s; pausing for %d ms",
                            strerror(errno), (int)CONTROL_ACCEPT_PAUSE_MS);
                control->accept_resume_ms = agent_monotonic_ms() + CONTROL_ACCEPT_PAUSE_MS;
            }
            return;
        }
        cred_ok = peer_cred_get(control, fd, &cred);
        privileged = cred_ok && control_acl_may_take_reserved_slot(&control->acl, &cred);
        c = find_free_slot(control, privileged);
        if (c == NULL) {
            control_log(control, LOG_WARNING,
                        "control: too many clients (limit %zu, %zu kept for root and the "
                        "agent's user), refusing pid %ld uid %ld",
                        control->max_clients, control->reserved_clients,
                        cred_ok ? (long)cred.pid : -1L, cred_ok ? (long)cred.uid : -1L);
            refuse_client(fd, control->max_clients, control->reserved_clients);
            continue;
        }
        now = agent_monotonic_ms();
        c->fd = fd;
        c->cred = cred;
        c->cred_ok = cred_ok;
        c->idle_deadline_ms = now + control->idle_timeout_ms;
        /* The first line is due line_timeout_ms after connect(). */
        c->line_deadline_ms = now + control->line_timeout_ms;
    }
}

/* ---- loop interface ------------------------------------------------- */

size_t agent_control_pollfds(const struct agent_control *control, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    size_t i;

    if (control == NULL)
        return 0;
    if (n < max && control->accept_resume_ms == 0) {
        fds[n].fd = control->listener.fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
    }
    for (i = 0; i < control->max_clients && n < max; i++) {
        const struct control_client *c = &control->clients[i];

        if (c->fd < 0)
            continue;
        fds[n].fd = c->fd;
        fds[n].events = (short)((c->closing || control_client_backpressured(c) ? 0 : POLLIN) |
                                (c->out_len > 0 ? POLLOUT : 0));
        fds[n].revents = 0;
        n++;
    }
    return n;
}

static struct control_client *find_client(struct agent_control *control, int fd)
{
    size_t i;

    for (i = 0; i < control->max_clients; i++)
        if (control->clients[i].fd == fd)
            return &control->clients[i];
    return NULL;
}

static void expire_clients(struct agent_control *control)
{
    uint64_t now = agent_monotonic_ms();
    size_t i;

    if (control->accept_resume_ms != 0 && now >= control->accept_resume_ms)
        control->accept_resume_ms = 0;
    for (i = 0; i < control->max_clients; i++) {
        struct control_client *c = &control->clients[i];

        if (c->fd < 0 || now < client_deadline(c))
            continue;
        if (client_line_deadline_applies(c))
            control_client_close(control, c, "request line not complete in time");
        else
            control_client_close(control, c,
                                 c->out_len > 0      ? "it does not read its replies"
                                 : c->held_count > 0 ? "its reply waited too long"
                                                     : "idle timeout");
    }
}

void agent_control_dispatch(struct agent_control *control, const struct pollfd *fds, size_t n)
{
    bool listen_ready = false;
    size_t i;

    if (control == NULL)
        return;
    /* Clients first, accept last: a client closed here frees its fd
     * number, and a client accepted now could reuse it and be handed a
     * stale revents from this same array. */
    for (i = 0; fds != NULL && i < n; i++) {
        struct control_client *c;

        if (fds[i].revents == 0)
            continue;
        if (fds[i].fd == control->listener.fd) {
            listen_ready = true;
            continue;
        }
        c = find_client(control, fds[i].fd);
        if (c == NULL)
            continue;
        if (fds[i].revents & POLLNVAL) {
            control_client_close(control, c, "invalid fd");
            continue;
        }
        if ((fds[i].revents & POLLOUT) && control_client_flush(control, c) < 0)
            continue;
        /* Requests held back by backpressure run once output drained. */
        if ((fds[i].revents & POLLOUT) && !c->closing && !control_client_backpressured(c) &&
            client_run(control, c) < 0)
            continue;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (c->closing || control_client_backpressured(c)) {
                /* Not reading now; a hang-up ends it. */
                if (fds[i].revents & (POLLHUP | POLLERR))
                    control_client_close(control, c, NULL);
                continue;
            }
            client_read(control, c);
        }
    }
    expire_clients(control);
    if (listen_ready && control->accept_resume_ms == 0)
        accept_clients(control);
}

int agent_control_next_timeout_ms(const struct agent_control *control)
{
    uint64_t now;
    uint64_t next = UINT64_MAX;
    size_t i;

    if (control == NULL)
        return -1;
    now = agent_monotonic_ms();
    if (control->accept_resume_ms != 0)
        next = control->accept_resume_ms;
    for (i = 0; i < control->max_clients; i++)
        if (control->clients[i].fd >= 0 && client_deadline(&control->clients[i]) < next)
            next = client_deadline(&control->clients[i]);
    if (next == UINT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

void agent_control_settle(struct agent_control *control)
{
    size_t i;

    if (control == NULL)
        return;
    for (i = 0; i < control->max_clients; i++) {
        struct control_client *c = &control->clients[i];
        bool was_held_back;

        if (c->fd < 0 || c->held_count == 0)
            continue;
        was_held_back = control_client_backpressured(c);
        if (control_client_settle(control, c) < 0)
            continue;
        /* Requests it sent while at the held bound are already buffered:
         * no POLLIN will come for them. */
        if (was_held_back && !c->closing && !control_client_backpressured(c))
            client_run(control, c);
    }
}
