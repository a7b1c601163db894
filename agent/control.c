/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server of trustlinkd (see control.h for the contract and
 * the protocol).
 *
 * Owns: the listening socket file (created, made stale-safe, removed at
 * close only if it is still ours), the per-client input and output
 * buffers, line framing, the peer's credentials and privilege, and the
 * error replies. What a line means is control_request.c's.
 * Must never: block (every fd is O_NONBLOCK and every write is
 * MSG_DONTWAIT), let a buffer grow past its bound, or call into MQTT, TLS
 * or PKCS#11 other than through the handlers.
 *
 * Peer credentials: SO_PEERCRED gives the peer's uid, its primary gid and
 * pid as they were at connect(); supplementary groups do not come with it,
 * so admin_gids and publish_gids match the peer's primary gid only (a user who relies on
 * a supplementary group can run the client with `sg GROUP -c ...` or be
 * listed by uid instead).
 */
#define _GNU_SOURCE /* accept4, SO_PEERCRED / struct ucred */
#include "control.h"
#include "clock.h"
#include "control_request.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <json-c/json.h>

enum {
    CONTROL_DEFAULT_MAX_CLIENTS = 16,
    CONTROL_DEFAULT_MAX_LINE = 65536,
    CONTROL_DEFAULT_IDLE_MS = 30000,
    /* Backpressure: above OUTPUT_HIGH bytes of unsent replies the client's
     * further requests wait (unread) until it reads; a client that never
     * reads makes no progress and meets its idle deadline. MAX_OUTPUT is
     * the hard bound (a single huge reply): over it the client is closed. */
    CONTROL_OUTPUT_HIGH = 64 * 1024,
    CONTROL_MAX_OUTPUT = 256 * 1024,
    /* Input consumed per client per dispatch, so that one flooding client
     * cannot starve the loop; poll is level-triggered, the rest waits. */
    CONTROL_READ_BUDGET = 64 * 1024,
    CONTROL_READ_CHUNK = 16 * 1024,
    /* Input buffers start small and are given back when idle, so 16
     * quiet clients do not pin 16 x max_line of memory. */
    CONTROL_IN_INITIAL = 4096,
    CONTROL_IN_KEEP = 16 * 1024,
    CONTROL_ERR_LEN = 256,
    /* After EMFILE/ENFILE the listening socket stays readable; stop
     * polling it for a while instead of spinning. */
    CONTROL_ACCEPT_PAUSE_MS = 1000,
};

struct control_client {
    int fd;                     /* -1: free entry */
    struct ucred cred;
    bool cred_ok;
    bool closing;               /* flush output, read nothing more, close */
    char *in;                   /* grows up to max_line bytes */
    size_t in_len;
    size_t in_cap;
    char *out;                  /* grows up to CONTROL_MAX_OUTPUT */
    size_t out_len;
    size_t out_cap;
    uint64_t deadline_ms;       /* monotonic; idle (or flush) deadline */
};

struct agent_control {
    int listen_fd;
    char *path;
    dev_t sock_dev;
    ino_t sock_ino;
    uid_t self_uid;
    uid_t *admin_uids;
    size_t n_admin_uids;
    gid_t *admin_gids;
    size_t n_admin_gids;
    uid_t *publish_uids;
    size_t n_publish_uids;
    gid_t *publish_gids;
    size_t n_publish_gids;
    size_t max_clients;
    size_t max_line;
    unsigned idle_timeout_ms;
    uint64_t accept_resume_ms;  /* 0: accepting */
    struct agent_control_handlers handlers;
    struct control_client *clients; /* max_clients entries */
};

static void control_log(const struct agent_control *control, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void control_log(const struct agent_control *control, int priority, const char *fmt, ...)
{
    char msg[CONTROL_ERR_LEN + 128];
    va_list ap;

    if (control->handlers.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    control->handlers.log(control->handlers.ctx, priority, msg);
}

/* A private copy of a peer id list from the config (n may be 0). */
static int copy_ids(const void *src, size_t n, size_t size, void **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    *out = calloc(n, size);
    if (*out == NULL)
        return -1;
    memcpy(*out, src, n * size);
    *n_out = n;
    return 0;
}

/* ---- socket file ---------------------------------------------------- */

static int fill_sockaddr(const char *path, struct sockaddr_un *sun, char *err, size_t err_len)
{
    size_t len = strlen(path);

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (len == 0 || len >= sizeof(sun->sun_path)) {
        snprintf(err, err_len, "control socket path \"%s\" must be 1-%zu bytes long", path,
                 sizeof(sun->sun_path) - 1);
        return -1;
    }
    memcpy(sun->sun_path, path, len + 1);
    return 0;
}

/* A socket file is stale when nobody accepts on it. A non-blocking
 * connect answers at once: ECONNREFUSED means nobody listens; success or
 * EAGAIN (backlog full) means a live server owns it. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sun, char *err,
                               size_t err_len)
{
    struct stat st;
    int fd = -1;
    int rc = -1;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_len, "cannot inspect control socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len,
                 "%s exists and is not a socket: refusing to replace it (remove it or set "
                 "control.path to another path)",
                 path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket(AF_UNIX): %s", strerror(errno));
        goto cleanup;
    }
    if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN ||
        errno == EINPROGRESS) {
        snprintf(err, err_len,
                 "another process is listening on %s (is trustlinkd already running?)", path);
        goto cleanup;
    }
    if (errno != ECONNREFUSED) {
        snprintf(err, err_len, "cannot probe existing control socket %s: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, err_len, "cannot remove stale control socket %s: %s", path,
                 strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

struct agent_control *agent_control_open(const struct agent_control_config *config,
                                         const struct agent_control_handlers *handlers,
                                         char *err, size_t err_len)
{
    struct agent_control *control = NULL;
    struct sockaddr_un sun;
    struct stat st;
    size_t i;

    if (config == NULL || config->path == NULL || handlers == NULL || handlers->status == NULL ||
        handlers->publish == NULL || handlers->reconnect == NULL) {
        snprintf(err, err_len, "agent_control_open: missing path or handler");
        return NULL;
    }
    if (fill_sockaddr(config->path, &sun, err, err_len) < 0)
        return NULL;

    control = calloc(1, sizeof(*control));
    if (control == NULL)
        goto nomem;
    control->listen_fd = -1;
    control->handlers = *handlers;
    control->self_uid = geteuid();
    control->max_clients = config->max_clients ? config->max_clients : CONTROL_DEFAULT_MAX_CLIENTS;
    control->max_line = config->max_line ? config->max_line : CONTROL_DEFAULT_MAX_LINE;
    control->idle_timeout_ms = config->idle_timeout_ms ? config->idle_timeout_ms
                                                       : CONTROL_DEFAULT_IDLE_MS;
    if (control->max_clients > 4096 || control->max_line > 16u * 1024 * 1024) {
        snprintf(err, err_len, "control socket limits out of range (max_clients <= 4096, "
                               "max_line <= 16 MiB)");
        goto fail;
    }
    control->path = strdup(config->path);
    control->clients = calloc(control->max_clients, sizeof(*control->clients));
    if (control->path == NULL || control->clients == NULL)
        goto nomem;
    for (i = 0; i < control->max_clients; i++)
        control->clients[i].fd = -1;
    if (copy_ids(config->admin_uids, config->n_admin_uids, sizeof(uid_t),
                 (void **)&control->admin_uids, &control->n_admin_uids) != 0 ||
        copy_ids(config->admin_gids, config->n_admin_gids, sizeof(gid_t),
                 (void **)&control->admin_gids, &control->n_admin_gids) != 0 ||
        copy_ids(config->publish_uids, config->n_publish_uids, sizeof(uid_t),
                 (void **)&control->publish_uids, &control->n_publish_uids) != 0 ||
        copy_ids(config->publish_gids, config->n_publish_gids, sizeof(gid_t),
                 (void **)&control->publish_gids, &control->n_publish_gids) != 0)
        goto nomem;

    if (remove_stale_socket(config->path, &sun, err, err_len) < 0)
        goto fail;
    control->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (control->listen_fd < 0) {
        snprintf(err, err_len, "socket(AF_UNIX): %s", strerror(errno));
        goto fail;
    }
    /* bind() creates the file with 0777 & ~umask; until the chmod below
     * it can only be more open for writing if the umask allows group or
     * other write, which the unit's UMask=0077 does not. */
    if (bind(control->listen_fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, err_len, "cannot bind the control socket %s: %s%s", config->path,
                 strerror(errno),
                 errno == ENOENT ? " (the directory is missing: systemd's "
                                   "RuntimeDirectory=trustlink creates /run/trustlink)"
                                 : "");
        goto fail;
    }
    if (lstat(config->path, &st) == 0) {
        control->sock_dev = st.st_dev;
        control->sock_ino = st.st_ino;
    }
    if (chmod(config->path, config->mode) < 0) {
        snprintf(err, err_len, "cannot chmod %04o the control socket %s: %s",
                 (unsigned)config->mode, config->path, strerror(errno));
        goto fail;
    }
    if (listen(control->listen_fd, (int)(control->max_clients < 64 ? 64 : control->max_clients)) <
        0) {
        snprintf(err, err_len, "listen on %s: %s", config->path, strerror(errno));
        goto fail;
    }
    return control;

nomem:
    snprintf(err, err_len, "out of memory setting up the control socket");
fail:
    agent_control_close(control);
    return NULL;
}

static void client_free(struct control_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

void agent_control_close(struct agent_control *control)
{
    struct stat st;
    size_t i;

    if (control == NULL)
        return;
    for (i = 0; control->clients != NULL && i < control->max_clients; i++)
        client_free(&control->clients[i]);
    if (control->listen_fd >= 0) {
        close(control->listen_fd);
        /* Remove the file only if it is still the one we bound: a newer
         * agent may already have replaced it. */
        if (control->path != NULL && lstat(control->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_dev == control->sock_dev && st.st_ino == control->sock_ino)
            unlink(control->path);
    }
    free(control->clients);
    free(control->admin_uids);
    free(control->admin_gids);
    free(control->publish_uids);
    free(control->publish_gids);
    free(control->path);
    free(control);
}

/* ---- output --------------------------------------------------------- */

static void client_close(struct agent_control *control, struct control_client *c,
                         const char *why)
{
    if (why != NULL)
        control_log(control, LOG_DEBUG, "control: closing client pid %ld uid %ld: %s",
                    c->cred_ok ? (long)c->cred.pid : -1L, c->cred_ok ? (long)c->cred.uid : -1L,
                    why);
    client_free(c);
}

/* Writes what the socket takes now. Returns -1 when the client is gone. */
static int client_flush(struct agent_control *control, struct control_client *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            client_close(control, c, strerror(errno));
            return -1;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
        c->deadline_ms = agent_monotonic_ms() + control->idle_timeout_ms;
    }
    if (c->out_cap > CONTROL_IN_KEEP) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    if (c->closing) {
        client_close(control, c, NULL);
        return -1;
    }
    return 0;
}

/* Queues one reply line; -1 when the client had to be closed because it
 * does not read its replies. */
static int client_queue(struct agent_control *control, struct control_client *c,
                        struct json_object *reply)
{
    const char *text;
    size_t len;
    size_t need;

    text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL) {
        client_close(control, c, "out of memory formatting a reply");
        return -1;
    }
    len = strlen(text);
    need = c->out_len + len + 1;
    if (need > CONTROL_MAX_OUTPUT) {
        client_close(control, c, "it does not read its replies (output buffer full)");
        return -1;
    }
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *p;

        while (cap < need)
            cap *= 2;
        if (cap > CONTROL_MAX_OUTPUT)
            cap = CONTROL_MAX_OUTPUT;
        p = realloc(c->out, cap);
        if (p == NULL) {
            client_close(control, c, "out of memory queueing a reply");
            return -1;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, text, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    return 0;
}

static struct json_object *make_reply(bool ok, struct json_object *id)
{
    struct json_object *reply = json_object_new_object();

    if (reply == NULL)
        return NULL;
    json_object_object_add(reply, "ok", json_object_new_boolean(ok));
    if (id != NULL)
        json_object_object_add(reply, "id", json_object_get(id));
    return reply;
}

static int reply_error(struct agent_control *control, struct control_client *c,
                       struct json_object *id, const char *msg)
{
    struct json_object *reply = make_reply(false, id);
    int rc;

    if (reply == NULL) {
        client_close(control, c, "out of memory");
        return -1;
    }
    json_object_object_add(reply, "error", json_object_new_string(msg));
    rc = client_queue(control, c, reply);
    json_object_put(reply);
    return rc;
}

/* ---- requests ------------------------------------------------------- */

static bool id_listed(const struct control_client *c, const uid_t *uids, size_t n_uids,
                      const gid_t *gids, size_t n_gids)
{
    size_t i;

    for (i = 0; i < n_uids; i++)
        if (uids[i] == c->cred.uid)
            return true;
    /* Primary gid only: see the file comment. */
    for (i = 0; i < n_gids; i++)
        if (gids[i] == c->cred.gid)
            return true;
    return false;
}

/* What this peer may do (control_request_run enforces it). */
static struct control_peer peer_rights(const struct agent_control *control,
                                       const struct control_client *c)
{
    struct control_peer peer = {.uid = -1L, .gid = -1L};

    if (!c->cred_ok)
        return peer;
    peer.uid = (long)c->cred.uid;
    peer.gid = (long)c->cred.gid;
    peer.may_admin = c->cred.uid == 0 || c->cred.uid == control->self_uid ||
                     id_listed(c, control->admin_uids, control->n_admin_uids, control->admin_gids,
                               control->n_admin_gids);
    peer.may_publish = peer.may_admin ||
                       id_listed(c, control->publish_uids, control->n_publish_uids,
                                 control->publish_gids, control->n_publish_gids);
    return peer;
}

/* Handles one line (without its '\n'). -1 when the client was closed. */
static int handle_line(struct agent_control *control, struct control_client *c, const char *line,
                       size_t len)
{
    struct control_peer peer = peer_rights(control, c);
    struct json_object *req = NULL;
    struct json_object *reply = NULL;
    struct json_object *id = NULL;
    char err[CONTROL_ERR_LEN] = "";
    int rc;

    if (control_request_is_blank(line, len))
        return 0;
    rc = control_request_parse(line, len, &req, &id, err, sizeof(err));
    if (rc == -2) {
        client_close(control, c, err);
        return -1;
    }
    if (rc < 0)
        return reply_error(control, c, NULL, err);
    rc = -1;
    reply = make_reply(true, id);
    if (reply == NULL) {
        client_close(control, c, "out of memory");
        goto cleanup;
    }
    if (control_request_run(&control->handlers, &peer, req, reply, err, sizeof(err)) < 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "command failed");
        rc = reply_error(control, c, id, err);
        goto cleanup;
    }
    rc = client_queue(control, c, reply);
cleanup:
    json_object_put(reply);
    json_object_put(req);
    return rc;
}

static bool client_backpressured(const struct control_client *c)
{
    return c->out_len >= CONTROL_OUTPUT_HIGH;
}

/* Frames and runs the complete lines in the input buffer, as far as the
 * output bound allows. -1 when the client was closed. */
static int client_process_input(struct agent_control *control, struct control_client *c)
{
    size_t start = 0;

    while (!c->closing && start < c->in_len && !client_backpressured(c)) {
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
    if (!c->closing && c->in_len >= control->max_line && memchr(c->in, '\n', c->in_len) == NULL) {
        char msg[96];

        snprintf(msg, sizeof(msg), "request line longer than %zu bytes; closing the connection",
                 control->max_line);
        if (reply_error(control, c, NULL, msg) < 0)
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

        if (client_process_input(control, c) < 0 || client_flush(control, c) < 0)
            return -1;
        if (c->closing || client_backpressured(c) || c->in_len == 0 || c->in_len == before ||
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

    while (budget > 0 && !c->closing && !client_backpressured(c)) {
        size_t room;
        ssize_t n;

        if (!client_grow_input(control, c)) {
            client_close(control, c, "out of memory for its input");
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
            client_close(control, c, strerror(errno));
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
        c->deadline_ms = agent_monotonic_ms() + control->idle_timeout_ms;
        if (client_run(control, c) < 0)
            return;
    }
    if (c->in_len == 0 && c->in_cap > CONTROL_IN_KEEP) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    client_flush(control, c);
}

/* ---- accept --------------------------------------------------------- */

static void refuse_client(int fd, size_t limit)
{
    char line[128];
    int len;

    len = snprintf(line, sizeof(line),
                   "{\"ok\":false,\"error\":\"too many control clients (limit %zu); try again "
                   "later\"}\n",
                   limit);
    /* Best effort: a fresh socket's buffer takes a short line. */
    if (len > 0 && send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        (void)0;
    close(fd);
}

static void accept_clients(struct agent_control *control)
{
    size_t tries;

    for (tries = 0; tries < control->max_clients + 8; tries++) {
        struct control_client *c = NULL;
        socklen_t len = sizeof(struct ucred);
        size_t i;
        int fd;

        fd = accept4(control->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        for (i = 0; i < control->max_clients; i++) {
            if (control->clients[i].fd < 0) {
                c = &control->clients[i];
                break;
            }
        }
        if (c == NULL) {
            control_log(control, LOG_WARNING, "control: too many clients (limit %zu), refusing one",
                        control->max_clients);
            refuse_client(fd, control->max_clients);
            continue;
        }
        c->fd = fd;
        c->cred_ok = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == 0;
        c->deadline_ms = agent_monotonic_ms() + control->idle_timeout_ms;
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
        fds[n].fd = control->listen_fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
    }
    for (i = 0; i < control->max_clients && n < max; i++) {
        const struct control_client *c = &control->clients[i];

        if (c->fd < 0)
            continue;
        fds[n].fd = c->fd;
        fds[n].events = (short)((c->closing || client_backpressured(c) ? 0 : POLLIN) |
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

        if (c->fd >= 0 && now >= c->deadline_ms)
            client_close(control, c, c->out_len > 0 ? "it does not read its replies"
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
        if (fds[i].fd == control->listen_fd) {
            listen_ready = true;
            continue;
        }
        c = find_client(control, fds[i].fd);
        if (c == NULL)
            continue;
        if (fds[i].revents & POLLNVAL) {
            client_close(control, c, "invalid fd");
            continue;
        }
        if ((fds[i].revents & POLLOUT) && client_flush(control, c) < 0)
            continue;
        /* Requests held back by backpressure run once output drained. */
        if ((fds[i].revents & POLLOUT) && !c->closing && !client_backpressured(c) &&
            client_run(control, c) < 0)
            continue;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (c->closing || client_backpressured(c)) {
                /* Not reading now; a hang-up ends it. */
                if (fds[i].revents & (POLLHUP | POLLERR))
                    client_close(control, c, NULL);
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
        if (control->clients[i].fd >= 0 && control->clients[i].deadline_ms < next)
            next = control->clients[i].deadline_ms;
    if (next == UINT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}
