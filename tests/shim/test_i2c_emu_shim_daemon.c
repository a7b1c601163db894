/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The raw i2c-dev API through the i2c_emu_shim against a real atecc608-emu
 * daemon: what a Linux program sees on /dev/i2c-N with a Trust&GO chip at
 * 0x35 behind it. Usage: test_i2c_emu_shim_daemon PATH-TO-atecc608-emu,
 * run with LD_PRELOAD=libi2c_emu_shim.so (CTest sets it). The daemon runs
 * on a socket in a fresh temp dir at time scale 0 and is killed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "target_exec.h"

#include "atecc608/crc.h"
#include "atecc608/protocol.h"

#define DEV "/dev/i2c-7"

enum {
    START_TIMEOUT_MS = 10000,
    POLL_TRIES = 200,   /* response polls, 1 ms apart: far above Info's 5 ms */
};

static const char *emu_path;

struct ctx {
    char dir[64];
    char sock[128];
    char state[128];
    char log[128];
    pid_t pid;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool log_says_listening(const char *log)
{
    char buf[4096];
    ssize_t n;
    int fd = open(log, O_RDONLY);

    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, "atecc608-emu: listening on") != NULL;
}

static int start_daemon(struct ctx *c)
{
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        int fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        /* The daemon needs no shim. */
        unsetenv("LD_PRELOAD");
        {
            char *const args[] = { (char *)emu_path, "--socket", c->sock, "--state", c->state,
                                   "--profile", "trustandgo", "--time-scale", "0", NULL };

            (void)target_execv(emu_path, args);
        }
        _exit(127);
    }
    for (unsigned waited = 0; waited < START_TIMEOUT_MS; waited += 10) {
        int status;

        if (log_says_listening(c->log))
            return 0;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            fprintf(stderr, "atecc608-emu exited early (status 0x%x); see %s\n", (unsigned)status, c->log);
            c->pid = -1;
            return -1;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "atecc608-emu did not print 'listening on' within %d ms\n", START_TIMEOUT_MS);
    return -1;
}

static void stop_daemon(struct ctx *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        c->pid = -1;
    }
}

static int setup(void **state)
{
    static struct ctx c;
    char spec[256];

    memset(&c, 0, sizeof c);
    c.pid = -1;
    strcpy(c.dir, "/tmp/i2c-shim-emu-XXXXXX");
    if (!mkdtemp(c.dir))
        return -1;
    snprintf(c.sock, sizeof c.sock, "%s/emu.sock", c.dir);
    snprintf(c.state, sizeof c.state, "%s/chip.state", c.dir);
    snprintf(c.log, sizeof c.log, "%s/emu.log", c.dir);
    snprintf(spec, sizeof spec, "%s=%s", DEV, c.sock);
    setenv("TRUSTLINK_I2C_SHIM", spec, 1);
    unsetenv("TRUSTLINK_I2C_SHIM_NO_MANGLING");
    *state = &c;
    return start_daemon(&c);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    char path[160];

    stop_daemon(c);
    snprintf(path, sizeof path, "rm -rf -- '%s'", c->dir);
    return system(path) == 0 ? 0 : -1;
}

static int open_chip(void)
{
    int fd = open(DEV, O_RDWR);

    if (fd < 0)
        fail_msg("open(%s) failed: %s (is the shim in LD_PRELOAD?)", DEV, strerror(errno));
    assert_int_equal(ioctl(fd, I2C_SLAVE, ATECC_ADDR_TRUSTANDGO), 0);
    return fd;
}

/* The Linux userspace wake: one byte to address 0x00, NAKed as expected. */
static void wake(int fd)
{
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_SLAVE, 0x00), 0);
    assert_int_equal(write(fd, "\x00", 1), -1);
    assert_true(errno == ENXIO || errno == EREMOTEIO);
    assert_int_equal(ioctl(fd, I2C_SLAVE, ATECC_ADDR_TRUSTANDGO), 0);
    sleep_ms(2); /* tWHI 1.5 ms */
}

static void expect_wake_response(int fd)
{
    const uint8_t want[4] = ATECC_WAKE_RESPONSE;
    uint8_t got[4] = { 0 };

    assert_int_equal(read(fd, got, sizeof got), sizeof got);
    assert_memory_equal(got, want, sizeof want);
}

/* Reads one response, polling while the chip NAKs (busy). */
static size_t read_response(int fd, uint8_t *rsp, size_t cap)
{
    for (int i = 0; i < POLL_TRIES; i++) {
        if (read(fd, rsp, 1) == 1) {
            size_t count = rsp[0];

            assert_true(count >= ATECC_RSP_MIN && count <= cap);
            assert_int_equal(read(fd, rsp + 1, count - 1), (ssize_t)(count - 1));
            return count;
        }
        assert_true(errno == ENXIO || errno == EREMOTEIO);
        sleep_ms(1);
    }
    fail_msg("chip stayed busy for %d polls", POLL_TRIES);
    return 0;
}

static void send_info(int fd)
{
    uint8_t pkt[8] = { ATECC_WORD_COMMAND, 0x07, ATECC_OP_INFO, ATECC_INFO_REVISION, 0x00, 0x00 };

    atecc_crc16_put(pkt + 1, 5, pkt + 6);
    assert_memory_equal(pkt + 6, "\x03\x5d", 2); /* the well-known Info packet */
    assert_int_equal(write(fd, pkt, sizeof pkt), sizeof pkt);
}

static void idle(int fd)
{
    assert_int_equal(write(fd, "\x02", 1), 1);
}

static void test_wake_then_read_gives_wake_status(void **state)
{
    int fd = open_chip();

    (void)state;
    wake(fd);
    expect_wake_response(fd);
    idle(fd);
    close(fd);
}

static void test_info_command_answers_revision(void **state)
{
    uint8_t rsp[ATECC_RSP_MAX];
    int fd = open_chip();

    (void)state;
    wake(fd);
    expect_wake_response(fd);
    send_info(fd);
    assert_int_equal(read_response(fd, rsp, sizeof rsp), 7);
    assert_true(atecc_crc16_check(rsp, 7));
    assert_memory_equal(rsp + 1, "\x00\x00\x60", 3);
    assert_true(rsp[4] == ATECC_REVISION_608A || rsp[4] >= ATECC_REVISION_608B);
    idle(fd);
    close(fd);
}

static void test_unknown_address_naks(void **state)
{
    uint8_t buf[4];
    int fd = open_chip();

    (void)state;
    wake(fd);
    assert_int_equal(ioctl(fd, I2C_SLAVE, 0x50), 0);
    errno = 0;
    assert_int_equal(write(fd, "\x02", 1), -1);
    assert_int_equal(errno, ENXIO);
    errno = 0;
    assert_int_equal(read(fd, buf, sizeof buf), -1);
    assert_int_equal(errno, ENXIO);
    assert_int_equal(ioctl(fd, I2C_SLAVE, ATECC_ADDR_TRUSTANDGO), 0);
    idle(fd);
    close(fd);
}

static void test_funcs_reports_plain_i2c_and_mangling(void **state)
{
    unsigned long funcs = 0;
    int fd = open_chip();

    (void)state;
    assert_int_equal(ioctl(fd, I2C_FUNCS, &funcs), 0);
    assert_int_equal(funcs, I2C_FUNC_I2C | I2C_FUNC_PROTOCOL_MANGLING);
    close(fd);
}

/* A sleeping chip woken by zero bytes with I2C_M_IGNORE_NAK (the wake
 * above 100 kHz), then read in the same I2C_RDWR call. */
static void test_rdwr_ignore_nak_wake_and_read(void **state)
{
    const uint8_t want[4] = ATECC_WAKE_RESPONSE;
    uint8_t zeros[3] = { 0, 0, 0 };
    uint8_t got[4] = { 0 };
    struct i2c_msg wake_msg = { .addr = 0x00, .flags = I2C_M_IGNORE_NAK, .len = sizeof zeros, .buf = zeros };
    struct i2c_msg read_msg = { .addr = ATECC_ADDR_TRUSTANDGO, .flags = I2C_M_RD, .len = 4, .buf = got };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = &wake_msg, .nmsgs = 1 };
    int fd = open_chip();

    (void)state;
    wake(fd);
    expect_wake_response(fd);
    assert_int_equal(write(fd, "\x01", 1), 1); /* sleep */
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), 1);
    sleep_ms(2);
    rdwr.msgs = &read_msg;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), 1);
    assert_memory_equal(got, want, sizeof want);
    idle(fd);
    close(fd);
}

static void test_unmapped_path_is_untouched(void **state)
{
    char buf[4];
    int fd = open("/dev/null", O_RDWR);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abcd", 4), 4);
    assert_int_equal(read(fd, buf, sizeof buf), 0);
    assert_int_equal(close(fd), 0);
}

/* Must run last: it stops the daemon. */
static void test_daemon_gone_gives_eio(void **state)
{
    struct ctx *c = *state;
    int fd = open_chip();

    stop_daemon(c);
    errno = 0;
    assert_int_equal(write(fd, "\x02", 1), -1);
    assert_int_equal(errno, EIO);
    close(fd);
    errno = 0;
    assert_int_equal(open(DEV, O_RDWR), -1);
    assert_int_equal(errno, ENODEV);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_then_read_gives_wake_status),
        cmocka_unit_test(test_info_command_answers_revision),
        cmocka_unit_test(test_unknown_address_naks),
        cmocka_unit_test(test_funcs_reports_plain_i2c_and_mangling),
        cmocka_unit_test(test_rdwr_ignore_nak_wake_and_read),
        cmocka_unit_test(test_unmapped_path_is_untouched),
        cmocka_unit_test(test_daemon_gone_gives_eio),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-atecc608-emu\n", argv[0]);
        return 2;
    }
    emu_path = argv[1];
    return cmocka_run_group_tests(tests, setup, teardown);
}
