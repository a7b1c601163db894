/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the bus lock lives and how its file is made: the directory comes
 * from the options only (no environment variable, no /run/lock or /tmp
 * fallback), must be absolute and not world-writable; the lock file is a
 * regular file created 0660, never reached through a symbolic link; the
 * wait for it stays well below half of trustlinkd's WatchdogSec (30 s).
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "device.h"
#include "harness.h"

/* Opens the harness chip with lock_dir; returns the driver's verdict. */
static atecc_err open_with_dir(struct harness *h, const char *dir, struct atecc_device **dev,
                               char *detail, size_t detail_len)
{
    struct atecc_options o = harness_options(h);

    o.lock_dir = dir;
    *dev = NULL;
    detail[0] = '\0';
    return atecc_open("inproc:@0x35", &o, dev, detail, detail_len);
}

/* The one lock file a device made in dir (by name pattern). */
static void lock_file_path(const char *dir, char *out, size_t out_len)
{
    char cmd[256];
    char name[256] = "";
    FILE *p = NULL;

    snprintf(cmd, sizeof(cmd), "ls '%s' | grep '^trustlink-atecc608-'", dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(name, sizeof(name), p));
    pclose(p);
    name[strcspn(name, "\n")] = '\0';
    snprintf(out, out_len, "%s/%s", dir, name);
}

static void test_world_writable_directory_is_refused_by_name(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char dir[96];
    char detail[512];

    (void)state;
    snprintf(dir, sizeof(dir), "%s/open", h->lock_dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 01777), 0);  /* like /tmp and /run/lock */
    assert_int_equal(open_with_dir(h, dir, &dev, detail, sizeof(detail)), ATECC_E_BUS_LOCK);
    assert_null(dev);
    assert_non_null(strstr(detail, dir));
    assert_non_null(strstr(detail, "world-writable"));
    harness_free(h);
}

static void test_relative_directory_is_refused(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char detail[512];

    (void)state;
    assert_int_equal(open_with_dir(h, "run/lock", &dev, detail, sizeof(detail)), ATECC_E_BUS_LOCK);
    assert_non_null(strstr(detail, "not an absolute path"));
    harness_free(h);
}

static void test_lock_file_is_created_0660(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char detail[512];
    char path[512];
    mode_t old = umask(022);  /* a usual umask takes the group's write bit */
    struct stat st;

    (void)state;
    assert_int_equal(open_with_dir(h, h->lock_dir, &dev, detail, sizeof(detail)), ATECC_OK);
    umask(old);
    lock_file_path(h->lock_dir, path, sizeof(path));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    atecc_close(dev);
    harness_free(h);
}

/* Opens once to learn the lock file's name, then replaces the file. */
static void replace_lock_file(struct harness *h, char *path, size_t path_len)
{
    struct atecc_device *dev = NULL;
    char detail[512];

    assert_int_equal(open_with_dir(h, h->lock_dir, &dev, detail, sizeof(detail)), ATECC_OK);
    atecc_close(dev);
    lock_file_path(h->lock_dir, path, path_len);
    assert_int_equal(unlink(path), 0);
}

static void test_symlinked_lock_file_is_refused(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char path[512];
    char target[512];
    char detail[512];
    struct stat st;

    (void)state;
    replace_lock_file(h, path, sizeof(path));
    snprintf(target, sizeof(target), "%s/elsewhere", h->lock_dir);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(open_with_dir(h, h->lock_dir, &dev, detail, sizeof(detail)), ATECC_E_BUS_LOCK);
    assert_non_null(strstr(detail, path));
    /* Nothing was created through the link. */
    assert_int_not_equal(stat(target, &st), 0);
    harness_free(h);
}

static void test_lock_path_that_is_no_regular_file_is_refused(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char path[512];
    char detail[512];

    (void)state;
    replace_lock_file(h, path, sizeof(path));
    assert_int_equal(mkfifo(path, 0660), 0);
    assert_int_equal(open_with_dir(h, h->lock_dir, &dev, detail, sizeof(detail)), ATECC_E_BUS_LOCK);
    assert_non_null(strstr(detail, path));
    assert_non_null(strstr(detail, "not a regular file"));
    harness_free(h);
}

/* The environment does not choose the directory (a library loaded into
 * any process must not let its caller's environment move the lock). */
static void test_environment_does_not_choose_the_directory(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = NULL;
    char detail[512];
    char cmd[256];
    atecc_err rc;

    (void)state;
    setenv("TRUSTLINK_LOCK_DIR", h->lock_dir, 1);
    rc = open_with_dir(h, NULL, &dev, detail, sizeof(detail));
    unsetenv("TRUSTLINK_LOCK_DIR");
    if (rc == ATECC_OK) {
        /* Only possible where the default directory exists. */
        assert_non_null(strstr(dev->lock.path, ATECC_BUSLOCK_DIR_DEFAULT "/"));
        atecc_close(dev);
    } else {
        assert_int_equal(rc, ATECC_E_BUS_LOCK);
        assert_non_null(strstr(detail, ATECC_BUSLOCK_DIR_DEFAULT));
    }
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q '^trustlink-atecc608-'", h->lock_dir);
    assert_int_not_equal(system(cmd), 0);
    harness_free(h);
}

/* trustlinkd runs with WatchdogSec=30: a chip call waiting for the bus
 * must give up well before half of it. */
static void test_default_lock_wait_is_well_below_half_the_watchdog(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = harness_open(h, 0x35);

    (void)state;
    assert_true(dev->lock.timeout_ms > 0);
    assert_true(dev->lock.timeout_ms <= 15000 / 2);
    atecc_close(dev);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_world_writable_directory_is_refused_by_name),
        cmocka_unit_test(test_relative_directory_is_refused),
        cmocka_unit_test(test_lock_file_is_created_0660),
        cmocka_unit_test(test_symlinked_lock_file_is_refused),
        cmocka_unit_test(test_lock_path_that_is_no_regular_file_is_refused),
        cmocka_unit_test(test_environment_does_not_choose_the_directory),
        cmocka_unit_test(test_default_lock_wait_is_well_below_half_the_watchdog),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
