/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emu: transport recovers like a real bus: when the atecc608-emu
 * daemon goes away (closed socket) and comes back on the same socket with
 * the same chip state, a driver that stayed open signs again, every
 * signature verifying with the chip's public key.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "target_exec.h"

#include "harness.h"

#ifndef EMU_DAEMON_PATH
#error "EMU_DAEMON_PATH must name the atecc608-emu binary"
#endif

enum { SIGNS_AFTER_RESTART = 8 };

struct fixture {
    char dir[64];
    char sock[128];
    char state[128];
    pid_t pid;
};

static void start_daemon(struct fixture *f)
{
    struct timespec tick = { 0, 10000000 };
    struct stat st;

    (void)unlink(f->sock);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        char *const args[] = { EMU_DAEMON_PATH, "--socket", f->sock, "--state", f->state,
                               "--time-scale", "0", NULL };

        (void)target_execv(EMU_DAEMON_PATH, args);
        _exit(127);
    }
    /* Bounded wait for the socket (a condition, not a time assertion). */
    for (unsigned i = 0; i < 1000 && stat(f->sock, &st) != 0; i++)
        nanosleep(&tick, NULL);
    assert_int_equal(stat(f->sock, &st), 0);
}

static void stop_daemon(struct fixture *f)
{
    int status = 0;

    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    waitpid(f->pid, &status, 0);
    f->pid = -1;
}

static void sign_and_check(struct atecc_device *dev, const uint8_t pub[64], unsigned n)
{
    uint8_t digest[32];
    uint8_t sig[64];
    atecc_err rc;

    memset(digest, (int)n + 7, sizeof(digest));
    rc = atecc_sign(dev, 0, digest, sig);
    if (rc != ATECC_OK)
        fail_msg("signature %u failed: %s: %s", n, atecc_strerror(rc), atecc_error_detail());
    assert_true(harness_p256_verify(pub, digest, sig));
}

static void test_driver_signs_again_after_the_daemon_restarts(void **state)
{
    struct fixture f;
    struct atecc_options o = { 0 };
    struct atecc_device *dev = NULL;
    char iface[160];
    char detail[512] = "";
    char cmd[128];
    uint8_t pub[64];

    (void)state;
    memset(&f, 0, sizeof(f));
    snprintf(f.dir, sizeof(f.dir), "/tmp/atecc-reconnect-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.sock, sizeof(f.sock), "%s/emu.sock", f.dir);
    snprintf(f.state, sizeof(f.state), "%s/chip.state", f.dir);
    start_daemon(&f);
    snprintf(iface, sizeof(iface), "emu:%s", f.sock);
    o.lock_dir = f.dir;
    if (atecc_open(iface, &o, &dev, detail, sizeof(detail)) != ATECC_OK)
        fail_msg("open: %s", detail);
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    sign_and_check(dev, pub, 0);

    /* The daemon goes (the socket closes) and comes back. */
    stop_daemon(&f);
    start_daemon(&f);
    for (unsigned i = 1; i <= SIGNS_AFTER_RESTART; i++)
        sign_and_check(dev, pub, i);

    atecc_close(dev);
    stop_daemon(&f);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f.dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_signs_again_after_the_daemon_restarts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
