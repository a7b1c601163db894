/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/token_fault.c: the one table that decides what a PKCS#11 return
 * value means to the agent, row by row. A token fault is retried after a
 * reload (systemd keeps the unit running); CONFIG exits 78, which the unit
 * never restarts, so a transient answer classed CONFIG strands the device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libp11.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>

#include "token.h"

struct row {
    CK_RV rv;
    enum agent_identity_status want;
};

static void check_rows(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char text[160];
        enum agent_identity_status got = agent_token_status_of_rv(rows[i].rv);

        if (got != rows[i].want)
            fail_msg("%s is classed %s, expected %s",
                     agent_token_rv_text(rows[i].rv, text, sizeof(text)),
                     agent_identity_status_name(got), agent_identity_status_name(rows[i].want));
    }
}

static void test_lost_device_and_sessions_are_token_faults(void **state)
{
    static const struct row rows[] = {
        {CKR_DEVICE_ERROR, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_DEVICE_REMOVED, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_TOKEN_NOT_PRESENT, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_SESSION_HANDLE_INVALID, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_SESSION_CLOSED, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_SESSION_COUNT, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_USER_NOT_LOGGED_IN, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_CRYPTOKI_NOT_INITIALIZED, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_GENERAL_ERROR, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_FUNCTION_FAILED, AGENT_IDENTITY_TOKEN_FAULT},
        {CKR_HOST_MEMORY, AGENT_IDENTITY_TOKEN_FAULT},
    };
    (void)state;
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_pin_answers_have_their_own_classes(void **state)
{
    static const struct row rows[] = {
        {CKR_PIN_INCORRECT, AGENT_IDENTITY_PIN_INCORRECT},
        {CKR_PIN_LEN_RANGE, AGENT_IDENTITY_PIN_INCORRECT},
        {CKR_PIN_LOCKED, AGENT_IDENTITY_PIN_LOCKED},
        {CKR_PIN_EXPIRED, AGENT_IDENTITY_CONFIG},
    };
    (void)state;
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_full_token_and_bad_requests_need_a_person(void **state)
{
    static const struct row rows[] = {
        {CKR_OK, AGENT_IDENTITY_OK},
        {CKR_DEVICE_MEMORY, AGENT_IDENTITY_CONFIG},
        {CKR_TOKEN_WRITE_PROTECTED, AGENT_IDENTITY_CONFIG},
        {CKR_TEMPLATE_INCONSISTENT, AGENT_IDENTITY_CONFIG},
        {CKR_ATTRIBUTE_VALUE_INVALID, AGENT_IDENTITY_CONFIG},
        {CKR_MECHANISM_INVALID, AGENT_IDENTITY_CONFIG},
        {CKR_SLOT_ID_INVALID, AGENT_IDENTITY_CONFIG},
        {CKR_ARGUMENTS_BAD, AGENT_IDENTITY_CONFIG},
        {0x8000beefUL, AGENT_IDENTITY_CONFIG}, /* vendor-defined, unknown */
    };
    (void)state;
    check_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_messages_name_the_ckr(void **state)
{
    char text[160];

    (void)state;
    agent_token_rv_text(CKR_SESSION_COUNT, text, sizeof(text));
    assert_non_null(strstr(text, "CKR_SESSION_COUNT"));
    assert_non_null(strstr(text, "sessions")); /* p11-kit's text */
    agent_token_rv_text(0x8000beefUL, text, sizeof(text));
    assert_non_null(strstr(text, "0x8000beef"));
}

/* libp11 queues CKR values in the OpenSSL error queue (TLS handshakes):
 * the same table decides there. */
static void test_openssl_queue_uses_the_same_table(void **state)
{
    int lib = ERR_get_CKR_code();

    (void)state;
    assert_true(agent_token_openssl_error_is_fault(ERR_PACK(lib, 0, CKR_SESSION_COUNT)));
    assert_true(agent_token_openssl_error_is_fault(ERR_PACK(lib, 0, CKR_DEVICE_REMOVED)));
    assert_false(agent_token_openssl_error_is_fault(ERR_PACK(lib, 0, CKR_PIN_INCORRECT)));
    assert_false(agent_token_openssl_error_is_fault(ERR_PACK(ERR_LIB_SSL, 0, CKR_DEVICE_ERROR)));
    assert_false(agent_token_openssl_error_is_fault(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_device_and_sessions_are_token_faults),
        cmocka_unit_test(test_pin_answers_have_their_own_classes),
        cmocka_unit_test(test_full_token_and_bad_requests_need_a_person),
        cmocka_unit_test(test_messages_name_the_ckr),
        cmocka_unit_test(test_openssl_queue_uses_the_same_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
