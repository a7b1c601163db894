/* SPDX-License-Identifier: Apache-2.0 */
/* Token store: round trip, atomic replace, corruption refused, reload on
 * change by another process, concurrent writers serialised, PIN counter
 * persisted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "p11_test_util.h"
#include "store.h"

#define PIN(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)

static int setup(void **state)
{
    *state = p11t_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    p11t_rmtree(*state);
    return 0;
}

static struct tok_store *open_ok(const char *dir)
{
    struct tok_store *st = NULL;
    char err[512];
    enum tok_store_err e = tok_store_open(dir, &st, err, sizeof(err));
    if (e != TOK_STORE_OK)
        fail_msg("open %s: %s", dir, err);
    return st;
}

static void add_labelled(struct tok_store *st, const char *label, uint64_t *uid)
{
    p11_attrs a;
    p11_attrs_init(&a);
    assert_int_equal(p11_attrs_set_ulong(&a, CKA_CLASS, CKO_DATA), CKR_OK);
    assert_int_equal(p11_attrs_set(&a, CKA_LABEL, label, (CK_ULONG)strlen(label)), CKR_OK);
    assert_int_equal(tok_store_add_object(st, &a, uid), TOK_STORE_OK);
    p11_attrs_free(&a);
}

static void test_store_missing_file_is_an_uninitialised_token(void **state)
{
    struct tok_store *st = open_ok(*state);
    assert_false(st->data.exists);
    assert_false(st->data.so_pin.set);
    assert_int_equal(st->data.n_objects, 0);
    tok_store_close(st);
}

static void test_store_round_trip_keeps_label_pins_and_objects(void **state)
{
    struct tok_store *st = open_ok(*state), *st2;
    uint64_t uid = 0;
    CK_ULONG cls;
    const CK_ATTRIBUTE *at;
    bool changed;

    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    strcpy(st->data.label, "trustlink");
    assert_int_equal(tok_pin_set(&st->data.so_pin, PIN("so-secret"), 1000), CKR_OK);
    assert_int_equal(tok_pin_set(&st->data.user_pin, PIN("123456"), 1000), CKR_OK);
    st->data.user_pin.failures = 3;
    add_labelled(st, "cert", &uid);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);

    st2 = open_ok(*state);
    assert_true(st2->data.exists);
    assert_string_equal(st2->data.label, "trustlink");
    assert_int_equal(st2->data.generation, st->data.generation);
    assert_int_equal(st2->data.n_objects, 1);
    assert_int_equal(st2->data.objects[0].uid, uid);
    assert_true(p11_attrs_get_ulong(&st2->data.objects[0].attrs, CKA_CLASS, &cls));
    assert_int_equal(cls, CKO_DATA);
    at = p11_attrs_find(&st2->data.objects[0].attrs, CKA_LABEL);
    assert_int_equal(at->ulValueLen, 4);
    assert_memory_equal(at->pValue, "cert", 4);
    assert_int_equal(st2->data.user_pin.failures, 3);
    assert_int_equal(tok_pin_check(&st2->data.so_pin, PIN("so-secret"), &changed), CKR_OK);
    assert_int_equal(tok_pin_check(&st2->data.user_pin, PIN("123456"), &changed), CKR_OK);
    tok_store_close(st2);
    tok_store_close(st);
}

static void test_store_uids_are_never_reused(void **state)
{
    struct tok_store *st = open_ok(*state);
    uint64_t a, b, c;
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    add_labelled(st, "a", &a);
    add_labelled(st, "b", &b);
    assert_true(tok_store_remove_object(st, b));
    add_labelled(st, "c", &c);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    assert_true(c > b && b > a);
    assert_null(tok_store_find_object(st, b));
    assert_non_null(tok_store_find_object(st, c));
    tok_store_close(st);
}

static void test_store_write_leaves_no_temp_file(void **state)
{
    struct tok_store *st = open_ok(*state);
    char cmd[600];
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    add_labelled(st, "a", NULL);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", (char *)*state);
    assert_int_not_equal(system(cmd), 0);
    tok_store_close(st);
}

static void test_store_leftover_temp_file_does_not_confuse_load(void **state)
{
    struct tok_store *st = open_ok(*state), *st2;
    char *tmp;
    char cmd[600];

    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    add_labelled(st, "kept", NULL);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    /* A writer that crashed after writing half a temp file. */
    tmp = p11t_write_file(*state, "token.json.tmp.99999.0", "{\"format\":\"trustlink-tok");
    st2 = open_ok(*state);
    assert_int_equal(st2->data.n_objects, 1);
    /* The next write removes it. */
    assert_int_equal(tok_store_begin(st2), TOK_STORE_OK);
    assert_int_equal(tok_store_commit(st2), TOK_STORE_OK);
    tok_store_end(st2);
    snprintf(cmd, sizeof(cmd), "test -e %s", tmp);
    assert_int_not_equal(system(cmd), 0);
    free(tmp);
    tok_store_close(st2);
    tok_store_close(st);
}

static void test_store_corrupt_file_is_refused_and_left_untouched(void **state)
{
    static const char junk[] = "{\"format\":\"trustlink-token\",\"version\":1,\"generation\":3";
    struct tok_store *st = NULL;
    char err[512];
    char *path = p11t_write_file(*state, "token.json", junk), *after;

    assert_int_equal(tok_store_open(*state, &st, err, sizeof(err)), TOK_STORE_CORRUPT);
    assert_null(st);
    assert_non_null(strstr(err, "is corrupt"));
    assert_non_null(strstr(err, "left untouched"));
    after = p11t_read_file(path);
    assert_string_equal(after, junk);
    free(after);
    free(path);
}

static void test_store_bad_field_names_the_field(void **state)
{
    static const char bad[] =
        "{\"format\":\"trustlink-token\",\"version\":1,\"generation\":3,\"label\":\"x\",\"next_uid\":5,"
        "\"so_pin\":null,\"user_pin\":null,\"objects\":[{\"uid\":1,\"attributes\":[{\"type\":3,"
        "\"value\":\"zz\"}]}]}";
    struct tok_store *st = NULL;
    char err[512];
    char *path = p11t_write_file(*state, "token.json", bad);

    assert_int_equal(tok_store_open(*state, &st, err, sizeof(err)), TOK_STORE_CORRUPT);
    assert_non_null(strstr(err, "objects[0].attributes[0].value"));
    free(path);
}

static void test_store_unknown_version_is_refused(void **state)
{
    static const char v2[] =
        "{\"format\":\"trustlink-token\",\"version\":2,\"generation\":3,\"label\":\"x\",\"next_uid\":1,"
        "\"so_pin\":null,\"user_pin\":null,\"objects\":[]}";
    struct tok_store *st = NULL;
    char err[512];
    char *path = p11t_write_file(*state, "token.json", v2);
    assert_int_equal(tok_store_open(*state, &st, err, sizeof(err)), TOK_STORE_CORRUPT);
    assert_non_null(strstr(err, "(at version)"));
    free(path);
}

static void test_store_corrupt_file_makes_begin_fail_without_writing(void **state)
{
    struct tok_store *st = open_ok(*state);
    char *path = p11t_write_file(*state, "token.json", "garbage"), *after;
    assert_int_equal(tok_store_begin(st), TOK_STORE_CORRUPT);
    assert_int_equal(st->lock_fd, -1);
    after = p11t_read_file(path);
    assert_string_equal(after, "garbage");
    free(after);
    free(path);
    tok_store_close(st);
}

static void test_store_refresh_sees_a_change_by_another_handle(void **state)
{
    struct tok_store *a = open_ok(*state), *b = open_ok(*state);

    assert_int_equal(tok_store_begin(a), TOK_STORE_OK);
    add_labelled(a, "one", NULL);
    assert_int_equal(tok_store_commit(a), TOK_STORE_OK);
    tok_store_end(a);

    assert_int_equal(b->data.n_objects, 0);
    assert_int_equal(tok_store_refresh(b), TOK_STORE_OK);
    assert_int_equal(b->data.n_objects, 1);

    /* Same size, written again: still seen (new inode every write). */
    assert_int_equal(tok_store_begin(a), TOK_STORE_OK);
    strcpy(a->data.label, "x");
    assert_int_equal(tok_store_commit(a), TOK_STORE_OK);
    tok_store_end(a);
    assert_int_equal(tok_store_refresh(b), TOK_STORE_OK);
    assert_string_equal(b->data.label, "x");
    tok_store_close(a);
    tok_store_close(b);
}

static void test_store_abort_discards_uncommitted_edits(void **state)
{
    struct tok_store *st = open_ok(*state);
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    add_labelled(st, "a", NULL);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    add_labelled(st, "b", NULL);
    assert_int_equal(tok_store_abort(st), TOK_STORE_OK);
    tok_store_end(st);
    assert_int_equal(st->data.n_objects, 1);
    tok_store_close(st);
}

static void test_store_pin_failure_counter_persists_across_reload(void **state)
{
    struct tok_store *st = open_ok(*state), *st2;
    bool changed;

    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    assert_int_equal(tok_pin_set(&st->data.user_pin, PIN("123456"), 1000), CKR_OK);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
        assert_int_equal(tok_pin_check(&st->data.user_pin, PIN("999999"), &changed), CKR_PIN_INCORRECT);
        assert_true(changed);
        assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
        tok_store_end(st);
    }
    st2 = open_ok(*state);
    assert_int_equal(st2->data.user_pin.failures, 9);
    assert_int_equal(tok_pin_flags(&st2->data.user_pin, false),
                     CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    tok_store_close(st2);
    tok_store_close(st);
}

#define WRITERS 4
#define WRITES 15

static void test_store_concurrent_writers_are_serialised(void **state)
{
    struct tok_store *st;
    pid_t pids[WRITERS];

    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            struct tok_store *mine = NULL;
            char err[512];
            int bad = 0;
            if (tok_store_open(*state, &mine, err, sizeof(err)) != TOK_STORE_OK)
                _exit(2);
            for (int i = 0; i < WRITES; i++) {
                if (tok_store_begin(mine) != TOK_STORE_OK)
                    bad = 1;
                else {
                    p11_attrs a;
                    p11_attrs_init(&a);
                    if (p11_attrs_set_ulong(&a, CKA_CLASS, CKO_DATA) != CKR_OK ||
                        tok_store_add_object(mine, &a, NULL) != TOK_STORE_OK ||
                        tok_store_commit(mine) != TOK_STORE_OK)
                        bad = 1;
                    p11_attrs_free(&a);
                    tok_store_end(mine);
                }
            }
            tok_store_close(mine);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    st = open_ok(*state);
    assert_int_equal(st->data.n_objects, WRITERS * WRITES);
    assert_int_equal(st->data.generation, WRITERS * WRITES);
    for (size_t i = 0; i < st->data.n_objects; i++)
        for (size_t j = i + 1; j < st->data.n_objects; j++)
            assert_int_not_equal(st->data.objects[i].uid, st->data.objects[j].uid);
    tok_store_close(st);
}

static void test_store_file_is_private_to_its_owner(void **state)
{
    struct tok_store *st = open_ok(*state);
    struct stat sb;
    assert_int_equal(tok_store_begin(st), TOK_STORE_OK);
    assert_int_equal(tok_store_commit(st), TOK_STORE_OK);
    tok_store_end(st);
    assert_int_equal(stat(st->path, &sb), 0);
    assert_int_equal(sb.st_mode & 077, 0);
    tok_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_missing_file_is_an_uninitialised_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_round_trip_keeps_label_pins_and_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_uids_are_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_write_leaves_no_temp_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_leftover_temp_file_does_not_confuse_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_file_is_refused_and_left_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_bad_field_names_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_unknown_version_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_file_makes_begin_fail_without_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_refresh_sees_a_change_by_another_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_abort_discards_uncommitted_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_pin_failure_counter_persists_across_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_concurrent_writers_are_serialised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_file_is_private_to_its_owner, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
