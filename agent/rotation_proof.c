/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable-step proofs for the token gateway (see rotation_proof.h).
 */
#include "rotation_proof.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static pthread_once_t seal_once = PTHREAD_ONCE_INIT;
static unsigned char seal_key[32];
static int seal_ready; /* written once under seal_once, read-only after */

static void seal_init(void)
{
    seal_ready = RAND_bytes(seal_key, sizeof(seal_key)) == 1;
}

#define BOUNDED(field) (int)strnlen((field), sizeof(field)), (field)

/* HMAC over the fields the gateway decides on, as text (no padding bytes). */
static int compute_seal(const struct rotation_proof *p, unsigned char out[32])
{
    char text[ROTATION_PROOF_DIR_MAX + 2 * ROTATION_ID_HEX_MAX + 2 * ROTATION_LABEL_MAX + 64];
    unsigned int len = 32;
    int n;

    pthread_once(&seal_once, seal_init);
    if (!seal_ready)
        return -1;
    /* Bounded: a proof handed to verify may be any bytes at all. */
    n = snprintf(text, sizeof(text), "%.*s\n%d\n%.*s\n%.*s\n%.*s\n%.*s", BOUNDED(p->dir),
                 (int)p->rec.step, BOUNDED(p->rec.new_key_id), BOUNDED(p->rec.old_key_id),
                 BOUNDED(p->rec.temp_label), BOUNDED(p->rec.label));
    if (n < 0 || (size_t)n >= sizeof(text))
        return -1;
    if (!HMAC(EVP_sha256(), seal_key, sizeof(seal_key), (const unsigned char *)text, (size_t)n,
              out, &len) ||
        len != 32)
        return -1;
    return 0;
}

static int issue(const char *dir, const struct rotation_record *r, struct rotation_proof *out,
                 char *err, size_t err_len)
{
    struct rotation_proof p;

    memset(&p, 0, sizeof(p));
    if (strlen(dir) >= sizeof(p.dir)) {
        snprintf(err, err_len, "rotation.state_dir is longer than %d bytes",
                 ROTATION_PROOF_DIR_MAX - 1);
        return -1;
    }
    snprintf(p.dir, sizeof(p.dir), "%s", dir);
    p.rec = *r;
    if (compute_seal(&p, p.seal) != 0) {
        snprintf(err, err_len, "cannot seal the journal proof (no random key)");
        return -1;
    }
    *out = p;
    return 0;
}

int rotation_proof_record(const char *dir, const struct rotation_record *r,
                          struct rotation_proof *out, char *err, size_t err_len)
{
    struct rotation_proof p;

    if (issue(dir, r, &p, err, err_len) != 0)
        return -1;
    if (rotation_journal_write(dir, r, err, err_len) != 0)
        return -1;
    *out = p;
    return 0;
}

enum rotation_load rotation_proof_load(const char *dir, struct rotation_proof *out, char *err,
                                       size_t err_len)
{
    struct rotation_record rec;
    enum rotation_load load = rotation_journal_load(dir, &rec, err, err_len);

    if (load != ROTATION_LOAD_OK)
        return load;
    return issue(dir, &rec, out, err, err_len) == 0 ? ROTATION_LOAD_OK : ROTATION_LOAD_IO;
}

int rotation_proof_verify(const struct rotation_proof *p, char *err, size_t err_len)
{
    unsigned char want[32];
    struct rotation_record disk;
    char jerr[512] = "no journal";

    if (!p) {
        snprintf(err, err_len, "no rotation journal step given: token changes of a rotation "
                               "run only once their step is on disk");
        return -1;
    }
    if (compute_seal(p, want) != 0 || CRYPTO_memcmp(want, p->seal, sizeof(want)) != 0) {
        snprintf(err, err_len, "the rotation journal proof is not one this process issued");
        return -1;
    }
    if (rotation_journal_load(p->dir, &disk, jerr, sizeof(jerr)) != ROTATION_LOAD_OK) {
        snprintf(err, err_len, "the rotation journal in %s cannot be read back (%s)", p->dir,
                 jerr);
        return -1;
    }
    if (disk.step != p->rec.step || strcmp(disk.new_key_id, p->rec.new_key_id) != 0 ||
        strcmp(disk.old_key_id, p->rec.old_key_id) != 0) {
        snprintf(err, err_len, "the rotation journal in %s says step %s, not %s", p->dir,
                 rotation_step_name(disk.step), rotation_step_name(p->rec.step));
        return -1;
    }
    return 0;
}
