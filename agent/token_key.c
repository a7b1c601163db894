/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys and certificates through the token gateway (see token.h).
 *
 * libp11 0.4.12 and keys (measured by identity_token_driver.c on SoftHSMv2
 * and our module): PKCS11_enumerate_keys searches the token on every call
 * and appends objects it has not listed yet, so keys generated after the
 * gateway was opened are found. It never drops entries nor re-reads their
 * attributes: destroyed keys stay listed and relabelled keys keep their
 * old label; PKCS11_get_private_key on a URI falls back to "the last key
 * with this id". So the key is chosen by a raw search, its CKA_ID must be
 * carried by no other private key (else libp11 could hand TLS another key
 * than the one checked here), and it is matched in libp11's list by CKA_ID
 * only, taking the last entry (the newest) should an id have been
 * destroyed and reused within the process.
 *
 * Keys handed out carry their CKA_ID as EVP_PKEY ex_data
 * (agent_token_key_id_of): libp11 offers no way back to the object.
 * Must never: hand out a key that is extractable, not sensitive, or whose
 * id is shared; accept a certificate value with bytes after its DER.
 */
#include "token.h"
#include "token_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "hex.h"

/* ---- key ids on EVP_PKEYs ----------------------------------------------- */

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

/* libp11 may hand out the same EVP_PKEY again: an existing tag is
 * overwritten in place. Best effort: without a tag only the id is lost. */
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

int agent_token_key_id_of(const EVP_PKEY *key, unsigned char *out, size_t *len)
{
    const struct key_tag *tag;

    pthread_once(&key_tag_once, key_tag_init);
    if (key_tag_index < 0 || !key)
        return -1;
    tag = EVP_PKEY_get_ex_data(key, key_tag_index);
    if (!tag || tag->id_len == 0 || tag->id_len > *len)
        return -1;
    memcpy(out, tag->id, tag->id_len);
    *len = tag->id_len;
    return 0;
}

/* Opens a read-only session (*s, closed by the caller even on failure)
 * and finds the objects of klass that uri names. */
static enum agent_identity_status open_and_find_uri(struct agent_token *tok, P11KitUri *uri,
                                                    CK_OBJECT_CLASS klass, CK_SESSION_HANDLE *s,
                                                    CK_OBJECT_HANDLE *h,
                                                    struct agent_token_object *found, size_t *n,
                                                    char *err, size_t err_len)
{
    enum agent_identity_status status = token_session_open(tok, false, s, err, err_len);
    CK_RV rv;

    if (status != AGENT_IDENTITY_OK)
        return status;
    rv = token_find_uri(tok, *s, uri, klass, h, found, AGENT_TOKEN_MAX_CANDIDATES, n);
    if (rv != CKR_OK)
        return token_fail(tok, rv, err, err_len,
                          klass == CKO_CERTIFICATE ? "cannot search for certificates"
                                                   : "cannot search for keys");
    return AGENT_IDENTITY_OK;
}

/* ---- private keys -------------------------------------------------------- */

static enum agent_identity_status check_key_safety(struct agent_token *tok, CK_SESSION_HANDLE s,
                                                   CK_OBJECT_HANDLE h, const char *name,
                                                   char *err, size_t err_len)
{
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        CK_BBOOL safe;
        const char *why;
    } rules[] = {
        {CKA_SENSITIVE, CK_TRUE, "it is not CKA_SENSITIVE, so its value could be read off the "
                                 "token"},
        {CKA_EXTRACTABLE, CK_FALSE, "it is CKA_EXTRACTABLE, so it could be exported (wrapped) "
                                    "off the token"},
    };

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        CK_BBOOL value = !rules[i].safe;
        size_t len = 0;
        CK_RV rv = token_attr_read(tok, s, h, rules[i].type, &value, sizeof(value), &len);

        if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
            rv != CKR_BUFFER_TOO_SMALL) {
            char what[300];
            snprintf(what, sizeof(what), "cannot read the attributes of key %s", name);
            return token_fail(tok, rv, err, err_len, what);
        }
        /* Missing or unreadable counts as unsafe. */
        if (rv != CKR_OK || len != sizeof(value) || value != rules[i].safe) {
            snprintf(err, err_len, "refusing key %s on token \"%s\": %s", name, tok->label,
                     rules[i].why);
            return AGENT_IDENTITY_UNSAFE_KEY;
        }
    }
    return AGENT_IDENTITY_OK;
}

/* libp11 picks keys by CKA_ID: an id shared by two private keys makes the
 * key TLS signs with a coin toss. */
static enum agent_identity_status check_id_unique(struct agent_token *tok, CK_SESSION_HANDLE s,
                                                  const struct agent_token_object *key,
                                                  const char *name, char *err, size_t err_len)
{
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_ID, (void *)key->id, (CK_ULONG)key->id_len},
    };
    CK_OBJECT_HANDLE h[AGENT_TOKEN_MAX_CANDIDATES];
    struct agent_token_object twins[AGENT_TOKEN_MAX_CANDIDATES];
    size_t n = 0, kept;
    char list[600];
    CK_RV rv;

    rv = token_find_handles(tok, s, tmpl, 2, h, AGENT_TOKEN_MAX_CANDIDATES, &n);
    if (rv != CKR_OK) {
        char what[300];
        snprintf(what, sizeof(what), "cannot search for other keys with the id of %s", name);
        return token_fail(tok, rv, err, err_len, what);
    }
    if (n <= 1)
        return AGENT_IDENTITY_OK;
    kept = n < AGENT_TOKEN_MAX_CANDIDATES ? n : AGENT_TOKEN_MAX_CANDIDATES;
    for (size_t i = 0; i < kept; i++) {
        if (token_object_read(tok, s, h[i], &twins[i]) != CKR_OK)
            memset(&twins[i], 0, sizeof(twins[i]));
    }
    token_list_objects(twins, kept, list, sizeof(list));
    snprintf(err, err_len,
             "refusing key %s: %zu private keys on token \"%s\" carry its CKA_ID (%s), so TLS "
             "could sign with another key than the one checked: give each key its own id",
             name, n, tok->label, list);
    return AGENT_IDENTITY_AMBIGUOUS;
}

/* libp11's entry for the private key with key_id: the last one listed
 * (libp11 appends objects it has not seen; see the top of this file). */
static enum agent_identity_status libp11_key(struct agent_token *tok,
                                             const struct agent_token_object *want,
                                             const char *name, EVP_PKEY **out, char *err,
                                             size_t err_len)
{
    PKCS11_KEY *keys = NULL, *match = NULL;
    unsigned n_keys = 0;

    if (PKCS11_enumerate_keys(tok->slot->token, &keys, &n_keys) != 0) {
        CK_RV rv = (CK_RV)agent_token_drain_ckr();
        return token_fail(tok, rv == CKR_OK ? CKR_GENERAL_ERROR : rv, err, err_len,
                          "cannot list the keys (libp11)");
    }
    for (unsigned i = 0; i < n_keys; i++) {
        if (keys[i].isPrivate && keys[i].id_len == want->id_len &&
            memcmp(keys[i].id, want->id, want->id_len) == 0)
            match = &keys[i];
    }
    if (!match) {
        snprintf(err, err_len, "key %s on token \"%s\" is not listed by libp11", name,
                 tok->label);
        return AGENT_IDENTITY_OBJECT_NOT_FOUND;
    }
    *out = PKCS11_get_private_key(match);
    if (!*out) {
        CK_RV rv = (CK_RV)agent_token_drain_ckr();
        char what[300];
        snprintf(what, sizeof(what), "libp11 cannot use key %s", name);
        return token_fail(tok, rv == CKR_OK ? CKR_GENERAL_ERROR : rv, err, err_len, what);
    }
    key_tag_set(*out, want->id, want->id_len);
    return AGENT_IDENTITY_OK;
}

static enum agent_identity_status no_key_matches(struct agent_token *tok, CK_SESSION_HANDLE s,
                                                 const char *shown, char *err, size_t err_len)
{
    CK_OBJECT_HANDLE h[AGENT_TOKEN_MAX_CANDIDATES];
    struct agent_token_object all[AGENT_TOKEN_MAX_CANDIDATES];
    P11KitUri *any = p11_kit_uri_new();
    size_t n = 0;
    char list[600] = "";

    if (any && token_find_uri(tok, s, any, CKO_PRIVATE_KEY, h, all, AGENT_TOKEN_MAX_CANDIDATES,
                              &n) == CKR_OK)
        token_list_objects(all, n < AGENT_TOKEN_MAX_CANDIDATES ? n : AGENT_TOKEN_MAX_CANDIDATES,
                           list, sizeof(list));
    p11_kit_uri_free(any);
    snprintf(err, err_len,
             "object not found: no private key on token \"%s\" matches %s (private keys there: "
             "%s)",
             tok->label, shown, list[0] ? list : "none");
    return AGENT_IDENTITY_OBJECT_NOT_FOUND;
}

enum agent_identity_status agent_token_private_key(struct agent_token *tok,
                                                   struct p11_kit_uri *uri, const char *shown,
                                                   EVP_PKEY **out, struct agent_token_object *info,
                                                   char *err, size_t err_len)
{
    CK_ATTRIBUTE *klass = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    CK_OBJECT_HANDLE h[AGENT_TOKEN_MAX_CANDIDATES];
    struct agent_token_object found[AGENT_TOKEN_MAX_CANDIDATES];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum agent_identity_status status;
    char name[200], list[600];
    size_t n = 0;

    *out = NULL;
    if (klass && klass->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
        *(CK_OBJECT_CLASS *)klass->pValue != CKO_PRIVATE_KEY) {
        snprintf(err, err_len, "%s must name a private key (type=private)", shown);
        return AGENT_IDENTITY_CONFIG;
    }
    status = open_and_find_uri(tok, uri, CKO_PRIVATE_KEY, &s, h, found, &n, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    if (n == 0) {
        status = no_key_matches(tok, s, shown, err, err_len);
        goto cleanup;
    }
    if (n > 1) {
        token_list_objects(found, n < AGENT_TOKEN_MAX_CANDIDATES ? n : AGENT_TOKEN_MAX_CANDIDATES,
                           list, sizeof(list));
        snprintf(err, err_len,
                 "%s matches %zu private keys on token \"%s\" (%s): add object= or id= to the "
                 "URI so it names exactly one",
                 shown, n, tok->label, list);
        status = AGENT_IDENTITY_AMBIGUOUS;
        goto cleanup;
    }
    agent_token_describe(found[0].id, found[0].id_len, found[0].label, name, sizeof(name));
    status = check_id_unique(tok, s, &found[0], name, err, err_len);
    if (status == AGENT_IDENTITY_OK)
        status = check_key_safety(tok, s, h[0], name, err, err_len);
    if (status == AGENT_IDENTITY_OK)
        status = libp11_key(tok, &found[0], name, out, err, err_len);
    if (status == AGENT_IDENTITY_OK && info)
        *info = found[0];
cleanup:
    token_session_close(tok, s);
    /* libp11 leaves stray errors queued even when it succeeds. */
    ERR_clear_error();
    return status;
}

enum agent_identity_status agent_token_key_by_id(struct agent_token *tok,
                                                 const unsigned char *key_id, size_t id_len,
                                                 EVP_PKEY **out, char *err, size_t err_len)
{
    CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE attrs[2] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_ID, (void *)key_id, (CK_ULONG)id_len},
    };
    P11KitUri *uri = NULL;
    char shown[2 * AGENT_TOKEN_ID_MAX + 32];
    enum agent_identity_status status;

    *out = NULL;
    if (!key_id || id_len < 1 || id_len > AGENT_TOKEN_ID_MAX) {
        snprintf(err, err_len, "key id must be 1-%d bytes, got %zu", AGENT_TOKEN_ID_MAX,
                 key_id ? id_len : 0);
        return AGENT_IDENTITY_CONFIG;
    }
    uri = p11_kit_uri_new();
    if (!uri || p11_kit_uri_set_attributes(uri, attrs, 2) != P11_KIT_URI_OK) {
        p11_kit_uri_free(uri);
        snprintf(err, err_len, "out of memory");
        return AGENT_IDENTITY_CONFIG;
    }
    snprintf(shown, sizeof(shown), "the key id ");
    agent_hex_encode(key_id, id_len, shown + 11, sizeof(shown) - 11);
    status = agent_token_private_key(tok, uri, shown, out, NULL, err, err_len);
    p11_kit_uri_free(uri);
    return status;
}

/* ---- certificates -------------------------------------------------------- */

enum agent_identity_status agent_token_certificate(struct agent_token *tok,
                                                   struct p11_kit_uri *uri, const char *shown,
                                                   X509 **out, char *err, size_t err_len)
{
    CK_OBJECT_HANDLE h[AGENT_TOKEN_MAX_CANDIDATES];
    struct agent_token_object found[AGENT_TOKEN_MAX_CANDIDATES];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    enum agent_identity_status status;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t n = 0, der_len = 0;
    CK_RV rv;

    *out = NULL;
    if (!agent_token_matches(tok, uri)) {
        snprintf(err, err_len,
                 "identity.certificate %s does not name the key's token \"%s\": the certificate "
                 "must be on the same token",
                 shown, tok->label);
        return AGENT_IDENTITY_CONFIG;
    }
    status = open_and_find_uri(tok, uri, CKO_CERTIFICATE, &s, h, found, &n, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    if (n != 1) {
        char list[600];

        token_list_objects(found, n < AGENT_TOKEN_MAX_CANDIDATES ? n : AGENT_TOKEN_MAX_CANDIDATES,
                           list, sizeof(list));
        snprintf(err, err_len, "%s: identity.certificate %s matches %zu certificates on token "
                               "\"%s\"%s%s%s",
                 n == 0 ? "object not found" : "ambiguous", shown, n, tok->label,
                 n ? " (" : "", list, n ? "): make the URI name exactly one" : "");
        status = n == 0 ? AGENT_IDENTITY_OBJECT_NOT_FOUND : AGENT_IDENTITY_AMBIGUOUS;
        goto cleanup;
    }
    rv = token_attr_read_alloc(tok, s, h[0], CKA_VALUE, 64 * 1024, &der, &der_len);
    if (rv != CKR_OK) {
        char what[700];
        snprintf(what, sizeof(what), "cannot read certificate %s", shown);
        status = token_fail(tok, rv, err, err_len, what);
        goto cleanup;
    }
    p = der;
    *out = d2i_X509(NULL, &p, (long)der_len);
    if (!*out || p != der + der_len) {
        snprintf(err, err_len, "certificate %s on token \"%s\" is not valid DER X.509%s", shown,
                 tok->label, *out ? " (bytes follow the certificate)" : "");
        X509_free(*out);
        *out = NULL;
        ERR_clear_error();
        status = AGENT_IDENTITY_CERTIFICATE;
        goto cleanup;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    free(der);
    token_session_close(tok, s);
    return status;
}
