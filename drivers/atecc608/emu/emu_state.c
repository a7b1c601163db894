/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator state file: the chip's persistent memory (config, OTP and data
 * zones, which slots hold generated keys) across emulator restarts, as a
 * real chip keeps its EEPROM across power cycles.
 *
 * Format, version 1 (fixed size 1446 bytes, integers little-endian):
 *   0     8  magic "ATECCEMU"
 *   8     4  format version (1)
 *   12  128  config zone
 *   140  64  OTP zone
 *   204 1208 data zone, slots 0..15 back to back (private keys included)
 *   1412  2  key-valid mask (bit N: slot N holds a generated private key)
 *   1414 32  SHA-256 of bytes 0..1413
 * The file holds private keys: it is created mode 0600.
 *
 * Owns the file format and the atomic replace (temp file in the same
 * directory, fsync, rename, fsync of the directory). Must never replace a
 * file it cannot parse: a corrupt file or another version is an error the
 * operator resolves.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_internal.h"

enum {
    EMU_STATE_VERSION = 1,
    EMU_STATE_MAGIC_LEN = 8,
    EMU_STATE_OFF_VERSION = 8,
    EMU_STATE_OFF_CONFIG = 12,
    EMU_STATE_OFF_OTP = EMU_STATE_OFF_CONFIG + ATECC_CONFIG_SIZE,
    EMU_STATE_OFF_DATA = EMU_STATE_OFF_OTP + ATECC_OTP_SIZE,
    EMU_STATE_OFF_KEYS = EMU_STATE_OFF_DATA + EMU_DATA_ZONE_SIZE,
    EMU_STATE_OFF_HASH = EMU_STATE_OFF_KEYS + 2,
    EMU_STATE_SIZE = EMU_STATE_OFF_HASH + 32,
};

static const char emu_state_magic[EMU_STATE_MAGIC_LEN] = { 'A', 'T', 'E', 'C', 'C', 'E', 'M', 'U' };

static int emu_state_encode(const struct emu_zones *zones, uint8_t buf[EMU_STATE_SIZE])
{
    memcpy(buf, emu_state_magic, EMU_STATE_MAGIC_LEN);
    buf[EMU_STATE_OFF_VERSION] = EMU_STATE_VERSION;
    buf[EMU_STATE_OFF_VERSION + 1] = 0;
    buf[EMU_STATE_OFF_VERSION + 2] = 0;
    buf[EMU_STATE_OFF_VERSION + 3] = 0;
    memcpy(buf + EMU_STATE_OFF_CONFIG, zones->config, ATECC_CONFIG_SIZE);
    memcpy(buf + EMU_STATE_OFF_OTP, zones->otp, ATECC_OTP_SIZE);
    memcpy(buf + EMU_STATE_OFF_DATA, zones->data, EMU_DATA_ZONE_SIZE);
    buf[EMU_STATE_OFF_KEYS] = (uint8_t)(zones->key_valid & 0xFF);
    buf[EMU_STATE_OFF_KEYS + 1] = (uint8_t)(zones->key_valid >> 8);
    return emu_sha256(buf, EMU_STATE_OFF_HASH, buf + EMU_STATE_OFF_HASH);
}

static int emu_state_decode(struct emu_zones *zones, const uint8_t *buf, size_t len, const char *path,
                            char *err, size_t err_len)
{
    uint8_t hash[32];
    uint32_t version;

    if (len < EMU_STATE_OFF_CONFIG || memcmp(buf, emu_state_magic, EMU_STATE_MAGIC_LEN) != 0) {
        snprintf(err, err_len, "%s is not an atecc608-emu state file (bad magic); move it away or pass another --state", path);
        return -1;
    }
    version = (uint32_t)buf[EMU_STATE_OFF_VERSION] | (uint32_t)buf[EMU_STATE_OFF_VERSION + 1] << 8 |
              (uint32_t)buf[EMU_STATE_OFF_VERSION + 2] << 16 | (uint32_t)buf[EMU_STATE_OFF_VERSION + 3] << 24;
    if (version != EMU_STATE_VERSION) {
        snprintf(err, err_len, "%s has state format version %u; this emulator reads version %d only",
                 path, version, EMU_STATE_VERSION);
        return -1;
    }
    if (len != EMU_STATE_SIZE || emu_sha256(buf, EMU_STATE_OFF_HASH, hash) != 0 ||
        memcmp(hash, buf + EMU_STATE_OFF_HASH, sizeof(hash)) != 0) {
        snprintf(err, err_len, "%s is corrupt (size %zu, expected %d, or checksum mismatch); the chip state is lost unless you restore it",
                 path, len, EMU_STATE_SIZE);
        return -1;
    }
    memcpy(zones->config, buf + EMU_STATE_OFF_CONFIG, ATECC_CONFIG_SIZE);
    memcpy(zones->otp, buf + EMU_STATE_OFF_OTP, ATECC_OTP_SIZE);
    memcpy(zones->data, buf + EMU_STATE_OFF_DATA, EMU_DATA_ZONE_SIZE);
    zones->key_valid = (uint16_t)(buf[EMU_STATE_OFF_KEYS] | (buf[EMU_STATE_OFF_KEYS + 1] << 8));
    return 0;
}

int emu_state_load(struct emu_zones *zones, const char *path, char *err, size_t err_len)
{
    int rc = -1;
    int fd = -1;
    uint8_t buf[EMU_STATE_SIZE + 1]; /* one spare byte detects a longer file */
    size_t len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            rc = 1;
            goto cleanup;
        }
        snprintf(err, err_len, "cannot open state file %s: %s", path, strerror(errno));
        goto cleanup;
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_len, "cannot read state file %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    rc = emu_state_decode(zones, buf, len, path, err, err_len);
cleanup:
    emu_cleanse(buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    return rc;
}

static int emu_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int emu_fsync_dir_of(const char *path)
{
    int rc = -1;
    char *copy = strdup(path);
    int dir_fd = -1;

    if (copy == NULL)
        return -1;
    dir_fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0 && fsync(dir_fd) == 0)
        rc = 0;
    if (dir_fd >= 0)
        close(dir_fd);
    free(copy);
    return rc;
}

int emu_state_save(const struct emu_zones *zones, const char *path, char *err, size_t err_len)
{
    int rc = -1;
    int fd = -1;
    char *tmp_path = NULL;
    uint8_t buf[EMU_STATE_SIZE];
    size_t path_len = strlen(path);

    if (emu_state_encode(zones, buf) != 0) {
        snprintf(err, err_len, "cannot checksum the chip state");
        goto cleanup;
    }
    tmp_path = malloc(path_len + sizeof(".tmp.XXXXXX"));
    if (tmp_path == NULL) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    memcpy(tmp_path, path, path_len);
    memcpy(tmp_path + path_len, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
    fd = mkstemp(tmp_path); /* mode 0600: the file holds private keys */
    if (fd < 0) {
        snprintf(err, err_len, "cannot create a temporary file next to %s: %s", path, strerror(errno));
        free(tmp_path);
        tmp_path = NULL;
        goto cleanup;
    }
    if (emu_write_all(fd, buf, sizeof(buf)) != 0 || fsync(fd) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", tmp_path, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, err_len, "cannot write %s: %s", tmp_path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp_path, path) != 0) {
        snprintf(err, err_len, "cannot replace %s: %s", path, strerror(errno));
        goto cleanup;
    }
    free(tmp_path);
    tmp_path = NULL; /* renamed: nothing to remove */
    if (emu_fsync_dir_of(path) != 0) {
        snprintf(err, err_len, "cannot fsync the directory of %s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    emu_cleanse(buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    if (tmp_path != NULL) {
        unlink(tmp_path);
        free(tmp_path);
    }
    return rc;
}
