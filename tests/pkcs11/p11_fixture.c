/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared steps of the provider's API tests (see p11_fixture.h).
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>


#define PIN_ARG(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

void p11t_init_token(const char *so_pin, const char *user_pin)
{
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h;

    memset(label, ' ', sizeof(label));
    memcpy(label, "trustlink", 9);
    assert_int_equal(C_InitToken(0, PIN_ARG(so_pin), label), CKR_OK);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    assert_int_equal(C_Login(h, CKU_SO, PIN_ARG(so_pin)), CKR_OK);
    assert_int_equal(C_InitPIN(h, PIN_ARG(user_pin)), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

CK_SESSION_HANDLE p11t_open_user_rw(const char *user_pin)
{
    CK_SESSION_HANDLE h = 0;
    CK_RV rv;

    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    rv = C_Login(h, CKU_USER, PIN_ARG(user_pin));
    assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
    return h;
}
