/* SPDX-License-Identifier: Apache-2.0 */
/* The module through its C_* entry points, with the fake chip: C_Initialize
 * arguments, fork, token flags, the session/login state machine (objects,
 * search, sign/verify/digest and key generation: test_p11_api_objects.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <p11-kit/pkcs11.h>

#include "p11_fixture.h"
#include "p11_test_util.h"
#include "test_p11_api.h"


struct fixture {
    char *dir;
    char *conf;
};

static int write_conf(struct fixture *f, const char *interface)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"tokens\":[{\"label\":\"trustlink\",\"interface\":\"%s\",\"key_slots\":[0],"
             "\"free_slots\":[2,3],\"store\":\"%s/token0\"}],\"log_level\":\"error\","
             "\"pin_kdf_iterations\":1000}",
             interface, f->dir);
    free(f->conf);
    f->conf = p11t_write_file(f->dir, "pkcs11.json", text);
    setenv("TRUSTLINK_PKCS11_CONF", f->conf, 1);
    return 0;
}

static int setup_raw(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = p11t_mkdtemp();
    write_conf(f, "fake:chip0");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    setup_raw(state);
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    (void)C_Finalize(NULL);
    free(f->conf);
    p11t_rmtree(f->dir);
    free(f);
    return 0;
}

CK_SESSION_HANDLE open_rw(void)
{
    CK_SESSION_HANDLE h = 0;
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
    return h;
}

CK_SESSION_HANDLE open_ro(void)
{
    CK_SESSION_HANDLE h = 0;
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    return h;
}

static CK_STATE state_of(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO info;
    assert_int_equal(C_GetSessionInfo(h, &info), CKR_OK);
    return info.state;
}

static CK_FLAGS token_flags(void)
{
    CK_TOKEN_INFO ti;
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    return ti.flags;
}

/* ---------------- C_Initialize / C_Finalize ---------------- */

static CK_RV dummy_create(void **m) { (void)m; return CKR_OK; }
static CK_RV dummy_mutex(void *m) { (void)m; return CKR_OK; }

static void test_calls_before_initialize_are_not_initialized(void **state)
{
    CK_INFO info;
    CK_ULONG n;
    CK_SESSION_HANDLE h;
    (void)state;
    assert_int_equal(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_initialize_argument_table(void **state)
{
    struct {
        CK_C_INITIALIZE_ARGS args;
        CK_RV want;
    } cases[] = {
        {{NULL, NULL, NULL, NULL, 0, (void *)1}, CKR_ARGUMENTS_BAD},
        {{dummy_create, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL}, CKR_ARGUMENTS_BAD},
        {{dummy_create, dummy_mutex, dummy_mutex, dummy_mutex, 0, NULL}, CKR_CANT_LOCK},
        /* The provider creates no threads (GnuTLS passes this flag). */
        {{NULL, NULL, NULL, NULL, CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK, NULL}, CKR_OK},
        {{dummy_create, dummy_mutex, dummy_mutex, dummy_mutex, CKF_OS_LOCKING_OK, NULL}, CKR_OK},
        {{NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL}, CKR_OK},
        {{NULL, NULL, NULL, NULL, 0, NULL}, CKR_OK},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_RV rv = C_Initialize(&cases[i].args);
        if (rv != cases[i].want)
            fail_msg("case %zu: got 0x%lx, want 0x%lx", i, rv, cases[i].want);
        if (rv == CKR_OK)
            assert_int_equal(C_Finalize(NULL), CKR_OK);
    }
}

static void test_initialize_twice_is_already_initialized(void **state)
{
    (void)state;
    assert_int_equal(C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
}

static void test_finalize_with_reserved_is_arguments_bad(void **state)
{
    (void)state;
    assert_int_equal(C_Finalize((void *)1), CKR_ARGUMENTS_BAD);
}

static void test_bad_config_fails_initialize_cleanly(void **state)
{
    struct fixture *f = *state;
    free(f->conf);
    f->conf = p11t_write_file(f->dir, "pkcs11.json", "{\"tokens\":[{\"label\":5}]}");
    setenv("TRUSTLINK_PKCS11_CONF", f->conf, 1);
    assert_int_equal(C_Initialize(NULL), CKR_GENERAL_ERROR);
    assert_int_equal(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_forked_child_is_not_initialized_until_it_initializes(void **state)
{
    CK_SESSION_HANDLE h = open_ro();
    pid_t pid;
    int status = 0;
    (void)state;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_SESSION_INFO info;
        CK_INFO ci;
        int bad = 0;
        if (C_GetSessionInfo(h, &info) != CKR_CRYPTOKI_NOT_INITIALIZED)
            bad |= 1;
        if (C_GetInfo(&ci) != CKR_CRYPTOKI_NOT_INITIALIZED)
            bad |= 2;
        if (C_Initialize(NULL) != CKR_OK)
            bad |= 4;
        if (C_GetInfo(&ci) != CKR_OK)
            bad |= 8;
        if (C_GetSessionInfo(h, &info) != CKR_SESSION_HANDLE_INVALID)
            bad |= 16;
        if (C_Finalize(NULL) != CKR_OK)
            bad |= 32;
        _exit(bad);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent is unaffected. */
    assert_int_equal(state_of(h), CKS_RO_PUBLIC_SESSION);
}

static void test_function_list_is_complete_and_2_40(void **state)
{
    CK_FUNCTION_LIST_PTR fl = NULL;
    void (**fn)(void);
    size_t n = (sizeof(CK_FUNCTION_LIST) - sizeof(CK_VERSION)) / sizeof(void (*)(void));
    (void)state;
    assert_int_equal(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetFunctionList(&fl), CKR_OK);
    assert_int_equal(fl->version.major, 2);
    assert_int_equal(fl->version.minor, 40);
    assert_int_equal(n, 68);
    fn = (void (**)(void))((char *)fl + offsetof(CK_FUNCTION_LIST, C_Initialize));
    for (size_t i = 0; i < n; i++)
        assert_non_null(fn[i]);
    assert_int_equal(fl->C_EncryptInit(0, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
}

/* ---------------- slots and tokens ---------------- */

static void test_slot_list_two_call_convention(void **state)
{
    CK_SLOT_ID slots[4];
    CK_ULONG n = 0;
    (void)state;
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 1);
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    assert_int_equal(slots[0], 0);
}

static void test_absent_chip_is_token_not_present(void **state)
{
    struct fixture *f = *state;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_ULONG n = 9;
    write_conf(f, "fake:absent");
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(C_GetSlotInfo(0, &si), CKR_OK);
    assert_false(si.flags & CKF_TOKEN_PRESENT);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_TOKEN_NOT_PRESENT);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_TOKEN_NOT_PRESENT);
}

static void test_invalid_slot_is_slot_id_invalid(void **state)
{
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_ULONG n;
    (void)state;
    assert_int_equal(C_GetSlotInfo(7, &si), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_GetTokenInfo(7, &ti), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_GetMechanismList(7, NULL, &n), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_CloseAllSessions(7), CKR_SLOT_ID_INVALID);
}

static void test_token_info_reports_chip_and_blank_token(void **state)
{
    CK_TOKEN_INFO ti;
    (void)state;
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_memory_equal(ti.label, "trustlink                       ", 32);
    assert_memory_equal(ti.model, "ATECC608B       ", 16);
    assert_memory_equal(ti.serialNumber, "23AABBCCDDEEFFEE", 16);
    assert_true(ti.flags & CKF_RNG);
    assert_true(ti.flags & CKF_LOGIN_REQUIRED);
    assert_false(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_false(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_int_equal(ti.ulMinPinLen, 4);
    assert_int_equal(ti.ulMaxPinLen, 64);
}

static void test_init_token_and_pin_set_flags(void **state)
{
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    assert_true(token_flags() & CKF_TOKEN_INITIALIZED);
    assert_true(token_flags() & CKF_USER_PIN_INITIALIZED);
}

static void test_mechanism_list_and_info(void **state)
{
    CK_MECHANISM_TYPE list[8];
    CK_MECHANISM_INFO mi;
    CK_ULONG n = 0;
    (void)state;
    assert_int_equal(C_GetMechanismList(0, NULL, &n), CKR_OK);
    assert_int_equal(n, 5);
    n = 2;
    assert_int_equal(C_GetMechanismList(0, list, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 5);
    assert_int_equal(C_GetMechanismList(0, list, &n), CKR_OK);
    assert_int_equal(C_GetMechanismInfo(0, CKM_ECDSA_SHA256, &mi), CKR_OK);
    assert_true(mi.flags & CKF_SIGN);
    assert_int_equal(mi.ulMinKeySize, 256);
    assert_int_equal(C_GetMechanismInfo(0, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
}

/* ---------------- sessions and login ---------------- */

static void test_open_session_requires_serial_flag(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    assert_int_equal(C_OpenSession(0, CKF_RW_SESSION, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, NULL), CKR_ARGUMENTS_BAD);
}

static void test_invalid_session_handle_everywhere(void **state)
{
    CK_SESSION_INFO si;
    CK_ULONG n;
    CK_OBJECT_HANDLE o;
    CK_BYTE buf[8];
    CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    (void)state;
    assert_int_equal(C_CloseSession(999), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GetSessionInfo(999, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_Login(999, CKU_USER, P(USER_PIN)), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_Logout(999), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_FindObjectsInit(999, NULL, 0), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_FindObjects(999, &o, 1, &n), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_DigestInit(999, &mech), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GenerateRandom(999, buf, sizeof(buf)), CKR_SESSION_HANDLE_INVALID);
}

static void test_session_states_follow_login(void **state)
{
    CK_SESSION_HANDLE ro, rw;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    ro = open_ro();
    rw = open_rw();
    assert_int_equal(state_of(ro), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(state_of(rw), CKS_RW_PUBLIC_SESSION);
    assert_int_equal(C_Login(ro, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(state_of(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(state_of(rw), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(C_Logout(rw), CKR_OK);
    assert_int_equal(state_of(ro), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_Login(rw, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(state_of(rw), CKS_RW_SO_FUNCTIONS);
}

struct login_case {
    int logged_in;    /* 0 none, CKU_USER+1, CKU_SO+1 */
    CK_USER_TYPE user;
    CK_RV want;
};

static void test_login_state_table(void **state)
{
    static const struct login_case cases[] = {
        {0, CKU_USER, CKR_OK},
        {0, CKU_SO, CKR_OK},
        {CKU_USER + 1, CKU_USER, CKR_USER_ALREADY_LOGGED_IN},
        {CKU_USER + 1, CKU_SO, CKR_USER_ANOTHER_ALREADY_LOGGED_IN},
        {CKU_SO + 1, CKU_SO, CKR_USER_ALREADY_LOGGED_IN},
        {CKU_SO + 1, CKU_USER, CKR_USER_ANOTHER_ALREADY_LOGGED_IN},
        {0, 7, CKR_USER_TYPE_INVALID},
        {0, CKU_CONTEXT_SPECIFIC, CKR_OPERATION_NOT_INITIALIZED},
    };
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_SESSION_HANDLE h = open_rw();
        CK_RV rv;
        const char *pin_first = cases[i].logged_in - 1 == CKU_SO ? SO_PIN : USER_PIN;
        const char *pin = cases[i].user == CKU_SO ? SO_PIN : USER_PIN;
        if (cases[i].logged_in)
            assert_int_equal(C_Login(h, (CK_USER_TYPE)(cases[i].logged_in - 1), P(pin_first)), CKR_OK);
        rv = C_Login(h, cases[i].user, P(pin));
        if (rv != cases[i].want)
            fail_msg("case %zu: got 0x%lx, want 0x%lx", i, rv, cases[i].want);
        assert_int_equal(C_CloseAllSessions(0), CKR_OK);
    }
}

static void test_so_login_with_read_only_session_open_is_refused(void **state)
{
    CK_SESSION_HANDLE ro, rw;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    ro = open_ro();
    rw = open_rw();
    assert_int_equal(C_Login(rw, CKU_SO, P(SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_Login(rw, CKU_SO, P(SO_PIN)), CKR_OK);
}

static void test_read_only_session_while_so_logged_in_is_refused(void **state)
{
    CK_SESSION_HANDLE rw, ro;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    rw = open_rw();
    assert_int_equal(C_Login(rw, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_SESSION_READ_WRITE_SO_EXISTS);
}

static void test_logout_when_not_logged_in(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    h = open_ro();
    assert_int_equal(C_Logout(h), CKR_USER_NOT_LOGGED_IN);
}

static void test_closing_last_session_logs_out(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    h = open_ro();
    assert_int_equal(state_of(h), CKS_RO_PUBLIC_SESSION);
}

static void test_close_all_sessions_logs_out_and_invalidates(void **state)
{
    CK_SESSION_HANDLE a, b;
    CK_SESSION_INFO si;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    a = open_ro();
    b = open_rw();
    assert_int_equal(C_Login(a, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(C_CloseAllSessions(0), CKR_OK);
    assert_int_equal(C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GetSessionInfo(b, &si), CKR_SESSION_HANDLE_INVALID);
    a = open_ro();
    assert_int_equal(state_of(a), CKS_RO_PUBLIC_SESSION);
}

static void test_user_login_before_init_pin_is_not_initialized(void **state)
{
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h;
    (void)state;
    memset(label, ' ', 32);
    assert_int_equal(C_InitToken(0, P(SO_PIN), label), CKR_OK);
    h = open_rw();
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_USER_PIN_NOT_INITIALIZED);
}

static void test_init_token_with_session_open_is_session_exists(void **state)
{
    CK_UTF8CHAR label[32];
    (void)state;
    memset(label, ' ', 32);
    (void)open_ro();
    assert_int_equal(C_InitToken(0, P(SO_PIN), label), CKR_SESSION_EXISTS);
}

static void test_init_token_again_needs_the_so_pin(void **state)
{
    CK_UTF8CHAR label[32];
    (void)state;
    memset(label, ' ', 32);
    p11t_init_token(SO_PIN, USER_PIN);
    assert_int_equal(C_InitToken(0, P("wrong-pin"), label), CKR_PIN_INCORRECT);
    assert_true(token_flags() & CKF_SO_PIN_COUNT_LOW);
    assert_int_equal(C_InitToken(0, P(SO_PIN), label), CKR_OK);
    assert_false(token_flags() & CKF_USER_PIN_INITIALIZED);
    assert_false(token_flags() & CKF_SO_PIN_COUNT_LOW);
}

static void test_init_pin_rules(void **state)
{
    CK_SESSION_HANDLE ro, rw;
    CK_UTF8CHAR label[32];
    (void)state;
    memset(label, ' ', 32);
    assert_int_equal(C_InitToken(0, P(SO_PIN), label), CKR_OK);
    rw = open_rw();
    assert_int_equal(C_InitPIN(rw, P(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
    ro = open_ro();
    assert_int_equal(C_InitPIN(ro, P(USER_PIN)), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_Login(rw, CKU_SO, P(SO_PIN)), CKR_OK);
    assert_int_equal(C_InitPIN(rw, P("12")), CKR_PIN_LEN_RANGE);
    assert_int_equal(C_InitPIN(rw, P(USER_PIN)), CKR_OK);
}

static void test_wrong_pins_raise_count_low_final_try_then_lock(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    assert_int_equal(C_Login(h, CKU_USER, P("000000")), CKR_PIN_INCORRECT);
    assert_true(token_flags() & CKF_USER_PIN_COUNT_LOW);
    for (int i = 0; i < 8; i++)
        assert_int_equal(C_Login(h, CKU_USER, P("000000")), CKR_PIN_INCORRECT);
    assert_true(token_flags() & CKF_USER_PIN_FINAL_TRY);
    assert_int_equal(C_Login(h, CKU_USER, P("000000")), CKR_PIN_LOCKED);
    assert_true(token_flags() & CKF_USER_PIN_LOCKED);
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
}

static void test_pin_counter_survives_reinitialize(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    assert_int_equal(C_Login(h, CKU_USER, P("000000")), CKR_PIN_INCORRECT);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_true(token_flags() & CKF_USER_PIN_COUNT_LOW);
    h = open_ro();
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_false(token_flags() & CKF_USER_PIN_COUNT_LOW);
}

static void test_set_pin_changes_the_user_pin(void **state)
{
    CK_SESSION_HANDLE h;
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    assert_int_equal(C_SetPIN(h, P(USER_PIN), P("654321")), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    h = open_rw();
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(C_SetPIN(h, P("bad-old"), P("654321")), CKR_PIN_INCORRECT);
    assert_int_equal(C_SetPIN(h, P(USER_PIN), P("65")), CKR_PIN_LEN_RANGE);
    assert_int_equal(C_SetPIN(h, P(USER_PIN), P("654321")), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_PIN_INCORRECT);
    assert_int_equal(C_Login(h, CKU_USER, P("654321")), CKR_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TRAW(name) cmocka_unit_test_setup_teardown(name, setup_raw, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TRAW(test_calls_before_initialize_are_not_initialized),
        TRAW(test_initialize_argument_table),
        T(test_initialize_twice_is_already_initialized),
        T(test_finalize_with_reserved_is_arguments_bad),
        TRAW(test_bad_config_fails_initialize_cleanly),
        T(test_forked_child_is_not_initialized_until_it_initializes),
        T(test_function_list_is_complete_and_2_40),
        T(test_slot_list_two_call_convention),
        TRAW(test_absent_chip_is_token_not_present),
        T(test_invalid_slot_is_slot_id_invalid),
        T(test_token_info_reports_chip_and_blank_token),
        T(test_init_token_and_pin_set_flags),
        T(test_mechanism_list_and_info),
        T(test_open_session_requires_serial_flag),
        T(test_invalid_session_handle_everywhere),
        T(test_session_states_follow_login),
        T(test_login_state_table),
        T(test_so_login_with_read_only_session_open_is_refused),
        T(test_read_only_session_while_so_logged_in_is_refused),
        T(test_logout_when_not_logged_in),
        T(test_closing_last_session_logs_out),
        T(test_close_all_sessions_logs_out_and_invalidates),
        T(test_user_login_before_init_pin_is_not_initialized),
        T(test_init_token_with_session_open_is_session_exists),
        T(test_init_token_again_needs_the_so_pin),
        T(test_init_pin_rules),
        T(test_wrong_pins_raise_count_low_final_try_then_lock),
        T(test_pin_counter_survives_reinitialize),
        T(test_set_pin_changes_the_user_pin),
        T(test_provisioned_key_private_only_after_login),
        T(test_find_objects_state_errors),
        T(test_token_object_in_read_only_session_is_refused),
        T(test_private_object_needs_user_login),
        T(test_token_object_persists_and_destroy_removes_it),
        T(test_session_object_dies_with_its_session),
        T(test_sign_two_call_and_verify_round_trip),
        T(test_multipart_sign_equals_raw_ecdsa_over_sha256),
        T(test_sign_without_login_is_user_not_logged_in),
        T(test_digest_sha256_known_answer),
        T(test_generate_key_pair_uses_free_slots_until_full),
        T(test_generated_key_signs_and_verifies),
        T(test_generate_random_fills_any_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
