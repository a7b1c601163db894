/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token store's ownership contract (store.h): a rewrite keeps the
 * existing file's owner, group and mode; new files get 0600 and, written
 * by root, the store directory's owner; symbolic links are refused. The
 * owner cases need root (CI runs as root): otherwise the test exits 77.
 */
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

#include "p11_test_util.h"
#include "store.h"

/* An account that is not ours: the files must stay its own. */
#define OTHER_UID 65534
#define OTHER_GID 65533

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

/* One write through the store: begin, change the label, commit. */
static enum tok_store_err write_once(const char *dir, const char *label)
{
    struct tok_store *st = NULL;
    char err[512];
    enum tok_store_err e = tok_store_open(dir, &st, err, sizeof(err));
    /* A store the module may not read (a symbolic link) is refused here. */
    if (e != TOK_STORE_OK)
        return e;
    if ((e = tok_store_begin(st)) == TOK_STORE_OK) {
        snprintf(st->data.label, sizeof(st->data.label), "%s", label);
        e = tok_store_commit(st);
        tok_store_end(st);
    }
    tok_store_close(st);
    return e;
}

static struct stat stat_of(const char *dir, const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(lstat(path, &sb), 0);
    return sb;
}

static void test_rewrite_keeps_owner_group_and_mode(void **state)
{
    const char *dir = *state;
    char path[512];
    struct stat sb;
    assert_int_equal(write_once(dir, "first"), TOK_STORE_OK);
    snprintf(path, sizeof(path), "%s/%s", dir, TOK_STORE_FILE);
    assert_int_equal(chown(path, OTHER_UID, OTHER_GID), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(write_once(dir, "second"), TOK_STORE_OK);
    sb = stat_of(dir, TOK_STORE_FILE);
    assert_int_equal(sb.st_uid, OTHER_UID);
    assert_int_equal(sb.st_gid, OTHER_GID);
    assert_int_equal(sb.st_mode & 07777, 0640);
    /* It was really rewritten. */
    char *text = p11t_read_file(path);
    assert_non_null(strstr(text, "second"));
    free(text);
}

static void test_new_store_gets_0600_and_the_directory_owner(void **state)
{
    const char *dir = *state;
    char store[512];
    struct stat sb;
    snprintf(store, sizeof(store), "%s/svc", dir);
    assert_int_equal(mkdir(store, 0750), 0);
    assert_int_equal(chown(store, OTHER_UID, OTHER_GID), 0);
    assert_int_equal(write_once(store, "new"), TOK_STORE_OK);
    sb = stat_of(store, TOK_STORE_FILE);
    assert_int_equal(sb.st_uid, OTHER_UID);
    assert_int_equal(sb.st_gid, OTHER_GID);
    assert_int_equal(sb.st_mode & 07777, 0600);
    sb = stat_of(store, TOK_STORE_LOCK);
    assert_int_equal(sb.st_uid, OTHER_UID);
    assert_int_equal(sb.st_gid, OTHER_GID);
    assert_int_equal(sb.st_mode & 07777, 0600);
}

static void test_symlinked_store_file_is_refused(void **state)
{
    const char *dir = *state;
    char path[512], target[512];
    char *before, *after;
    assert_int_equal(write_once(dir, "first"), TOK_STORE_OK);
    snprintf(path, sizeof(path), "%s/%s", dir, TOK_STORE_FILE);
    snprintf(target, sizeof(target), "%s/elsewhere.json", dir);
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink(target, path), 0);
    before = p11t_read_file(target);
    assert_int_equal(write_once(dir, "second"), TOK_STORE_IO);
    after = p11t_read_file(target);
    assert_string_equal(before, after);
    assert_true(S_ISLNK(stat_of(dir, TOK_STORE_FILE).st_mode));
    free(before);
    free(after);
}

static void test_symlinked_lock_file_is_refused(void **state)
{
    const char *dir = *state;
    char lock[512], target[512];
    struct tok_store *st = NULL;
    char err[512];
    snprintf(lock, sizeof(lock), "%s/%s", dir, TOK_STORE_LOCK);
    snprintf(target, sizeof(target), "%s/victim", dir);
    assert_int_equal(symlink(target, lock), 0);
    assert_int_equal(tok_store_open(dir, &st, err, sizeof(err)), TOK_STORE_OK);
    assert_int_equal(tok_store_begin(st), TOK_STORE_IO);
    assert_int_equal(access(target, F_OK), -1);
    tok_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rewrite_keeps_owner_group_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_store_gets_0600_and_the_directory_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_store_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_lock_file_is_refused, setup, teardown),
    };
    if (geteuid() != 0) {
        printf("test_p11_store_owner: skipped: needs root to give files another owner (CI runs as root)\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
