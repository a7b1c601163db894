/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity loading through libp11 (see identity.h).
 *
 * Flow: parse the key URI (p11-kit) -> load the module (libp11) -> pick
 * exactly one token by the URI's token attributes -> log in -> find
 * exactly one private key by the URI's object attributes (raw PKCS#11 on
 * the same module instance, so CKA_SENSITIVE/CKA_EXTRACTABLE can be read)
 * -> take libp11's EVP_PKEY for it -> load the certificate (token or PEM)
 * -> the certificate's public key must equal the key's. Object lookup by
 * URI is identity_lookup.c's, the certificate identity_cert.c's.
 * Must never: print the PIN; sign anything; keep the PIN after login
 * (libp11 keeps its own copy for fork re-login; that is libp11's).
 */
#include "identity.h"
#include "identity_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "config.h"
#include "log.h"
#include "pin.h"
#include "uri.h"

static const struct {
    enum agent_identity_status status;
    const char *name;
} status_names[] = {
    {AGENT_IDENTITY_OK, "ok"},
    {AGENT_IDENTITY_CONFIG, "config"},
    {AGENT_IDENTITY_MODULE, "module-not-loadable"},
    {AGENT_IDENTITY_TOKEN_NOT_FOUND, "token-not-found"},
    {AGENT_IDENTITY_OBJECT_NOT_FOUND, "object-not-found"},
    {AGENT_IDENTITY_AMBIGUOUS, "ambiguous-uri"},
    {AGENT_IDENTITY_UNSAFE_KEY, "unsafe-key"},
    {AGENT_IDENTITY_PIN_INCORRECT, "pin-incorrect"},
    {AGENT_IDENTITY_PIN_LOCKED, "pin-locked"},
    {AGENT_IDENTITY_CERTIFICATE, "certificate"},
    {AGENT_IDENTITY_TOKEN_FAULT, "token-fault"},
};

const char *agent_identity_status_name(enum agent_identity_status status)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (status_names[i].status == status)
            return status_names[i].name;
    }
    return "unknown";
}

bool agent_identity_status_retryable(enum agent_identity_status status)
{
    return status == AGENT_IDENTITY_TOKEN_NOT_FOUND || status == AGENT_IDENTITY_TOKEN_FAULT;
}

bool agent_identity_is_token_fault(unsigned long e)
{
    unsigned long reason;

    if (e == 0 || (int)ERR_GET_LIB(e) != ERR_get_CKR_code())
        return false;
    reason = (unsigned long)ERR_GET_REASON(e);
    /* CKR_GENERAL_ERROR too: a module whose device went away may say only
     * that (tpm2-pkcs11 when its TPM stops answering), and the spec leaves
     * the module in an unknown state after it: a re-initialisation is the
     * cure it allows. */
    return reason == CKR_DEVICE_ERROR || reason == CKR_DEVICE_REMOVED ||
           reason == CKR_SESSION_HANDLE_INVALID || reason == CKR_SESSION_CLOSED ||
           reason == CKR_TOKEN_NOT_PRESENT || reason == CKR_GENERAL_ERROR;
}

bool agent_identity_error_queue_has_token_fault(void)
{
    return agent_identity_is_token_fault(ERR_peek_error()) ||
           agent_identity_is_token_fault(ERR_peek_last_error());
}

CK_RV agent_identity_drain_ckr(void)
{
    CK_RV rv = CKR_OK;
    unsigned long e;
    int ckr_lib = ERR_get_CKR_code();

    while ((e = ERR_get_error()) != 0) {
        if ((int)ERR_GET_LIB(e) == ckr_lib)
            rv = (CK_RV)ERR_GET_REASON(e);
    }
    return rv;
}

/* PKCS#11 fixed-width, space-padded text -> C string. */
static void padded_to_string(const unsigned char *in, size_t len, char *out, size_t out_len)
{
    while (len > 0 && in[len - 1] == ' ')
        len--;
    if (len >= out_len)
        len = out_len - 1;
    memcpy(out, in, len);
    out[len] = '\0';
}

/* Opens a second handle on the module instance libp11 loaded, so raw
 * PKCS#11 calls share its initialisation and login state. */
static int open_raw_module(struct agent_identity *id, const char *module, char *err,
                           size_t err_len)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_RV rv;

    id->module_handle = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!id->module_handle) {
        snprintf(err, err_len, "PKCS#11 module %s: loaded by libp11 but not found again: %s",
                 module, dlerror());
        return -1;
    }
    *(void **)&get_list = dlsym(id->module_handle, "C_GetFunctionList");
    if (!get_list) {
        snprintf(err, err_len, "PKCS#11 module %s has no C_GetFunctionList", module);
        return -1;
    }
    rv = get_list(&id->fn);
    if (rv != CKR_OK || !id->fn) {
        snprintf(err, err_len, "PKCS#11 module %s: C_GetFunctionList failed (CKR 0x%lx)", module,
                 (unsigned long)rv);
        return -1;
    }
    return 0;
}

static enum agent_identity_status choose_token(struct agent_identity *id, P11KitUri *uri,
                                               char *err, size_t err_len)
{
    CK_INFO module_info;
    PKCS11_SLOT *matches[IDENTITY_MAX_CANDIDATES];
    char seen[512] = "";
    size_t seen_used = 0;
    int n_matches = 0;

    if (id->fn->C_GetInfo(&module_info) == CKR_OK &&
        p11_kit_uri_match_module_info(uri, &module_info) != 1) {
        snprintf(err, err_len,
                 "token not found: the module does not match the library-* attributes of "
                 "identity.key %s",
                 id->uri_redacted);
        return AGENT_IDENTITY_TOKEN_NOT_FOUND;
    }
    for (unsigned i = 0; i < id->n_slots; i++) {
        PKCS11_SLOT *slot = &id->slots[i];
        CK_TOKEN_INFO info;
        CK_SLOT_ID slot_id;
        char label[33];

        if (!slot->token)
            continue;
        slot_id = PKCS11_get_slotid_from_slot(slot);
        if (id->fn->C_GetTokenInfo(slot_id, &info) != CKR_OK)
            continue;
        padded_to_string(info.label, sizeof(info.label), label, sizeof(label));
        if (seen_used < sizeof(seen)) {
            int n = snprintf(seen + seen_used, sizeof(seen) - seen_used, "%s\"%s\"",
                             seen_used ? ", " : "", label);
            if (n > 0)
                seen_used += (size_t)n;
        }
        if (p11_kit_uri_match_token_info(uri, &info) == 1 && n_matches < IDENTITY_MAX_CANDIDATES)
            matches[n_matches++] = slot;
    }
    if (n_matches == 0) {
        snprintf(err, err_len,
                 "token not found: no token matches identity.key %s (tokens present: %s); check "
                 "the token= attribute and that the device is connected",
                 id->uri_redacted, seen[0] ? seen : "none");
        return AGENT_IDENTITY_TOKEN_NOT_FOUND;
    }
    if (n_matches > 1) {
        snprintf(err, err_len,
                 "identity.key %s matches %d tokens (%s): add token= or serial= to the URI",
                 id->uri_redacted, n_matches, seen);
        return AGENT_IDENTITY_AMBIGUOUS;
    }
    id->slot = matches[0];
    id->slot_id = PKCS11_get_slotid_from_slot(id->slot);
    snprintf(id->token_label, sizeof(id->token_label), "%s",
             id->slot->token->label ? id->slot->token->label : "");
    return AGENT_IDENTITY_OK;
}

static enum agent_identity_status login(struct agent_identity *id,
                                        const struct agent_identity_config *cfg, P11KitUri *uri,
                                        char *err, size_t err_len)
{
    struct agent_pin pin;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    CK_TOKEN_INFO info;
    int logged_in = 0;
    CK_RV rv;

    memset(&pin, 0, sizeof(pin));
    /* Presence first: libp11 0.4.12 hangs if C_OpenSession fails in login. */
    rv = id->fn->C_GetTokenInfo(id->slot_id, &info);
    if (rv != CKR_OK) {
        snprintf(err, err_len, "token \"%s\" is not answering (CKR 0x%lx): check the device",
                 id->token_label, (unsigned long)rv);
        return AGENT_IDENTITY_TOKEN_FAULT;
    }
    if (!(info.flags & CKF_LOGIN_REQUIRED))
        return AGENT_IDENTITY_OK;
    if (info.flags & CKF_USER_PIN_LOCKED) {
        snprintf(err, err_len,
                 "the user PIN of token \"%s\" is locked (too many wrong PINs): unlock it with "
                 "the SO PIN (pkcs11-tool --init-pin --login --login-type so), then restart",
                 id->token_label);
        return AGENT_IDENTITY_PIN_LOCKED;
    }
    if (PKCS11_is_logged_in(id->slot, 0, &logged_in) == 0 && logged_in)
        return AGENT_IDENTITY_OK;
    if (agent_pin_read(cfg, uri, &pin, err, err_len) != 0)
        goto cleanup;
    if (!pin.present) {
        snprintf(err, err_len,
                 "token \"%s\" requires a PIN: set identity.pin_file or identity.pin_credential "
                 "(or pin-source=file:... in identity.key)",
                 id->token_label);
        goto cleanup;
    }
    if (PKCS11_login(id->slot, 0, pin.value) != 0) {
        rv = agent_identity_drain_ckr();
        if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
            snprintf(err, err_len,
                     "wrong PIN for token \"%s\" (from %s): trustlinkd will not retry it, fix "
                     "the PIN and restart (each wrong PIN brings the token closer to locking)",
                     id->token_label, pin.source);
            status = AGENT_IDENTITY_PIN_INCORRECT;
        } else if (rv == CKR_PIN_LOCKED) {
            snprintf(err, err_len, "the user PIN of token \"%s\" is locked: unlock it with the "
                                   "SO PIN, then restart",
                     id->token_label);
            status = AGENT_IDENTITY_PIN_LOCKED;
        } else {
            snprintf(err, err_len, "login to token \"%s\" failed (CKR 0x%lx)", id->token_label,
                     (unsigned long)rv);
            status = identity_status_of_rv(rv);
        }
        goto cleanup;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    agent_pin_clear(&pin);
    return status;
}

static enum agent_identity_status check_key_safety(struct agent_identity *id,
                                                   CK_SESSION_HANDLE s,
                                                   const struct identity_object *key, char *err,
                                                   size_t err_len)
{
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_ATTRIBUTE attrs[2] = {
        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
    };
    char name[200];
    CK_RV rv;

    rv = id->fn->C_GetAttributeValue(s, key->handle, attrs, 2);
    identity_object_describe(key, name, sizeof(name));
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID) {
        snprintf(err, err_len, "cannot read the attributes of key %s (CKR 0x%lx)", name,
                 (unsigned long)rv);
        return identity_status_of_rv(rv);
    }
    if (attrs[0].ulValueLen == CK_UNAVAILABLE_INFORMATION || sensitive != CK_TRUE) {
        snprintf(err, err_len, "refusing key %s on token \"%s\": it is not CKA_SENSITIVE, so its "
                               "value could be read off the token",
                 name, id->token_label);
        return AGENT_IDENTITY_UNSAFE_KEY;
    }
    if (attrs[1].ulValueLen == CK_UNAVAILABLE_INFORMATION || extractable != CK_FALSE) {
        snprintf(err, err_len, "refusing key %s on token \"%s\": it is CKA_EXTRACTABLE, so it "
                               "could be exported (wrapped) off the token",
                 name, id->token_label);
        return AGENT_IDENTITY_UNSAFE_KEY;
    }
    return AGENT_IDENTITY_OK;
}

static enum agent_identity_status find_libp11_key(struct agent_identity *id,
                                                  const struct identity_object *want, char *err,
                                                  size_t err_len)
{
    PKCS11_KEY *keys = NULL, *chosen = NULL, *same_id = NULL;
    unsigned n_keys = 0;
    char name[200];

    identity_object_describe(want, name, sizeof(name));
    if (PKCS11_enumerate_keys(id->slot->token, &keys, &n_keys) != 0) {
        CK_RV rv = agent_identity_drain_ckr();
        snprintf(err, err_len, "cannot list the keys of token \"%s\" (CKR 0x%lx)",
                 id->token_label, (unsigned long)rv);
        return identity_status_of_rv(rv);
    }
    for (unsigned i = 0; i < n_keys; i++) {
        PKCS11_KEY *k = &keys[i];
        size_t label_len = k->label ? strlen(k->label) : 0;

        if (!k->isPrivate || k->id_len != want->id_len ||
            memcmp(k->id, want->id, want->id_len) != 0)
            continue;
        /* libp11 0.4.12 never re-reads a listed key's label, so a key
         * relabelled by a rotation in this process keeps its old one there:
         * the last entry with the id (libp11 appends new objects) stands in
         * when no label matches. */
        if (label_len != want->label_len ||
            (label_len && memcmp(k->label, want->label, label_len) != 0)) {
            same_id = k;
            continue;
        }
        chosen = k;
        break;
    }
    if (!chosen)
        chosen = same_id;
    if (chosen) {
        id->key = PKCS11_get_private_key(chosen);
        if (!id->key) {
            CK_RV rv = agent_identity_drain_ckr();
            snprintf(err, err_len, "libp11 cannot use key %s (CKR 0x%lx)", name,
                     (unsigned long)rv);
            return identity_status_of_rv(rv);
        }
        return AGENT_IDENTITY_OK;
    }
    snprintf(err, err_len, "key %s was found by PKCS#11 but not by libp11", name);
    return AGENT_IDENTITY_OBJECT_NOT_FOUND;
}

static enum agent_identity_status find_key(struct agent_identity *id, CK_SESSION_HANDLE s,
                                           P11KitUri *uri, char *err, size_t err_len)
{
    struct identity_object found[IDENTITY_MAX_CANDIDATES];
    CK_ATTRIBUTE *klass = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    char list[600];
    CK_RV rv = CKR_OK;
    int n;

    if (klass && klass->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
        *(CK_OBJECT_CLASS *)klass->pValue != CKO_PRIVATE_KEY) {
        snprintf(err, err_len, "identity.key %s must name a private key (type=private)",
                 id->uri_redacted);
        return AGENT_IDENTITY_CONFIG;
    }
    n = identity_find_objects(id->fn, s, uri, CKO_PRIVATE_KEY, found, IDENTITY_MAX_CANDIDATES, &rv);
    if (n < 0) {
        snprintf(err, err_len, "cannot search token \"%s\" for keys (CKR 0x%lx)",
                 id->token_label, (unsigned long)rv);
        return identity_status_of_rv(rv);
    }
    if (n == 0) {
        struct identity_object all[IDENTITY_MAX_CANDIDATES];
        P11KitUri *any = p11_kit_uri_new();
        int n_all = any ? identity_find_objects(id->fn, s, any, CKO_PRIVATE_KEY, all, IDENTITY_MAX_CANDIDATES,
                                       &rv)
                        : 0;

        identity_list_candidates(all, n_all, list, sizeof(list));
        p11_kit_uri_free(any);
        snprintf(err, err_len,
                 "object not found: no private key on token \"%s\" matches identity.key %s "
                 "(private keys there: %s)",
                 id->token_label, id->uri_redacted, list[0] ? list : "none");
        return AGENT_IDENTITY_OBJECT_NOT_FOUND;
    }
    if (n > 1) {
        identity_list_candidates(found, n, list, sizeof(list));
        snprintf(err, err_len,
                 "identity.key %s matches %d private keys on token \"%s\" (%s): add object= or "
                 "id= to the URI so it names exactly one",
                 id->uri_redacted, n, id->token_label, list);
        return AGENT_IDENTITY_AMBIGUOUS;
    }
    {
        enum agent_identity_status st = check_key_safety(id, s, &found[0], err, err_len);
        if (st != AGENT_IDENTITY_OK)
            return st;
    }
    identity_object_describe(&found[0], id->key_name, sizeof(id->key_name));
    memcpy(id->key_id, found[0].id, found[0].id_len);
    id->key_id_len = found[0].id_len;
    return find_libp11_key(id, &found[0], err, err_len);
}

enum agent_identity_status agent_identity_open(const struct agent_identity_config *cfg,
                                               struct agent_identity **out, char *err,
                                               size_t err_len)
{
    struct agent_identity *id = NULL;
    P11KitUri *uri = NULL;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    CK_RV rv;

    *out = NULL;
    id = calloc(1, sizeof(*id));
    if (!id) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    agent_uri_redact(cfg->key_uri, id->uri_redacted, sizeof(id->uri_redacted));
    id->chain = sk_X509_new_null();
    uri = agent_uri_parse("identity.key", cfg->key_uri, err, err_len);
    if (!uri || !id->chain)
        goto cleanup;

    id->p11 = PKCS11_CTX_new();
    if (!id->p11) {
        snprintf(err, err_len, "out of memory (libp11 context)");
        goto cleanup;
    }
    if (PKCS11_CTX_load(id->p11, cfg->module) != 0) {
        unsigned long e = ERR_peek_last_error();
        char reason[256] = "";

        if (e)
            ERR_error_string_n(e, reason, sizeof(reason));
        ERR_clear_error();
        snprintf(err, err_len,
                 "PKCS#11 module %s is not loadable%s%s: check identity.module and that the "
                 "file exists and is a PKCS#11 module",
                 cfg->module, reason[0] ? ": " : "", reason);
        PKCS11_CTX_free(id->p11);
        id->p11 = NULL;
        status = AGENT_IDENTITY_MODULE;
        goto cleanup;
    }
    if (open_raw_module(id, cfg->module, err, err_len) != 0) {
        status = AGENT_IDENTITY_MODULE;
        goto cleanup;
    }
    if (PKCS11_enumerate_slots(id->p11, &id->slots, &id->n_slots) != 0) {
        rv = agent_identity_drain_ckr();
        snprintf(err, err_len, "cannot list the slots of %s (CKR 0x%lx)", cfg->module,
                 (unsigned long)rv);
        id->slots = NULL;
        id->n_slots = 0;
        status = AGENT_IDENTITY_TOKEN_FAULT;
        goto cleanup;
    }
    status = choose_token(id, uri, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    status = login(id, cfg, uri, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;

    *out = id;
    id = NULL;
cleanup:
    /* libp11 leaves stray errors queued after a successful load. */
    ERR_clear_error();
    p11_kit_uri_free(uri);
    agent_identity_free(id);
    return status;
}

/* Back to "opened, nothing resolved": what resolve leaves on failure. */
static void forget_key_and_certificates(struct agent_identity *id)
{
    X509 *x;

    while ((x = sk_X509_pop(id->chain)) != NULL)
        X509_free(x);
    X509_free(id->cert);
    id->cert = NULL;
    EVP_PKEY_free(id->key);
    id->key = NULL;
    id->key_id_len = 0;
    id->key_name[0] = '\0';
}

/* The key, and unless key_only the certificate (+chain) and its check. */
static enum agent_identity_status resolve(struct agent_identity *id,
                                          const struct agent_identity_config *cfg, bool key_only,
                                          char *err, size_t err_len)
{
    P11KitUri *uri = NULL;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    CK_RV rv;

    forget_key_and_certificates(id);
    uri = agent_uri_parse("identity.key", cfg->key_uri, err, err_len);
    if (!uri)
        goto cleanup;

    rv = id->fn->C_OpenSession(id->slot_id, CKF_SERIAL_SESSION, NULL, NULL, &session);
    if (rv != CKR_OK) {
        snprintf(err, err_len, "cannot open a session on token \"%s\" (CKR 0x%lx)",
                 id->token_label, (unsigned long)rv);
        session = CK_INVALID_HANDLE;
        status = identity_status_of_rv(rv);
        goto cleanup;
    }
    status = find_key(id, session, uri, err, err_len);
    if (status != AGENT_IDENTITY_OK || key_only)
        goto cleanup;

    if (strncmp(cfg->certificate, "pkcs11:", 7) == 0) {
        status = identity_load_token_certificate(id, session, cfg->certificate, err, err_len);
        if (status != AGENT_IDENTITY_OK)
            goto cleanup;
    } else if (identity_read_pem_certificates(cfg->certificate, &id->cert, id->chain, err, err_len) != 0) {
        status = AGENT_IDENTITY_CERTIFICATE;
        goto cleanup;
    }
    if (cfg->chain_file &&
        identity_read_pem_certificates(cfg->chain_file, NULL, id->chain, err, err_len) != 0) {
        status = AGENT_IDENTITY_CERTIFICATE;
        goto cleanup;
    }
    status = identity_check_certificate(id, err, err_len);
cleanup:
    if (session != CK_INVALID_HANDLE)
        id->fn->C_CloseSession(session);
    /* libp11 leaves stray errors queued after a successful load. */
    ERR_clear_error();
    p11_kit_uri_free(uri);
    if (status != AGENT_IDENTITY_OK)
        forget_key_and_certificates(id);
    return status;
}

enum agent_identity_status agent_identity_resolve(struct agent_identity *id,
                                                  const struct agent_identity_config *cfg,
                                                  char *err, size_t err_len)
{
    return resolve(id, cfg, false, err, err_len);
}

enum agent_identity_status agent_identity_resolve_key(struct agent_identity *id,
                                                      const struct agent_identity_config *cfg,
                                                      char *err, size_t err_len)
{
    return resolve(id, cfg, true, err, err_len);
}

enum agent_identity_status agent_identity_load(const struct agent_identity_config *cfg,
                                               struct agent_identity **out, char *err,
                                               size_t err_len)
{
    struct agent_identity *id = NULL;
    enum agent_identity_status status;

    *out = NULL;
    status = agent_identity_open(cfg, &id, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        return status;
    status = agent_identity_resolve(id, cfg, err, err_len);
    if (status != AGENT_IDENTITY_OK) {
        agent_identity_free(id);
        return status;
    }
    *out = id;
    return AGENT_IDENTITY_OK;
}

void agent_identity_free(struct agent_identity *id)
{
    if (!id)
        return;
    sk_X509_pop_free(id->chain, X509_free);
    X509_free(id->cert);
    /* The key before the slots: libp11 reads its slot on free. */
    EVP_PKEY_free(id->key);
    if (id->p11) {
        if (id->slots)
            PKCS11_release_all_slots(id->p11, id->slots, id->n_slots);
        PKCS11_CTX_unload(id->p11);
        PKCS11_CTX_free(id->p11);
    }
    if (id->module_handle)
        dlclose(id->module_handle);
    free(id);
}

EVP_PKEY *agent_identity_key(const struct agent_identity *id)
{
    return id->key;
}

X509 *agent_identity_certificate(const struct agent_identity *id)
{
    return id->cert;
}

STACK_OF(X509) *agent_identity_chain(const struct agent_identity *id)
{
    return id->chain;
}

const char *agent_identity_uri(const struct agent_identity *id)
{
    return id->uri_redacted;
}

const char *agent_identity_token_label(const struct agent_identity *id)
{
    return id->token_label;
}

const char *agent_identity_key_name(const struct agent_identity *id)
{
    return id->key_name;
}

bool agent_identity_has_mechanism(const struct agent_identity *id, unsigned long mechanism)
{
    CK_MECHANISM_INFO info;

    return id->fn->C_GetMechanismInfo(id->slot_id, (CK_MECHANISM_TYPE)mechanism, &info) ==
               CKR_OK &&
           (info.flags & CKF_SIGN);
}
