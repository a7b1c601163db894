/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox wiring (agent/publish.c) through agent_init/agent_publish/
 * agent_destroy, as the daemon uses it (no broker: the agent never
 * connects here): what is written to STATE_DIR/outbox.spool in each
 * durability mode, what comes back after a restart and in which order,
 * retirement on PUBACK, the bounds, and a state directory that cannot
 * hold the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "publish.h"

struct fixture {
    char dir[64];
    char state[96];
    char config[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/trustlink-outbox-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
    snprintf(f->config, sizeof(f->config), "%s/agent.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_config(const struct fixture *f, const char *mode, unsigned max_messages)
{
    FILE *out = fopen(f->config, "w");

    assert_non_null(out);
    fprintf(out,
            "{\"device_id\":\"dev-1\","
            "\"identity\":{\"key\":\"pkcs11:token=t;object=device;type=private\","
            "\"certificate\":\"pkcs11:token=t;object=device;type=cert\"},"
            "\"broker\":{\"host\":\"127.0.0.1\",\"ca_file\":\"/etc/ca.pem\"},"
            "\"state_dir\":\"%s\","
            "\"telemetry\":{\"queue_durability\":\"%s\",\"queue_max_messages\":%u}}",
            f->state, mode, max_messages);
    assert_int_equal(fclose(out), 0);
}

static struct agent *start(const struct fixture *f)
{
    struct agent *a = calloc(1, sizeof(*a));

    assert_non_null(a);
    assert_int_equal(agent_init(a, f->config), 0);
    return a;
}

static void stop(struct agent *a)
{
    agent_destroy(a);
    free(a);
}

static int publish(struct agent *a, const char *topic, int qos, char *err, size_t len)
{
    err[0] = '\0';
    return agent_publish(a, topic, topic, strlen(topic), qos, false, err, len);
}

static struct agent_outbox_status queue_status(struct agent *a)
{
    struct agent_outbox_status st;

    agent_outbox_get_status(a, &st);
    return st;
}

static void test_qos1_survives_a_restart_in_order_and_qos0_does_not(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512];
    const struct agent_queue_item *it;

    write_config(f, "fsync", 100);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/zero", 0, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/2", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/3", 2, err, sizeof(err)), 0);
    assert_int_equal(queue_status(a).stored, 3);
    assert_int_equal(queue_status(a).messages, 4);
    stop(a);   /* the process ends with nothing delivered */

    a = start(f);
    assert_int_equal(a->queue.count, 3);
    it = agent_queue_peek(&a->queue);
    assert_string_equal(it->topic, "trustlink/dev-1/m/1");
    assert_int_equal(it->qos, 1);
    assert_string_equal(it->next->topic, "trustlink/dev-1/m/2");
    assert_string_equal(it->next->next->topic, "trustlink/dev-1/m/3");
    assert_int_equal(it->next->next->qos, 2);
    assert_int_equal(queue_status(a).restored_at_start, 3);
    /* New messages go behind the restored ones. */
    assert_int_equal(publish(a, "m/4", 1, err, sizeof(err)), 0);
    assert_string_equal(a->queue.tail->topic, "trustlink/dev-1/m/4");
    stop(a);
}

static void test_puback_retires_the_record(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512];

    write_config(f, "fsync", 100);
    a = start(f);
    assert_int_equal(publish(a, "a", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "b", 1, err, sizeof(err)), 0);
    /* As flush_queue does once the client took them: ids 11 and 12. */
    agent_inflight_add(&a->inflight, agent_queue_take(&a->queue), 11);
    agent_inflight_add(&a->inflight, agent_queue_take(&a->queue), 12);
    assert_true(agent_outbox_acked(a, 11));
    assert_false(agent_outbox_acked(a, 99));
    assert_int_equal(queue_status(a).stored, 1);
    stop(a);

    a = start(f);
    assert_int_equal(a->queue.count, 1);
    assert_string_equal(agent_queue_peek(&a->queue)->topic, "trustlink/dev-1/b");
    stop(a);
}

static void test_memory_mode_writes_nothing(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512], path[160];
    struct stat st;

    write_config(f, "memory", 100);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    assert_null(queue_status(a).file);
    assert_string_equal(queue_status(a).durability, "memory");
    stop(a);
    snprintf(path, sizeof(path), "%s/%s", f->state, AGENT_OUTBOX_FILE);
    assert_int_not_equal(stat(path, &st), 0);
    a = start(f);
    assert_int_equal(a->queue.count, 0);
    stop(a);
}

static void test_a_full_queue_refuses_and_keeps_the_old_messages(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512];

    write_config(f, "fsync", 2);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/2", 1, err, sizeof(err)), 0);
    /* Both sent and unacknowledged: they still count against the bound. */
    agent_inflight_add(&a->inflight, agent_queue_take(&a->queue), 1);
    agent_inflight_add(&a->inflight, agent_queue_take(&a->queue), 2);
    assert_int_equal(publish(a, "m/3", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "queue full (2 messages, the limit)"));
    assert_null(strstr(err, "offline queue"));
    assert_int_equal(queue_status(a).stored, 2);
    stop(a);
    a = start(f);
    assert_int_equal(a->queue.count, 2);
    stop(a);
}

static void test_batch_mode_stores_too(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512];

    write_config(f, "batch", 100);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    stop(a);
    a = start(f);
    assert_int_equal(a->queue.count, 1);
    stop(a);
}

static void test_a_fifo_in_place_of_the_file_is_refused_not_waited_on(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512], path[160];

    write_config(f, "fsync", 100);
    assert_int_equal(mkdir(f->state, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s", f->state, AGENT_OUTBOX_FILE);
    assert_int_equal(mkfifo(path, 0600), 0);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "delivery queue file is unavailable"));
    /* QoS 0 needs no file. */
    assert_int_equal(publish(a, "m/0", 0, err, sizeof(err)), 0);
    assert_non_null(queue_status(a).error);
    assert_null(queue_status(a).file);
    stop(a);
}

static void test_a_second_agent_on_the_same_state_dir_is_refused(void **state)
{
    struct fixture *f = *state;
    struct agent *a, *b;
    char err[512];

    write_config(f, "fsync", 100);
    a = start(f);
    b = start(f);
    assert_int_equal(publish(b, "m/1", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "another trustlinkd"));
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    stop(b);
    stop(a);
}

/* A record damaged in the middle of the file is skipped and counted (its
 * message is lost and said so); the others come back in order. */
static void test_a_corrupt_record_is_skipped_and_counted(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512], path[160];
    unsigned char buf[4096];
    FILE *io;
    size_t n;
    struct agent_outbox_status st;

    write_config(f, "fsync", 100);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/2", 1, err, sizeof(err)), 0);
    assert_int_equal(publish(a, "m/3", 1, err, sizeof(err)), 0);
    stop(a);
    snprintf(path, sizeof(path), "%s/%s", f->state, AGENT_OUTBOX_FILE);
    io = fopen(path, "r+b");
    assert_non_null(io);
    n = fread(buf, 1, sizeof(buf), io);
    /* The second message's topic ends in "m/2" and its payload is "m/2":
     * change the payload's last byte (its CRC no longer matches). */
    {
        bool found = false;

        for (size_t i = 0; i + 6 <= n && !found; i++) {
            if (memcmp(buf + i, "m/2m/2", 6) == 0) {
                buf[i + 5] = '9';
                found = true;
            }
        }
        assert_true(found);
    }
    assert_int_equal(fseek(io, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, n, io), n);
    assert_int_equal(fclose(io), 0);

    a = start(f);
    st = queue_status(a);
    assert_int_equal(st.corrupt_skipped_at_start, 1);
    assert_int_equal(st.restored_at_start, 2);
    assert_int_equal(a->queue.count, 2);
    assert_string_equal(agent_queue_peek(&a->queue)->topic, "trustlink/dev-1/m/1");
    assert_string_equal(a->queue.tail->topic, "trustlink/dev-1/m/3");
    stop(a);
}

static void test_a_symlink_in_place_of_the_file_is_refused(void **state)
{
    struct fixture *f = *state;
    struct agent *a;
    char err[512], path[160], target[160];

    write_config(f, "fsync", 100);
    assert_int_equal(mkdir(f->state, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s", f->state, AGENT_OUTBOX_FILE);
    snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
    assert_int_equal(symlink(target, path), 0);
    a = start(f);
    assert_int_equal(publish(a, "m/1", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "delivery queue file is unavailable"));
    stop(a);
    assert_int_not_equal(access(target, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qos1_survives_a_restart_in_order_and_qos0_does_not,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_puback_retires_the_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_mode_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_full_queue_refuses_and_keeps_the_old_messages,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_mode_stores_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_fifo_in_place_of_the_file_is_refused_not_waited_on,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_second_agent_on_the_same_state_dir_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_corrupt_record_is_skipped_and_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_symlink_in_place_of_the_file_is_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
