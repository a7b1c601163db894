/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the two halves of the test_p11_api binary share: the PINs, the
 * session helpers of test_p11_api.c and the object and mechanism cases of
 * test_p11_api_objects.c (run from test_p11_api.c's main).
 */
#ifndef TRUSTLINK_TEST_P11_API_H
#define TRUSTLINK_TEST_P11_API_H

#include <string.h>

#include <p11-kit/pkcs11.h>

#define SO_PIN "so-secret"
#define USER_PIN "123456"
#define P(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

/* A read/write (open_rw) or read-only (open_ro) session on slot 0. */
CK_SESSION_HANDLE open_rw(void);
CK_SESSION_HANDLE open_ro(void);

void test_provisioned_key_private_only_after_login(void **state);
void test_find_objects_state_errors(void **state);
void test_token_object_in_read_only_session_is_refused(void **state);
void test_private_object_needs_user_login(void **state);
void test_token_object_persists_and_destroy_removes_it(void **state);
void test_session_object_dies_with_its_session(void **state);
void test_sign_two_call_and_verify_round_trip(void **state);
void test_multipart_sign_equals_raw_ecdsa_over_sha256(void **state);
void test_sign_without_login_is_user_not_logged_in(void **state);
void test_digest_sha256_known_answer(void **state);
void test_generate_key_pair_uses_free_slots_until_full(void **state);
void test_generated_key_signs_and_verifies(void **state);
void test_generate_random_fills_any_length(void **state);

#endif
