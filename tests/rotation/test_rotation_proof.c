/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/rotation_proof.c: a proof that a journal step is on disk is issued
 * only for a write that succeeded (or a record read back), cannot be made
 * by filling in the struct, and stops counting once the journal moved on.
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

#include "rotation_proof.h"

struct fixture {
    char dir[64];
    struct rotation_record rec;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/trustlink-proof-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->rec.step = ROTATION_KEY_GENERATED;
    snprintf(f->rec.new_key_id, sizeof(f->rec.new_key_id), "a1b2c3d4");
    snprintf(f->rec.old_key_id, sizeof(f->rec.old_key_id), "01");
    snprintf(f->rec.label, sizeof(f->rec.label), "device");
    snprintf(f->rec.temp_label, sizeof(f->rec.temp_label), "device.next");
    snprintf(f->rec.request_id, sizeof(f->rec.request_id), "req-1");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", f->dir, ROTATION_JOURNAL_FILE);
    unlink(path);
    snprintf(path, sizeof(path), "%s/.%s.tmp", f->dir, ROTATION_JOURNAL_FILE);
    rmdir(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_recorded_step_verifies(void **state)
{
    struct fixture *f = *state;
    struct rotation_proof p;
    char err[512];

    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &p, err, sizeof(err)), 0);
    assert_int_equal(rotation_proof_verify(&p, err, sizeof(err)), 0);
    assert_int_equal(p.rec.step, ROTATION_KEY_GENERATED);
}

static void test_failed_write_issues_no_proof(void **state)
{
    struct fixture *f = *state;
    struct rotation_proof p, before;
    char blocker[128], err[512];

    /* The journal's temporary file as a directory: the write fails (EISDIR). */
    snprintf(blocker, sizeof(blocker), "%s/.%s.tmp", f->dir, ROTATION_JOURNAL_FILE);
    assert_int_equal(mkdir(blocker, 0700), 0);
    memset(&p, 0x5a, sizeof(p));
    before = p;
    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &p, err, sizeof(err)), -1);
    assert_memory_equal(&p, &before, sizeof(p));
    assert_int_equal(rotation_proof_verify(&p, err, sizeof(err)), -1);
}

static void test_hand_made_or_edited_proof_is_refused(void **state)
{
    struct fixture *f = *state;
    struct rotation_proof p, forged;
    char err[512];

    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &p, err, sizeof(err)), 0);
    forged = p;
    forged.rec.step = ROTATION_COMMITTED;
    assert_int_equal(rotation_proof_verify(&forged, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not one this process issued"));
    memset(&forged, 0, sizeof(forged));
    snprintf(forged.dir, sizeof(forged.dir), "%s", f->dir);
    forged.rec = f->rec;
    assert_int_equal(rotation_proof_verify(&forged, err, sizeof(err)), -1);
    assert_int_equal(rotation_proof_verify(NULL, err, sizeof(err)), -1);
}

static void test_proof_stops_counting_when_the_journal_moves_on(void **state)
{
    struct fixture *f = *state;
    struct rotation_proof old, now;
    char path[128], err[512];

    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &old, err, sizeof(err)), 0);
    f->rec.step = ROTATION_CSR_PUBLISHED;
    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &now, err, sizeof(err)), 0);
    assert_int_equal(rotation_proof_verify(&old, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "says step csr-published"));
    assert_int_equal(rotation_proof_verify(&now, err, sizeof(err)), 0);
    /* Gone from disk: nothing counts. */
    snprintf(path, sizeof(path), "%s/%s", f->dir, ROTATION_JOURNAL_FILE);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rotation_proof_verify(&now, err, sizeof(err)), -1);
}

static void test_loaded_record_gets_a_proof(void **state)
{
    struct fixture *f = *state;
    struct rotation_proof written, loaded;
    char err[512];

    assert_int_equal(rotation_proof_load(f->dir, &loaded, err, sizeof(err)), ROTATION_LOAD_ABSENT);
    assert_int_equal(rotation_proof_record(f->dir, &f->rec, &written, err, sizeof(err)), 0);
    assert_int_equal(rotation_proof_load(f->dir, &loaded, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_string_equal(loaded.rec.new_key_id, "a1b2c3d4");
    assert_int_equal(rotation_proof_verify(&loaded, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recorded_step_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_issues_no_proof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_made_or_edited_proof_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_proof_stops_counting_when_the_journal_moves_on,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_loaded_record_gets_a_proof, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
