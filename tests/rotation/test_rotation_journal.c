/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the rotation journal (atomic write, strict load, start-up
 * decision table) and of the pure renewal timing.
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

#include "rotation_journal.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/rotation-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char p[128];
    (void)state;
    snprintf(p, sizeof(p), "%s/%s", dir, ROTATION_JOURNAL_FILE);
    unlink(p);
    snprintf(p, sizeof(p), "%s/.%s.tmp", dir, ROTATION_JOURNAL_FILE);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void sample(struct rotation_record *r, enum rotation_step step)
{
    memset(r, 0, sizeof(*r));
    r->step = step;
    r->slot_id = 3;
    r->slot_id_recorded = true;   /* as every version-2 record loads */
    strcpy(r->new_key_id, "a1b2");
    strcpy(r->old_key_id, "01");
    strcpy(r->temp_label, "device.rotating");
    strcpy(r->label, "device");
    strcpy(r->request_id, step >= ROTATION_CSR_PUBLISHED ? "req-42" : "");
    r->started = 1700000000;
    r->updated = 1700000005;
    r->attempt = 2;
    if (step == ROTATION_ACTIVATION_REQUESTED) {
        strcpy(r->ownership_token, "eyJ2ZXJzaW9uIjoiMjAxOS0wNS0xNSJ9.token");
        r->token_expires = 1700003605;
    }
}

static void write_raw(const char *text)
{
    char p[128];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, ROTATION_JOURNAL_FILE);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void round_trip_every_step(void **state)
{
    struct rotation_record r, back;
    char err[256];
    (void)state;

    for (int s = 0; s < ROTATION_STEP_COUNT; s++) {
        sample(&r, (enum rotation_step)s);
        if (s == ROTATION_ROLLED_BACK)
            strcpy(r.error, "CA rejected: \"policy\"");
        assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), 0);
        assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
        assert_memory_equal(&r, &back, sizeof(r));
    }
    assert_int_equal(rotation_journal_clear(dir, err, sizeof(err)), 0);
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_ABSENT);
    /* Clearing twice is fine. */
    assert_int_equal(rotation_journal_clear(dir, err, sizeof(err)), 0);
}

/* The activation steps carry the ownership token and its end to a
 * restart, in a file only the agent's user reads. */
static void activation_token_persisted_privately(void **state)
{
    struct rotation_record r, back;
    struct stat st;
    char err[256], p[128];
    (void)state;

    sample(&r, ROTATION_ACTIVATION_REQUESTED);
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), 0);
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_int_equal(back.step, ROTATION_ACTIVATION_REQUESTED);
    assert_string_equal(back.ownership_token, r.ownership_token);
    assert_true(back.token_expires == r.token_expires);
    snprintf(p, sizeof(p), "%s/%s", dir, ROTATION_JOURNAL_FILE);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Without a token the step cannot be written; the file keeps the last one. */
    r.ownership_token[0] = '\0';
    r.step = ROTATION_ACTIVATION_REQUESTED;
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ownership_token"));
    sample(&r, ROTATION_ACTIVATION_REQUESTED);
    r.token_expires = 0;
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "token_expires"));
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_string_equal(back.ownership_token, "eyJ2ZXJzaW9uIjoiMjAxOS0wNS0xNSJ9.token");
}

/* A version-2 journal (written before activation existed) still loads
 * and recovers as it did. */
static void version_2_journal_still_recovered(void **state)
{
    struct rotation_record back;
    char err[256];
    (void)state;

    write_raw("{\"version\":2,\"step\":\"probe-ok\",\"slot_id\":7,\"new_key_id\":\"a1b2\","
              "\"old_key_id\":\"01\",\"temp_label\":\"device.next\",\"label\":\"device\","
              "\"request_id\":\"req-42\",\"started\":1,\"updated\":2,\"attempt\":1,"
              "\"error\":\"\"}\n");
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_true(back.slot_id_recorded);
    assert_string_equal(back.ownership_token, "");
    assert_int_equal(rotation_recovery_action(&back, 7, NULL), ROTATION_ACTION_COMPLETE);
}

static void write_refuses_inconsistent_record_and_keeps_old(void **state)
{
    struct rotation_record r, back;
    char err[256];
    (void)state;

    sample(&r, ROTATION_KEY_GENERATED);
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), 0);
    sample(&r, ROTATION_CSR_PUBLISHED);
    r.request_id[0] = '\0';
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "request_id"));
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_int_equal(back.step, ROTATION_KEY_GENERATED);
}

static void corrupt_files_are_reported(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"", "empty"},
        {"{\"version\":1,\"step\":\"key-gen", "not one JSON object"},
        {"[1,2]", "expected a JSON object"},
        {"{\"version\":4}", "version 4"},
        /* A version-2 journal knows no activation step nor its fields. */
        {"{\"version\":2,\"step\":\"activated\",\"slot_id\":1,\"new_key_id\":\"a1b2\","
         "\"old_key_id\":\"01\",\"temp_label\":\"t\",\"label\":\"l\",\"request_id\":\"r\","
         "\"started\":1,\"updated\":1,\"attempt\":1,\"error\":\"\"}", "no activation"},
        {"{\"version\":2,\"step\":\"cert-stored\",\"slot_id\":1,\"new_key_id\":\"a1b2\","
         "\"old_key_id\":\"01\",\"temp_label\":\"t\",\"label\":\"l\",\"request_id\":\"r\","
         "\"started\":1,\"updated\":1,\"attempt\":1,\"error\":\"\",\"token_expires\":5}",
         "no activation"},
        /* Version 3: activation-requested without its token. */
        {"{\"version\":3,\"step\":\"activation-requested\",\"slot_id\":1,\"new_key_id\":"
         "\"a1b2\",\"old_key_id\":\"01\",\"temp_label\":\"t\",\"label\":\"l\",\"request_id\":"
         "\"r\",\"started\":1,\"updated\":1,\"attempt\":1,\"error\":\"\",\"ownership_token\":"
         "\"\",\"token_expires\":5}", "ownership_token"},
        {"{\"version\":3,\"step\":\"cert-stored\",\"slot_id\":1,\"new_key_id\":\"a1b2\","
         "\"old_key_id\":\"01\",\"temp_label\":\"t\",\"label\":\"l\",\"request_id\":\"r\","
         "\"started\":1,\"updated\":1,\"attempt\":1,\"error\":\"\"}", "ownership_token"},
        {"{\"version\":1,\"step\":\"dancing\"}", "unknown step"},
        {"{\"version\":1,\"step\":\"idle\",\"bogus\":1}", "unknown key"},
        {"{\"version\":1,\"step\":\"idle\"}", "slot_id"},
        {"{\"version\":1,\"step\":\"key-generated\",\"slot_id\":1,\"new_key_id\":\"xyz\","
         "\"old_key_id\":\"01\",\"temp_label\":\"t\",\"label\":\"l\",\"request_id\":\"\","
         "\"started\":1,\"updated\":1,\"attempt\":0,\"error\":\"\"}", "new_key_id"},
        {"{\"version\":1,\"step\":\"idle\",\"slot_id\":-1}", "slot_id"},
        {"{\"version\":1,\"step\":\"idle\"} trailing", "trailing"},
    };
    struct rotation_record back;
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_raw(cases[i].text);
        err[0] = '\0';
        assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)),
                         ROTATION_LOAD_CORRUPT);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].expect);
        assert_int_equal(back.step, ROTATION_IDLE);
    }
}

static void unreadable_is_io_error(void **state)
{
    struct rotation_record back;
    char err[256];
    (void)state;

    assert_int_equal(rotation_journal_load("/nonexistent-dir-for-test", &back, err, sizeof(err)),
                     ROTATION_LOAD_ABSENT);
    write_raw("{}");
    if (geteuid() != 0) {   /* root reads anything: only meaningful unprivileged */
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", dir, ROTATION_JOURNAL_FILE);
        chmod(p, 0);
        assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_IO);
    }
    assert_int_equal(rotation_journal_write("/nonexistent-dir-for-test", &(struct rotation_record){0},
                                            err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir-for-test"));
}

static void recovery_table(void **state)
{
    static const struct {
        enum rotation_step step;
        enum rotation_action action;
    } table[] = {
        {ROTATION_IDLE, ROTATION_ACTION_NONE},
        {ROTATION_KEY_GENERATED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_CSR_PUBLISHED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_CERT_RECEIVED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_CERT_STORED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_ACTIVATION_REQUESTED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_ACTIVATED, ROTATION_ACTION_ROLL_BACK},
        {ROTATION_PROBE_OK, ROTATION_ACTION_COMPLETE},
        {ROTATION_SWITCHED, ROTATION_ACTION_COMPLETE},
        {ROTATION_COMMITTED, ROTATION_ACTION_COMPLETE},
        {ROTATION_ROLLED_BACK, ROTATION_ACTION_ROLL_BACK},
    };
    struct rotation_record r;
    const char *why;
    (void)state;

    assert_int_equal(sizeof(table) / sizeof(table[0]), ROTATION_STEP_COUNT);
    for (size_t i = 0; i < ROTATION_STEP_COUNT; i++) {
        sample(&r, table[i].step);
        why = NULL;
        if (rotation_recovery_action(&r, r.slot_id, &why) != table[i].action)
            fail_msg("step %s: expected %s", rotation_step_name(table[i].step),
                     rotation_action_name(table[i].action));
        assert_non_null(why);
    }
    /* Inconsistent records are refused, never acted on. */
    sample(&r, ROTATION_SWITCHED);
    strcpy(r.new_key_id, r.old_key_id);
    assert_int_equal(rotation_recovery_action(&r, r.slot_id, NULL), ROTATION_ACTION_REFUSE);
    r.step = (enum rotation_step)42;
    assert_int_equal(rotation_recovery_action(&r, r.slot_id, NULL), ROTATION_ACTION_REFUSE);
}

/* The slot of the token the new key was made on is recorded and checked:
 * recovery never destroys or relabels objects on another slot's token. */
static void recovery_only_on_the_recorded_slot(void **state)
{
    struct rotation_record r, back;
    const char *why = NULL;
    char err[256];
    (void)state;

    sample(&r, ROTATION_CERT_STORED);
    r.slot_id = 0x5a3c11;
    assert_int_equal(rotation_journal_write(dir, &r, err, sizeof(err)), 0);
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_true(back.slot_id == 0x5a3c11);
    assert_true(back.slot_id_recorded);
    assert_int_equal(rotation_recovery_action(&back, 0x5a3c11, NULL), ROTATION_ACTION_ROLL_BACK);
    assert_int_equal(rotation_recovery_action(&back, 0, &why), ROTATION_ACTION_REFUSE);
    assert_non_null(strstr(why, "slot"));
    back.step = ROTATION_SWITCHED;
    assert_int_equal(rotation_recovery_action(&back, 0x5a3c11, NULL), ROTATION_ACTION_COMPLETE);
    assert_int_equal(rotation_recovery_action(&back, 1, NULL), ROTATION_ACTION_REFUSE);
    /* Nothing in progress: nothing to refuse. */
    back.step = ROTATION_IDLE;
    assert_int_equal(rotation_recovery_action(&back, 1, NULL), ROTATION_ACTION_NONE);
}

/* A journal an older agent wrote (version 1, slot_id always 0) is still
 * recovered: its slot_id says nothing. */
static void version_1_journal_recovered_without_slot_check(void **state)
{
    struct rotation_record back;
    char err[256];
    (void)state;

    write_raw("{\"version\":1,\"step\":\"cert-stored\",\"slot_id\":0,\"new_key_id\":\"a1b2\","
              "\"old_key_id\":\"01\",\"temp_label\":\"device.rotating\",\"label\":\"device\","
              "\"request_id\":\"req-42\",\"started\":1,\"updated\":2,\"attempt\":1,"
              "\"error\":\"\"}\n");
    assert_int_equal(rotation_journal_load(dir, &back, err, sizeof(err)), ROTATION_LOAD_OK);
    assert_false(back.slot_id_recorded);
    assert_int_equal(rotation_recovery_action(&back, 1804289383UL, NULL),
                     ROTATION_ACTION_ROLL_BACK);
}

static void step_names_round_trip(void **state)
{
    enum rotation_step s;
    (void)state;

    for (int i = 0; i < ROTATION_STEP_COUNT; i++) {
        assert_int_equal(rotation_step_parse(rotation_step_name((enum rotation_step)i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(rotation_step_parse("Idle", &s), -1);
    assert_int_equal(rotation_step_parse(NULL, &s), -1);
}

/* ---- renewal ---- */

#define DAY 86400LL

static void renewal_two_thirds_for_long_lifetimes(void **state)
{
    struct renewal_policy p;
    (void)state;

    renewal_policy_default(&p);
    /* 365 days: 2/3 = day 243.33, floor = day 335: 2/3 wins. */
    int64_t nb = 1000000, na = nb + 365 * DAY;
    int64_t lo = renewal_due(nb, na, &p, UINT32_MAX);
    int64_t hi = renewal_due(nb, na, &p, 0);
    assert_int_equal(hi, nb + 365 * DAY * 2 / 3);
    /* jitter window: min(365d/20 = 18.25 d, cap 1 d) = 1 d, moved earlier. */
    assert_true(hi - lo < DAY && hi - lo > DAY - 2);
}

static void renewal_floor_for_medium_lifetimes(void **state)
{
    struct renewal_policy p;
    (void)state;

    renewal_policy_default(&p);
    /* 60 days: 2/3 = day 40, floor = day 30: floor wins. */
    int64_t nb = 0, na = 60 * DAY;
    assert_int_equal(renewal_due(nb, na, &p, 0), 30 * DAY);
    assert_true(renewal_due(nb, na, &p, UINT32_MAX) >= 30 * DAY - 3 * DAY);
    /* 10 days: floor is before notBefore: clamp to notBefore. */
    assert_int_equal(renewal_due(0, 10 * DAY, &p, 0), 0);
}

static void renewal_short_lived_uses_fraction_and_jitter(void **state)
{
    struct renewal_policy p;
    (void)state;

    renewal_policy_default(&p);
    p.floor = 0;
    /* 300 s: due at 200 s, jitter window 15 s. */
    assert_int_equal(renewal_due(0, 300, &p, 0), 200);
    assert_int_equal(renewal_due(0, 300, &p, UINT32_MAX), 186);
    assert_int_equal(renewal_due(0, 300, &p, 1u << 31), 193);
    assert_int_equal(renewal_due(10, 10, &p, 0), INT64_MIN);
    assert_int_equal(renewal_due(10, 5, &p, 0), INT64_MIN);
}

static void renewal_retries_escalate_and_are_rate_limited(void **state)
{
    struct renewal_policy p;
    int64_t na = 100 * DAY, now = 50 * DAY, prev = 0;
    (void)state;

    renewal_policy_default(&p);
    /* Not due yet: wait for due. */
    assert_int_equal(renewal_next_attempt(now, now + 100, na, 0, 0, &p), now + 100);
    /* Due and never tried: now. */
    assert_int_equal(renewal_next_attempt(now, now - 5, na, 0, 0, &p), now);
    /* Due, tried 10 s ago, no failure recorded: rate limit (60 s). */
    assert_int_equal(renewal_next_attempt(now, now - 5, na, now - 10, 0, &p), now + 50);
    /* Failures double the delay up to retry_max. */
    for (unsigned f = 1; f <= 12; f++) {
        int64_t d = renewal_next_attempt(now, 0, na, now, f, &p) - now;
        assert_true(d >= prev);
        assert_true(d <= p.retry_max);
        prev = d;
    }
    assert_int_equal(prev, p.retry_max);
    assert_int_equal(renewal_next_attempt(now, 0, na, now, 1, &p), now + 60);
    assert_int_equal(renewal_next_attempt(now, 0, na, now, 3, &p), now + 240);
    /* Near expiry the delay shrinks to a quarter of the time left... */
    assert_int_equal(renewal_next_attempt(na - 400, 0, na, na - 400, 12, &p), na - 300);
    /* ...but never below the rate limit. */
    assert_int_equal(renewal_next_attempt(na - 40, 0, na, na - 40, 12, &p), na + 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(recovery_only_on_the_recorded_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_journal_recovered_without_slot_check, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_refuses_inconsistent_record_and_keeps_old, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(corrupt_files_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(activation_token_persisted_privately, setup, teardown),
        cmocka_unit_test_setup_teardown(version_2_journal_still_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_is_io_error, setup, teardown),
        cmocka_unit_test(recovery_table),
        cmocka_unit_test(step_names_round_trip),
        cmocka_unit_test(renewal_two_thirds_for_long_lifetimes),
        cmocka_unit_test(renewal_floor_for_medium_lifetimes),
        cmocka_unit_test(renewal_short_lived_uses_fraction_and_jitter),
        cmocka_unit_test(renewal_retries_escalate_and_are_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
