/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The STATS request of atecc608-emu (emu_wire.h) and its command-line
 * reader, atecc608-emu --stats SOCKET. A known exchange over the socket
 * must give exact chip-side counts. The reply is parsed here from the
 * documented layout, byte by byte, not with the emulator's own decoder,
 * so an encoder and decoder that agree on a wrong layout cannot pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atecc608/crc.h"
#include "atecc608/emu_wire.h"
#include "emu_daemon_util.h"
#include "target_exec.h"

enum { SIGN_RSP = 1 + ATECC_P256_SIGNATURE_SIZE + 2 };

/* Counter indexes of layout 1, as emu_wire.h documents them. */
enum { WAKE_PULSES, WAKES, IGNORED_WAKES, TRANSACTIONS, BYTES_TO_CHIP, BYTES_FROM_CHIP, NAKS,
       COMMANDS, IDLES, SLEEPS, WATCHDOG_EXPIRIES, BUSY_US, FAULTS_INJECTED, LAYOUT1_COUNTERS };

struct wire_stats {
    uint64_t counter[LAYOUT1_COUNTERS];
    uint64_t by_opcode[256];
};

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 8; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void wire_stats(int fd, struct wire_stats *out)
{
    static uint8_t reply[EMU_WIRE_PAYLOAD_MAX];
    size_t len = 0;
    uint32_t n;

    assert_int_equal(wire_call(fd, EMU_WIRE_OP_STATS, 0, 0, 0, NULL, 0, reply, sizeof(reply), &len),
                     EMU_WIRE_ACK);
    assert_true(len >= 8);
    assert_int_equal(get32(reply), 1);
    n = get32(reply + 4);
    assert_true(n >= LAYOUT1_COUNTERS);
    assert_int_equal(len, 8 + 8 * (size_t)n + 8 * 256);
    for (unsigned i = 0; i < LAYOUT1_COUNTERS; i++)
        out->counter[i] = get64(reply + 8 + 8 * i);
    for (unsigned op = 0; op < 256; op++)
        out->by_opcode[op] = get64(reply + 8 + 8 * (size_t)n + 8 * op);
}

/* Word address 0x00, count byte, the rest. */
static void wire_response(int fd, uint8_t *rsp, size_t expect_count)
{
    uint8_t reset = ATECC_WORD_RESET;

    assert_int_equal(wire_write_when_ready(fd, &reset, 1), EMU_WIRE_ACK);
    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp, 1), EMU_WIRE_ACK);
    assert_int_equal(rsp[0], expect_count);
    assert_int_equal(wire_read(fd, ATECC_ADDR_TRUSTANDGO, rsp + 1, expect_count - 1), EMU_WIRE_ACK);
    assert_true(atecc_crc16_check(rsp, expect_count));
}

/* Wake, Nonce pass-through, Sign, idle: 12 transactions at time scale 0
 * (the chip is never busy, so none is NAKed but the wake pulse's). */
static void one_signature(int fd)
{
    uint8_t digest[32];
    uint8_t pkt[1 + ATECC_CMD_MAX];
    uint8_t rsp[ATECC_RSP_MAX];
    uint8_t idle = ATECC_WORD_IDLE;
    size_t len;

    memset(digest, 0x5A, sizeof(digest));
    wire_wake(fd);
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, digest, 32);
    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len), EMU_WIRE_ACK);
    wire_response(fd, rsp, ATECC_RSP_STATUS_COUNT);
    assert_int_equal(rsp[1], ATECC_STATUS_SUCCESS);
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0);
    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, pkt, len), EMU_WIRE_ACK);
    wire_response(fd, rsp, SIGN_RSP);
    assert_int_equal(wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, &idle, 1), EMU_WIRE_ACK);
}

static void test_daemon_stats_count_one_signature_exactly(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    struct wire_stats before;
    struct wire_stats after;
    struct wire_stats again;

    wire_stats(fd, &before);
    one_signature(fd);
    wire_stats(fd, &after);
    /* A fresh daemon starts from zero. */
    for (unsigned i = 0; i < LAYOUT1_COUNTERS; i++)
        assert_int_equal(before.counter[i], 0);
    assert_int_equal(after.counter[WAKE_PULSES], 1);
    assert_int_equal(after.counter[WAKES], 1);
    assert_int_equal(after.counter[TRANSACTIONS], 12);
    assert_int_equal(after.counter[NAKS], 0);
    /* To the chip: wake 1 (NAKed at the address), reset 2, read 1, Nonce
     * 1+40, reset 2, reads 1+1, Sign 1+8, reset 2, reads 1+1, idle 2. */
    assert_int_equal(after.counter[BYTES_TO_CHIP], 1 + 2 + 1 + 41 + 2 + 1 + 1 + 9 + 2 + 1 + 1 + 2);
    /* From the chip: wake response 4, Nonce status 1+3, signature 1+66. */
    assert_int_equal(after.counter[BYTES_FROM_CHIP], 4 + 1 + 3 + 1 + (SIGN_RSP - 1));
    assert_int_equal(after.counter[COMMANDS], 2);
    assert_int_equal(after.counter[IDLES], 1);
    assert_int_equal(after.by_opcode[ATECC_OP_NONCE], 1);
    assert_int_equal(after.by_opcode[ATECC_OP_SIGN], 1);
    assert_int_equal(after.by_opcode[ATECC_OP_INFO], 0);
    /* Asking is no bus traffic: a second STATS reads the same counts. */
    wire_stats(fd, &again);
    assert_memory_equal(&again, &after, sizeof(again));
    close(fd);
}

static void test_daemon_stats_are_the_bus_of_every_client(void **state)
{
    struct daemon *d = *state;
    int a = wire_connect(d);
    int b = wire_connect(d);
    struct wire_stats st;

    one_signature(a);
    one_signature(b);
    wire_stats(a, &st);
    assert_int_equal(st.counter[WAKES], 2);
    assert_int_equal(st.by_opcode[ATECC_OP_SIGN], 2);
    assert_int_equal(st.counter[BYTES_FROM_CHIP], 2 * (4 + 1 + 3 + 1 + (SIGN_RSP - 1)));
    close(a);
    close(b);
}

static void test_daemon_stats_request_with_a_length_is_malformed(void **state)
{
    struct daemon *d = *state;
    int fd = wire_connect(d);
    const uint8_t bad[EMU_WIRE_REQUEST_HEADER + 1] = { 'S', 0, 0, 0, 1, 0, 0 };
    uint8_t rheader[EMU_WIRE_REPLY_HEADER];
    uint8_t extra;

    send_all(fd, bad, sizeof(bad));
    assert_true(recv_all(fd, rheader, sizeof(rheader)));
    assert_int_equal(rheader[0], EMU_WIRE_ERROR);
    while (recv(fd, &extra, 1, 0) > 0)
        ; /* the message, then the daemon closes the connection */
    close(fd);
    fd = wire_connect(d);
    one_signature(fd); /* and serves on */
    close(fd);
}

/* Runs atecc608-emu with args (NULL-terminated); returns its exit status
 * and its stdout and stderr in out. */
static int run_cli(const char *const *args, char *out, size_t cap)
{
    const char *argv[8] = { EMU_DAEMON_PATH };
    size_t argc = 1;
    size_t len = 0;
    int fds[2];
    int status = 0;
    pid_t pid;

    for (size_t i = 0; args[i] != NULL && argc < 7; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        (void)target_execv(EMU_DAEMON_PATH, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, GUARD_MS) <= 0)
            break;
        n = read(fds[0], out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_stats_prints_the_counters_by_name(void **state)
{
    struct daemon *d = *state;
    const char *const args[] = { "--stats", d->sock, NULL };
    char out[4096];
    int fd = wire_connect(d);

    one_signature(fd);
    close(fd);
    assert_int_equal(run_cli(args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "wake_pulses 1\n"));
    assert_non_null(strstr(out, "transactions 12\n"));
    assert_non_null(strstr(out, "bytes_to_chip 64\n"));
    assert_non_null(strstr(out, "bytes_from_chip 75\n"));
    assert_non_null(strstr(out, "naks 0\n"));
    assert_non_null(strstr(out, "command.nonce 1\n"));
    assert_non_null(strstr(out, "command.sign 1\n"));
    assert_null(strstr(out, "command.info"));
}

static void test_cli_stats_without_an_emulator_fails_clearly(void **state)
{
    struct daemon *d = *state;
    const char *const args[] = { "--stats", d->sock, NULL };
    const char *const mixed[] = { "--stats", d->sock, "--time-scale", "0", NULL };
    char out[4096];

    assert_int_equal(run_cli(args, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "cannot connect to the emulator"));
    assert_non_null(strstr(out, d->sock));
    assert_int_equal(run_cli(mixed, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--stats SOCKET takes no other option"));
}

#define RUNNING(name) cmocka_unit_test_setup_teardown(name, daemon_setup_running, daemon_teardown)
#define STOPPED(name) cmocka_unit_test_setup_teardown(name, daemon_setup, daemon_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUNNING(test_daemon_stats_count_one_signature_exactly),
        RUNNING(test_daemon_stats_are_the_bus_of_every_client),
        RUNNING(test_daemon_stats_request_with_a_length_is_malformed),
        RUNNING(test_cli_stats_prints_the_counters_by_name),
        STOPPED(test_cli_stats_without_an_emulator_fails_clearly),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("emu_daemon_stats", tests, NULL, NULL);
}
