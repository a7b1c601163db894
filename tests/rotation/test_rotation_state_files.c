/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rotation's state files are refused at once when they are not
 * regular files (a FIFO would block the agent's start for good), and a
 * finished rotation leaves only the chain of the key in use
 * (agent/rotation_journal.c, agent/rotation_chain.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounded_call.h"
#include "rotation_chain.h"
#include "rotation_journal.h"

static int setup(void **state)
{
    char *dir = strdup("/tmp/tl-rotstate-XXXXXX");

    if (dir == NULL || mkdtemp(dir) == NULL)
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", (char *)*state);
    free(*state);
    return 0;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static int load_journal_child(void *dir)
{
    struct rotation_record rec;
    char err[512] = "";
    enum rotation_load r = rotation_journal_load(dir, &rec, err, sizeof(err));

    printf("journal: %s\n", err);
    return r == ROTATION_LOAD_IO && strstr(err, "FIFO") != NULL ? 0 : 1;
}

static void test_fifo_as_journal_is_refused_without_blocking(void **state)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", (char *)*state, ROTATION_JOURNAL_FILE);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tl_test_bounded_call(load_journal_child, *state, 10), 0);
}

static int load_chain_child(void *dir)
{
    STACK_OF(X509) *chain = NULL;
    char err[512] = "";
    enum rotation_chain_load r = rotation_chain_load(dir, "abcd", NULL, &chain, err, sizeof(err));

    printf("chain: %s\n", err);
    return r == ROTATION_CHAIN_BAD && strstr(err, "FIFO") != NULL ? 0 : 1;
}

static void test_fifo_as_saved_chain_is_refused_without_blocking(void **state)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/chain-abcd.pem", (char *)*state);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tl_test_bounded_call(load_chain_child, *state, 10), 0);
}

static void test_settle_keeps_only_the_chain_of_the_key_in_use(void **state)
{
    const char *dir = *state;

    /* The key in use, a rolled-back rotation's key, an older refused one. */
    touch(dir, "chain-0101.pem");
    touch(dir, "chain-0202.pem");
    touch(dir, "chain-0303.pem");
    touch(dir, "rotation.json.keep");
    assert_int_equal(rotation_chain_settle(dir, "0101", "0202"), 2);
    assert_true(exists(dir, "chain-0101.pem"));
    assert_false(exists(dir, "chain-0202.pem"));
    assert_false(exists(dir, "chain-0303.pem"));
    assert_true(exists(dir, "rotation.json.keep"));
}

static void test_settle_without_the_key_in_use_removes_the_abandoned_chain_only(void **state)
{
    const char *dir = *state;

    touch(dir, "chain-0101.pem");
    touch(dir, "chain-0202.pem");
    assert_int_equal(rotation_chain_settle(dir, "", "0202"), 1);
    assert_true(exists(dir, "chain-0101.pem"));
    assert_false(exists(dir, "chain-0202.pem"));
    assert_int_equal(rotation_chain_settle(dir, NULL, "0909"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fifo_as_journal_is_refused_without_blocking, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fifo_as_saved_chain_is_refused_without_blocking,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_keeps_only_the_chain_of_the_key_in_use, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_settle_without_the_key_in_use_removes_the_abandoned_chain_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
