/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's listening socket file (see control_internal.h).
 *
 * Owns: creating the socket file (a stale one from a crashed agent is
 * replaced, a live one or a non-socket is never taken over), its mode,
 * and removing it at close only while it is still the one we bound.
 * Must never: unlink a file it did not create.
 */
#include "control_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

int control_listener_open(struct control_listener *l, const char *path, mode_t mode,
                          int backlog, char *err, size_t err_len)
{
    struct sockaddr_un sun;
    struct stat st;

    l->fd = -1;
    l->path = NULL;
    l->dev = 0;
    l->ino = 0;
    if (fill_sockaddr(path, &sun, err, err_len) < 0)
        return -1;
    l->path = strdup(path);
    if (l->path == NULL) {
        snprintf(err, err_len, "out of memory setting up the control socket");
        goto fail;
    }
    if (remove_stale_socket(path, &sun, err, err_len) < 0)
        goto fail;
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        snprintf(err, err_len, "socket(AF_UNIX): %s", strerror(errno));
        goto fail;
    }
    /* bind() creates the file with 0777 & ~umask; until the chmod below
     * it can only be more open for writing if the umask allows group or
     * other write, which the unit's UMask=0077 does not. */
    if (bind(l->fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
        snprintf(err, err_len, "cannot bind the control socket %s: %s%s", path, strerror(errno),
                 errno == ENOENT ? " (the directory is missing: systemd's "
                                   "RuntimeDirectory=trustlink creates /run/trustlink)"
                                 : "");
        /* Not bound: the file (if any) is not ours to remove. */
        close(l->fd);
        l->fd = -1;
        goto fail;
    }
    if (lstat(path, &st) == 0) {
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    if (chmod(path, mode) < 0) {
        snprintf(err, err_len, "cannot chmod %04o the control socket %s: %s", (unsigned)mode,
                 path, strerror(errno));
        goto fail;
    }
    if (listen(l->fd, backlog) < 0) {
        snprintf(err, err_len, "listen on %s: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    control_listener_close(l);
    return -1;
}

void control_listener_close(struct control_listener *l)
{
    struct stat st;

    if (l->fd >= 0) {
        close(l->fd);
        /* Remove the file only if it is still the one we bound: a newer
         * agent may already have replaced it. */
        if (l->path != NULL && lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_dev == l->dev && st.st_ino == l->ino)
            unlink(l->path);
    }
    l->fd = -1;
    free(l->path);
    l->path = NULL;
}
