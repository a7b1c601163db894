/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token gateway's base (see token.h): the module (libp11 plus a second
 * handle on the same module instance for what libp11 does not offer:
 * CKA_SENSITIVE, CKA_EXTRACTABLE, mechanisms, object changes), the choice
 * of token, login, sessions, searches and the one attribute reader.
 * Must never: print a PIN; call PKCS11_login without checking the token is
 * present (libp11 0.4.12 hangs otherwise); keep a session or object
 * handle across calls.
 */
#include "token.h"
#include "token_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "hex.h"

const CK_OBJECT_CLASS token_managed_classes[3] = {CKO_CERTIFICATE, CKO_PUBLIC_KEY,
                                                   CKO_PRIVATE_KEY};

enum agent_identity_status token_fail(struct agent_token *tok, CK_RV rv, char *err,
                                      size_t err_len, const char *what)
{
    char text[160];

    snprintf(err, err_len, "%s on token \"%s\" (%s)", what, tok ? tok->label : "?",
             agent_token_rv_text(rv, text, sizeof(text)));
    return agent_token_status_of_rv(rv);
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

/* A second handle on the module instance libp11 loaded, so raw calls
 * share its initialisation and login state. */
static int open_raw_module(struct agent_token *tok, const char *module, char *err,
                           size_t err_len)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    char text[160];
    CK_RV rv;

    tok->module_handle = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!tok->module_handle) {
        snprintf(err, err_len, "PKCS#11 module %s: loaded by libp11 but not found again: %s",
                 module, dlerror());
        return -1;
    }
    *(void **)&get_list = dlsym(tok->module_handle, "C_GetFunctionList");
    if (!get_list) {
        snprintf(err, err_len, "PKCS#11 module %s has no C_GetFunctionList", module);
        return -1;
    }
    rv = get_list(&tok->fn);
    if (rv != CKR_OK || !tok->fn) {
        snprintf(err, err_len, "PKCS#11 module %s: C_GetFunctionList failed (%s)", module,
                 agent_token_rv_text(rv, text, sizeof(text)));
        return -1;
    }
    return 0;
}

static enum agent_identity_status choose_token(struct agent_token *tok, P11KitUri *uri,
                                               const char *shown, char *err, size_t err_len)
{
    CK_INFO module_info;
    PKCS11_SLOT *matches[AGENT_TOKEN_MAX_CANDIDATES];
    char seen[512] = "";
    size_t seen_used = 0;
    int n_matches = 0;

    if (tok->fn->C_GetInfo(&module_info) == CKR_OK &&
        p11_kit_uri_match_module_info(uri, &module_info) != 1) {
        snprintf(err, err_len,
                 "token not found: the module does not match the library-* attributes of "
                 "identity.key %s",
                 shown);
        return AGENT_IDENTITY_TOKEN_NOT_FOUND;
    }
    for (unsigned i = 0; i < tok->n_slots; i++) {
        PKCS11_SLOT *slot = &tok->slots[i];
        CK_TOKEN_INFO info;
        char label[33];

        if (!slot->token ||
            tok->fn->C_GetTokenInfo(PKCS11_get_slotid_from_slot(slot), &info) != CKR_OK)
            continue;
        padded_to_string(info.label, sizeof(info.label), label, sizeof(label));
        if (seen_used < sizeof(seen)) {
            int n = snprintf(seen + seen_used, sizeof(seen) - seen_used, "%s\"%s\"",
                             seen_used ? ", " : "", label);
            if (n > 0)
                seen_used += (size_t)n;
        }
        if (p11_kit_uri_match_token_info(uri, &info) == 1 &&
            n_matches < AGENT_TOKEN_MAX_CANDIDATES)
            matches[n_matches++] = slot;
    }
    if (n_matches == 0) {
        snprintf(err, err_len,
                 "token not found: no token matches identity.key %s (tokens present: %s); check "
                 "the token= attribute and that the device is connected",
                 shown, seen[0] ? seen : "none");
        return AGENT_IDENTITY_TOKEN_NOT_FOUND;
    }
    if (n_matches > 1) {
        snprintf(err, err_len,
                 "identity.key %s matches %d tokens (%s): add token= or serial= to the URI",
                 shown, n_matches, seen);
        return AGENT_IDENTITY_AMBIGUOUS;
    }
    tok->slot = matches[0];
    tok->slot_id = PKCS11_get_slotid_from_slot(tok->slot);
    snprintf(tok->label, sizeof(tok->label), "%s",
             tok->slot->token->label ? tok->slot->token->label : "");
    return AGENT_IDENTITY_OK;
}

enum agent_identity_status agent_token_open(const char *module, struct p11_kit_uri *uri,
                                            const char *uri_shown, struct agent_token **out,
                                            char *err, size_t err_len)
{
    struct agent_token *tok = calloc(1, sizeof(*tok));
    enum agent_identity_status status = AGENT_IDENTITY_MODULE;

    *out = NULL;
    if (!tok) {
        snprintf(err, err_len, "out of memory");
        return AGENT_IDENTITY_CONFIG;
    }
    tok->p11 = PKCS11_CTX_new();
    if (!tok->p11) {
        snprintf(err, err_len, "out of memory (libp11 context)");
        goto cleanup;
    }
    if (PKCS11_CTX_load(tok->p11, module) != 0) {
        unsigned long e = ERR_peek_last_error();
        char reason[256] = "";

        if (e)
            ERR_error_string_n(e, reason, sizeof(reason));
        snprintf(err, err_len,
                 "PKCS#11 module %s is not loadable%s%s: check identity.module and that the "
                 "file exists and is a PKCS#11 module",
                 module, reason[0] ? ": " : "", reason);
        PKCS11_CTX_free(tok->p11);
        tok->p11 = NULL;
        goto cleanup;
    }
    if (open_raw_module(tok, module, err, err_len) != 0)
        goto cleanup;
    if (PKCS11_enumerate_slots(tok->p11, &tok->slots, &tok->n_slots) != 0) {
        char text[160];

        snprintf(err, err_len, "cannot list the slots of %s (%s)", module,
                 agent_token_rv_text(agent_token_drain_ckr(), text, sizeof(text)));
        tok->slots = NULL;
        tok->n_slots = 0;
        status = AGENT_IDENTITY_TOKEN_FAULT;
        goto cleanup;
    }
    status = choose_token(tok, uri, uri_shown, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    *out = tok;
    tok = NULL;
cleanup:
    /* libp11 leaves stray errors queued even when it succeeds. */
    ERR_clear_error();
    agent_token_close(tok);
    return status;
}

void agent_token_close(struct agent_token *tok)
{
    if (!tok)
        return;
    if (tok->p11) {
        if (tok->slots)
            PKCS11_release_all_slots(tok->p11, tok->slots, tok->n_slots);
        PKCS11_CTX_unload(tok->p11);
        PKCS11_CTX_free(tok->p11);
    }
    if (tok->module_handle)
        dlclose(tok->module_handle);
    free(tok);
}

const char *agent_token_label(const struct agent_token *tok)
{
    return tok->label;
}

unsigned long agent_token_slot_id(const struct agent_token *tok)
{
    return (unsigned long)tok->slot_id;
}

enum agent_identity_status agent_token_serial(struct agent_token *tok, char *out, size_t out_len,
                                              char *err, size_t err_len)
{
    CK_TOKEN_INFO info;
    CK_RV rv = tok->fn->C_GetTokenInfo(tok->slot_id, &info);

    if (out_len == 0)
        return AGENT_IDENTITY_OK;
    out[0] = '\0';
    if (rv != CKR_OK)
        return token_fail(tok, rv, err, err_len, "cannot read the token's serial number");
    padded_to_string(info.serialNumber, sizeof(info.serialNumber), out, out_len);
    /* A module's bytes end up in a JSON request and in logs. */
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return AGENT_IDENTITY_OK;
}

bool agent_token_matches(struct agent_token *tok, struct p11_kit_uri *uri)
{
    CK_TOKEN_INFO info;

    return tok->fn->C_GetTokenInfo(tok->slot_id, &info) == CKR_OK &&
           p11_kit_uri_match_token_info(uri, &info) == 1;
}

enum agent_identity_status agent_token_login_state(struct agent_token *tok, bool *need_pin,
                                                   char *err, size_t err_len)
{
    CK_TOKEN_INFO info;
    int logged_in = 0;
    CK_RV rv;

    *need_pin = false;
    rv = tok->fn->C_GetTokenInfo(tok->slot_id, &info);
    if (rv != CKR_OK) {
        token_fail(tok, rv, err, err_len, "no answer: check the device");
        return AGENT_IDENTITY_TOKEN_FAULT;
    }
    if (!(info.flags & CKF_LOGIN_REQUIRED))
        return AGENT_IDENTITY_OK;
    if (info.flags & CKF_USER_PIN_LOCKED) {
        snprintf(err, err_len,
                 "the user PIN of token \"%s\" is locked (too many wrong PINs): unlock it with "
                 "the SO PIN (pkcs11-tool --init-pin --login --login-type so), then restart",
                 tok->label);
        return AGENT_IDENTITY_PIN_LOCKED;
    }
    *need_pin = !(PKCS11_is_logged_in(tok->slot, 0, &logged_in) == 0 && logged_in);
    return AGENT_IDENTITY_OK;
}

enum agent_identity_status agent_token_login(struct agent_token *tok, const char *pin,
                                             const char *pin_source, char *err, size_t err_len)
{
    enum agent_identity_status status;
    CK_RV rv;

    if (PKCS11_login(tok->slot, 0, pin) == 0)
        return AGENT_IDENTITY_OK;
    rv = (CK_RV)agent_token_drain_ckr();
    status = agent_token_status_of_rv(rv == CKR_OK ? CKR_GENERAL_ERROR : rv);
    if (status == AGENT_IDENTITY_PIN_INCORRECT)
        snprintf(err, err_len,
                 "wrong PIN for token \"%s\" (from %s): trustlinkd will not retry it, fix "
                 "the PIN and restart (each wrong PIN brings the token closer to locking)",
                 tok->label, pin_source);
    else if (status == AGENT_IDENTITY_PIN_LOCKED)
        snprintf(err, err_len, "the user PIN of token \"%s\" is locked: unlock it with the "
                               "SO PIN, then restart",
                 tok->label);
    else
        token_fail(tok, rv, err, err_len, "login failed");
    return status;
}

bool agent_token_has_mechanism(struct agent_token *tok, unsigned long mechanism)
{
    CK_MECHANISM_INFO info;

    return tok->fn->C_GetMechanismInfo(tok->slot_id, (CK_MECHANISM_TYPE)mechanism, &info) ==
               CKR_OK &&
           (info.flags & CKF_SIGN);
}

/* ---- sessions, attributes, searches ------------------------------------ */

enum agent_identity_status token_session_open(struct agent_token *tok, bool rw,
                                              CK_SESSION_HANDLE *s, char *err, size_t err_len)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = tok->fn->C_OpenSession(tok->slot_id, flags, NULL, NULL, s);

    if (rv != CKR_OK) {
        *s = CK_INVALID_HANDLE;
        return token_fail(tok, rv, err, err_len,
                          rw ? "cannot open a read/write session" : "cannot open a session");
    }
    return AGENT_IDENTITY_OK;
}

void token_session_close(struct agent_token *tok, CK_SESSION_HANDLE s)
{
    if (s != CK_INVALID_HANDLE)
        tok->fn->C_CloseSession(s);
}

/* First half of the two-call convention: the value's length. */
static CK_RV attr_length(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                         CK_ATTRIBUTE_TYPE type, size_t max, size_t *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV rv = tok->fn->C_GetAttributeValue(s, h, &a, 1);

    *len = 0;
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_SENSITIVE;
    if (a.ulValueLen > max)
        return CKR_BUFFER_TOO_SMALL;
    *len = a.ulValueLen;
    return CKR_OK;
}

CK_RV token_attr_read(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, void *buf, size_t cap, size_t *len)
{
    CK_ATTRIBUTE a = {type, buf, 0};
    CK_RV rv = attr_length(tok, s, h, type, cap, len);

    if (rv != CKR_OK)
        return rv;
    a.ulValueLen = (CK_ULONG)*len;
    rv = tok->fn->C_GetAttributeValue(s, h, &a, 1);
    *len = rv == CKR_OK ? a.ulValueLen : 0;
    return rv;
}

CK_RV token_attr_read_alloc(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_TYPE type, size_t max, unsigned char **out,
                            size_t *len)
{
    size_t need = 0;
    CK_RV rv = attr_length(tok, s, h, type, max, &need);

    *out = NULL;
    *len = 0;
    if (rv != CKR_OK)
        return rv;
    *out = malloc(need ? need : 1);
    if (!*out)
        return CKR_HOST_MEMORY;
    rv = token_attr_read(tok, s, h, type, *out, need, len);
    if (rv != CKR_OK) {
        free(*out);
        *out = NULL;
    }
    return rv;
}

/* A missing, hidden or oversized attribute reads as empty. */
static CK_RV read_optional(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                           CK_ATTRIBUTE_TYPE type, void *buf, size_t cap, size_t *len)
{
    CK_RV rv = token_attr_read(tok, s, h, type, buf, cap, len);

    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
        rv == CKR_BUFFER_TOO_SMALL) {
        *len = 0;
        return CKR_OK;
    }
    return rv;
}

CK_RV token_object_read(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                        struct agent_token_object *o)
{
    CK_OBJECT_CLASS klass = (CK_OBJECT_CLASS)-1;
    size_t class_len = 0, label_len = 0;
    CK_RV rv;

    memset(o, 0, sizeof(*o));
    rv = read_optional(tok, s, h, CKA_CLASS, &klass, sizeof(klass), &class_len);
    if (rv == CKR_OK)
        rv = read_optional(tok, s, h, CKA_ID, o->id, sizeof(o->id), &o->id_len);
    if (rv == CKR_OK)
        rv = read_optional(tok, s, h, CKA_LABEL, o->label, sizeof(o->label) - 1, &label_len);
    if (rv != CKR_OK)
        return rv;
    o->klass = class_len == sizeof(klass) ? klass : (CK_OBJECT_CLASS)-1;
    o->label[label_len] = '\0';
    return CKR_OK;
}

CK_RV token_find_handles(struct agent_token *tok, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                         CK_ULONG n_tmpl, CK_OBJECT_HANDLE *out, size_t max, size_t *count)
{
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG got = 0;
    CK_RV rv;

    *count = 0;
    rv = tok->fn->C_FindObjectsInit(s, tmpl, n_tmpl);
    if (rv != CKR_OK)
        return rv;
    do {
        rv = tok->fn->C_FindObjects(s, batch, 16, &got);
        if (rv != CKR_OK)
            break;
        for (CK_ULONG i = 0; i < got; i++) {
            if (*count < max)
                out[*count] = batch[i];
            (*count)++;
        }
    } while (got == 16);
    tok->fn->C_FindObjectsFinal(s);
    return rv;
}

CK_RV token_find_uri(struct agent_token *tok, CK_SESSION_HANDLE s, P11KitUri *uri,
                     CK_OBJECT_CLASS klass, CK_OBJECT_HANDLE *handles,
                     struct agent_token_object *found, size_t max, size_t *count)
{
    CK_ATTRIBUTE tmpl = {CKA_CLASS, &klass, sizeof(klass)};
    CK_OBJECT_HANDLE batch[32];
    CK_ULONG got = 0;
    CK_RV rv;

    *count = 0;
    rv = tok->fn->C_FindObjectsInit(s, &tmpl, 1);
    if (rv != CKR_OK)
        return rv;
    do {
        rv = tok->fn->C_FindObjects(s, batch, 32, &got);
        for (CK_ULONG i = 0; rv == CKR_OK && i < got; i++) {
            struct agent_token_object o;
            CK_ATTRIBUTE attrs[3] = {
                {CKA_CLASS, &klass, sizeof(klass)},
                {CKA_ID, o.id, 0},
                {CKA_LABEL, o.label, 0},
            };

            rv = token_object_read(tok, s, batch[i], &o);
            if (rv != CKR_OK)
                break;
            /* A handle found for this class must read back as it: a module
             * whose handles went inconsistent (tpm2-pkcs11 1.9 hands out a
             * handle another object holds after C_DestroyObject) is a
             * token fault that a re-initialisation cures, not a wrong URI. */
            if (o.klass != klass) {
                rv = CKR_GENERAL_ERROR;
                break;
            }
            attrs[1].ulValueLen = o.id_len;
            attrs[2].ulValueLen = strlen(o.label);
            if (p11_kit_uri_match_attributes(uri, attrs, 3) != 1)
                continue;
            if (*count < max) {
                handles[*count] = batch[i];
                found[*count] = o;
            }
            (*count)++;
        }
    } while (rv == CKR_OK && got == 32);
    tok->fn->C_FindObjectsFinal(s);
    return rv;
}

void agent_token_describe(const unsigned char *id, size_t id_len, const char *label, char *out,
                          size_t out_len)
{
    char idhex[2 * AGENT_TOKEN_ID_MAX + 1];

    agent_hex_encode(id, id_len, idhex, sizeof(idhex));
    snprintf(out, out_len, "object=%s;id=%s", label && label[0] ? label : "(no label)",
             idhex[0] ? idhex : "(none)");
}

void token_list_objects(const struct agent_token_object *o, size_t n, char *out, size_t out_len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used < out_len; i++) {
        char name[200];
        int w;

        agent_token_describe(o[i].id, o[i].id_len, o[i].label, name, sizeof(name));
        w = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
