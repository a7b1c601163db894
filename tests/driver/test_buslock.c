/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus lock: two devices on one chip (one bus, one address), each used by
 * its own thread, sign concurrently; the lock keeps every Nonce next to
 * its Sign, so every signature verifies. Also: a held lock times out with
 * a message naming the lock file instead of hanging.
 */
#define _GNU_SOURCE 1 /* F_OFD_SETLK */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum { SIGNS_PER_THREAD = 60 };

struct worker {
    struct atecc_device *dev;
    const uint8_t *pub;
    unsigned id;
    unsigned good;
    unsigned bad;
    atecc_err first_error;
};

static void *sign_loop(void *arg)
{
    struct worker *w = arg;

    for (unsigned i = 0; i < SIGNS_PER_THREAD; i++) {
        uint8_t d[32];
        uint8_t sig[64];
        atecc_err rc;

        memset(d, (int)(w->id * 100 + i), sizeof(d));
        d[31] = (uint8_t)w->id;
        rc = atecc_sign(w->dev, 0, d, sig);
        if (rc != ATECC_OK) {
            if (w->first_error == ATECC_OK)
                w->first_error = rc;
            continue;
        }
        if (harness_p256_verify(w->pub, d, sig))
            w->good++;
        else
            w->bad++;
    }
    return NULL;
}

static void test_two_devices_signing_concurrently_never_interleave(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct worker w[2];
    pthread_t t[2];
    uint8_t pub[64];

    (void)state;
    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < 2; i++) {
        w[i].dev = harness_open(h, 0x35);
        w[i].id = i + 1;
        w[i].pub = pub;
    }
    assert_int_equal(atecc_pubkey(w[0].dev, 0, pub), ATECC_OK);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_loop, &w[i]), 0);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(w[i].first_error, ATECC_OK);
        assert_int_equal(w[i].bad, 0);
        assert_int_equal(w[i].good, SIGNS_PER_THREAD);
        atecc_close(w[i].dev);
    }
    harness_free(h);
}

static void test_one_device_shared_by_threads_is_serialised(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = harness_open(h, 0x35);
    struct worker w[3];
    pthread_t t[3];
    uint8_t pub[64];

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < 3; i++) {
        w[i].dev = dev;
        w[i].id = i + 1;
        w[i].pub = pub;
        assert_int_equal(pthread_create(&t[i], NULL, sign_loop, &w[i]), 0);
    }
    for (unsigned i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].first_error, ATECC_OK);
        assert_int_equal(w[i].good, SIGNS_PER_THREAD);
    }
    atecc_close(dev);
    harness_free(h);
}

static void test_lock_held_elsewhere_times_out_with_its_name(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = harness_open(h, 0x35);
    struct atecc_options o = harness_options(h);
    struct atecc_device *second = NULL;
    char detail[512] = "";
    char path[1024];
    uint8_t r[32];
    int fd;

    (void)state;
    /* Another "process" (another open file description) holds the lock. */
    o.lock_timeout_ms = 50;
    assert_int_equal(atecc_open("inproc:@0x35", &o, &second, detail, sizeof(detail)), ATECC_OK);
    snprintf(path, sizeof(path), "%s", h->lock_dir);
    {
        char cmd[128];
        FILE *p = NULL;

        snprintf(cmd, sizeof(cmd), "ls '%s'", h->lock_dir);
        p = popen(cmd, "r");
        assert_non_null(p);
        assert_non_null(fgets(detail, sizeof(detail), p));
        pclose(p);
        detail[strcspn(detail, "\n")] = '\0';
        snprintf(path, sizeof(path), "%s/%s", h->lock_dir, detail);
    }
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    /* The bus is byte 0 of the lock file, an OFD record lock (buslock.h). */
    {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
    }
    assert_int_equal(atecc_random(second, r), ATECC_E_BUS_LOCK);
    assert_non_null(strstr(atecc_error_detail(), "held by another process"));
    assert_non_null(strstr(atecc_error_detail(), path));
    close(fd);
    assert_int_equal(atecc_random(second, r), ATECC_OK);
    atecc_close(second);
    atecc_close(dev);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_devices_signing_concurrently_never_interleave),
        cmocka_unit_test(test_one_device_shared_by_threads_is_serialised),
        cmocka_unit_test(test_lock_held_elsewhere_times_out_with_its_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
