/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the message spool (agent/spool.c): replay in order, retire,
 * torn tails, corrupt records, limits, refusal of what is not a regular
 * file, compaction, and a crash property over random operations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/spool-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/spool", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct agent_spool *open_ok(const char *path, size_t max_msgs, size_t max_bytes,
                                   struct agent_spool_report *rep)
{
    struct agent_spool_limits lim = {max_msgs, max_bytes};
    struct agent_spool *sp = NULL;
    char err[256] = "";
    int rc = agent_spool_open(path, &lim, &sp, rep, err, sizeof(err));
    if (rc != 0)
        fail_msg("open %s: %s", path, err);
    return sp;
}

static uint64_t append_ok(struct agent_spool *sp, const char *topic, const char *payload)
{
    uint64_t seq = 0;
    char err[256] = "";
    if (agent_spool_append(sp, topic, payload, strlen(payload), 1, false, 1000, &seq, err,
                           sizeof(err)) != 0)
        fail_msg("append: %s", err);
    return seq;
}

static void sync_ok(struct agent_spool *sp)
{
    char err[256] = "";
    if (agent_spool_sync(sp, err, sizeof(err)) != 0)
        fail_msg("sync: %s", err);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void expect_payloads(struct agent_spool *sp, const char *const *want, size_t n)
{
    const struct agent_spool_msg *m = agent_spool_first(sp);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(m);
        assert_int_equal(m->payload_len, strlen(want[i]));
        assert_memory_equal(m->payload, want[i], m->payload_len);
        m = agent_spool_next(m);
    }
    assert_null(m);
}

static void test_crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(agent_spool_crc32c("123456789", 9), 0xE3069283u);
}

static void test_messages_come_back_in_order(void **state)
{
    struct fixture *f = *state;
    struct agent_spool_report rep;
    struct agent_spool *sp = open_ok(f->path, 0, 0, &rep);
    assert_true(rep.created);
    assert_int_equal(append_ok(sp, "t/a", "one"), 1);
    assert_int_equal(append_ok(sp, "t/b", "two"), 2);
    uint64_t seq = 0;
    char err[128];
    assert_int_equal(agent_spool_append(sp, "t/c", "", 0, 1, true, 42, &seq, err, sizeof(err)),
                     0);
    sync_ok(sp);
    agent_spool_close(sp);

    sp = open_ok(f->path, 0, 0, &rep);
    assert_false(rep.created);
    assert_int_equal(rep.messages_restored, 3);
    assert_int_equal(rep.torn_bytes, 0);
    const char *want[] = {"one", "two", ""};
    expect_payloads(sp, want, 3);
    const struct agent_spool_msg *last = agent_spool_find(sp, 3);
    assert_non_null(last);
    assert_string_equal(last->topic, "t/c");
    assert_true(last->retain);
    assert_int_equal(last->accepted_unix_ms, 42);
    /* Sequence numbers go on after a restart, never reused. */
    assert_int_equal(append_ok(sp, "t/d", "four"), 4);
    agent_spool_close(sp);
}

static void test_retired_messages_stay_retired(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    append_ok(sp, "t", "one");
    uint64_t two = append_ok(sp, "t", "two");
    append_ok(sp, "t", "three");
    sync_ok(sp);
    char err[128];
    assert_int_equal(agent_spool_retire(sp, two, err, sizeof(err)), 0);
    assert_int_equal(agent_spool_retire(sp, 999, err, sizeof(err)), 0); /* unknown: no-op */
    agent_spool_close(sp);

    sp = open_ok(f->path, 0, 0, NULL);
    const char *want[] = {"one", "three"};
    expect_payloads(sp, want, 2);
    struct agent_spool_stats st;
    agent_spool_stats(sp, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.pending_bytes, (1 + 3) + (1 + 5)); /* topic + payload */
    assert_int_equal(st.oldest_accepted_unix_ms, 1000);
    assert_int_equal(st.next_seq, 4);
    agent_spool_close(sp);
}

static void test_torn_tail_is_cut_and_the_rest_kept(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    append_ok(sp, "t", "one");
    sync_ok(sp);
    off_t after_one = file_size(f->path);
    append_ok(sp, "t", "two-is-longer");
    sync_ok(sp);
    agent_spool_close(sp);
    assert_int_equal(truncate(f->path, file_size(f->path) - 5), 0);

    struct agent_spool_report rep;
    sp = open_ok(f->path, 0, 0, &rep);
    assert_int_equal(rep.messages_restored, 1);
    assert_true(rep.torn_bytes > 0);
    assert_int_equal(rep.corrupt_skipped, 0);
    assert_int_equal(file_size(f->path), after_one);
    /* Appending after the cut works and is read back. */
    append_ok(sp, "t", "three");
    sync_ok(sp);
    agent_spool_close(sp);
    sp = open_ok(f->path, 0, 0, &rep);
    assert_int_equal(rep.torn_bytes, 0);
    const char *want[] = {"one", "three"};
    expect_payloads(sp, want, 2);
    agent_spool_close(sp);
}

static void corrupt_byte_at(const char *path, off_t where, unsigned char value)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &value, 1, where), 1);
    close(fd);
}

static void test_corrupt_record_in_the_middle_is_skipped(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    append_ok(sp, "t", "one");
    sync_ok(sp);
    off_t second = file_size(f->path);
    append_ok(sp, "t", "two");
    append_ok(sp, "t", "three");
    sync_ok(sp);
    agent_spool_close(sp);
    /* Last byte of the second record's payload: 12 header + 24 fixed body
     * fields + topic "t" + payload "two" = 40 bytes. */
    corrupt_byte_at(f->path, second + 39, 'X');

    struct agent_spool_report rep;
    sp = open_ok(f->path, 0, 0, &rep);
    assert_int_equal(rep.corrupt_skipped, 1);
    assert_int_equal(rep.torn_bytes, 0);
    assert_true(rep.compacted);
    const char *want[] = {"one", "three"};
    expect_payloads(sp, want, 2);
    agent_spool_close(sp);
    /* Rewritten clean: a second open finds nothing wrong. */
    sp = open_ok(f->path, 0, 0, &rep);
    assert_int_equal(rep.corrupt_skipped, 0);
    expect_payloads(sp, want, 2);
    agent_spool_close(sp);
}

static void test_garbage_length_field_is_resynchronised(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    append_ok(sp, "t", "one");
    sync_ok(sp);
    off_t second = file_size(f->path);
    append_ok(sp, "t", "two");
    append_ok(sp, "t", "three");
    sync_ok(sp);
    agent_spool_close(sp);
    corrupt_byte_at(f->path, second + 7, 0x7f); /* top byte of the length */

    struct agent_spool_report rep;
    sp = open_ok(f->path, 0, 0, &rep);
    assert_int_equal(rep.corrupt_skipped, 1);
    const char *want[] = {"one", "three"};
    expect_payloads(sp, want, 2);
    agent_spool_close(sp);
}

static void test_full_spool_refuses_and_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 2, 0, NULL);
    append_ok(sp, "t", "one");
    append_ok(sp, "t", "two");
    off_t before = file_size(f->path);
    char err[256] = "";
    uint64_t seq = 77;
    assert_int_equal(agent_spool_append(sp, "t", "x", 1, 1, false, 1, &seq, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "spool full"));
    assert_int_equal(seq, 77);
    assert_int_equal(file_size(f->path), before);
    struct agent_spool_stats st;
    agent_spool_stats(sp, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.next_seq, 3);

    /* Byte limit: topic + payload. */
    struct agent_spool_limits lim = {0, 10};
    agent_spool_set_limits(sp, &lim);
    assert_int_equal(agent_spool_append(sp, "t", "abc", 3, 1, false, 1, &seq, err, sizeof(err)),
                     -1);
    lim.max_bytes = 12;
    agent_spool_set_limits(sp, &lim);
    assert_int_equal(agent_spool_append(sp, "t", "abc", 3, 1, false, 1, &seq, err, sizeof(err)),
                     0);
    /* Bad arguments are refused too. */
    assert_int_equal(agent_spool_append(sp, "", "abc", 3, 1, false, 1, &seq, err, sizeof(err)),
                     -1);
    assert_int_equal(agent_spool_append(sp, "t", NULL, 3, 1, false, 1, &seq, err, sizeof(err)),
                     -1);
    agent_spool_close(sp);
}

static void test_refuses_fifo_link_and_foreign_files(void **state)
{
    struct fixture *f = *state;
    struct agent_spool_limits lim = {0, 0};
    struct agent_spool *sp = (struct agent_spool *)1;
    char err[256] = "";

    assert_int_equal(mkfifo(f->path, 0600), 0);
    assert_int_equal(agent_spool_open(f->path, &lim, &sp, NULL, err, sizeof(err)), -1);
    assert_null(sp);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(unlink(f->path), 0);

    char target[160];
    snprintf(target, sizeof(target), "%s/target", f->dir);
    FILE *fp = fopen(target, "w");
    assert_non_null(fp);
    fputs("not a spool at all, but somebody's data\n", fp);
    fclose(fp);
    assert_int_equal(symlink(target, f->path), 0);
    assert_int_equal(agent_spool_open(f->path, &lim, &sp, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "symbolic link"));
    assert_int_equal(unlink(f->path), 0);

    off_t before = file_size(target);
    assert_int_equal(agent_spool_open(target, &lim, &sp, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a trustlink spool"));
    assert_int_equal(file_size(target), before);
}

static void test_compaction_keeps_pending_and_shrinks(void **state)
{
    struct fixture *f = *state;
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    char payload[1024];
    memset(payload, 'p', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    uint64_t keep[3];
    char err[256];
    for (int i = 0; i < 200; i++) {
        uint64_t seq = append_ok(sp, "t/bulk", payload);
        if (i % 100 == 7)
            keep[i / 100] = seq;
        else if (agent_spool_retire(sp, seq, err, sizeof(err)) != 0)
            fail_msg("retire: %s", err);
    }
    keep[2] = append_ok(sp, "t/last", "last");
    sync_ok(sp);
    off_t before = file_size(f->path);
    assert_int_equal(agent_spool_compact_if_needed(sp, err, sizeof(err)), 1);
    assert_true(file_size(f->path) < before / 10);
    assert_int_equal(agent_spool_compact_if_needed(sp, err, sizeof(err)), 0);
    /* Appends go to the new file. */
    uint64_t after = append_ok(sp, "t/after", "after");
    sync_ok(sp);
    agent_spool_close(sp);

    sp = open_ok(f->path, 0, 0, NULL);
    const struct agent_spool_msg *m = agent_spool_first(sp);
    for (int i = 0; i < 3; i++) {
        assert_non_null(m);
        assert_int_equal(m->seq, keep[i]);
        m = agent_spool_next(m);
    }
    assert_non_null(m);
    assert_int_equal(m->seq, after);
    assert_null(agent_spool_next(m));
    agent_spool_close(sp);
}

/* Model of what was appended, synced and retired. */
struct model_msg {
    uint64_t seq;
    char payload[32];
    int synced;  /* appended before the last sync */
    int retired;
};

static void copy_prefix(const char *from, const char *to, off_t len)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'", (long long)len, from, to);
    assert_int_equal(system(cmd), 0);
}

/* A crash can cut the file anywhere after what the last sync covered:
 * every synced, never-retired message must come back, and nothing that
 * was never appended may appear. */
static void test_crash_at_any_point_keeps_synced_messages(void **state)
{
    struct fixture *f = *state;
    char crash_path[160];
    snprintf(crash_path, sizeof(crash_path), "%s/crashed", f->dir);
    unsigned seed = 12345;
    struct model_msg model[400];
    size_t n = 0;
    char err[256];
    struct agent_spool *sp = open_ok(f->path, 0, 0, NULL);
    off_t synced_size = file_size(f->path);

    for (int step = 0; step < 400; step++) {
        int op = (int)(rand_r(&seed) % 10);
        if (op < 5 && n < sizeof(model) / sizeof(model[0])) {
            struct model_msg *mm = &model[n++];
            snprintf(mm->payload, sizeof(mm->payload), "msg-%d-%u", step, rand_r(&seed) % 1000);
            mm->seq = append_ok(sp, "t/prop", mm->payload);
            mm->synced = 0;
            mm->retired = 0;
        } else if (op < 7) {
            sync_ok(sp);
            for (size_t i = 0; i < n; i++)
                model[i].synced = 1;
            struct agent_spool_stats st;
            agent_spool_stats(sp, &st);
            synced_size = (off_t)st.file_bytes;
        } else if (op < 9 && n > 0) {
            struct model_msg *mm = &model[rand_r(&seed) % n];
            if (agent_spool_retire(sp, mm->seq, err, sizeof(err)) != 0)
                fail_msg("retire: %s", err);
            mm->retired = 1;
        } else {
            int c = agent_spool_compact_if_needed(sp, err, sizeof(err));
            assert_true(c >= 0);
            if (c == 1) {
                struct agent_spool_stats st;
                agent_spool_stats(sp, &st);
                synced_size = (off_t)st.file_bytes;
                for (size_t i = 0; i < n; i++)
                    model[i].synced = 1; /* compaction writes and syncs them all */
            }
        }
        if (step % 20 != 19)
            continue;
        off_t size = file_size(f->path);
        off_t cut = synced_size + (off_t)(rand_r(&seed) % (unsigned)(size - synced_size + 1));
        copy_prefix(f->path, crash_path, cut);
        struct agent_spool *after = open_ok(crash_path, 0, 0, NULL);
        for (size_t i = 0; i < n; i++) {
            const struct agent_spool_msg *m = agent_spool_find(after, model[i].seq);
            if (model[i].synced && !model[i].retired && m == NULL)
                fail_msg("step %d: synced message %llu lost (cut %lld of %lld)", step,
                         (unsigned long long)model[i].seq, (long long)cut, (long long)size);
            if (m != NULL)
                assert_memory_equal(m->payload, model[i].payload, strlen(model[i].payload));
        }
        for (const struct agent_spool_msg *m = agent_spool_first(after); m != NULL;
             m = agent_spool_next(m)) {
            int known = 0;
            for (size_t i = 0; i < n; i++)
                known |= model[i].seq == m->seq;
            assert_true(known);
        }
        agent_spool_close(after);
    }
    agent_spool_close(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test_setup_teardown(test_messages_come_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retired_messages_stay_retired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut_and_the_rest_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record_in_the_middle_is_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_garbage_length_field_is_resynchronised, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_refuses_and_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_fifo_link_and_foreign_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_keeps_pending_and_shrinks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_at_any_point_keeps_synced_messages, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
