/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity loading through the token gateway (see identity.h, token.h).
 *
 * Flow: parse the key URI (p11-kit) -> open the token gateway (module,
 * exactly one token by the URI's token attributes) -> log in with the PIN
 * (pin.c) -> the gateway's one safe private key for the URI -> the
 * certificate (token through the gateway, or PEM: identity_cert.c) -> the
 * certificate's public key must equal the key's. Every PKCS#11 call is the
 * gateway's (token.h); this file holds no libp11 object.
 * Must never: print the PIN; sign anything; keep the PIN after login
 * (libp11 keeps its own copy for fork re-login; that is libp11's).
 */
#include "identity.h"
#include "identity_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <p11-kit/uri.h>
#include <p11-kit/pkcs11.h>

#include "config.h"
#include "log.h"
#include "pin.h"
#include "token.h"
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
    return agent_token_openssl_error_is_fault(e);
}

bool agent_identity_error_queue_has_token_fault(void)
{
    return agent_token_error_queue_has_fault();
}

static enum agent_identity_status login(struct agent_identity *id,
                                        const struct agent_identity_config *cfg, P11KitUri *uri,
                                        char *err, size_t err_len)
{
    struct agent_pin pin;
    enum agent_identity_status status;
    bool need_pin = false;

    memset(&pin, 0, sizeof(pin));
    status = agent_token_login_state(id->token, &need_pin, err, err_len);
    if (status != AGENT_IDENTITY_OK || !need_pin)
        return status;
    status = AGENT_IDENTITY_CONFIG;
    if (agent_pin_read(cfg, uri, &pin, err, err_len) != 0)
        goto cleanup;
    if (!pin.present) {
        snprintf(err, err_len,
                 "token \"%s\" requires a PIN: set identity.pin_file or identity.pin_credential "
                 "(or pin-source=file:... in identity.key)",
                 agent_token_label(id->token));
        goto cleanup;
    }
    status = agent_token_login(id->token, pin.value, pin.source, err, err_len);
cleanup:
    agent_pin_clear(&pin);
    return status;
}

enum agent_identity_status agent_identity_open(const struct agent_identity_config *cfg,
                                               struct agent_identity **out, char *err,
                                               size_t err_len)
{
    struct agent_identity *id = NULL;
    P11KitUri *uri = NULL;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    char shown[600];

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
    snprintf(shown, sizeof(shown), "%s", id->uri_redacted);
    status = agent_token_open(cfg->module, uri, shown, &id->token, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    status = login(id, cfg, uri, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;

    *out = id;
    id = NULL;
cleanup:
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

static enum agent_identity_status token_certificate(struct agent_identity *id,
                                                    const char *cert_uri_text, char *err,
                                                    size_t err_len)
{
    P11KitUri *uri = agent_uri_parse("identity.certificate", cert_uri_text, err, err_len);
    enum agent_identity_status status;
    char shown[512];

    if (!uri)
        return AGENT_IDENTITY_CONFIG;
    agent_uri_redact(cert_uri_text, shown, sizeof(shown));
    status = agent_token_certificate(id->token, uri, shown, &id->cert, err, err_len);
    p11_kit_uri_free(uri);
    return status;
}

/* The key, and unless key_only the certificate (+chain) and its check. */
static enum agent_identity_status resolve(struct agent_identity *id,
                                          const struct agent_identity_config *cfg, bool key_only,
                                          char *err, size_t err_len)
{
    P11KitUri *uri = NULL;
    struct agent_token_object key;
    enum agent_identity_status status = AGENT_IDENTITY_CONFIG;
    char shown[600];

    forget_key_and_certificates(id);
    uri = agent_uri_parse("identity.key", cfg->key_uri, err, err_len);
    if (!uri)
        goto cleanup;
    snprintf(shown, sizeof(shown), "identity.key %s", id->uri_redacted);
    status = agent_token_private_key(id->token, uri, shown, &id->key, &key, err, err_len);
    if (status != AGENT_IDENTITY_OK)
        goto cleanup;
    agent_token_describe(key.id, key.id_len, key.label, id->key_name, sizeof(id->key_name));
    memcpy(id->key_id, key.id, key.id_len);
    id->key_id_len = key.id_len;
    if (key_only)
        goto cleanup;

    if (strncmp(cfg->certificate, "pkcs11:", 7) == 0) {
        status = token_certificate(id, cfg->certificate, err, err_len);
        if (status != AGENT_IDENTITY_OK)
            goto cleanup;
    } else if (identity_read_pem_certificates(cfg->certificate, &id->cert, id->chain, err,
                                              err_len) != 0) {
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
    /* The key before the gateway: libp11 reads its slot on free. */
    EVP_PKEY_free(id->key);
    agent_token_close(id->token);
    free(id);
}

/* ---- after a rotation ------------------------------------------------------ */

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

/* key_name for the private key with key_id, its label read from the token. */
static void name_key_from_token(struct agent_identity *id)
{
    struct agent_token_object found[4];
    char err[256];
    int n;

    agent_token_describe(id->key_id, id->key_id_len, NULL, id->key_name, sizeof(id->key_name));
    n = agent_token_find_id(id->token, id->key_id, id->key_id_len, found, 4, err, sizeof(err));
    for (int i = 0; i < n && i < 4; i++) {
        if (found[i].klass == CKO_PRIVATE_KEY)
            agent_token_describe(id->key_id, id->key_id_len, found[i].label, id->key_name,
                                 sizeof(id->key_name));
    }
}

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
    size_t len = sizeof(id->key_id);

    agent_identity_replace_chain(id, chain);
    X509_free(id->cert);
    id->cert = cert;
    EVP_PKEY_free(id->key);
    id->key = key;
    if (agent_token_key_id_of(key, id->key_id, &len) == 0) {
        id->key_id_len = len;
        name_key_from_token(id);
    } else {
        id->key_id_len = 0;
        snprintf(id->key_name, sizeof(id->key_name), "(adopted key, id unknown)");
    }
    ERR_clear_error();
}

/* ---- accessors ---------------------------------------------------------------- */

struct agent_token *agent_identity_token(const struct agent_identity *id)
{
    return id->token;
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
    return agent_token_label(id->token);
}

unsigned long agent_identity_slot_id(const struct agent_identity *id)
{
    return agent_token_slot_id(id->token);
}

const char *agent_identity_key_name(const struct agent_identity *id)
{
    return id->key_name;
}

bool agent_identity_has_mechanism(const struct agent_identity *id, unsigned long mechanism)
{
    return agent_token_has_mechanism(id->token, mechanism);
}
