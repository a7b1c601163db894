/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token operations for key rotation (see identity_token.h).
 *
 * Every operation opens its own read/write session on the raw function
 * list of the module instance libp11 loaded (identity.c), so it shares
 * libp11's login and sees the same token objects, and closes it before
 * returning: nothing here keeps a handle across calls, because handles do
 * not survive a module reload (the recovery path).
 *
 * Keys handed out by agent_token_key_by_id carry their CKA_ID as EVP_PKEY
 * ex_data, so agent_identity_adopt can tell which token key it now holds
 * (libp11 0.4.12 offers no way from an EVP_PKEY back to its object).
 *
 * libp11 0.4.12 and new objects (measured by identity_token_driver.c on
 * SoftHSMv2 and our module): PKCS11_enumerate_keys searches the token on
 * every call and appends objects it has not listed yet, so keys generated
 * after the identity was opened are found. It never drops entries nor
 * re-reads their attributes: destroyed keys stay listed and relabelled
 * keys keep their old label. So the key is chosen by a raw search (exactly
 * one private key with the id) and matched in libp11's list by CKA_ID only,
 * never by label, taking the last entry (the newest) should an id have
 * been destroyed and reused within the process.
 */
#include "identity_token.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>

#include "hex.h"
#include "identity_internal.h"

#define MAX_OBJECTS_PER_SEARCH 64

/* DER of the prime256v1 OID, the CKA_EC_PARAMS of a P-256 key. */
static const unsigned char p256_oid_der[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};

/* The classes rotation manages; anything else with the same id or label
 * (data objects, secret keys) belongs to someone else. */
static const CK_OBJECT_CLASS managed_classes[] = {CKO_CERTIFICATE, CKO_PUBLIC_KEY,
                                                  CKO_PRIVATE_KEY};

/* ---------------- status and messages ---------------- */

/* Faults a reload may cure. CKR_DEVICE_MEMORY is not one: on our module it
 * means "no free chip slot", which retrying does not change. */
static bool is_token_fault(CK_RV rv)
{
    return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_SESSION_COUNT;
}

static enum agent_identity_status status_of(CK_RV rv)
{
    return is_token_fault(rv) ? AGENT_IDENTITY_TOKEN_FAULT : AGENT_IDENTITY_CONFIG;
}

static void id_hex(const unsigned char *key_id, size_t id_len, char *out, size_t out_len)
{
    agent_hex_encode(key_id, id_len, out, out_len);
    if (!out[0])
        snprintf(out, out_len, "(none)");
}

static int check_id(const unsigned char *key_id, size_t id_len, char *err, size_t err_len)
{
    if (!key_id || id_len < 1 || id_len > AGENT_TOKEN_ID_MAX) {
        snprintf(err, err_len, "key id must be 1-%d bytes, got %zu", AGENT_TOKEN_ID_MAX,
                 key_id ? id_len : 0);
        return -1;
    }
    return 0;
}

static int check_label(const char *label, char *err, size_t err_len)
{
    size_t len = label ? strnlen(label, AGENT_TOKEN_LABEL_MAX + 1) : 0;

    if (len < 1 || len > AGENT_TOKEN_LABEL_MAX) {
        snprintf(err, err_len, "object label must be 1-%d bytes%s", AGENT_TOKEN_LABEL_MAX,
                 len ? " (too long)" : " (empty)");
        return -1;
    }
    return 0;
}

/* ---------------- sessions and searches ---------------- */

static enum agent_identity_status open_session(struct agent_identity *id, CK_SESSION_HANDLE *s,
                                               char *err, size_t err_len)
{
    CK_RV rv = id->fn->C_OpenSession(id->slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                     NULL, s);

    if (rv != CKR_OK) {
        *s = CK_INVALID_HANDLE;
        snprintf(err, err_len, "cannot open a read/write session on token \"%s\" (CKR 0x%lx)",
                 id->token_label, (unsigned long)rv);
        return status_of(rv);
    }
    return AGENT_IDENTITY_OK;
}

static void close_session(struct agent_identity *id, CK_SESSION_HANDLE s)
{
    if (s != CK_INVALID_HANDLE)
        id->fn->C_CloseSession(s);
}

/* Handles of the objects matching tmpl: up to max kept, *count = all. */
static CK_RV find_handles(struct agent_identity *id, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                          CK_ULONG n_tmpl, CK_OBJECT_HANDLE *out, size_t max, size_t *count)
{
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG got = 0;
    CK_RV rv;

    *count = 0;
    rv = id->fn->C_FindObjectsInit(s, tmpl, n_tmpl);
    if (rv != CKR_OK)
        return rv;
    do {
        rv = id->fn->C_FindObjects(s, batch, 16, &got);
        if (rv != CKR_OK)
            break;
        for (CK_ULONG i = 0; i < got; i++) {
            if (*count < max)
                out[*count] = batch[i];
            (*count)++;
        }
    } while (got == 16);
    id->fn->C_FindObjectsFinal(s);
    return rv;
}

/* Handles of the managed objects with CKA_ID = key_id (all classes, or
 * only `only` when it is not (CK_OBJECT_CLASS)-1), in managed_classes
 * order: certificates, public keys, private keys. */
static CK_RV find_by_id(struct agent_identity *id, CK_SESSION_HANDLE s,
                        const unsigned char *key_id, size_t id_len, CK_OBJECT_CLASS only,
                        CK_OBJECT_HANDLE *out, size_t max, size_t *count)
{
    *count = 0;
    for (size_t c = 0; c < sizeof(managed_classes) / sizeof(managed_classes[0]); c++) {
        CK_OBJECT_CLASS klass = managed_classes[c];
        CK_ATTRIBUTE tmpl[2] = {
            {CKA_CLASS, &klass, sizeof(klass)},
            {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
        };
        size_t n = 0, room = *count < max ? max - *count : 0;
        CK_RV rv;

        if (only != (CK_OBJECT_CLASS)-1 && klass != only)
            continue;
        rv = find_handles(id, s, tmpl, 2, out + (*count < max ? *count : 0), room, &n);
        if (rv != CKR_OK)
            return rv;
        *count += n;
    }
    return CKR_OK;
}

/* Class, CKA_ID and CKA_LABEL of one object; oversized values read as
 * empty (they cannot be ours: we write at most 64 bytes of each). */
static CK_RV read_object(struct agent_identity *id, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                         struct agent_token_object *o)
{
    CK_OBJECT_CLASS klass = (CK_OBJECT_CLASS)-1;
    CK_ATTRIBUTE attrs[3] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_ID, NULL, 0},
        {CKA_LABEL, NULL, 0},
    };
    CK_RV rv;

    memset(o, 0, sizeof(*o));
    rv = id->fn->C_GetAttributeValue(s, h, attrs, 3);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    if (attrs[1].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        attrs[1].ulValueLen <= sizeof(o->id))
        attrs[1].pValue = o->id;
    else
        attrs[1].ulValueLen = 0;
    if (attrs[2].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        attrs[2].ulValueLen < sizeof(o->label))
        attrs[2].pValue = o->label;
    else
        attrs[2].ulValueLen = 0;
    rv = id->fn->C_GetAttributeValue(s, h, attrs, 3);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    o->klass = klass;
    o->id_len = attrs[1].pValue ? attrs[1].ulValueLen : 0;
    o->label[attrs[2].pValue ? attrs[2].ulValueLen : 0] = '\0';
    return CKR_OK;
}

static const char *class_name(CK_OBJECT_CLASS klass)
{
    switch (klass) {
    case CKO_PRIVATE_KEY: return "private key";
    case CKO_PUBLIC_KEY: return "public key";
    case CKO_CERTIFICATE: return "certificate";
    default: return "object";
    }
}

/* ---------------- key ids on EVP_PKEYs ---------------- */

struct key_tag {
    unsigned char id[AGENT_TOKEN_ID_MAX];
    size_t id_len;
};

static pthread_once_t key_tag_once = PTHREAD_ONCE_INIT;
static int key_tag_index = -1;

static void key_tag_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static void key_tag_init(void)
{
    key_tag_index = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, key_tag_free);
}

/* Records key_id on key; libp11 may hand out the same EVP_PKEY again, so
 * an existing tag is overwritten in place. Best effort: without a tag,
 * adopt only loses the id. */
static void key_tag_set(EVP_PKEY *key, const unsigned char *key_id, size_t id_len)
{
    struct key_tag *tag;

    pthread_once(&key_tag_once, key_tag_init);
    if (key_tag_index < 0)
        return;
    tag = EVP_PKEY_get_ex_data(key, key_tag_index);
    if (!tag) {
        tag = calloc(1, sizeof(*tag));
        if (!tag)
            return;
        if (EVP_PKEY_set_ex_data(key, key_tag_index, tag) != 1) {
            free(tag);
            return;
        }
    }
    memcpy(tag->id, key_id, id_len);
    tag->id_len = id_len;
}

static const struct key_tag *key_tag_get(const EVP_PKEY *key)
{
    pthread_once(&key_tag_once, key_tag_init);
    if (key_tag_index < 0 || !key)
        return NULL;
    return EVP_PKEY_get_ex_data(key, key_tag_index);
}

/* ---------------- identity accessors ---------------- */

enum agent_identity_status agent_identity_key_id(const struct agent_identity *id,
                                                 unsigned char *out, size_t *len)
{
    if (!id->key || id->key_id_len == 0)
        return AGENT_IDENTITY_OBJECT_NOT_FOUND;
    if (*len < id->key_id_len)
        return AGENT_IDENTITY_CONFIG;
    memcpy(out, id->key_id, id->key_id_len);
    *len = id->key_id_len;
    return AGENT_IDENTITY_OK;
}

/* key_name for the private key with key_id, read from the token. */
static void name_key_from_token(struct agent_identity *id)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h;
    struct agent_token_object o;
    char err[256];
    size_t n = 0;

    agent_identity_describe(id->key_id, id->key_id_len, NULL, id->key_name,
                            sizeof(id->key_name));
    if (open_session(id, &s, err, sizeof(err)) != AGENT_IDENTITY_OK)
        return;
    if (find_by_id(id, s, id->key_id, id->key_id_len, CKO_PRIVATE_KEY, &h, 1, &n) == CKR_OK &&
        n == 1 && read_object(id, s, h, &o) == CKR_OK)
        agent_identity_describe(id->key_id, id->key_id_len, o.label, id->key_name,
                                sizeof(id->key_name));
    close_session(id, s);
}

/* Here rather than in identity.c: it needs the key tags above. */
void agent_identity_replace_chain(struct agent_identity *id, STACK_OF(X509) *chain)
{
    X509 *x;

    /* The old chain's contents go; the stack object stays (never NULL).
     * Handing back the identity's own chain keeps it as it is. */
    if (chain == id->chain)
        return;
    while ((x = sk_X509_pop(id->chain)) != NULL)
        X509_free(x);
    if (chain) {
        while ((x = sk_X509_shift(chain)) != NULL) {
            if (!sk_X509_push(id->chain, x))
                X509_free(x); /* out of memory: a shorter chain, never a leak */
        }
        sk_X509_free(chain);
    }
}

void agent_identity_adopt(struct agent_identity *id, EVP_PKEY *key, X509 *cert,
                          STACK_OF(X509) *chain)
{
    const struct key_tag *tag = key_tag_get(key);

    agent_identity_replace_chain(id, chain);
    X509_free(id->cert);
    id->cert = cert;
    EVP_PKEY_free(id->key);
    id->key = key;
    if (tag && tag->id_len > 0) {
        memcpy(id->key_id, tag->id, tag->id_len);
        id->key_id_len = tag->id_len;
        name_key_from_token(id);
    } else {
        id->key_id_len = 0;
        snprintf(id->key_name, sizeof(id->key_name), "(adopted key, id unknown)");
    }
    ERR_clear_error();
}

/* ---------------- generate ---------------- */

enum agent_identity_status agent_token_generate_p256(struct agent_identity *id,
                                                     const unsigned char *key_id, size_t id_len,
                                                     const char *label, char *err,
                                                     size_t err_len)
{
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mechanism = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, (void *)p256_oid_der, sizeof(p256_oid_der)},
        {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
        {CKA_LABEL, (void *)label, label ? (CK_ULONG)strlen(label) : 0},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
        {CKA_LABEL, (void *)label, label ? (CK_ULONG)strlen(label) : 0},
    };
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE, seen;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8];
    size_t n = 0;
    CK_RV rv;

    if (check_id(key_id, id_len, err, err_len) != 0 || check_label(label, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    status = open_session(id, &s, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    /* Two keys with one id would make every later lookup ambiguous. */
    rv = find_by_id(id, s, key_id, id_len, (CK_OBJECT_CLASS)-1, &seen, 1, &n);
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot search token \"%s\" for id %s (CKR 0x%lx)",
                 id->token_label, hexid, (unsigned long)rv);
        status = status_of(rv);
        goto cleanup;
    }
    if (n > 0) {
        snprintf(err, err_len,
                 "not generating key %s on token \"%s\": %zu object(s) already carry id %s",
                 label, id->token_label, n, hexid);
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    rv = id->fn->C_GenerateKeyPair(s, &mechanism, pub_tmpl,
                                   sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
                                   sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &pub, &priv);
    if (rv == CKR_DEVICE_MEMORY) {
        snprintf(err, err_len,
                 "cannot generate key object=%s;id=%s on token \"%s\": no free key slot "
                 "(CKR_DEVICE_MEMORY): destroy a retired key first",
                 label, hexid, id->token_label);
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    if (rv != CKR_OK) {
        snprintf(err, err_len,
                 "cannot generate P-256 key object=%s;id=%s on token \"%s\" (CKR 0x%lx)", label,
                 hexid, id->token_label, (unsigned long)rv);
        status = status_of(rv);
        goto cleanup;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    close_session(id, s);
    return status;
}

/* ---------------- key by id ---------------- */

static enum agent_identity_status check_key_safe(struct agent_identity *id, CK_SESSION_HANDLE s,
                                                 CK_OBJECT_HANDLE h, const char *name,
                                                 char *err, size_t err_len)
{
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_ATTRIBUTE attrs[2] = {
        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
    };
    CK_RV rv = id->fn->C_GetAttributeValue(s, h, attrs, 2);

    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID) {
        snprintf(err, err_len, "cannot read the attributes of key %s on token \"%s\" (CKR 0x%lx)",
                 name, id->token_label, (unsigned long)rv);
        return status_of(rv);
    }
    if (attrs[0].ulValueLen == CK_UNAVAILABLE_INFORMATION || sensitive != CK_TRUE) {
        snprintf(err, err_len, "refusing key %s on token \"%s\": it is not CKA_SENSITIVE",
                 name, id->token_label);
        return AGENT_IDENTITY_UNSAFE_KEY;
    }
    if (attrs[1].ulValueLen == CK_UNAVAILABLE_INFORMATION || extractable != CK_FALSE) {
        snprintf(err, err_len, "refusing key %s on token \"%s\": it is CKA_EXTRACTABLE", name,
                 id->token_label);
        return AGENT_IDENTITY_UNSAFE_KEY;
    }
    return AGENT_IDENTITY_OK;
}

/* libp11's entry for the private key with key_id: the last one listed
 * (libp11 appends objects it has not seen; see the top of this file). */
static PKCS11_KEY *libp11_key_by_id(struct agent_identity *id, const unsigned char *key_id,
                                    size_t id_len, CK_RV *rv_out)
{
    PKCS11_KEY *keys = NULL, *match = NULL;
    unsigned n_keys = 0;

    *rv_out = CKR_OK;
    if (PKCS11_enumerate_keys(id->slot->token, &keys, &n_keys) != 0) {
        *rv_out = agent_identity_drain_ckr();
        if (*rv_out == CKR_OK)
            *rv_out = CKR_GENERAL_ERROR;
        return NULL;
    }
    for (unsigned i = 0; i < n_keys; i++) {
        if (keys[i].isPrivate && keys[i].id_len == id_len &&
            memcmp(keys[i].id, key_id, id_len) == 0)
            match = &keys[i];
    }
    return match;
}

enum agent_identity_status agent_token_key_by_id(struct agent_identity *id,
                                                 const unsigned char *key_id, size_t id_len,
                                                 EVP_PKEY **out, char *err, size_t err_len)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h[2];
    struct agent_token_object info;
    enum agent_identity_status status;
    PKCS11_KEY *key;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8], name[200];
    size_t n = 0;
    CK_RV rv;

    *out = NULL;
    if (check_id(key_id, id_len, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    status = open_session(id, &s, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    rv = find_by_id(id, s, key_id, id_len, CKO_PRIVATE_KEY, h, 2, &n);
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot search token \"%s\" for the private key with id %s "
                               "(CKR 0x%lx)",
                 id->token_label, hexid, (unsigned long)rv);
        status = status_of(rv);
        goto cleanup;
    }
    if (n != 1) {
        snprintf(err, err_len, "%zu private keys with id %s on token \"%s\"%s", n, hexid,
                 id->token_label, n ? ": the id must name exactly one" : "");
        status = n ? AGENT_IDENTITY_AMBIGUOUS : AGENT_IDENTITY_OBJECT_NOT_FOUND;
        goto cleanup;
    }
    rv = read_object(id, s, h[0], &info);
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot read the private key with id %s on token \"%s\" "
                               "(CKR 0x%lx)",
                 hexid, id->token_label, (unsigned long)rv);
        status = status_of(rv);
        goto cleanup;
    }
    /* The found handle must read back as what was searched for (tpm2-pkcs11
     * 1.9 reuses handles after C_DestroyObject; a re-initialisation cures it). */
    if (info.klass != CKO_PRIVATE_KEY || info.id_len != id_len ||
        memcmp(info.id, key_id, id_len) != 0) {
        snprintf(err, err_len, "token \"%s\": the handle found for the private key with id %s "
                               "reads back as another object: the module's object handles are "
                               "inconsistent",
                 id->token_label, hexid);
        status = AGENT_IDENTITY_TOKEN_FAULT;
        goto cleanup;
    }
    agent_identity_describe(key_id, id_len, info.label, name, sizeof(name));
    status = check_key_safe(id, s, h[0], name, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;

    key = libp11_key_by_id(id, key_id, id_len, &rv);
    if (!key) {
        snprintf(err, err_len, "key %s on token \"%s\" is not listed by libp11%s (CKR 0x%lx)",
                 name, id->token_label, rv == CKR_OK ? "" : ": listing failed",
                 (unsigned long)rv);
        status = rv == CKR_OK ? AGENT_IDENTITY_OBJECT_NOT_FOUND : status_of(rv);
        goto cleanup;
    }
    *out = PKCS11_get_private_key(key);
    if (!*out) {
        rv = agent_identity_drain_ckr();
        snprintf(err, err_len, "libp11 cannot use key %s on token \"%s\" (CKR 0x%lx)", name,
                 id->token_label, (unsigned long)rv);
        status = status_of(rv);
        goto cleanup;
    }
    key_tag_set(*out, key_id, id_len);
    status = AGENT_IDENTITY_OK;
cleanup:
    close_session(id, s);
    /* libp11 leaves stray errors queued even when it succeeds. */
    ERR_clear_error();
    return status;
}

/* ---------------- certificate ---------------- */

enum agent_identity_status agent_token_store_certificate(struct agent_identity *id, X509 *cert,
                                                         const unsigned char *key_id,
                                                         size_t id_len, const char *label,
                                                         char *err, size_t err_len)
{
    static CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
    unsigned char *der = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
    int der_len, subject_len, issuer_len, serial_len;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE created;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8];
    CK_RV rv;

    if (check_id(key_id, id_len, err, err_len) != 0 || check_label(label, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    if (!cert) {
        snprintf(err, err_len, "no certificate to store for id %s", hexid);
        return AGENT_IDENTITY_CONFIG;
    }
    der_len = i2d_X509(cert, &der);
    subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &subject);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    serial_len = i2d_ASN1_INTEGER((ASN1_INTEGER *)X509_get0_serialNumber(cert), &serial);
    if (der_len <= 0 || subject_len <= 0 || issuer_len <= 0 || serial_len <= 0) {
        snprintf(err, err_len, "cannot encode the certificate for object=%s;id=%s", label,
                 hexid);
        ERR_clear_error();
        goto cleanup;
    }
    {
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &klass, sizeof(klass)},
            {CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type)},
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_VALUE, der, (CK_ULONG)der_len},
            {CKA_SUBJECT, subject, (CK_ULONG)subject_len},
            {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
            {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len},
            {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
            {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
        };

        status = open_session(id, &s, err, err_len);
        if (status != AGENT_IDENTITY_OK)
            goto cleanup;
        rv = id->fn->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &created);
        if (rv != CKR_OK) {
            snprintf(err, err_len, "cannot store certificate object=%s;id=%s on token \"%s\" "
                                   "(CKR 0x%lx)",
                     label, hexid, id->token_label, (unsigned long)rv);
            status = status_of(rv);
            goto cleanup;
        }
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    close_session(id, s);
    OPENSSL_free(der);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return status;
}

/* ---------------- relabel and destroy ---------------- */

/* Opens a session (*s, closed by the caller even on failure) and lists
 * every object whose CKA_ID is key_id into h (MAX_OBJECTS_PER_SEARCH). */
static enum agent_identity_status open_and_find_id(struct agent_identity *id,
                                                   const unsigned char *key_id, size_t id_len,
                                                   const char *hexid, CK_SESSION_HANDLE *s,
                                                   CK_OBJECT_HANDLE *h, size_t *n, char *err,
                                                   size_t err_len)
{
    enum agent_identity_status status = open_session(id, s, err, err_len);
    CK_RV rv;

    if (status != AGENT_IDENTITY_OK)
        return status;
    rv = find_by_id(id, *s, key_id, id_len, (CK_OBJECT_CLASS)-1, h, MAX_OBJECTS_PER_SEARCH, n);
    if (rv == CKR_OK && *n > MAX_OBJECTS_PER_SEARCH)
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot search token \"%s\" for id %s (CKR 0x%lx)",
                 id->token_label, hexid, (unsigned long)rv);
        return status_of(rv);
    }
    return AGENT_IDENTITY_OK;
}

enum agent_identity_status agent_token_relabel(struct agent_identity *id,
                                               const unsigned char *key_id, size_t id_len,
                                               const char *label, unsigned *count, char *err,
                                               size_t err_len)
{
    CK_OBJECT_HANDLE h[MAX_OBJECTS_PER_SEARCH];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum agent_identity_status status;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8];
    size_t n = 0, label_len;
    CK_RV rv;

    *count = 0;
    if (check_id(key_id, id_len, err, err_len) != 0 || check_label(label, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    label_len = strlen(label);
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    status = open_and_find_id(id, key_id, id_len, hexid, &s, h, &n, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        struct agent_token_object o;
        CK_ATTRIBUTE set = {CKA_LABEL, (void *)label, (CK_ULONG)label_len};

        rv = read_object(id, s, h[i], &o);
        if (rv == CKR_OK && strcmp(o.label, label) == 0)
            continue; /* already done by an earlier (interrupted) run */
        if (rv == CKR_OK)
            rv = id->fn->C_SetAttributeValue(s, h[i], &set, 1);
        if (rv != CKR_OK) {
            snprintf(err, err_len, "cannot relabel %s with id %s on token \"%s\" to \"%s\" "
                                   "(%u of %zu done; CKR 0x%lx)",
                     class_name(o.klass), hexid, id->token_label, label, *count, n,
                     (unsigned long)rv);
            status = status_of(rv);
            goto cleanup;
        }
        (*count)++;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    close_session(id, s);
    return status;
}

enum agent_identity_status agent_token_destroy_id(struct agent_identity *id,
                                                  const unsigned char *key_id, size_t id_len,
                                                  unsigned *count, char *err, size_t err_len)
{
    CK_OBJECT_HANDLE h[MAX_OBJECTS_PER_SEARCH];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum agent_identity_status status;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8];
    size_t n = 0;
    CK_RV rv;

    *count = 0;
    if (check_id(key_id, id_len, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    /* Certificates, then public keys, then private keys (find_by_id's
     * order): an interrupted run never leaves a certificate without its key. */
    status = open_and_find_id(id, key_id, id_len, hexid, &s, h, &n, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        rv = id->fn->C_DestroyObject(s, h[i]);
        if (rv != CKR_OK) {
            snprintf(err, err_len, "cannot destroy an object with id %s on token \"%s\" (%u of "
                                   "%zu done; CKR 0x%lx)",
                     hexid, id->token_label, *count, n, (unsigned long)rv);
            status = status_of(rv);
            goto cleanup;
        }
        (*count)++;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    close_session(id, s);
    return status;
}

/* ---------------- find ---------------- */

/* Managed objects matching one attribute (CKA_LABEL or CKA_ID). */
static int find_objects(struct agent_identity *id, CK_ATTRIBUTE_TYPE type, const void *value,
                        size_t value_len, const char *what, struct agent_token_object *out,
                        size_t max, char *err, size_t err_len)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    size_t total = 0;
    int result = -1;
    CK_RV rv = CKR_OK;

    if (max > 0 && !out) {
        snprintf(err, err_len, "no room given for the objects with %s", what);
        return -1;
    }
    if (open_session(id, &s, err, err_len) != AGENT_IDENTITY_OK)
        return -1;
    for (size_t c = 0; c < sizeof(managed_classes) / sizeof(managed_classes[0]); c++) {
        CK_OBJECT_CLASS klass = managed_classes[c];
        CK_ATTRIBUTE tmpl[2] = {
            {CKA_CLASS, &klass, sizeof(klass)},
            {type, (void *)value, (CK_ULONG)value_len},
        };
        CK_OBJECT_HANDLE h[MAX_OBJECTS_PER_SEARCH];
        size_t n = 0;

        rv = find_handles(id, s, tmpl, 2, h, MAX_OBJECTS_PER_SEARCH, &n);
        if (rv != CKR_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            if (total < max) {
                if (i >= MAX_OBJECTS_PER_SEARCH) {
                    rv = CKR_BUFFER_TOO_SMALL;
                    break;
                }
                rv = read_object(id, s, h[i], &out[total]);
                if (rv != CKR_OK)
                    break;
            }
            total++;
        }
        if (rv != CKR_OK)
            break;
    }
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot list the objects with %s on token \"%s\" (CKR 0x%lx)",
                 what, id->token_label, (unsigned long)rv);
        goto cleanup;
    }
    result = total > (size_t)0x7fffffff ? 0x7fffffff : (int)total;
cleanup:
    close_session(id, s);
    return result;
}

int agent_token_find_label(struct agent_identity *id, const char *label,
                           struct agent_token_object *out, size_t max, char *err,
                           size_t err_len)
{
    char what[AGENT_TOKEN_LABEL_MAX + 16];

    if (check_label(label, err, err_len) != 0)
        return -1;
    snprintf(what, sizeof(what), "label \"%s\"", label);
    return find_objects(id, CKA_LABEL, label, strlen(label), what, out, max, err, err_len);
}

int agent_token_find_id(struct agent_identity *id, const unsigned char *key_id, size_t id_len,
                        struct agent_token_object *out, size_t max, char *err, size_t err_len)
{
    char what[2 * AGENT_TOKEN_ID_MAX + 16];

    if (check_id(key_id, id_len, err, err_len) != 0)
        return -1;
    snprintf(what, sizeof(what), "id ");
    id_hex(key_id, id_len, what + 3, sizeof(what) - 3);
    return find_objects(id, CKA_ID, key_id, id_len, what, out, max, err, err_len);
}
