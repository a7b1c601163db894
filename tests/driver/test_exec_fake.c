/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Execution layer over a scripted fake bus: retries on bad CRC, ECC fault
 * and 0xFF, clear errors when faults persist, polling instead of waiting,
 * bounded time when the chip never answers, wake only when needed. The
 * fake is deliberately dumb: it answers commands with canned responses,
 * so these tests pin the driver's behaviour, not a chip model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "atecc608/atecc608.h"
#include "atecc608/crc.h"
#include "transport.h"

enum { FAKE_SCRIPT_MAX = 16, FAKE_FOREVER = 1 << 30 };

struct fake_rsp {
    uint8_t bytes[80];
    size_t len;
    int busy_polls;      /* receive polls NAKed before the answer */
};

struct fake {
    uint64_t now_us;
    struct atecc_clock clock;
    bool awake;
    int wakes_unanswered;  /* wake pulses that get no wake response */
    unsigned wake_pulses;
    unsigned wakes_while_awake;
    unsigned commands;
    uint8_t last_opcode;
    uint8_t out[80];
    size_t out_len;
    size_t out_pos;
    int busy;
    struct fake_rsp script[FAKE_SCRIPT_MAX];
    size_t script_len;
    size_t script_pos;
    bool script_repeat_last;
    char lock_dir[64];
};

static uint64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now_us;
}

static void f_sleep(void *ctx, uint64_t us)
{
    ((struct fake *)ctx)->now_us += us;
}

static void set_out(struct fake *f, const uint8_t *data, size_t n)
{
    f->out[0] = (uint8_t)(n + 3);
    memcpy(f->out + 1, data, n);
    atecc_crc16_put(f->out, n + 1, f->out + n + 1);
    f->out_len = n + 3;
    f->out_pos = 0;
}

/* Default answers so atecc_open's Info + config reads succeed. */
static void default_answer(struct fake *f, const uint8_t *pkt)
{
    uint8_t data[32];
    uint8_t op = pkt[1];

    memset(data, 0, sizeof(data));
    switch (op) {
    case ATECC_OP_INFO:
        data[2] = 0x60;
        data[3] = 0x03;
        set_out(f, data, 4);
        break;
    case ATECC_OP_READ:
        if (pkt[2] == (ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32) && (pkt[3] >> 3) == 2) {
            data[ATECC_CFG_LOCK_VALUE - 64] = 0x00;
            data[ATECC_CFG_LOCK_CONFIG - 64] = 0x00;
            data[ATECC_CFG_SLOT_LOCKED - 64] = 0xFF;
            data[ATECC_CFG_SLOT_LOCKED - 64 + 1] = 0xFF;
        }
        set_out(f, data, (pkt[2] & ATECC_ZONE_READWRITE_32) ? 32 : 4);
        break;
    case ATECC_OP_RANDOM:
        memset(data, 0x42, sizeof(data));
        set_out(f, data, 32);
        break;
    default:
        set_out(f, data, 1);
        break;
    }
}

static enum atecc_bus_result f_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                     unsigned flags)
{
    struct fake *f = ctx;

    (void)flags;
    if (addr7 == 0x00) {
        f->wake_pulses++;
        if (f->awake) {
            f->wakes_while_awake++;
        } else if (f->wakes_unanswered > 0) {
            f->wakes_unanswered--;
        } else {
            static const uint8_t w[4] = ATECC_WAKE_RESPONSE;

            f->awake = true;
            memcpy(f->out, w, 4);
            f->out_len = 4;
            f->out_pos = 0;
        }
        return ATECC_BUS_NAK;
    }
    if (!f->awake || len == 0)
        return ATECC_BUS_NAK;
    switch (data[0]) {
    case ATECC_WORD_IDLE:
    case ATECC_WORD_SLEEP:
        f->awake = false;
        f->busy = 0;  /* whatever it ran is over by the next wake */
        return ATECC_BUS_ACK;
    case ATECC_WORD_RESET:
        if (f->busy > 0) {
            f->busy--;
            return ATECC_BUS_NAK;
        }
        f->out_pos = 0;
        return ATECC_BUS_ACK;
    case ATECC_WORD_COMMAND:
        assert_true(len >= 8);
        assert_true(atecc_crc16_check(data + 1, len - 1));
        f->commands++;
        f->last_opcode = data[2];
        if (f->script_pos < f->script_len) {
            struct fake_rsp *r = &f->script[f->script_pos];

            if (!(f->script_repeat_last && f->script_pos + 1 == f->script_len))
                f->script_pos++;
            memcpy(f->out, r->bytes, r->len);
            f->out_len = r->len;
            f->out_pos = 0;
            f->busy = r->busy_polls;
        } else {
            default_answer(f, data + 1);
            f->busy = 0;
        }
        return ATECC_BUS_ACK;
    default:
        return ATECC_BUS_NAK_DATA;
    }
}

static enum atecc_bus_result f_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    struct fake *f = ctx;

    (void)addr7;
    if (!f->awake || f->busy > 0)
        return ATECC_BUS_NAK;
    for (size_t i = 0; i < len; i++)
        buf[i] = f->out_pos < f->out_len ? f->out[f->out_pos++] : 0xFF;
    return ATECC_BUS_ACK;
}

static const struct atecc_transport_ops fake_ops = { .write = f_write, .read = f_read };

/* Queue a response: data bytes with a correct (or corrupted) CRC. */
static void script(struct fake *f, const uint8_t *data, size_t n, bool bad_crc, int busy)
{
    struct fake_rsp *r = &f->script[f->script_len++];

    assert_true(f->script_len <= FAKE_SCRIPT_MAX);
    r->bytes[0] = (uint8_t)(n + 3);
    memcpy(r->bytes + 1, data, n);
    atecc_crc16_put(r->bytes, n + 1, r->bytes + n + 1);
    if (bad_crc)
        r->bytes[n + 2] ^= 0xA5;
    r->len = n + 3;
    r->busy_polls = busy;
}

static void script_status(struct fake *f, uint8_t status)
{
    script(f, &status, 1, false, 0);
}

static void script_random(struct fake *f, bool bad_crc)
{
    uint8_t r[32];

    memset(r, 0x77, sizeof(r));
    script(f, r, sizeof(r), bad_crc, 0);
}

static int setup(void **state)
{
    struct fake *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->now_us = 5000000;
    f->clock.now_us = f_now;
    f->clock.sleep_us = f_sleep;
    f->clock.ctx = f;
    snprintf(f->lock_dir, sizeof(f->lock_dir), "/tmp/atecc-fake-XXXXXX");
    assert_non_null(mkdtemp(f->lock_dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->lock_dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static atecc_err open_fake(struct fake *f, struct atecc_device **dev, char *detail, size_t n)
{
    struct atecc_options o;

    memset(&o, 0, sizeof(o));
    o.clock = &f->clock;
    o.lock_dir = f->lock_dir;
    o.inproc_ops = &fake_ops;
    o.inproc_ctx = f;
    return atecc_open("inproc:@0x35", &o, dev, detail, n);
}

static struct atecc_device *open_ok(struct fake *f)
{
    struct atecc_device *dev = NULL;
    char detail[512] = "";

    if (open_fake(f, &dev, detail, sizeof(detail)) != ATECC_OK)
        fail_msg("open: %s", detail);
    return dev;
}

static void test_open_learns_model_and_leaves_chip_idle(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);

    assert_int_equal(atecc_model(dev), ATECC_MODEL_608B);
    assert_int_equal(atecc_wake_state(dev, NULL), ATECC_IDLE);
    assert_false(f->awake);
    assert_string_equal(atecc_interface(dev), "inproc:@0x35");
    atecc_close(dev);
}

static void test_bad_response_crc_is_retried_then_succeeds(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    struct atecc_stats st;
    uint8_t r[32];
    unsigned before = f->commands;

    script_random(f, true);
    script_random(f, false);
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    assert_int_equal(r[0], 0x77);
    assert_int_equal(f->commands - before, 2);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.retries, 1);
    atecc_close(dev);
}

static void test_persistent_bad_crc_fails_with_crc_error_after_retries(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];
    unsigned before = f->commands;

    script_random(f, true);
    f->script_repeat_last = true;
    assert_int_equal(atecc_random(dev, r), ATECC_E_CRC);
    assert_int_equal(f->commands - before, 4);  /* 1 + 3 retries */
    assert_non_null(strstr(atecc_error_detail(), "response CRC wrong after 4 tries"));
    atecc_close(dev);
}

static void test_ecc_fault_is_retried(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];

    script_status(f, ATECC_STATUS_ECC_FAULT);
    script_random(f, false);
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    atecc_close(dev);
}

static void test_persistent_ecc_fault_reports_ecc_fault(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];

    script_status(f, ATECC_STATUS_ECC_FAULT);
    f->script_repeat_last = true;
    assert_int_equal(atecc_random(dev, r), ATECC_E_ECC_FAULT);
    assert_non_null(strstr(atecc_error_detail(), "after 4 tries"));
    atecc_close(dev);
}

static void test_chip_crc_status_ff_is_resent(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];

    script_status(f, ATECC_STATUS_CRC_ERROR);
    script_random(f, false);
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    atecc_close(dev);
}

static void test_execution_error_is_not_retried(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];
    unsigned before = f->commands;

    script_status(f, ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(atecc_random(dev, r), ATECC_E_EXECUTION);
    assert_int_equal(f->commands - before, 1);
    atecc_close(dev);
}

static void test_parse_error_status_is_reported_as_parse(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t rsp[8];
    size_t len = 0;

    script_status(f, ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(atecc_execute(dev, 0x99, 0, 0, NULL, 0, rsp, sizeof(rsp), &len), ATECC_E_PARSE);
    atecc_close(dev);
}

static void test_watchdog_status_idles_rewakes_and_resends(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];
    unsigned wakes = f->wake_pulses;

    script_status(f, ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE);
    script_random(f, false);
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    assert_int_equal(f->wake_pulses - wakes, 2);
    assert_int_equal(f->wakes_while_awake, 0);
    atecc_close(dev);
}

static void test_no_device_when_wake_is_never_answered(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = NULL;
    char detail[512] = "";
    uint64_t t0 = f->now_us;

    f->wakes_unanswered = FAKE_FOREVER;
    assert_int_equal(open_fake(f, &dev, detail, sizeof(detail)), ATECC_E_NO_DEVICE);
    assert_null(dev);
    assert_string_equal(detail,
                        "no ATECC608 answered at inproc:@0x35 (wake response missing after 4 "
                        "tries): check wiring and the address");
    assert_int_equal(f->wake_pulses, 4);
    assert_true(f->now_us - t0 < 1000000);
}

static void test_one_missing_wake_response_is_retried(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = NULL;

    f->wakes_unanswered = 1;
    dev = open_ok(f);
    assert_int_equal(f->wake_pulses, 2);
    atecc_close(dev);
}

static void test_busy_chip_is_polled_not_waited_for_maximum(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    struct atecc_stats st;
    uint8_t r[32];
    uint64_t t0;

    memset(r, 1, sizeof(r));
    script(f, r, 32, false, 5);
    t0 = f->now_us;
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.polls, 5);
    /* Random's maximum is 23 ms; the first poll comes well before it and
     * five 1-ms polls later the answer is in. */
    assert_true(f->now_us - t0 < 23000);
    atecc_close(dev);
}

static void test_chip_that_never_finishes_times_out_without_hanging(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];
    uint64_t t0;

    memset(r, 1, sizeof(r));
    script(f, r, 32, false, FAKE_FOREVER);
    f->script_repeat_last = true;
    t0 = f->now_us;
    if (atecc_random(dev, r) != ATECC_E_TIMEOUT)
        fail_msg("not a timeout: %s", atecc_error_detail());
    assert_non_null(strstr(atecc_error_detail(), "no response to command 0x1b"));
    /* 4 tries of (23 ms + 10% + 250 ms margin) at most, plus wakes. */
    assert_true(f->now_us - t0 < 4 * 280000 + 100000);
    atecc_close(dev);
}

static void test_count_byte_beyond_buffer_is_rejected(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];
    struct fake_rsp *bad = &f->script[f->script_len++];

    memset(bad, 0, sizeof(*bad));
    bad->bytes[0] = 0xF0;  /* claims 240 bytes */
    bad->len = 70;
    f->script_repeat_last = true;
    assert_int_equal(atecc_random(dev, r), ATECC_E_RESPONSE);
    assert_non_null(strstr(atecc_error_detail(), "count byte 240"));
    atecc_close(dev);
}

static void test_wrong_response_length_is_rejected(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t r[32];

    memset(r, 3, sizeof(r));
    script(f, r, 4, false, 0);  /* Random answering 4 bytes */
    assert_int_equal(atecc_random(dev, r), ATECC_E_RESPONSE);
    atecc_close(dev);
}

static void test_wake_is_not_sent_to_awake_chip_between_nonce_and_command(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t digest[32] = { 1 };
    uint8_t rsp[70];
    size_t len = 0;
    unsigned wakes = f->wake_pulses;

    assert_int_equal(atecc_nonce_passthrough(dev, ATECC_NONCE_PASSTHROUGH_MSGDIG, digest), ATECC_OK);
    assert_int_equal(atecc_wake_state(dev, NULL), ATECC_AWAKE);
    assert_int_equal(atecc_execute(dev, ATECC_OP_RANDOM, 0, 0, NULL, 0, rsp, sizeof(rsp), &len),
                     ATECC_OK);
    assert_int_equal(f->wake_pulses - wakes, 1);
    assert_int_equal(f->wakes_while_awake, 0);
    assert_int_equal(atecc_wake_state(dev, NULL), ATECC_IDLE);
    atecc_close(dev);
}

static void test_arguments_are_checked(void **state)
{
    struct fake *f = *state;
    struct atecc_device *dev = open_ok(f);
    uint8_t buf[64];

    assert_int_equal(atecc_read(dev, ATECC_ZONE_DATA, 16, 0, 0, buf, 32), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_read(dev, ATECC_ZONE_DATA, 0, 1, 0, buf, 32), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_read(dev, ATECC_ZONE_DATA, 0, 1, 0, buf, 4), ATECC_OK);
    assert_int_equal(atecc_read(dev, ATECC_ZONE_CONFIG, 0, 0, 1, buf, 32), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_read(dev, ATECC_ZONE_CONFIG, 0, 4, 0, buf, 32), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_read(dev, 3, 0, 0, 0, buf, 4), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_read(dev, ATECC_ZONE_OTP, 0, 0, 0, buf, 8), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_sign(dev, 16, buf, buf), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_nonce_passthrough(dev, 0x00, buf), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_random(NULL, buf), ATECC_E_ARGUMENT);
    atecc_close(dev);
}

static void test_inproc_without_ops_is_an_argument_error(void **state)
{
    struct atecc_device *dev = NULL;
    char detail[256] = "";

    (void)state;
    assert_int_equal(atecc_open("inproc:", NULL, &dev, detail, sizeof(detail)), ATECC_E_ARGUMENT);
    assert_null(dev);
    assert_non_null(strstr(detail, "inproc_ops"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_learns_model_and_leaves_chip_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_response_crc_is_retried_then_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_bad_crc_fails_with_crc_error_after_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecc_fault_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_ecc_fault_reports_ecc_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_crc_status_ff_is_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execution_error_is_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_error_status_is_reported_as_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_status_idles_rewakes_and_resends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_device_when_wake_is_never_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_missing_wake_response_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_chip_is_polled_not_waited_for_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_that_never_finishes_times_out_without_hanging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_byte_beyond_buffer_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_response_length_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_is_not_sent_to_awake_chip_between_nonce_and_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_are_checked, setup, teardown),
        cmocka_unit_test(test_inproc_without_ops_is_an_argument_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
