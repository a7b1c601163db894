/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the i2c_emu_shim LD_PRELOAD library against a scripted emu_wire
 * peer (fake_bus.c): the raw i2c-dev API (open, ioctl, read, write, close)
 * must turn into exactly the wire transactions and errno values the shim
 * documents. Run with LD_PRELOAD=libi2c_emu_shim.so (CTest sets it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "atecc608/emu_wire.h"
#include "fake_bus.h"

#define DEV "/dev/i2c-shimtest-7"   /* does not exist: proves /dev is untouched */
#define DEV_OTHER "/dev/i2c-shimtest-8"

struct ctx {
    char dir[64];
    char sock[128];
    struct fake_bus *bus;
};

static int setup(void **state)
{
    static struct ctx c;
    char spec[256];

    memset(&c, 0, sizeof c);
    strcpy(c.dir, "/tmp/i2c-shim-test-XXXXXX");
    if (!mkdtemp(c.dir))
        return -1;
    snprintf(c.sock, sizeof c.sock, "%s/emu.sock", c.dir);
    c.bus = fake_bus_start(c.sock);
    if (!c.bus)
        return -1;
    snprintf(spec, sizeof spec, "%s=%s,%s=%s/absent.sock", DEV, c.sock, DEV_OTHER, c.dir);
    setenv("TRUSTLINK_I2C_SHIM", spec, 1);
    unsetenv("TRUSTLINK_I2C_SHIM_NO_MANGLING");
    unsetenv("TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO");
    *state = &c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;

    fake_bus_stop(c->bus);
    rmdir(c->dir);
    return 0;
}

static int per_test_reset(void **state)
{
    struct ctx *c = *state;

    fake_bus_set_drop(c->bus, 0);
    fake_bus_clear(c->bus);
    unsetenv("TRUSTLINK_I2C_SHIM_NO_MANGLING");
    unsetenv("TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO");
    return 0;
}

static int open_dev(void)
{
    int fd = open(DEV, O_RDWR);

    if (fd < 0)
        fail_msg("open(%s) failed: %s (is the shim in LD_PRELOAD?)", DEV, strerror(errno));
    return fd;
}

static int open_at(uint8_t addr)
{
    int fd = open_dev();

    assert_int_equal(ioctl(fd, I2C_SLAVE, addr), 0);
    return fd;
}

/* ---- open and close ---- */

static void test_open_mapped_path_does_not_touch_dev(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    struct stat st;
    int fd;

    assert_int_equal(stat(DEV, &st), -1);
    fd = open_dev();
    assert_true(fd >= 0);
    /* The shim checks the wire version with a HELLO at open. */
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    assert_int_equal(log[0].op, EMU_WIRE_OP_HELLO);
    assert_int_equal(close(fd), 0);
}

static void test_open_variants_are_intercepted(void **state)
{
    int fds[3];

    (void)state;
    fds[0] = openat(AT_FDCWD, DEV, O_RDWR | O_CLOEXEC);
    fds[1] = open64(DEV, O_RDWR);
    fds[2] = openat64(AT_FDCWD, DEV, O_RDWR);
    for (int i = 0; i < 3; i++) {
        assert_true(fds[i] >= 0);
        assert_int_equal(ioctl(fds[i], I2C_SLAVE, FAKE_ADDR_ACK), 0);
        assert_int_equal(write(fds[i], "\x02", 1), 1);
        assert_int_equal(close(fds[i]), 0);
    }
    assert_int_equal(fcntl(fds[0] = openat(AT_FDCWD, DEV, O_RDWR | O_CLOEXEC), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fds[0]);
}

static void test_open_without_daemon_fails_enodev(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(open(DEV_OTHER, O_RDWR), -1);
    assert_int_equal(errno, ENODEV);
}

static void test_unmapped_paths_pass_through(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    char buf[8];
    char path[160];
    int raw_errno;
    int fd;

    fd = open("/dev/null", O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    assert_int_equal(read(fd, buf, sizeof buf), 0);
    /* The shim's ioctl gives what the system gives for this fd: ENOTTY
     * from the kernel; under qemu-user, which fails ioctls it does not
     * know (the i2c-dev ones) with ENOSYS before any kernel sees them,
     * ENOSYS. The raw system call bypasses the shim's interposition. */
    errno = 0;
    assert_int_equal(syscall(SYS_ioctl, fd, I2C_SLAVE, 0x35), -1);
    raw_errno = errno;
    assert_true(raw_errno == ENOTTY || raw_errno == ENOSYS);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_SLAVE, 0x35), -1);
    assert_int_equal(errno, raw_errno);
    assert_int_equal(close(fd), 0);

    /* A regular file with O_CREAT (mode argument) round-trips its bytes. */
    snprintf(path, sizeof path, "%s/plain", c->dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(read(fd, buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(close(fd), 0);
    assert_int_equal(unlink(path), 0);

    /* A path that only starts like a mapped one is not mapped. */
    errno = 0;
    assert_int_equal(open(DEV "0", O_RDWR), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 0);
}

static void test_closed_fd_number_reused_passes_through(void **state)
{
    char buf[4];
    int fd = open_at(FAKE_ADDR_ACK);
    int again;

    (void)state;
    assert_int_equal(close(fd), 0);
    again = open("/dev/null", O_RDONLY);
    assert_int_equal(again, fd); /* lowest free number comes back */
    assert_int_equal(read(again, buf, sizeof buf), 0);
    close(again);
}

static void test_fd_closed_behind_the_shims_back_is_not_intercepted(void **state)
{
    char buf[4];
    int fd = open_at(FAKE_ADDR_ACK);
    int again;

    (void)state;
    assert_int_equal(syscall(SYS_close, fd), 0); /* close_range-style bypass */
    again = open("/dev/zero", O_RDONLY);
    assert_int_equal(again, fd);
    assert_int_equal(read(again, buf, sizeof buf), 4);
    assert_memory_equal(buf, "\0\0\0\0", 4);
    close(again);
}

/* ---- ioctl ---- */

static void test_slave_address_must_be_7_bit(void **state)
{
    int fd = open_dev();

    (void)state;
    assert_int_equal(ioctl(fd, I2C_SLAVE, 0x7F), 0);
    assert_int_equal(ioctl(fd, I2C_SLAVE_FORCE, 0x00), 0);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_SLAVE, 0x80), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_SLAVE_FORCE, 0x3FF), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_TENBIT, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ioctl(fd, I2C_TENBIT, 0), 0);
    close(fd);
}

static void test_funcs_reports_mangling_unless_disabled(void **state)
{
    unsigned long funcs = 0;
    int fd = open_dev();

    (void)state;
    assert_int_equal(ioctl(fd, I2C_FUNCS, &funcs), 0);
    assert_int_equal(funcs, I2C_FUNC_I2C | I2C_FUNC_PROTOCOL_MANGLING);
    setenv("TRUSTLINK_I2C_SHIM_NO_MANGLING", "1", 1);
    assert_int_equal(ioctl(fd, I2C_FUNCS, &funcs), 0);
    assert_int_equal(funcs, I2C_FUNC_I2C);
    close(fd);
}

static void test_unknown_ioctl_is_enotty(void **state)
{
    int fd = open_dev();
    int dummy = 0;

    (void)state;
    errno = 0;
    assert_int_equal(ioctl(fd, 0x0799, &dummy), -1);
    assert_int_equal(errno, ENOTTY);
    assert_int_equal(ioctl(fd, I2C_TIMEOUT, 10), 0);
    assert_int_equal(ioctl(fd, I2C_RETRIES, 2), 0);
    close(fd);
}

/* ---- read and write ---- */

static void test_write_is_one_write_transaction(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    const uint8_t pkt[] = { 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D };
    int fd = open_at(FAKE_ADDR_ACK);

    fake_bus_clear(c->bus);
    assert_int_equal(write(fd, pkt, sizeof pkt), sizeof pkt);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    assert_int_equal(log[0].op, EMU_WIRE_OP_WRITE);
    assert_int_equal(log[0].addr, FAKE_ADDR_ACK);
    assert_int_equal(log[0].flags, 0);
    assert_int_equal(log[0].len, sizeof pkt);
    assert_memory_equal(log[0].data, pkt, sizeof pkt);
    close(fd);
}

static void test_read_is_one_read_transaction(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t buf[5] = { 0xAA, 0xAA, 0xAA, 0xAA, 0xAA };
    int fd = open_at(FAKE_ADDR_ACK);

    fake_bus_clear(c->bus);
    assert_int_equal(read(fd, buf, 4), 4);
    assert_memory_equal(buf, "\x00\x01\x02\x03\xAA", 5);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    assert_int_equal(log[0].op, EMU_WIRE_OP_READ);
    assert_int_equal(log[0].addr, FAKE_ADDR_ACK);
    assert_int_equal(log[0].len, 4);
    close(fd);
}

static void test_address_nak_is_enxio(void **state)
{
    uint8_t buf[4];
    int fd = open_at(0x50);

    (void)state;
    errno = 0;
    assert_int_equal(write(fd, "\x00", 1), -1);
    assert_int_equal(errno, ENXIO);
    errno = 0;
    assert_int_equal(read(fd, buf, sizeof buf), -1);
    assert_int_equal(errno, ENXIO);
    close(fd);
}

static void test_address_nak_errno_can_be_eremoteio(void **state)
{
    int fd = open_at(0x50);

    (void)state;
    setenv("TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO", "EREMOTEIO", 1);
    errno = 0;
    assert_int_equal(write(fd, "\x00", 1), -1);
    assert_int_equal(errno, EREMOTEIO);
    close(fd);
}

static void test_data_nak_is_eremoteio(void **state)
{
    int fd = open_at(FAKE_ADDR_DATA_NAK);

    (void)state;
    errno = 0;
    assert_int_equal(write(fd, "\x03\x07", 2), -1);
    assert_int_equal(errno, EREMOTEIO);
    close(fd);
}

static void test_default_address_is_zero(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    int fd = open_dev();

    fake_bus_clear(c->bus);
    assert_int_equal(write(fd, "\x00", 1), -1);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    assert_int_equal(log[0].addr, 0x00);
    close(fd);
}

static void test_daemon_gone_is_eio_and_stays_eio(void **state)
{
    struct ctx *c = *state;
    uint8_t buf[4];
    int fd = open_at(FAKE_ADDR_ACK);

    fake_bus_set_drop(c->bus, 1);
    errno = 0;
    assert_int_equal(write(fd, "\x02", 1), -1);
    assert_int_equal(errno, EIO);
    fake_bus_set_drop(c->bus, 0);
    errno = 0;
    assert_int_equal(read(fd, buf, sizeof buf), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(close(fd), 0);
}

/* ---- I2C_RDWR ---- */

static void test_rdwr_runs_each_message_as_one_transaction(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t word = 0x00;
    uint8_t rsp[4] = { 0 };
    struct i2c_msg msgs[2] = {
        { .addr = FAKE_ADDR_ACK, .flags = 0, .len = 1, .buf = &word },
        { .addr = FAKE_ADDR_ACK, .flags = I2C_M_RD, .len = 4, .buf = rsp },
    };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = msgs, .nmsgs = 2 };
    int fd = open_dev();

    fake_bus_clear(c->bus);
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), 2);
    assert_memory_equal(rsp, "\x00\x01\x02\x03", 4);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 2);
    assert_int_equal(log[0].op, EMU_WIRE_OP_WRITE);
    assert_int_equal(log[0].len, 1);
    assert_int_equal(log[1].op, EMU_WIRE_OP_READ);
    assert_int_equal(log[1].len, 4);
    close(fd);
}

static void test_rdwr_ignore_nak_is_forwarded(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t zeros[3] = { 0, 0, 0 };
    struct i2c_msg msg = { .addr = 0x00, .flags = I2C_M_IGNORE_NAK, .len = 3, .buf = zeros };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = &msg, .nmsgs = 1 };
    int fd = open_dev();

    fake_bus_clear(c->bus);
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), 1);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    assert_int_equal(log[0].addr, 0x00);
    assert_int_equal(log[0].flags, EMU_WIRE_IGNORE_NAK);
    assert_int_equal(log[0].len, 3);
    close(fd);
}

static void test_rdwr_ignore_nak_refused_without_mangling(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t zeros[3] = { 0, 0, 0 };
    struct i2c_msg msg = { .addr = 0x00, .flags = I2C_M_IGNORE_NAK, .len = 3, .buf = zeros };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = &msg, .nmsgs = 1 };
    int fd = open_dev();

    setenv("TRUSTLINK_I2C_SHIM_NO_MANGLING", "1", 1);
    fake_bus_clear(c->bus);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 0);
    close(fd);
}

static void test_rdwr_stops_at_first_nak(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t b = 0x02;
    struct i2c_msg msgs[2] = {
        { .addr = 0x51, .flags = 0, .len = 1, .buf = &b },
        { .addr = FAKE_ADDR_ACK, .flags = 0, .len = 1, .buf = &b },
    };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = msgs, .nmsgs = 2 };
    int fd = open_dev();

    fake_bus_clear(c->bus);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, ENXIO);
    assert_int_equal(fake_bus_log(c->bus, log, 4), 1);
    close(fd);
}

static void test_rdwr_rejects_bad_message_sets_before_any_traffic(void **state)
{
    struct ctx *c = *state;
    struct fake_txn log[4];
    uint8_t b = 0;
    static struct i2c_msg many[I2C_RDWR_IOCTL_MAX_MSGS + 1];
    struct i2c_msg msgs[2] = {
        { .addr = FAKE_ADDR_ACK, .flags = 0, .len = 1, .buf = &b },
        { .addr = 0x80, .flags = 0, .len = 1, .buf = &b },
    };
    struct i2c_rdwr_ioctl_data rdwr = { .msgs = msgs, .nmsgs = 2 };
    int fd = open_dev();

    fake_bus_clear(c->bus);
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EINVAL);

    msgs[1].addr = FAKE_ADDR_ACK;
    msgs[1].len = EMU_WIRE_PAYLOAD_MAX + 1;
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EINVAL);

    msgs[1].len = 1;
    msgs[1].flags = I2C_M_RECV_LEN | I2C_M_RD;
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EOPNOTSUPP);

    rdwr.nmsgs = 0;
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EINVAL);

    for (size_t i = 0; i < I2C_RDWR_IOCTL_MAX_MSGS + 1; i++)
        many[i] = (struct i2c_msg){ .addr = FAKE_ADDR_ACK, .flags = 0, .len = 1, .buf = &b };
    rdwr.msgs = many;
    rdwr.nmsgs = I2C_RDWR_IOCTL_MAX_MSGS + 1;
    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, &rdwr), -1);
    assert_int_equal(errno, EINVAL);

    errno = 0;
    assert_int_equal(ioctl(fd, I2C_RDWR, NULL), -1);
    assert_int_equal(errno, EFAULT);

    assert_int_equal(fake_bus_log(c->bus, log, 4), 0);
    close(fd);
}

/* ---- threads ---- */

enum { THREADS = 4, ROUNDS = 200 };

static int shared_fd;

static void *hammer(void *arg)
{
    intptr_t own = (intptr_t)arg;
    uintptr_t bad = 0;

    for (int i = 0; i < ROUNDS; i++) {
        int fd = own ? open(DEV, O_RDWR | O_CLOEXEC) : shared_fd;
        uint8_t buf[32];

        if (fd < 0) {
            bad++;
            continue;
        }
        if (own && ioctl(fd, I2C_SLAVE, FAKE_ADDR_ACK) != 0)
            bad++;
        if (write(fd, "\x03\x07\x30\x00\x00\x00\x03\x5d", 8) != 8)
            bad++;
        if (read(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            bad++;
        for (size_t k = 0; k < sizeof buf; k++)
            bad += buf[k] != k;
        if (own)
            close(fd);
    }
    return (void *)bad;
}

static void test_threads_share_and_open_fds_safely(void **state)
{
    pthread_t t[THREADS];

    (void)state;
    shared_fd = open_at(FAKE_ADDR_ACK);
    for (intptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(i % 2)), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;

        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_int_equal((uintptr_t)bad, 0);
    }
    close(shared_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, per_test_reset)
        T(test_open_mapped_path_does_not_touch_dev),
        T(test_open_variants_are_intercepted),
        T(test_open_without_daemon_fails_enodev),
        T(test_unmapped_paths_pass_through),
        T(test_closed_fd_number_reused_passes_through),
        T(test_fd_closed_behind_the_shims_back_is_not_intercepted),
        T(test_slave_address_must_be_7_bit),
        T(test_funcs_reports_mangling_unless_disabled),
        T(test_unknown_ioctl_is_enotty),
        T(test_write_is_one_write_transaction),
        T(test_read_is_one_read_transaction),
        T(test_address_nak_is_enxio),
        T(test_address_nak_errno_can_be_eremoteio),
        T(test_data_nak_is_eremoteio),
        T(test_default_address_is_zero),
        T(test_daemon_gone_is_eio_and_stays_eio),
        T(test_rdwr_runs_each_message_as_one_transaction),
        T(test_rdwr_ignore_nak_is_forwarded),
        T(test_rdwr_ignore_nak_refused_without_mangling),
        T(test_rdwr_stops_at_first_nak),
        T(test_rdwr_rejects_bad_message_sets_before_any_traffic),
        T(test_threads_share_and_open_fds_safely),
#undef T
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
