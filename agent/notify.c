/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service manager notifications; see notify.h for why not libsystemd.
 */
#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/* The socket address for $NOTIFY_SOCKET: an absolute path, or "@name" for
 * a name in the abstract namespace (leading NUL, not NUL-terminated). */
static int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (n < 2 || (name[0] != '/' && name[0] != '@'))
        return -EINVAL;
    if (n > sizeof(sa->sun_path) || (name[0] == '/' && n == sizeof(sa->sun_path)))
        return -EINVAL;  /* a path also needs room for its NUL */
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
    return 0;
}

int agent_notify(const char *message)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t sa_len = 0;
    size_t len;
    ssize_t sent;
    int fd, rc;

    if (!name || !*name)
        return 0;
    if (!message || !*message)
        return -EINVAL;
    rc = notify_address(name, &sa, &sa_len);
    if (rc != 0)
        return rc;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    len = strlen(message);
    /* A datagram is delivered whole or not at all; MSG_NOSIGNAL because a
     * vanished manager must not kill the daemon. */
    sent = sendto(fd, message, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
    rc = sent < 0 ? -errno : ((size_t)sent == len ? 1 : -EIO);
    close(fd);
    return rc;
}

/* A positive decimal that fits in uint64_t, nothing else. */
static int parse_positive(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (!text || *text < '0' || *text > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

int agent_watchdog_usec(uint64_t *usec)
{
    const char *usec_text = getenv("WATCHDOG_USEC");
    const char *pid_text = getenv("WATCHDOG_PID");
    uint64_t value, pid;

    if (!usec_text)
        return 0;
    if (parse_positive(usec_text, &value) != 0)
        return -EINVAL;
    if (pid_text) {
        if (parse_positive(pid_text, &pid) != 0)
            return -EINVAL;
        /* The variables are inherited: a child of the service is not the
         * process the manager watches. */
        if (pid != (uint64_t)getpid())
            return 0;
    }
    *usec = value;
    return 1;
}
