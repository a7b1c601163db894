/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator persistence: the state file is created from the profile, keeps
 * keys, zones and locks across close/open, is replaced atomically, and a
 * corrupt, truncated or other-version file is refused, never replaced.
 * The long watchdog option shapes only a new chip: a saved chip that
 * disagrees is refused and left as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_test_util.h"

struct fixture {
    char dir[256];
    char path[300];
};

static int setup(void **state)
{
    static struct fixture f;

    t_tmpdir(f.dir, sizeof(f.dir));
    snprintf(f.path, sizeof(f.path), "%s/chip.state", f.dir);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    t_rmdir(f->dir);
    return 0;
}

static void open_with_state(struct t_chip *t, enum emu_profile profile, const char *path)
{
    struct t_open_args args = { .profile = profile, .state_path = path };

    t_open(t, &args);
    assert_true(t_wake(t));
}

static size_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static void flip_byte(const char *path, long offset)
{
    FILE *file = fopen(path, "r+b");
    int c;

    assert_non_null(file);
    assert_int_equal(fseek(file, offset, SEEK_SET), 0);
    c = fgetc(file);
    assert_int_not_equal(c, EOF);
    assert_int_equal(fseek(file, offset, SEEK_SET), 0);
    assert_int_not_equal(fputc(c ^ 0x01, file), EOF);
    assert_int_equal(fclose(file), 0);
}

static void expect_open_refused_with(const char *path, bool long_watchdog, const char *needle)
{
    struct emu_options options;
    char err[512] = "";

    memset(&options, 0, sizeof(options));
    options.profile = EMU_PROFILE_TRUSTANDGO;
    options.state_path = path;
    options.long_watchdog = long_watchdog;
    assert_null(emu_chip_open(&options, err, sizeof(err)));
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void expect_open_refused(const char *path, const char *needle)
{
    expect_open_refused_with(path, false, needle);
}

static void test_state_file_is_created_from_profile_with_mode_0600(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    struct stat st;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    t_close(&t);
}

static void test_keys_and_serial_survive_close_and_open(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    uint8_t pub0[64];
    uint8_t pub2[64];
    uint8_t again[64];
    uint8_t config[128];
    uint8_t config_again[128];

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_pubkey(&t, 0, pub0);
    t_genkey(&t, 2, pub2);
    t_read_config(&t, config);
    t_close(&t);

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_pubkey(&t, 0, again);
    assert_memory_equal(pub0, again, 64);
    t_pubkey(&t, 2, again);
    assert_memory_equal(pub2, again, 64);
    t_read_config(&t, config_again);
    assert_memory_equal(config, config_again, 128);
    t_close(&t);
}

static void test_locks_and_data_survive_close_and_open(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    const uint8_t word[4] = { 0xAB, 0xCD, 0xEF, 0x01 };
    uint8_t config[128];

    open_with_state(&t, EMU_PROFILE_BLANK, f->path);
    assert_int_equal(t_write_config_word(&t, 20, word), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(&t, ATECC_OP_LOCK, ATECC_LOCK_CONFIG | ATECC_LOCK_NO_CRC, 0, NULL, 0),
                     ATECC_STATUS_SUCCESS);
    t_close(&t);

    /* The profile argument is ignored once the state exists. */
    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    assert_int_equal(t.addr, ATECC_ADDR_DEFAULT);
    t_read_config(&t, config);
    assert_int_equal(config[ATECC_CFG_LOCK_CONFIG], ATECC_LOCK_STATE_LOCKED);
    assert_memory_equal(config + 20, word, 4);
    t_close(&t);
}

static void test_save_leaves_no_temporary_files(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    uint8_t pub[64];
    DIR *dir;
    struct dirent *entry;
    unsigned entries = 0;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_genkey(&t, 3, pub);
    t_close(&t);
    dir = opendir(f->dir);
    assert_non_null(dir);
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.')
            entries++;
    }
    closedir(dir);
    assert_int_equal(entries, 1);
}

static void test_corrupt_state_file_is_refused(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    size_t size;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_close(&t);
    size = file_size(f->path);
    flip_byte(f->path, 200);
    expect_open_refused(f->path, "corrupt");
    /* Never silently replaced. */
    assert_int_equal(file_size(f->path), size);
}

static void test_truncated_state_file_is_refused(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_close(&t);
    assert_int_equal(truncate(f->path, 100), 0);
    expect_open_refused(f->path, "corrupt");
}

static void test_state_file_of_another_version_is_refused(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    t_close(&t);
    flip_byte(f->path, 9); /* version 1 -> 257 */
    expect_open_refused(f->path, "version");
}

static void test_foreign_file_is_refused(void **state)
{
    struct fixture *f = *state;
    FILE *file = fopen(f->path, "wb");

    assert_non_null(file);
    fputs("not a chip\n", file);
    fclose(file);
    expect_open_refused(f->path, "not an atecc608-emu state file");
}

static void test_unwritable_state_directory_fails_open_with_a_message(void **state)
{
    struct emu_options options;
    char err[512] = "";

    (void)state;
    memset(&options, 0, sizeof(options));
    options.profile = EMU_PROFILE_TRUSTANDGO;
    options.state_path = "/nonexistent-dir-for-emu-test/chip.state";
    assert_null(emu_chip_open(&options, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir-for-emu-test"));
}

static void open_trustandgo_state(struct t_chip *t, const char *path, bool long_watchdog)
{
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .state_path = path,
                                .long_watchdog = long_watchdog };

    t_open(t, &args);
    assert_true(t_wake(t));
}

/* The whole file, malloc'd; *len its size. */
static uint8_t *file_bytes(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    uint8_t *buf;

    assert_non_null(file);
    *len = file_size(path);
    buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, file), *len);
    fclose(file);
    return buf;
}

static void test_long_watchdog_option_refuses_a_short_watchdog_state_file_and_leaves_it_unchanged(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;
    uint8_t *before;
    uint8_t *after;
    size_t before_len;
    size_t after_len;

    open_trustandgo_state(&t, f->path, false);
    t_close(&t);
    before = file_bytes(f->path, &before_len);
    expect_open_refused_with(f->path, true, "ChipMode 0x01 (short watchdog)");
    after = file_bytes(f->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(after);
    free(before);
}

/* Creates the state with the long watchdog, then opens it again. */
static void check_long_watchdog_state_reopens_with_it(const char *path, bool option_again)
{
    struct t_chip t;

    open_trustandgo_state(&t, path, true);
    t_close(&t);
    open_trustandgo_state(&t, path, option_again);
    assert_int_equal(t_read_chip_mode(&t), 0x05);
    assert_int_equal(emu_chip_watchdog_ms(t.chip), 13000);
    t_close(&t);
}

static void test_long_watchdog_option_accepts_a_state_file_created_with_it(void **state)
{
    check_long_watchdog_state_reopens_with_it(((struct fixture *)*state)->path, true);
}

static void test_long_watchdog_state_file_keeps_it_when_opened_without_the_option(void **state)
{
    check_long_watchdog_state_reopens_with_it(((struct fixture *)*state)->path, false);
}

static void test_failed_save_answers_execution_error_and_reports_why(void **state)
{
    struct fixture *f = *state;
    struct t_chip t;

    open_with_state(&t, EMU_PROFILE_TRUSTANDGO, f->path);
    assert_null(emu_chip_last_error(t.chip));
    t_rmdir(f->dir); /* the state directory disappears under the chip */
    assert_int_equal(t_status(&t, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 2, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_non_null(emu_chip_last_error(t.chip));
    assert_non_null(strstr(emu_chip_last_error(t.chip), f->dir));
    t_close(&t);
}

#define F(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        F(test_state_file_is_created_from_profile_with_mode_0600),
        F(test_keys_and_serial_survive_close_and_open),
        F(test_locks_and_data_survive_close_and_open),
        F(test_save_leaves_no_temporary_files),
        F(test_corrupt_state_file_is_refused),
        F(test_truncated_state_file_is_refused),
        F(test_state_file_of_another_version_is_refused),
        F(test_foreign_file_is_refused),
        cmocka_unit_test(test_unwritable_state_directory_fails_open_with_a_message),
        F(test_failed_save_answers_execution_error_and_reports_why),
        F(test_long_watchdog_option_refuses_a_short_watchdog_state_file_and_leaves_it_unchanged),
        F(test_long_watchdog_option_accepts_a_state_file_created_with_it),
        F(test_long_watchdog_state_file_keeps_it_when_opened_without_the_option),
    };

    return cmocka_run_group_tests_name("emu_state", tests, NULL, NULL);
}
