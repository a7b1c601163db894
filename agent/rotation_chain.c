/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Saved rotation chains (see rotation_chain.h).
 */
#include "rotation_chain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hex.h"
#include "regular_file.h"
#include "identity.h"
#include "rotation_journal.h"

#define CHAIN_PREFIX "chain-"
#define CHAIN_SUFFIX ".pem"

static int chain_name(const char *key_id_hex, char *out, size_t len)
{
    return (size_t)snprintf(out, len, CHAIN_PREFIX "%s" CHAIN_SUFFIX, key_id_hex) < len ? 0 : -1;
}

int rotation_chain_save(const char *dir, const char *key_id_hex, STACK_OF(X509) *chain,
                        char *err, size_t err_len)
{
    char name[NAME_MAX + 1];
    BIO *mem = NULL;
    char *data = NULL;
    long len;
    int rc = -1;

    if (chain_name(key_id_hex, name, sizeof(name)) != 0) {
        snprintf(err, err_len, "rotation chain: key id too long");
        return -1;
    }
    mem = BIO_new(BIO_s_mem());
    if (!mem)
        goto oom;
    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        if (PEM_write_bio_X509(mem, sk_X509_value(chain, i)) != 1)
            goto oom;
    len = BIO_get_mem_data(mem, &data);
    rc = rotation_state_write(dir, name, data ? data : "", len > 0 ? (size_t)len : 0, err,
                              err_len);
    goto out;
oom:
    snprintf(err, err_len, "rotation chain: out of memory");
out:
    BIO_free(mem);
    return rc;
}

enum rotation_chain_load rotation_chain_load(const char *dir, const char *key_id_hex, X509 *leaf,
                                             STACK_OF(X509) **out, char *err, size_t err_len)
{
    char name[NAME_MAX + 1], path[PATH_MAX];
    STACK_OF(X509) *chain = NULL;
    enum rotation_chain_load result = ROTATION_CHAIN_BAD;
    FILE *f = NULL;
    X509 *x;
    unsigned long e;
    int fd;

    *out = NULL;
    if (chain_name(key_id_hex, name, sizeof(name)) != 0 ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return ROTATION_CHAIN_NONE;
    /* Non-blocking and a regular file only: a FIFO would hang the
     * identity load. */
    fd = tl_open_regular(path, O_RDONLY | O_NOFOLLOW, 0, "saved rotation chain", err, err_len);
    if (fd < 0)
        return errno == ENOENT ? ROTATION_CHAIN_NONE : ROTATION_CHAIN_BAD;
    f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        close(fd);
        return ROTATION_CHAIN_BAD;
    }
    chain = sk_X509_new_null();
    if (!chain) {
        snprintf(err, err_len, "%s: out of memory", path);
        goto out;
    }
    ERR_clear_error();
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            snprintf(err, err_len, "%s: out of memory", path);
            goto out;
        }
    }
    /* The loop ends at end of file (PEM_R_NO_START_LINE) or at garbage. */
    e = ERR_peek_last_error();
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        snprintf(err, err_len, "%s: not a file of PEM certificates", path);
        goto out;
    }
    ERR_clear_error();
    if (sk_X509_num(chain) == 0) {
        result = ROTATION_CHAIN_NONE;
    } else if (X509_check_issued(sk_X509_value(chain, 0), leaf) != X509_V_OK) {
        result = ROTATION_CHAIN_MISMATCH;
    } else {
        *out = chain;
        chain = NULL;
        result = ROTATION_CHAIN_LOADED;
    }
out:
    ERR_clear_error();
    sk_X509_pop_free(chain, X509_free);
    fclose(f);
    return result;
}

int rotation_chain_prune(const char *dir, const char *keep_key_id_hex)
{
    char keep[NAME_MAX + 1] = "";
    struct dirent *de;
    DIR *d;
    int removed = 0;

    if (keep_key_id_hex && chain_name(keep_key_id_hex, keep, sizeof(keep)) != 0)
        return 0;
    d = opendir(dir);
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        char path[PATH_MAX];

        if (n <= strlen(CHAIN_PREFIX CHAIN_SUFFIX) ||
            strncmp(de->d_name, CHAIN_PREFIX, strlen(CHAIN_PREFIX)) != 0 ||
            strcmp(de->d_name + n - strlen(CHAIN_SUFFIX), CHAIN_SUFFIX) != 0 ||
            strcmp(de->d_name, keep) == 0)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path) &&
            unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int rotation_chain_settle(const char *dir, const char *in_use_key_id_hex,
                          const char *abandoned_key_id_hex)
{
    char name[NAME_MAX + 1];
    char path[PATH_MAX];

    if (dir == NULL)
        return 0;
    if (in_use_key_id_hex != NULL && in_use_key_id_hex[0] != '\0')
        return rotation_chain_prune(dir, in_use_key_id_hex);
    if (abandoned_key_id_hex == NULL || abandoned_key_id_hex[0] == '\0' ||
        chain_name(abandoned_key_id_hex, name, sizeof(name)) != 0 ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return 0;
    return unlink(path) == 0 ? 1 : 0;
}

enum rotation_chain_load rotation_chain_apply(const char *dir, struct agent_identity *id,
                                              char *desc, size_t desc_len)
{
    unsigned char key_id[ROTATION_ID_HEX_MAX / 2];
    size_t key_id_len = sizeof(key_id);
    char hex[ROTATION_ID_HEX_MAX + 1];
    STACK_OF(X509) *chain = NULL;
    char err[512] = "";
    enum rotation_chain_load result;

    desc[0] = '\0';
    if (!dir || !id || agent_identity_key_id(id, key_id, &key_id_len) != AGENT_IDENTITY_OK)
        return ROTATION_CHAIN_NONE;
    agent_hex_encode(key_id, key_id_len, hex, sizeof(hex));
    result = rotation_chain_load(dir, hex, agent_identity_certificate(id), &chain, err,
                                 sizeof(err));
    switch (result) {
    case ROTATION_CHAIN_LOADED:
        snprintf(desc, desc_len,
                 "%d intermediate(s) received by the rotation that made key %s (%s/" CHAIN_PREFIX
                 "%s" CHAIN_SUFFIX ")",
                 sk_X509_num(chain), hex, dir, hex);
        agent_identity_replace_chain(id, chain);
        break;
    case ROTATION_CHAIN_MISMATCH:
        snprintf(desc, desc_len,
                 "%s/" CHAIN_PREFIX "%s" CHAIN_SUFFIX " does not continue the certificate; "
                 "sending identity.chain_file's chain instead",
                 dir, hex);
        break;
    case ROTATION_CHAIN_BAD:
        snprintf(desc, desc_len, "saved rotation chain: %s; sending identity.chain_file's chain "
                                 "instead", err);
        break;
    case ROTATION_CHAIN_NONE:
        break;
    }
    return result;
}
