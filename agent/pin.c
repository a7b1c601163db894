/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PIN reading (see pin.h).
 * Must never: print the PIN; return without cleansing a partial read.
 */
#include "pin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <p11-kit/uri.h>

#include "config.h"
#include "regular_file.h"

/* The PIN file must be owned by root or by the agent's user, with no
 * permission for others: a PIN anyone on the device can read gates
 * nothing. Group read is allowed (root:trustlink 0640 is the usual way to
 * share it with the agent's group); see docs/security.md. That it is a
 * regular file tl_open_regular has checked already. */
static int check_pin_file(int fd, const char *path, char *err, size_t err_len)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "cannot check the PIN file %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, err_len, "the PIN file %s is owned by uid %ld: it must belong to root or "
                               "to the agent's user (uid %ld)",
                 path, (long)st.st_uid, (long)geteuid());
        return -1;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH | S_IXOTH)) {
        snprintf(err, err_len, "the PIN file %s has mode %04o: others may not have access "
                               "(chmod o-rwx, e.g. 0600 or 0640)",
                 path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* Reads the first line of path (trailing newline dropped). */
static int read_pin_file(const char *path, struct agent_pin *pin, char *err, size_t err_len)
{
    char buf[AGENT_PIN_MAX + 2];
    ssize_t got;
    size_t len;
    int fd;
    int rc = -1;

    /* Not a plain open: a FIFO put there would wait for a writer forever. */
    fd = tl_open_regular(path, O_RDONLY, 0, "the PIN file", err, err_len);
    if (fd < 0)
        return -1;
    if (check_pin_file(fd, path, err, err_len) != 0)
        goto cleanup;
    got = read(fd, buf, sizeof(buf) - 1);
    if (got < 0) {
        snprintf(err, err_len, "cannot read the PIN from %s: %s", path, strerror(errno));
        goto cleanup;
    }
    buf[got] = '\0';
    len = strcspn(buf, "\r\n");
    if (len == 0) {
        snprintf(err, err_len, "the PIN file %s is empty", path);
        goto cleanup;
    }
    if (len > AGENT_PIN_MAX) {
        snprintf(err, err_len, "the PIN in %s is longer than %d bytes", path, AGENT_PIN_MAX);
        goto cleanup;
    }
    memcpy(pin->value, buf, len);
    pin->value[len] = '\0';
    pin->present = true;
    rc = 0;
cleanup:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

int agent_pin_read(const struct agent_identity_config *cfg, struct p11_kit_uri *key_uri,
                   struct agent_pin *pin, char *err, size_t err_len)
{
    const char *uri_value = key_uri ? p11_kit_uri_get_pin_value(key_uri) : NULL;
    const char *uri_source = key_uri ? p11_kit_uri_get_pin_source(key_uri) : NULL;

    agent_pin_clear(pin);
    if (uri_value) {
        /* The config refuses it already (agent_uri_refuse_pin_value). */
        snprintf(err, err_len, "identity.key: a pin-value in the URI is refused; put the PIN in "
                               "identity.pin_file or identity.pin_credential");
        return -1;
    }
    if (uri_source) {
        const char *path = uri_source;

        if (strncmp(path, "file:", 5) == 0)
            path += 5;
        if (path[0] != '/') {
            snprintf(err, err_len,
                     "identity.key: pin-source must be file:/absolute/path (got a relative or "
                     "unsupported source)");
            return -1;
        }
        pin->source = "pin-source in identity.key";
        return read_pin_file(path, pin, err, err_len);
    }
    if (cfg->pin_file) {
        pin->source = cfg->pin_file;
        return read_pin_file(cfg->pin_file, pin, err, err_len);
    }
    if (cfg->pin_credential) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char path[PATH_MAX];

        if (!dir || dir[0] != '/') {
            snprintf(err, err_len,
                     "identity.pin_credential is \"%s\" but $CREDENTIALS_DIRECTORY is not set: "
                     "start trustlinkd from its unit (LoadCredential=%s:...) or use pin_file "
                     "(trustlinkctl check: run it as root or give --pin-file FILE)",
                     cfg->pin_credential, cfg->pin_credential);
            return -1;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, cfg->pin_credential);
        pin->source = "the systemd credential";
        return read_pin_file(path, pin, err, err_len);
    }
    return 0;
}

void agent_pin_clear(struct agent_pin *pin)
{
    OPENSSL_cleanse(pin->value, sizeof(pin->value));
    pin->present = false;
    pin->source = NULL;
}
