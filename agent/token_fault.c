/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token gateway's one CKR -> failure-class table (see token.h).
 *
 * Owns: which PKCS#11 return values a reload of the module may cure
 * (token fault: the agent waits and retries, systemd keeps it running),
 * which need a person (config: exit 78, the unit is not restarted) and
 * the PIN classes; and how a return value is shown in messages (its CKR_
 * name plus p11-kit's text, never bare hex).
 * Must never: be duplicated: every agent decision "is this a token fault?"
 * reads this table, for raw return values and for the ones libp11 queues
 * in the OpenSSL error queue alike.
 */
#include "token.h"

#include <stdio.h>

#include <libp11.h>
#include <openssl/err.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#define ROW(ckr, klass) {ckr, #ckr, klass}

/* Rows not listed are AGENT_IDENTITY_CONFIG: an unexpected answer is for a
 * person to look at, not something to retry forever. */
static const struct {
    CK_RV rv;
    const char *name;
    enum agent_identity_status klass;
} rv_table[] = {
    ROW(CKR_OK, AGENT_IDENTITY_OK),
    /* The device or its link went away or misbehaved: reopen and retry. */
    ROW(CKR_DEVICE_ERROR, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_DEVICE_REMOVED, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_TOKEN_NOT_PRESENT, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_FUNCTION_FAILED, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_GENERAL_ERROR, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_HOST_MEMORY, AGENT_IDENTITY_TOKEN_FAULT),
    /* Session state lost (token re-plugged, module re-initialised by a
     * fork, other processes holding every session): a new module instance
     * with a new login cures it. */
    ROW(CKR_SESSION_HANDLE_INVALID, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_SESSION_CLOSED, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_SESSION_COUNT, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_USER_NOT_LOGGED_IN, AGENT_IDENTITY_TOKEN_FAULT),
    ROW(CKR_CRYPTOKI_NOT_INITIALIZED, AGENT_IDENTITY_TOKEN_FAULT),
    /* PIN problems: never retried with the same PIN. */
    ROW(CKR_PIN_INCORRECT, AGENT_IDENTITY_PIN_INCORRECT),
    ROW(CKR_PIN_LEN_RANGE, AGENT_IDENTITY_PIN_INCORRECT),
    ROW(CKR_PIN_LOCKED, AGENT_IDENTITY_PIN_LOCKED),
    ROW(CKR_PIN_EXPIRED, AGENT_IDENTITY_CONFIG),
    /* Full token (our module: no free chip slot): retrying changes nothing. */
    ROW(CKR_DEVICE_MEMORY, AGENT_IDENTITY_CONFIG),
    ROW(CKR_TOKEN_WRITE_PROTECTED, AGENT_IDENTITY_CONFIG),
    ROW(CKR_TEMPLATE_INCONSISTENT, AGENT_IDENTITY_CONFIG),
    ROW(CKR_TEMPLATE_INCOMPLETE, AGENT_IDENTITY_CONFIG),
    ROW(CKR_ATTRIBUTE_VALUE_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_ATTRIBUTE_READ_ONLY, AGENT_IDENTITY_CONFIG),
    ROW(CKR_ATTRIBUTE_TYPE_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_MECHANISM_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_KEY_HANDLE_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_OBJECT_HANDLE_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_SLOT_ID_INVALID, AGENT_IDENTITY_CONFIG),
    ROW(CKR_TOKEN_NOT_RECOGNIZED, AGENT_IDENTITY_CONFIG),
    ROW(CKR_BUFFER_TOO_SMALL, AGENT_IDENTITY_CONFIG),
    ROW(CKR_ARGUMENTS_BAD, AGENT_IDENTITY_CONFIG),
};

#define TABLE_ROWS (sizeof(rv_table) / sizeof(rv_table[0]))

enum agent_identity_status agent_token_status_of_rv(unsigned long rv)
{
    for (size_t i = 0; i < TABLE_ROWS; i++) {
        if (rv_table[i].rv == (CK_RV)rv)
            return rv_table[i].klass;
    }
    return AGENT_IDENTITY_CONFIG;
}

const char *agent_token_rv_text(unsigned long rv, char *buf, size_t len)
{
    const char *name = NULL;

    for (size_t i = 0; i < TABLE_ROWS; i++) {
        if (rv_table[i].rv == (CK_RV)rv)
            name = rv_table[i].name;
    }
    if (name)
        snprintf(buf, len, "%s: %s", name, p11_kit_strerror((CK_RV)rv));
    else
        snprintf(buf, len, "CKR 0x%lx: %s", rv, p11_kit_strerror((CK_RV)rv));
    return buf;
}

bool agent_token_openssl_error_is_fault(unsigned long e)
{
    if (e == 0 || (int)ERR_GET_LIB(e) != ERR_get_CKR_code())
        return false;
    return agent_token_status_of_rv((unsigned long)ERR_GET_REASON(e)) ==
           AGENT_IDENTITY_TOKEN_FAULT;
}

bool agent_token_error_queue_has_fault(void)
{
    return agent_token_openssl_error_is_fault(ERR_peek_error()) ||
           agent_token_openssl_error_is_fault(ERR_peek_last_error());
}

unsigned long agent_token_drain_ckr(void)
{
    unsigned long rv = CKR_OK, e;
    int ckr_lib = ERR_get_CKR_code();

    while ((e = ERR_get_error()) != 0) {
        if ((int)ERR_GET_LIB(e) == ckr_lib)
            rv = (unsigned long)ERR_GET_REASON(e);
    }
    return rv;
}
