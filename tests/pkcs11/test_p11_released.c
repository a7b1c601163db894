/* SPDX-License-Identifier: Apache-2.0 */
/* Provisioned keys (key_slots) that were destroyed stay destroyed: the
 * module records their chip slot as released in token.json and does not
 * list the key again at the next C_Initialize (after a key rotation the
 * factory key must not come back under the label "device"); C_InitToken
 * brings it back; generated keys still just free their slot; a store
 * without the field (older module) means nothing released. In-process
 * emulator (emu_harness.h) with the real chip adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <p11-kit/pkcs11.h>

#include "emu_harness.h"
#include "p11_fixture.h"
#include "object.h"
#include "p11_test_util.h"
#include "store.h"

#define SO_PIN "so-secret"
#define USER_PIN "123456"
#define P(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

/* Objects of class cls labelled label; up to 4 handles in out. */
static CK_ULONG count_objects(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                              CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}};
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;
    assert_int_equal(C_FindObjectsInit(h, t, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 4, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    if (out != NULL && n > 0)
        memcpy(out, found, n * sizeof(found[0]));
    return n;
}

/* A new module instance: provisioning runs again in C_Initialize. */
static void reload_module(void)
{
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
}

static char *token_json(const struct p11_emu_fixture *f)
{
    char path[600];
    char *text;
    snprintf(path, sizeof(path), "%s/%s", f->store_dir, TOK_STORE_FILE);
    text = p11t_read_file(path);
    assert_non_null(text);
    return text;
}

static void test_destroyed_device_key_is_not_provisioned_again(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_OBJECT_HANDLE priv, pub;
    CK_SESSION_HANDLE h;
    char *text;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", &priv), 1);
    assert_int_equal(count_objects(h, CKO_PUBLIC_KEY, "device", &pub), 1);
    /* The public key alone does not release the slot. */
    assert_int_equal(C_DestroyObject(h, pub), CKR_OK);
    text = token_json(f);
    assert_null(strstr(text, "released_key_slots"));
    free(text);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    text = token_json(f);
    assert_non_null(strstr(text, "\"released_key_slots\""));
    free(text);

    reload_module();
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", NULL), 0);
    assert_int_equal(count_objects(h, CKO_PUBLIC_KEY, "device", NULL), 0);
    /* A second reload neither: the release persisted, not just a flag in memory. */
    reload_module();
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", NULL), 0);
}

static void test_init_token_brings_the_factory_key_back(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_OBJECT_HANDLE priv;
    CK_SESSION_HANDLE h;
    char *text;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", &priv), 1);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    p11t_init_token(SO_PIN, USER_PIN);
    text = token_json(f);
    assert_null(strstr(text, "released_key_slots"));
    free(text);
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", NULL), 1);
    assert_int_equal(count_objects(h, CKO_PUBLIC_KEY, "device", NULL), 1);
    reload_module();
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", NULL), 1);
}

static void test_generated_key_frees_its_slot_without_a_release(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                         {CKA_LABEL, "gen", 3}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_LABEL, "gen", 3}};
    CK_OBJECT_HANDLE pub, priv, pub2, priv2;
    CK_ULONG slot = 99, slot2 = 98;
    CK_ATTRIBUTE st = {CKA_TRUSTLINK_CHIP_SLOT, &slot, sizeof(slot)};
    CK_ATTRIBUTE st2 = {CKA_TRUSTLINK_CHIP_SLOT, &slot2, sizeof(slot2)};
    CK_SESSION_HANDLE h;
    char *text;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 3, &pub, &priv), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv, &st, 1), CKR_OK);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_int_equal(C_DestroyObject(h, pub), CKR_OK);
    text = token_json(f);
    assert_null(strstr(text, "released_key_slots"));
    free(text);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 3, &pub2, &priv2), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv2, &st2, 1), CKR_OK);
    assert_int_equal(slot2, slot);
    /* The device key was untouched throughout. */
    assert_int_equal(count_objects(h, CKO_PRIVATE_KEY, "device", NULL), 1);
}

/* Store level: no field = nothing released (older files); the field round
 * trips; a bad one is corruption, not silently "none". */
static void test_store_released_field_round_trip_and_validation(void **state)
{
    struct p11_emu_fixture *f = *state;
    struct tok_store *st = NULL;
    char err[512], path[700], dir[600];
    char *text, *edited;
    const char *anchor = "\"objects\"";
    char *at;
    size_t len;

    snprintf(dir, sizeof(dir), "%s/plain", f->dir);
    assert_int_equal(tok_store_open(dir, &st, err, sizeof(err)), TOK_STORE_OK);
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    tok_store_close(st);
    snprintf(path, sizeof(path), "%s/%s", dir, TOK_STORE_FILE);
    text = p11t_read_file(path);
    assert_non_null(text);
    assert_null(strstr(text, "released_key_slots"));

    assert_int_equal(tok_store_open(dir, &st, err, sizeof(err)), TOK_STORE_OK);
    for (unsigned s = 0; s < 16; s++)
        assert_false(tok_store_slot_released(st, s));
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    tok_store_release_slot(st, 0);
    tok_store_release_slot(st, 5);
    tok_store_release_slot(st, 16); /* out of range: ignored */
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    tok_store_close(st);
    assert_int_equal(tok_store_open(dir, &st, err, sizeof(err)), TOK_STORE_OK);
    assert_true(tok_store_slot_released(st, 0));
    assert_true(tok_store_slot_released(st, 5));
    assert_false(tok_store_slot_released(st, 1));
    assert_false(tok_store_slot_released(st, 16));
    tok_store_close(st);

    /* Invalid values are refused as corrupt. */
    static const char *const bad[] = {"\"released_key_slots\":[16],", "\"released_key_slots\":[-1],",
                                      "\"released_key_slots\":[0,0],", "\"released_key_slots\":\"0\",",
                                      "\"released_key_slots\":[\"0\"],"};
    at = strstr(text, anchor);
    assert_non_null(at);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = strlen(text) + strlen(bad[i]) + 1;
        edited = malloc(len);
        assert_non_null(edited);
        snprintf(edited, len, "%.*s%s%s", (int)(at - text), text, bad[i], at);
        free(p11t_write_file(dir, TOK_STORE_FILE, edited));
        free(edited);
        assert_int_equal(tok_store_open(dir, &st, err, sizeof(err)), TOK_STORE_CORRUPT);
        assert_non_null(strstr(err, "released_key_slots"));
    }
    free(text);
}

#define T(name) cmocka_unit_test_setup_teardown(name, p11_emu_fixture_setup, p11_emu_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_destroyed_device_key_is_not_provisioned_again),
        T(test_init_token_brings_the_factory_key_back),
        T(test_generated_key_frees_its_slot_without_a_release),
        T(test_store_released_field_round_trip_and_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
