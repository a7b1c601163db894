/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation's token changes through the gateway (see token.h): generate a
 * P-256 pair on the token, store a certificate, relabel, destroy, find.
 *
 * Every call opens its own read/write session on the raw function list of
 * the module instance libp11 loaded (token.c), so it shares libp11's login
 * and sees the same objects, and closes it before returning.
 * Must never: create session objects (CKA_TOKEN is true everywhere); touch
 * objects other than private keys, public keys and certificates.
 */
#include "token.h"
#include "token_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "hex.h"
#include "rotation_proof.h"

#define MAX_OBJECTS_PER_SEARCH 64

/* DER of the prime256v1 OID, the CKA_EC_PARAMS of a P-256 key. */
static const unsigned char p256_oid_der[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};

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

/* Handles of the managed objects with CKA_ID = key_id, in
 * token_managed_classes order: certificates, public keys, private keys. */
static CK_RV find_by_id(struct agent_token *tok, CK_SESSION_HANDLE s,
                        const unsigned char *key_id, size_t id_len, CK_OBJECT_HANDLE *out,
                        size_t max, size_t *count)
{
    *count = 0;
    for (size_t c = 0; c < sizeof(token_managed_classes) / sizeof(token_managed_classes[0]);
         c++) {
        CK_OBJECT_CLASS klass = token_managed_classes[c];
        CK_ATTRIBUTE tmpl[2] = {
            {CKA_CLASS, &klass, sizeof(klass)},
            {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
        };
        size_t n = 0, room = *count < max ? max - *count : 0;
        CK_RV rv;

        rv = token_find_handles(tok, s, tmpl, 2, out + (*count < max ? *count : 0), room, &n);
        if (rv != CKR_OK)
            return rv;
        *count += n;
    }
    return CKR_OK;
}

enum mutation { MUT_GENERATE, MUT_STORE_CERTIFICATE, MUT_RELABEL, MUT_DESTROY };

/* The gateway's rule: which durable journal step each token change needs.
 * generate / store: exactly the step of that change, for the new key id
 * (written before the change takes effect, so a crash finds the id);
 * destroying the new pair: a step the journal rolls back from (the old
 * identity is untouched); relabelling either pair or destroying anything
 * else (the old pair, older retired ones): a step the journal completes
 * from, i.e. the new identity was proven by the broker and is on disk. */
static int step_allows(const struct agent_token *tok, const struct rotation_proof *proof,
                       enum mutation m, const unsigned char *key_id, size_t id_len, char *err,
                       size_t err_len)
{
    static const char *const verbs[] = {"generate", "store a certificate for", "relabel",
                                        "destroy"};
    char hexid[2 * AGENT_TOKEN_ID_MAX + 1], why[300];
    enum rotation_action action;
    bool is_new, is_old, ok = false;
    const char *need = "";

    if (rotation_proof_verify(proof, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "refusing to %s a token object: %s", verbs[m], why);
        return -1;
    }
    agent_hex_encode(key_id, id_len, hexid, sizeof(hexid));
    is_new = strcmp(hexid, proof->rec.new_key_id) == 0;
    is_old = strcmp(hexid, proof->rec.old_key_id) == 0;
    /* A record made on the token of another slot (or inconsistent) allows
     * nothing on this one. */
    action = rotation_recovery_action(&proof->rec, (unsigned long)tok->slot_id, NULL);
    if (action == ROTATION_ACTION_REFUSE) {
        snprintf(err, err_len, "refusing to %s a token object: the journal's record is not for "
                 "this token (slot %lu) or is inconsistent", verbs[m], (unsigned long)tok->slot_id);
        return -1;
    }
    switch (m) {
    case MUT_GENERATE:
        ok = is_new && proof->rec.step == ROTATION_KEY_GENERATED;
        need = "key-generated, naming it as the new key";
        break;
    case MUT_STORE_CERTIFICATE:
        ok = is_new && proof->rec.step == ROTATION_CERT_STORED;
        need = "cert-stored, naming it as the new key";
        break;
    case MUT_RELABEL:
        ok = (is_new || is_old) && action == ROTATION_ACTION_COMPLETE;
        need = "a step from probe-ok on, naming it as the new or old key";
        break;
    case MUT_DESTROY:
        ok = is_new ? action == ROTATION_ACTION_ROLL_BACK : action == ROTATION_ACTION_COMPLETE;
        need = is_new ? "a step the journal rolls back from" : "a step from probe-ok on";
        break;
    }
    if (!ok) {
        snprintf(err, err_len,
                 "refusing to %s id %s on token: the rotation journal on disk says step %s "
                 "(new key %s, old key %s); this change needs %s",
                 verbs[m], hexid, rotation_step_name(proof->rec.step), proof->rec.new_key_id,
                 proof->rec.old_key_id, need);
        return -1;
    }
    return 0;
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

/* ---------------- generate ---------------- */

enum agent_identity_status agent_token_generate_p256(struct agent_token *tok,
                                                     const struct rotation_proof *proof,
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

    if (check_id(key_id, id_len, err, err_len) != 0 || check_label(label, err, err_len) != 0 ||
        step_allows(tok, proof, MUT_GENERATE, key_id, id_len, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    status = token_session_open(tok, true, &s, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    /* Two keys with one id would make every later lookup ambiguous. */
    rv = find_by_id(tok, s, key_id, id_len, &seen, 1, &n);
    if (rv != CKR_OK) {
        char what[200];
        snprintf(what, sizeof(what), "cannot search for id %s", hexid);
        status = token_fail(tok, rv, err, err_len, what);
        goto cleanup;
    }
    if (n > 0) {
        snprintf(err, err_len,
                 "not generating key %s on token \"%s\": %zu object(s) already carry id %s",
                 label, tok->label, n, hexid);
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    rv = tok->fn->C_GenerateKeyPair(s, &mechanism, pub_tmpl,
                                   sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
                                   sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &pub, &priv);
    if (rv == CKR_DEVICE_MEMORY) {
        snprintf(err, err_len,
                 "cannot generate key object=%s;id=%s on token \"%s\": no free key slot "
                 "(CKR_DEVICE_MEMORY): destroy a retired key first",
                 label, hexid, tok->label);
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    if (rv != CKR_OK) {
        char what[300];
        snprintf(what, sizeof(what), "cannot generate P-256 key object=%s;id=%s", label, hexid);
        status = token_fail(tok, rv, err, err_len, what);
        goto cleanup;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    token_session_close(tok, s);
    return status;
}

/* ---------------- certificate ---------------- */

/* enrollment: only where no certificate carries the id yet. */
static enum agent_identity_status store_certificate(struct agent_token *tok, X509 *cert,
                                                    const unsigned char *key_id, size_t id_len,
                                                    const char *label, bool enrollment,
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

        status = token_session_open(tok, true, &s, err, err_len);
        if (status != AGENT_IDENTITY_OK)
            goto cleanup;
        if (enrollment) {
            CK_ATTRIBUTE same_id[2] = {tmpl[0], tmpl[7]};
            size_t n = 0;

            rv = token_find_handles(tok, s, same_id, 2, &created, 1, &n);
            if (rv == CKR_OK && n > 0) {
                snprintf(err, err_len, "token \"%s\" already holds a certificate with id %s: "
                                       "not adding another",
                         tok->label, hexid);
                status = AGENT_IDENTITY_CONFIG;
                goto cleanup;
            }
        }
        rv = tok->fn->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &created);
        if (rv != CKR_OK) {
            char what[300];
            snprintf(what, sizeof(what), "cannot store certificate object=%s;id=%s", label,
                     hexid);
            status = token_fail(tok, rv, err, err_len, what);
            goto cleanup;
        }
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    token_session_close(tok, s);
    OPENSSL_free(der);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return status;
}

enum agent_identity_status agent_token_store_certificate(struct agent_token *tok,
                                                         const struct rotation_proof *proof,
                                                         X509 *cert, const unsigned char *key_id,
                                                         size_t id_len, const char *label,
                                                         char *err, size_t err_len)
{
    if (check_id(key_id, id_len, err, err_len) != 0 ||
        step_allows(tok, proof, MUT_STORE_CERTIFICATE, key_id, id_len, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    return store_certificate(tok, cert, key_id, id_len, label, false, err, err_len);
}

enum agent_identity_status agent_token_store_enrolled_certificate(struct agent_token *tok,
                                                                  X509 *cert,
                                                                  const unsigned char *key_id,
                                                                  size_t id_len, const char *label,
                                                                  char *err, size_t err_len)
{
    return store_certificate(tok, cert, key_id, id_len, label, true, err, err_len);
}

/* ---------------- relabel and destroy ---------------- */

/* Opens a session (*s, closed by the caller even on failure) and lists
 * every object whose CKA_ID is key_id into h (MAX_OBJECTS_PER_SEARCH). */
static enum agent_identity_status open_and_find_id(struct agent_token *tok,
                                                   const unsigned char *key_id, size_t id_len,
                                                   const char *hexid, CK_SESSION_HANDLE *s,
                                                   CK_OBJECT_HANDLE *h, size_t *n, char *err,
                                                   size_t err_len)
{
    enum agent_identity_status status = token_session_open(tok, true, s, err, err_len);
    CK_RV rv;

    if (status != AGENT_IDENTITY_OK)
        return status;
    rv = find_by_id(tok, *s, key_id, id_len, h, MAX_OBJECTS_PER_SEARCH, n);
    if (rv == CKR_OK && *n > MAX_OBJECTS_PER_SEARCH)
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv != CKR_OK) {
        char what[200];
        snprintf(what, sizeof(what), "cannot search for id %s", hexid);
        return token_fail(tok, rv, err, err_len, what);
    }
    return AGENT_IDENTITY_OK;
}

/* Relabels (label != NULL) or destroys every managed object with key_id,
 * in find_by_id's order: certificates, public keys, private keys, so an
 * interrupted destroy never leaves a certificate without its key. */
static enum agent_identity_status change_objects_with_id(struct agent_token *tok,
                                                         const struct rotation_proof *proof,
                                                         const unsigned char *key_id,
                                                         size_t id_len, const char *label,
                                                         unsigned *count, char *err,
                                                         size_t err_len)
{
    enum mutation m = label ? MUT_RELABEL : MUT_DESTROY;
    CK_OBJECT_HANDLE h[MAX_OBJECTS_PER_SEARCH];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum agent_identity_status status;
    char hexid[2 * AGENT_TOKEN_ID_MAX + 8];
    size_t n = 0;
    CK_RV rv;

    *count = 0;
    if (check_id(key_id, id_len, err, err_len) != 0 ||
        (m == MUT_RELABEL && check_label(label, err, err_len) != 0) ||
        step_allows(tok, proof, m, key_id, id_len, err, err_len) != 0)
        return AGENT_IDENTITY_CONFIG;
    id_hex(key_id, id_len, hexid, sizeof(hexid));
    status = open_and_find_id(tok, key_id, id_len, hexid, &s, h, &n, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        struct agent_token_object o;
        CK_ATTRIBUTE set = {CKA_LABEL, (void *)label, label ? (CK_ULONG)strlen(label) : 0};

        rv = token_object_read(tok, s, h[i], &o);
        if (rv == CKR_OK && m == MUT_RELABEL && strcmp(o.label, label) == 0)
            continue; /* already done by an earlier (interrupted) run */
        if (rv == CKR_OK)
            rv = m == MUT_RELABEL ? tok->fn->C_SetAttributeValue(s, h[i], &set, 1)
                                  : tok->fn->C_DestroyObject(s, h[i]);
        if (rv != CKR_OK) {
            char what[400];
            snprintf(what, sizeof(what), "cannot %s %s with id %s%s%s%s (%u of %zu done)",
                     m == MUT_RELABEL ? "relabel" : "destroy", class_name(o.klass), hexid,
                     label ? " to \"" : "", label ? label : "", label ? "\"" : "", *count, n);
            status = token_fail(tok, rv, err, err_len, what);
            goto cleanup;
        }
        (*count)++;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    token_session_close(tok, s);
    return status;
}

enum agent_identity_status agent_token_relabel(struct agent_token *tok,
                                               const struct rotation_proof *proof,
                                               const unsigned char *key_id, size_t id_len,
                                               const char *label, unsigned *count, char *err,
                                               size_t err_len)
{
    *count = 0;
    if (!label) {
        snprintf(err, err_len, "object label must be 1-%d bytes (empty)", AGENT_TOKEN_LABEL_MAX);
        return AGENT_IDENTITY_CONFIG;
    }
    return change_objects_with_id(tok, proof, key_id, id_len, label, count, err, err_len);
}

enum agent_identity_status agent_token_destroy_id(struct agent_token *tok,
                                                  const struct rotation_proof *proof,
                                                  const unsigned char *key_id, size_t id_len,
                                                  unsigned *count, char *err, size_t err_len)
{
    return change_objects_with_id(tok, proof, key_id, id_len, NULL, count, err, err_len);
}

/* ---------------- find ---------------- */

/* Managed objects matching one attribute (CKA_LABEL or CKA_ID). */
static int find_objects(struct agent_token *tok, CK_ATTRIBUTE_TYPE type, const void *value,
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
    if (token_session_open(tok, false, &s, err, err_len) != AGENT_IDENTITY_OK)
        return -1;
    for (size_t c = 0; c < sizeof(token_managed_classes) / sizeof(token_managed_classes[0]); c++) {
        CK_OBJECT_CLASS klass = token_managed_classes[c];
        CK_ATTRIBUTE tmpl[2] = {
            {CKA_CLASS, &klass, sizeof(klass)},
            {type, (void *)value, (CK_ULONG)value_len},
        };
        CK_OBJECT_HANDLE h[MAX_OBJECTS_PER_SEARCH];
        size_t n = 0;

        rv = token_find_handles(tok, s, tmpl, 2, h, MAX_OBJECTS_PER_SEARCH, &n);
        if (rv != CKR_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            if (total < max) {
                if (i >= MAX_OBJECTS_PER_SEARCH) {
                    rv = CKR_BUFFER_TOO_SMALL;
                    break;
                }
                rv = token_object_read(tok, s, h[i], &out[total]);
                if (rv != CKR_OK)
                    break;
            }
            total++;
        }
        if (rv != CKR_OK)
            break;
    }
    if (rv != CKR_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot list the objects with %s", what);
        token_fail(tok, rv, err, err_len, msg);
        goto cleanup;
    }
    result = total > (size_t)0x7fffffff ? 0x7fffffff : (int)total;
cleanup:
    token_session_close(tok, s);
    return result;
}

int agent_token_find_label(struct agent_token *tok, const char *label,
                           struct agent_token_object *out, size_t max, char *err,
                           size_t err_len)
{
    char what[AGENT_TOKEN_LABEL_MAX + 16];

    if (check_label(label, err, err_len) != 0)
        return -1;
    snprintf(what, sizeof(what), "label \"%s\"", label);
    return find_objects(tok, CKA_LABEL, label, strlen(label), what, out, max, err, err_len);
}

int agent_token_find_id(struct agent_token *tok, const unsigned char *key_id, size_t id_len,
                        struct agent_token_object *out, size_t max, char *err, size_t err_len)
{
    char what[2 * AGENT_TOKEN_ID_MAX + 16];

    if (check_id(key_id, id_len, err, err_len) != 0)
        return -1;
    snprintf(what, sizeof(what), "id ");
    id_hex(key_id, id_len, what + 3, sizeof(what) - 3);
    return find_objects(tok, CKA_ID, key_id, id_len, what, out, max, err, err_len);
}
