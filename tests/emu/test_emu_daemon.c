/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-emu daemon: started as a process on a temporary socket and
 * spoken to with the emu_wire framing, as the driver's transport would.
 * Timeouts below only keep a broken daemon from hanging the test run;
 * no test asserts how long anything takes. The watchdog tests sleep at a
 * time scale where the margins are 2.3x (the short watchdog surely
 * expired) and 1 s (the long one surely not), never a tight bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "target_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atecc608/crc.h"
#include "atecc608/emu_wire.h"
#include "emu_test_util.h"

#ifndef EMU_DAEMON_PATH
#error "EMU_DAEMON_PATH must name the atecc608-emu binary"
#endif

enum { GUARD_MS = 10000 };

struct daemon {
    pid_t pid;
    int err_fd;
    char dir[256];
    char sock[300];
    char state[300];
    char log[4096];
    size_t log_len;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Reads the daemon's stderr until `needle` appears or it closes. */
static bool daemon_wait_log(struct daemon *d, const char *needle)
{
    for (unsigned waited = 0; waited < GUARD_MS;) {
        struct pollfd pfd = { .fd = d->err_fd, .events = POLLIN };
        ssize_t n;

        if (strstr(d->log, needle) != NULL)
            return true;
        if (poll(&pfd, 1, 100) <= 0) {
            waited += 100;
            continue;
        }
        n = read(d->err_fd, d->log + d->log_len, sizeof(d->log) - 1 - d->log_len);
        if (n <= 0)
            return strstr(d->log, needle) != NULL;
        d->log_len += (size_t)n;
        d->log[d->log_len] = '\0';
    }
    return false;
}

/* Starts the daemon with extra arguments (NULL-terminated list); its
 * stdout and stderr go to d->err_fd. */
static void daemon_spawn(struct daemon *d, const char *const *extra)
{
    const char *argv[32];
    size_t argc = 0;
    int pipe_fds[2];

    argv[argc++] = EMU_DAEMON_PATH;
    argv[argc++] = "--socket";
    argv[argc++] = d->sock;
    argv[argc++] = "--time-scale";
    argv[argc++] = "0";
    for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 30; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    assert_int_equal(pipe(pipe_fds), 0);
    d->log_len = 0;
    d->log[0] = '\0';
    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        dup2(pipe_fds[1], STDOUT_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        (void)target_execv(EMU_DAEMON_PATH, (char *const *)argv);
        _exit(127);
    }
    close(pipe_fds[1]);
    d->err_fd = pipe_fds[0];
}

/* Waits for the daemon to exit; returns its exit status (or -1). */
static int daemon_reap(struct daemon *d)
{
    int status = 0;

    for (unsigned waited = 0; waited < GUARD_MS; waited += 10) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            (void)daemon_wait_log(d, "\x01"); /* drain stderr to EOF */
            close(d->err_fd);
            d->err_fd = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(10);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    close(d->err_fd);
    d->err_fd = -1;
    return -1;
}

static int setup(void **state)
{
    static struct daemon d;

    memset(&d, 0, sizeof(d));
    d.err_fd = -1;
    t_tmpdir(d.dir, sizeof(d.dir));
    snprintf(d.sock, sizeof(d.sock), "%s/run/emu.sock", d.dir); /* parent created by the daemon */
    snprintf(d.state, sizeof(d.state), "%s/chip.state", d.dir);
    *state = &d;
    return 0;
}

static int setup_running(void **state)
{
    struct daemon *d;

    setup(state);
    d = *state;
    daemon_spawn(d, NULL);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start: %s", d->log);
    return 0;
}

static int teardown(void **state)
{
    struct daemon *d = *state;
    char run_dir[320];

    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        (void)daemon_reap(d);
    }
    snprintf(run_dir, sizeof(run_dir), "%s/run", d->dir);
    t_rmdir(run_dir);
    t_rmdir(d->dir);
    return 0;
}

static void set_sun_path(struct sockaddr_un *addr, const char *path)
{
    size_t len = strlen(path);

    assert_true(len < sizeof(addr->sun_path));
    memcpy(addr->sun_path, path, len + 1);
}

static int wire_connect(const struct daemon *d)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = GUARD_MS / 1000 };

    assert_true(fd >= 0);
    set_sun_path(&addr, d->sock);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads exactly len bytes; returns false on EOF. */
static bool recv_all(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* One request; returns the reply result and fills payload. */
static uint8_t wire_call(int fd, uint8_t op, uint8_t addr, uint8_t flags, uint16_t length,
                         const uint8_t *payload, size_t payload_len, uint8_t *reply, size_t cap,
                         size_t *reply_len)
{
    uint8_t header[EMU_WIRE_REQUEST_HEADER] = { op, addr, flags, 0, (uint8_t)(length & 0xFF),
                                                (uint8_t)(length >> 8) };
    uint8_t rheader[EMU_WIRE_REPLY_HEADER];
    size_t len;

    send_all(fd, header, sizeof(header));
    if (payload_len > 0)
        send_all(fd, payload, payload_len);
    assert_true(recv_all(fd, rheader, sizeof(rheader)));
    assert_int_equal(rheader[1], 0);
    len = (size_t)rheader[2] | (size_t)rheader[3] << 8;
    assert_true(len <= cap);
    assert_true(len == 0 || recv_all(fd, reply, len));
    if (reply_len != NULL)
        *reply_len = len;
    return rheader[0];
}

static uint8_t wire_write(int fd, uint8_t addr, uint8_t flags, const uint8_t *data, size_t len)
{
    uint8_t reply[8];

    return wire_call(fd, EMU_WIRE_OP_WRITE, addr, flags, (uint16_t)len, data, len, reply, sizeof(reply), NULL);
}

static uint8_t wire_read(int fd, uint8_t addr, uint8_t *buf, size_t len)
{
    size_t got = 0;
    uint8_t result = wire_call(fd, EMU_WIRE_OP_READ, addr, 0, (uint16_t)len, NULL, 0, buf, len, &got);

    if (result == EMU_WIRE_ACK)
        assert_int_equal(got, len);
    return result;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The chip NAKs while it is busy (or, after a wake, before tWHI): retry
 * with 1 ms pauses, bounded so a broken daemon fails the test. */
static uint8_t wire_write_when_ready(int fd, const uint8_t *data, size_t len)
{
    uint8_t result = EMU_WIRE_NAK_ADDR;

    for (unsigned tries = 0; tries < GUARD_MS && result == EMU_WIRE_NAK_ADDR; tries++) {
        if (tries > 0)
            sleep_ms(1);
        result = wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, data, len);
    }
    return result;
}

static void wire_wake(int fd)
{
    static const uint8_t expected[4] = ATECC_WAKE_RESPONSE;
    uint8_t zero = 0;
    uint8_t reset = ATECC_WORD_RESET;
    uint8_t rsp[4];

    assert_int_equal(wire_write(fd, 0x00, 0, &zero, 1), EMU_WIRE_NAK_ADDR);
    assert_int_equal(wire_write_when_ready(fd, &reset, 1), EMU_WIRE_ACK);
    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp, 4), EMU_WIRE_ACK);
    assert_memory_equal(rsp, expected, 4);
}

/* Command write, then the response as a host reads it: word address
 * 0x00 until ACKed, count, the rest. Returns the count; checks the CRC. */
static size_t wire_command(int fd, uint8_t opcode, uint8_t param1, uint16_t param2, uint8_t *rsp, size_t cap)
{
    uint8_t pkt[16];
    uint8_t reset = ATECC_WORD_RESET;
    size_t len = t_frame(pkt, sizeof(pkt), opcode, param1, param2, NULL, 0);

    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len), EMU_WIRE_ACK);
    assert_int_equal(wire_write_when_ready(fd, &reset, 1), EMU_WIRE_ACK);
    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp, 1), EMU_WIRE_ACK);
    assert_true(rsp[0] >= ATECC_RSP_MIN && rsp[0] <= cap);
    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp + 1, rsp[0] - 1u), EMU_WIRE_ACK);
    assert_true(atecc_crc16_check(rsp, rsp[0]));
    return rsp[0];
}

/* ChipMode (config byte 19), from a 32-byte Read of config block 0. */
static uint8_t wire_read_chip_mode(int fd)
{
    uint8_t rsp[ATECC_RSP_MAX];

    assert_int_equal(wire_command(fd, ATECC_OP_READ, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32, 0, rsp,
                                  sizeof(rsp)),
                     1 + 32 + 2);
    return rsp[1 + ATECC_CFG_CHIP_MODE];
}

static void spawn_and_wait(struct daemon *d, const char *const *extra)
{
    daemon_spawn(d, extra);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start: %s", d->log);
}

static void stop_daemon(struct daemon *d)
{
    assert_int_equal(kill(d->pid, SIGTERM), 0);
    assert_int_equal(daemon_reap(d), 0);
}

static void test_daemon_hello_reports_version_bus_speed_and_time_scale(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    uint8_t reply[16];
    size_t len = 0;

    assert_int_equal(wire_call(fd, EMU_WIRE_OP_HELLO, 0, 0, 0, NULL, 0, reply, sizeof(reply), &len), EMU_WIRE_ACK);
    assert_int_equal(len, EMU_WIRE_HELLO_PAYLOAD);
    assert_int_equal(get32(reply), EMU_WIRE_VERSION);
    assert_int_equal(get32(reply + 4), 100000);
    assert_int_equal(get32(reply + 8), 0);
    close(fd);
}

static void test_daemon_prints_listening_line_with_address(void **state)
{
    struct daemon *d = *state;

    assert_non_null(strstr(d->log, "atecc608-emu: listening on "));
    assert_non_null(strstr(d->log, "profile trustandgo, address 0x35, bus 100000 Hz, time scale 0, watchdog 1.3 s)"));
}

static void test_daemon_wake_and_info_exchange(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    uint8_t rsp[8];

    wire_wake(fd);
    assert_int_equal(wire_command(fd, ATECC_OP_INFO, 0, 0, rsp, sizeof(rsp)), 7);
    assert_int_equal(rsp[3], 0x60);
    assert_int_equal(rsp[4], 0x03);
    close(fd);
}

static void test_daemon_naks_reads_while_chip_sleeps(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    uint8_t rsp[4];

    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp, 4), EMU_WIRE_NAK_ADDR);
    close(fd);
}

static void expect_error_and_close(int fd, const uint8_t *request, size_t len, const char *needle)
{
    uint8_t rheader[EMU_WIRE_REPLY_HEADER];
    char message[256];
    size_t msg_len;
    uint8_t extra;

    send_all(fd, request, len);
    assert_true(recv_all(fd, rheader, sizeof(rheader)));
    assert_int_equal(rheader[0], EMU_WIRE_ERROR);
    msg_len = (size_t)rheader[2] | (size_t)rheader[3] << 8;
    assert_true(msg_len > 0 && msg_len < sizeof(message));
    assert_true(recv_all(fd, (uint8_t *)message, msg_len));
    message[msg_len] = '\0';
    if (strstr(message, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", message, needle);
    /* The daemon closes the connection after an ERROR. */
    assert_int_equal(recv(fd, &extra, 1, 0), 0);
}

static void test_daemon_malformed_frame_gets_error_and_daemon_survives(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    const uint8_t bad_op[EMU_WIRE_REQUEST_HEADER] = { 'Z', 0, 0, 0, 0, 0 };
    uint8_t reply[16];

    expect_error_and_close(fd, bad_op, sizeof(bad_op), "unknown op");
    close(fd);
    fd = wire_connect(d);
    assert_int_equal(wire_call(fd, EMU_WIRE_OP_HELLO, 0, 0, 0, NULL, 0, reply, sizeof(reply), NULL), EMU_WIRE_ACK);
    close(fd);
}

static void test_daemon_rejects_oversized_length_before_reading_payload(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    const uint8_t huge[EMU_WIRE_REQUEST_HEADER] = { 'W', 0x35, 0, 0, 0xFF, 0xFF };

    expect_error_and_close(fd, huge, sizeof(huge), "length");
    close(fd);
}

static void test_daemon_rejects_nonzero_reserved_byte_and_bad_address(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    const uint8_t reserved[EMU_WIRE_REQUEST_HEADER] = { 'H', 0, 0, 7, 0, 0 };
    const uint8_t address[EMU_WIRE_REQUEST_HEADER] = { 'R', 0x80, 0, 0, 4, 0 };

    expect_error_and_close(fd, reserved, sizeof(reserved), "reserved");
    close(fd);
    fd = wire_connect(d);
    expect_error_and_close(fd, address, sizeof(address), "7-bit");
    close(fd);
}

static void test_daemon_fault_request_adds_a_rule_and_bad_spec_gets_error(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    uint8_t reply[256];
    uint8_t pkt[16];
    size_t len;

    assert_int_equal(wire_call(fd, EMU_WIRE_OP_FAULT, 0, 0, 5, (const uint8_t *)"nak@1", 5, reply, sizeof(reply),
                               NULL),
                     EMU_WIRE_ACK);
    wire_wake(fd);
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len), EMU_WIRE_NAK_ADDR);
    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len), EMU_WIRE_ACK);
    assert_int_equal(wire_call(fd, EMU_WIRE_OP_FAULT, 0, 0, 5, (const uint8_t *)"bad@1", 5, reply, sizeof(reply),
                               &len),
                     EMU_WIRE_ERROR);
    assert_true(len > 0);
    close(fd);
}

static void test_daemon_serves_two_clients_on_one_bus(void **state)
{
    struct daemon *d = *state;
    int a = wire_connect(d);
    int b = wire_connect(d);
    uint8_t rsp[4];
    uint8_t reset = ATECC_WORD_RESET;

    wire_wake(a);
    /* b sees the same chip: awake, wake response still in the buffer. */
    assert_int_equal(wire_write(b, ATECC_ADDR_TRUSTANDGO, 0, &reset, 1), EMU_WIRE_ACK);
    assert_int_equal(wire_read(b, ATECC_ADDR_TRUSTANDGO, rsp, 4), EMU_WIRE_ACK);
    assert_int_equal(rsp[1], ATECC_STATUS_AFTER_WAKE);
    close(a);
    close(b);
}

static void test_daemon_sigterm_exits_zero_and_removes_socket(void **state)
{
    struct daemon *d = *state;
    struct stat st;

    assert_int_equal(kill(d->pid, SIGTERM), 0);
    assert_int_equal(daemon_reap(d), 0);
    assert_int_equal(stat(d->sock, &st), -1);
}

static void test_daemon_refuses_a_socket_in_use(void **state)
{
    struct daemon *d = *state;
    struct daemon second = *d;

    daemon_spawn(&second, NULL);
    assert_int_not_equal(daemon_reap(&second), 0);
    assert_non_null(strstr(second.log, "in use"));
    /* The first daemon still serves. */
    close(wire_connect(d));
}

static void test_daemon_removes_a_stale_socket(void **state)
{
    struct daemon *d = *state;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char run_dir[320];
    int fd;

    snprintf(run_dir, sizeof(run_dir), "%s/run", d->dir);
    assert_int_equal(mkdir(run_dir, 0755), 0);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    set_sun_path(&addr, d->sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd); /* bound, never listened: stale */
    daemon_spawn(d, NULL);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start over a stale socket: %s", d->log);
}

static void test_daemon_refuses_a_corrupt_state_file(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--state", d->state, NULL };
    FILE *file = fopen(d->state, "wb");

    assert_non_null(file);
    fputs("garbage", file);
    fclose(file);
    daemon_spawn(d, extra);
    assert_int_equal(daemon_reap(d), 1);
    assert_non_null(strstr(d->log, d->state));
}

static void test_daemon_with_state_and_blank_profile_answers_on_0x60(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--state", d->state, "--profile", "blank", "--bus-hz", "400000", NULL };

    daemon_spawn(d, extra);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start: %s", d->log);
    assert_non_null(strstr(d->log, "profile blank, address 0x60, bus 400000 Hz"));
}

static void test_daemon_help_documents_options_and_fault_grammar(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--help", NULL };

    daemon_spawn(d, extra);
    assert_int_equal(daemon_reap(d), 0);
    assert_non_null(strstr(d->log, "--socket PATH"));
    assert_non_null(strstr(d->log, "--time-scale S"));
    assert_non_null(strstr(d->log, "KIND@N"));
    assert_non_null(strstr(d->log, "KIND:p=P"));
    assert_non_null(strstr(d->log, "nowake"));
    assert_non_null(strstr(d->log, "--long-watchdog"));
    assert_non_null(strstr(d->log, "Real Trust&GO parts ship"));
}

static void test_daemon_without_long_watchdog_chipmode_stays_0x01(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);

    wire_wake(fd);
    assert_int_equal(wire_read_chip_mode(fd), 0x01);
    close(fd);
}

static void test_daemon_long_watchdog_sets_chipmode_0x05_read_over_the_socket(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--long-watchdog", NULL };
    int fd;

    spawn_and_wait(d, extra);
    assert_non_null(strstr(d->log, "time scale 0, watchdog 13 s)"));
    fd = wire_connect(d);
    wire_wake(fd);
    assert_int_equal(wire_read_chip_mode(fd), 0x05);
    close(fd);
}

/*
 * At time scale 0.1 the short watchdog lasts 130 ms and the long one 1.3 s.
 * After a wake the test sleeps 300 ms, then sends Info: answered only if
 * the watchdog is the long one.
 */
static uint8_t info_after_300ms_awake(struct daemon *d, bool long_watchdog)
{
    const char *const extra[] = { "--time-scale", "0.1", long_watchdog ? "--long-watchdog" : NULL, NULL };
    uint8_t pkt[16];
    uint8_t rsp[8];
    size_t len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    uint8_t result;
    int fd;

    spawn_and_wait(d, extra);
    fd = wire_connect(d);
    wire_wake(fd);
    sleep_ms(300);
    result = wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len);
    if (result == EMU_WIRE_ACK) {
        uint8_t reset = ATECC_WORD_RESET;

        assert_int_equal(wire_write_when_ready(fd, &reset, 1), EMU_WIRE_ACK);
        assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp, 7), EMU_WIRE_ACK);
        assert_int_equal(rsp[0], 7);
        assert_true(atecc_crc16_check(rsp, 7));
    }
    close(fd);
    return result;
}

static void test_daemon_long_watchdog_command_succeeds_after_the_short_watchdog_would_expire(void **state)
{
    assert_int_equal(info_after_300ms_awake(*state, true), EMU_WIRE_ACK);
}

static void test_daemon_without_long_watchdog_the_same_command_finds_the_chip_asleep(void **state)
{
    assert_int_equal(info_after_300ms_awake(*state, false), EMU_WIRE_NAK_ADDR);
}

static void test_daemon_long_watchdog_refuses_a_short_watchdog_state_file_and_leaves_it(void **state)
{
    struct daemon *d = *state;
    const char *const create[] = { "--state", d->state, NULL };
    const char *const refuse[] = { "--state", d->state, "--long-watchdog", NULL };
    uint8_t before[4096];
    uint8_t after[4096];
    size_t before_len;
    size_t after_len;
    FILE *file;

    spawn_and_wait(d, create);
    stop_daemon(d);
    file = fopen(d->state, "rb");
    assert_non_null(file);
    before_len = fread(before, 1, sizeof(before), file);
    fclose(file);
    daemon_spawn(d, refuse);
    assert_int_equal(daemon_reap(d), 1);
    assert_non_null(strstr(d->log, "ChipMode 0x01"));
    assert_non_null(strstr(d->log, "--long-watchdog"));
    file = fopen(d->state, "rb");
    assert_non_null(file);
    after_len = fread(after, 1, sizeof(after), file);
    fclose(file);
    assert_true(before_len > 0 && before_len < sizeof(before));
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
}

static void test_daemon_long_watchdog_state_file_keeps_it_without_the_option(void **state)
{
    struct daemon *d = *state;
    const char *const create[] = { "--state", d->state, "--long-watchdog", NULL };
    const char *const plain[] = { "--state", d->state, NULL };

    spawn_and_wait(d, create);
    stop_daemon(d);
    spawn_and_wait(d, plain);
    assert_non_null(strstr(d->log, "watchdog 13 s)"));
    stop_daemon(d);
    spawn_and_wait(d, create); /* the option agrees with the saved chip */
}

static void test_daemon_long_watchdog_with_blank_profile_is_a_usage_error(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--profile", "blank", "--long-watchdog", NULL };

    daemon_spawn(d, extra);
    assert_int_equal(daemon_reap(d), 2);
    assert_non_null(strstr(d->log, "--long-watchdog applies to --profile trustandgo only"));
}

static void test_daemon_rejects_bad_options_with_usage_status(void **state)
{
    struct daemon *d = *state;
    const char *const extra[] = { "--profile", "nonsense", NULL };
    const char *const fault[] = { "--fault", "crc@0", NULL };

    daemon_spawn(d, extra);
    assert_int_equal(daemon_reap(d), 2);
    assert_non_null(strstr(d->log, "--profile"));
    daemon_spawn(d, fault);
    assert_int_equal(daemon_reap(d), 2);
}

#define RUNNING(name) cmocka_unit_test_setup_teardown(name, setup_running, teardown)
#define STOPPED(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUNNING(test_daemon_hello_reports_version_bus_speed_and_time_scale),
        RUNNING(test_daemon_prints_listening_line_with_address),
        RUNNING(test_daemon_wake_and_info_exchange),
        RUNNING(test_daemon_naks_reads_while_chip_sleeps),
        RUNNING(test_daemon_malformed_frame_gets_error_and_daemon_survives),
        RUNNING(test_daemon_rejects_oversized_length_before_reading_payload),
        RUNNING(test_daemon_rejects_nonzero_reserved_byte_and_bad_address),
        RUNNING(test_daemon_fault_request_adds_a_rule_and_bad_spec_gets_error),
        RUNNING(test_daemon_serves_two_clients_on_one_bus),
        RUNNING(test_daemon_sigterm_exits_zero_and_removes_socket),
        RUNNING(test_daemon_refuses_a_socket_in_use),
        STOPPED(test_daemon_removes_a_stale_socket),
        STOPPED(test_daemon_refuses_a_corrupt_state_file),
        STOPPED(test_daemon_with_state_and_blank_profile_answers_on_0x60),
        STOPPED(test_daemon_help_documents_options_and_fault_grammar),
        STOPPED(test_daemon_rejects_bad_options_with_usage_status),
        RUNNING(test_daemon_without_long_watchdog_chipmode_stays_0x01),
        STOPPED(test_daemon_long_watchdog_sets_chipmode_0x05_read_over_the_socket),
        STOPPED(test_daemon_long_watchdog_command_succeeds_after_the_short_watchdog_would_expire),
        STOPPED(test_daemon_without_long_watchdog_the_same_command_finds_the_chip_asleep),
        STOPPED(test_daemon_long_watchdog_refuses_a_short_watchdog_state_file_and_leaves_it),
        STOPPED(test_daemon_long_watchdog_state_file_keeps_it_without_the_option),
        STOPPED(test_daemon_long_watchdog_with_blank_profile_is_a_usage_error),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("emu_daemon", tests, NULL, NULL);
}
