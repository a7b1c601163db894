/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-emu as a child process for the daemon tests, and a bus master
 * that speaks the emu_wire framing to it (see emu_daemon_util.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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
#include "emu_daemon_util.h"
#include "target_exec.h"

#ifndef EMU_DAEMON_PATH
#error "EMU_DAEMON_PATH must name the atecc608-emu binary"
#endif



void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Reads the daemon's stderr until `needle` appears or it closes. */
bool daemon_wait_log(struct daemon *d, const char *needle)
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
void daemon_spawn(struct daemon *d, const char *const *extra)
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
int daemon_reap(struct daemon *d)
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

int daemon_setup(void **state)
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

int daemon_setup_running(void **state)
{
    struct daemon *d;

    daemon_setup(state);
    d = *state;
    daemon_spawn(d, NULL);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start: %s", d->log);
    return 0;
}

int daemon_teardown(void **state)
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

void set_sun_path(struct sockaddr_un *addr, const char *path)
{
    size_t len = strlen(path);

    assert_true(len < sizeof(addr->sun_path));
    memcpy(addr->sun_path, path, len + 1);
}

int wire_connect(const struct daemon *d)
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

void send_all(int fd, const void *buf, size_t len)
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
bool recv_all(int fd, uint8_t *buf, size_t len)
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
uint8_t wire_call(int fd, uint8_t op, uint8_t addr, uint8_t flags, uint16_t length,
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

uint8_t wire_write(int fd, uint8_t addr, uint8_t flags, const uint8_t *data, size_t len)
{
    uint8_t reply[8];

    return wire_call(fd, EMU_WIRE_OP_WRITE, addr, flags, (uint16_t)len, data, len, reply, sizeof(reply), NULL);
}

uint8_t wire_read(int fd, uint8_t addr, uint8_t *buf, size_t len)
{
    size_t got = 0;
    uint8_t result = wire_call(fd, EMU_WIRE_OP_READ, addr, 0, (uint16_t)len, NULL, 0, buf, len, &got);

    if (result == EMU_WIRE_ACK)
        assert_int_equal(got, len);
    return result;
}

uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The chip NAKs while it is busy (or, after a wake, before tWHI): retry
 * with 1 ms pauses, bounded so a broken daemon fails the test. */
uint8_t wire_write_when_ready(int fd, const uint8_t *data, size_t len)
{
    uint8_t result = EMU_WIRE_NAK_ADDR;

    for (unsigned tries = 0; tries < GUARD_MS && result == EMU_WIRE_NAK_ADDR; tries++) {
        if (tries > 0)
            sleep_ms(1);
        result = wire_write(fd, ATECC_ADDR_TRUSTANDGO, 0, data, len);
    }
    return result;
}

void wire_wake(int fd)
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
size_t wire_command(int fd, uint8_t opcode, uint8_t param1, uint16_t param2, uint8_t *rsp, size_t cap)
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

void spawn_and_wait(struct daemon *d, const char *const *extra)
{
    daemon_spawn(d, extra);
    if (!daemon_wait_log(d, "listening on"))
        fail_msg("daemon did not start: %s", d->log);
}

void stop_daemon(struct daemon *d)
{
    assert_int_equal(kill(d->pid, SIGTERM), 0);
    assert_int_equal(daemon_reap(d), 0);
}

