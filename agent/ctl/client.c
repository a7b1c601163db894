/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket client of trustlinkctl (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"

static int remaining_ms(long long deadline)
{
    long long left = deadline - (long long)agent_monotonic_ms();

    return left < 0 ? 0 : (int)left;
}

static void connect_error(const char *path, int e, char *err, size_t err_len)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        snprintf(err, err_len,
                 "no control socket at %s: trustlinkd is not running (check `systemctl status "
                 "trustlinkd`), or use --socket / TRUSTLINK_CONTROL_SOCKET",
                 path);
        break;
    case ECONNREFUSED:
        snprintf(err, err_len,
                 "nothing listens on %s: trustlinkd is not running (the socket file is stale)",
                 path);
        break;
    case EACCES:
    case EPERM:
        snprintf(err, err_len,
                 "permission denied connecting to %s: run as root or as a user the socket's mode "
                 "and group allow",
                 path);
        break;
    default:
        snprintf(err, err_len, "cannot connect to %s: %s", path, strerror(e));
        break;
    }
}

/* A unix connect either completes or fails at once, except EAGAIN when
 * the agent's backlog is full: retry that until the deadline. */
static int connect_deadline(int fd, const char *path, long long deadline, char *err,
                            size_t err_len)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, err_len, "socket path too long (at most %zu bytes): %.4096s",
                 sizeof(sun.sun_path) - 1, path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EINPROGRESS) {
            connect_error(path, errno, err, err_len);
            return -1;
        }
        if (errno == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int soerr = 0;
            socklen_t len = sizeof(soerr);

            if (poll(&p, 1, remaining_ms(deadline)) <= 0)
                break;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
                return 0;
            connect_error(path, soerr, err, err_len);
            return -1;
        }
        if (remaining_ms(deadline) == 0)
            break;
        poll(NULL, 0, 20);
    }
    snprintf(err, err_len, "trustlinkd did not accept the connection on %s in time (agent busy "
                           "or wedged?)",
             path);
    return -1;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline, const char *path,
                    char *err, size_t err_len)
{
    size_t off = 0;

    while (off < len) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        ssize_t n;
        int r = poll(&p, 1, remaining_ms(deadline));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, err_len, "trustlinkd did not take the request in time on %s (agent "
                                   "wedged?)",
                     path);
            return -1;
        }
        n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            /* The agent may have answered (e.g. "line too long") and
             * closed: the caller still reads the reply. */
            if (errno == EPIPE || errno == ECONNRESET)
                return 1;
            snprintf(err, err_len, "sending to %s: %s", path, strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

static int read_line(int fd, long long deadline, const char *path, char **line, char *err,
                     size_t err_len)
{
    size_t cap = 4096;
    size_t used = 0;
    char *buf = malloc(cap);
    int rc = -1;

    if (buf == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char *nl;
        ssize_t n;
        int r;

        if (used == cap) {
            char *grown;

            if (cap >= CTL_MAX_REPLY) {
                snprintf(err, err_len, "reply from trustlinkd larger than %d bytes",
                         CTL_MAX_REPLY);
                goto cleanup;
            }
            grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                snprintf(err, err_len, "out of memory");
                goto cleanup;
            }
            buf = grown;
            cap *= 2;
        }
        r = poll(&p, 1, remaining_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, err_len, "trustlinkd did not answer in time on %s (agent wedged?)",
                     path);
            goto cleanup;
        }
        n = recv(fd, buf + used, cap - used, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            snprintf(err, err_len, "reading from %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0) {
            snprintf(err, err_len, "trustlinkd closed the connection on %s without a reply",
                     path);
            goto cleanup;
        }
        nl = memchr(buf + used, '\n', (size_t)n);
        used += (size_t)n;
        if (nl != NULL) {
            *nl = '\0';
            *line = buf;
            buf = NULL;
            rc = 0;
            goto cleanup;
        }
    }
cleanup:
    free(buf);
    return rc;
}

int ctl_call(const char *socket_path, struct json_object *request, int timeout_ms,
             struct ctl_reply *reply, char *err, size_t err_len)
{
    long long deadline = (long long)agent_monotonic_ms() + timeout_ms;
    const char *text;
    char *line = NULL;
    char *out = NULL;
    size_t len;
    int fd = -1;
    int rc = -1;

    memset(reply, 0, sizeof(*reply));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket(AF_UNIX): %s", strerror(errno));
        goto cleanup;
    }
    if (connect_deadline(fd, socket_path, deadline, err, err_len) < 0)
        goto cleanup;
    text = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE);
    len = strlen(text);
    out = malloc(len + 1);
    if (out == NULL) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    memcpy(out, text, len);
    out[len] = '\n';
    if (send_all(fd, out, len + 1, deadline, socket_path, err, err_len) < 0)
        goto cleanup;
    if (read_line(fd, deadline, socket_path, &line, err, err_len) < 0)
        goto cleanup;
    rc = ctl_reply_parse(line, socket_path, reply, err, err_len);
    line = NULL;
cleanup:
    if (rc < 0)
        ctl_reply_free(reply);
    free(line);
    free(out);
    if (fd >= 0)
        close(fd);
    return rc;
}

int ctl_reply_parse(char *line, const char *source, struct ctl_reply *reply, char *err,
                    size_t err_len)
{
    struct json_object *ok = NULL;

    memset(reply, 0, sizeof(*reply));
    reply->obj = json_tokener_parse(line);
    if (reply->obj == NULL || !json_object_is_type(reply->obj, json_type_object) ||
        !json_object_object_get_ex(reply->obj, "ok", &ok) ||
        !json_object_is_type(ok, json_type_boolean)) {
        snprintf(err, err_len, "invalid reply from %s (not a JSON object with \"ok\"): %.120s",
                 source, line);
        json_object_put(reply->obj);
        reply->obj = NULL;
        free(line);
        return -1;
    }
    reply->raw = line;
    return 0;
}

void ctl_reply_free(struct ctl_reply *reply)
{
    json_object_put(reply->obj);
    free(reply->raw);
    reply->obj = NULL;
    reply->raw = NULL;
}
