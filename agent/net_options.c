/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ALPN names, SOCKS5 proxy URLs and proxy credentials (see net_options.h).
 */
#define _GNU_SOURCE /* secure_getenv */
#include "net_options.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "regular_file.h"

bool agent_alpn_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return false;
    for (const char *p = name; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

int agent_alpn_encode(const char *const *names, size_t n, unsigned char **wire, size_t *wire_len,
                      char *err, size_t err_len)
{
    size_t total = 0;
    unsigned char *out;

    *wire = NULL;
    *wire_len = 0;
    if (n == 0 || n > AGENT_ALPN_MAX_NAMES) {
        snprintf(err, err_len, "expected 1-%d protocol names", AGENT_ALPN_MAX_NAMES);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!agent_alpn_name_ok(names[i])) {
            snprintf(err, err_len, "protocol name %zu: expected 1-255 printable ASCII characters "
                     "without spaces", i + 1);
            return -1;
        }
        total += 1 + strlen(names[i]);
    }
    out = malloc(total);
    if (out == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    *wire = out;
    *wire_len = total;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        *out++ = (unsigned char)len;
        memcpy(out, names[i], len);
        out += len;
    }
    return 0;
}

int agent_proxy_parse(const char *url, char **host, unsigned *port, char *err, size_t err_len)
{
    static const char scheme[] = "socks5://";
    const char *h, *h_end, *colon;
    char *end = NULL;
    unsigned long p;

    *host = NULL;
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, err_len, "expected socks5://HOST:PORT (the only proxy kind supported)");
        return -1;
    }
    h = url + sizeof(scheme) - 1;
    if (*h == '[') {
        h_end = strchr(h, ']');
        if (h_end == NULL || h_end[1] != ':') {
            snprintf(err, err_len, "expected socks5://[IPv6]:PORT");
            return -1;
        }
        colon = h_end + 1;
        h++;
    } else {
        colon = strrchr(h, ':');
        h_end = colon;
        if (colon == NULL || memchr(h, ':', (size_t)(colon - h)) != NULL) {
            snprintf(err, err_len, "expected socks5://HOST:PORT with a port");
            return -1;
        }
    }
    if (h_end == h || (size_t)(h_end - h) > 253) {
        snprintf(err, err_len, "expected a proxy host of 1-253 characters");
        return -1;
    }
    for (const char *c = h; c < h_end; c++) {
        if (*c <= ' ' || *c > '~' || *c == '/' || *c == '@' || *c == '[' || *c == ']') {
            snprintf(err, err_len, "the proxy host has a character a host name cannot have "
                     "(credentials go in broker.proxy_auth_file, not in the URL)");
            return -1;
        }
    }
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || errno != 0 || *end != '\0' || p == 0 || p > 65535) {
        snprintf(err, err_len, "expected a proxy port 1-65535 and nothing after it");
        return -1;
    }
    *host = strndup(h, (size_t)(h_end - h));
    if (*host == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    *port = (unsigned)p;
    return 0;
}

void agent_proxy_auth_clear(struct agent_proxy_auth *auth)
{
    OPENSSL_cleanse(auth, sizeof(*auth));
}

/* Copies one line of 1-255 bytes from *p (up to '\n' or the end). */
static int take_line(const char **p, const char *end, char *out, const char *what, char *err,
                     size_t err_len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl != NULL ? nl : end;
    size_t len = (size_t)(stop - *p);

    if (len > 0 && (*p)[len - 1] == '\r')
        len--;
    if (len == 0 || len > AGENT_PROXY_AUTH_MAX || memchr(*p, '\0', len) != NULL) {
        snprintf(err, err_len, "expected the %s on its own line, 1-%d bytes", what,
                 AGENT_PROXY_AUTH_MAX);
        return -1;
    }
    memcpy(out, *p, len);
    out[len] = '\0';
    *p = nl != NULL ? nl + 1 : end;
    return 0;
}

int agent_proxy_auth_read(const struct agent_proxy_config *cfg, struct agent_proxy_auth *auth,
                          char *err, size_t err_len)
{
    char path[PATH_MAX];
    char buf[2 * AGENT_PROXY_AUTH_MAX + 8];
    char inner[160];
    const char *dir;
    int fd = -1, rc = -1;
    ssize_t n;
    struct stat st;

    memset(auth, 0, sizeof(*auth));
    if (cfg->auth_file != NULL) {
        snprintf(path, sizeof(path), "%s", cfg->auth_file);
    } else if (cfg->auth_credential != NULL) {
        dir = secure_getenv("CREDENTIALS_DIRECTORY");
        if (dir == NULL || *dir == '\0') {
            snprintf(err, err_len, "broker.proxy_auth_credential is \"%s\" but "
                     "$CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)",
                     cfg->auth_credential);
            return -1;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, cfg->auth_credential);
    } else {
        return 0;
    }
    /* Not a plain open: a FIFO put there would wait for a writer forever. */
    fd = tl_open_regular(path, O_RDONLY | O_NOFOLLOW, 0, "proxy credentials", err, err_len);
    if (fd < 0)
        goto cleanup;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "proxy credentials %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (st.st_mode & S_IROTH) {
        snprintf(err, err_len, "proxy credentials %s: readable by every user (mode %04o): "
                 "chmod o-r", path, (unsigned)(st.st_mode & 07777));
        goto cleanup;
    }
    n = read(fd, buf, sizeof(buf));
    if (n < 0) {
        snprintf(err, err_len, "proxy credentials %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if ((size_t)n == sizeof(buf)) {
        snprintf(err, err_len, "proxy credentials %s: longer than a user and a password", path);
        goto cleanup;
    }
    {
        const char *p = buf, *end = buf + n;
        if (take_line(&p, end, auth->user, "user name (line 1)", inner, sizeof(inner)) != 0 ||
            take_line(&p, end, auth->password, "password (line 2)", inner, sizeof(inner)) != 0) {
            snprintf(err, err_len, "proxy credentials %s: %s", path, inner);
            goto cleanup;
        }
        while (p < end && (*p == '\n' || *p == '\r'))
            p++;
        if (p != end) {
            snprintf(err, err_len, "proxy credentials %s: expected two lines, found more", path);
            goto cleanup;
        }
    }
    auth->present = true;
    rc = 0;
cleanup:
    OPENSSL_cleanse(buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        agent_proxy_auth_clear(auth);
    return rc;
}
