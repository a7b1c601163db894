/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/pin.c: where the PIN may come from. A PIN file others can read is
 * refused (group read is allowed), so is one owned by another user, a
 * non-regular file (a FIFO at once, without waiting for a writer), and a
 * pin-value in the key URI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <p11-kit/uri.h>

#include "bounded_call.h"
#include "config.h"
#include "pin.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    FILE *fp;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/trustlink-pin-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/pin", f->dir);
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("4321\n", fp);
    fclose(fp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int read_with_mode(struct fixture *f, mode_t mode, struct agent_pin *pin, char *err,
                          size_t err_len)
{
    struct agent_identity_config cfg = {.pin_file = f->path};

    assert_int_equal(chmod(f->path, mode), 0);
    err[0] = '\0';
    return agent_pin_read(&cfg, NULL, pin, err, err_len);
}

static void test_private_and_group_readable_files_are_read(void **state)
{
    struct fixture *f = *state;
    struct agent_pin pin;
    char err[512];

    assert_int_equal(read_with_mode(f, 0600, &pin, err, sizeof(err)), 0);
    assert_true(pin.present);
    assert_string_equal(pin.value, "4321");
    agent_pin_clear(&pin);
    assert_int_equal(read_with_mode(f, 0640, &pin, err, sizeof(err)), 0);
    assert_true(pin.present);
    agent_pin_clear(&pin);
}

static void test_file_others_can_access_is_refused(void **state)
{
    struct fixture *f = *state;
    const mode_t modes[] = {0644, 0604, 0602, 0601, 0666};
    struct agent_pin pin;
    char err[512];

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(read_with_mode(f, modes[i], &pin, err, sizeof(err)), -1);
        assert_false(pin.present);
        assert_non_null(strstr(err, "others may not have access"));
        assert_null(strstr(err, "4321"));
    }
}

static void test_file_of_another_user_is_refused(void **state)
{
    struct fixture *f = *state;
    struct agent_pin pin;
    char err[512];

    if (geteuid() != 0) {
        /* Only root can give the file away; the mode checks above ran. */
        print_message("skipped: chown to another user needs root\n");
        skip();
    }
    assert_int_equal(chown(f->path, 65534, 65534), 0);
    assert_int_equal(read_with_mode(f, 0600, &pin, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "owned by uid 65534"));
}

static void test_non_regular_file_is_refused(void **state)
{
    struct fixture *f = *state;
    struct agent_identity_config cfg = {.pin_file = f->dir};
    struct agent_pin pin;
    char err[512];

    (void)state;
    assert_int_equal(agent_pin_read(&cfg, NULL, &pin, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is a directory"));
    assert_non_null(strstr(err, "it must be a regular file"));
}

struct fifo_read {
    struct agent_identity_config cfg;
    const char *fifo;
};

/* Child side: 0 = refused, naming the FIFO and what it is; 1 = refused
 * with an unclear error; 2 = a PIN was read from it. */
static int read_pin_from_fifo(void *arg)
{
    struct fifo_read *r = arg;
    struct agent_pin pin;
    char err[512] = "";
    int rc = agent_pin_read(&r->cfg, NULL, &pin, err, sizeof(err));

    agent_pin_clear(&pin);
    if (rc == 0)
        return 2;
    fprintf(stderr, "refused: %s\n", err);
    return strstr(err, r->fifo) != NULL && strstr(err, "is a FIFO") != NULL ? 0 : 1;
}

/* A FIFO where the PIN file should be (nobody writing to it) is refused
 * at once with a clear error: the read is bounded, so a hang fails. */
static void test_fifo_pin_file_is_refused_at_once(void **state)
{
    struct fixture *f = *state;
    char fifo[160];
    struct fifo_read r = {.fifo = fifo};

    snprintf(fifo, sizeof(fifo), "%s/pin-fifo", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    r.cfg.pin_file = fifo;
    assert_int_equal(tl_test_bounded_call(read_pin_from_fifo, &r, 10), 0);

    /* The same FIFO as the systemd credential. */
    r.cfg.pin_file = NULL;
    r.cfg.pin_credential = "pin-fifo";
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", f->dir, 1), 0);
    assert_int_equal(tl_test_bounded_call(read_pin_from_fifo, &r, 10), 0);
    unsetenv("CREDENTIALS_DIRECTORY");
    unlink(fifo);
}

static void test_pin_value_in_uri_is_refused(void **state)
{
    struct agent_identity_config cfg = {0};
    struct agent_pin pin;
    P11KitUri *uri = p11_kit_uri_new();
    char err[512];

    (void)state;
    assert_int_equal(p11_kit_uri_parse("pkcs11:token=t;object=k;pin-\nvalue=1234",
                                       P11_KIT_URI_FOR_ANY, uri),
                     P11_KIT_URI_OK);
    assert_int_equal(agent_pin_read(&cfg, uri, &pin, err, sizeof(err)), -1);
    assert_false(pin.present);
    assert_non_null(strstr(err, "pin-value in the URI is refused"));
    p11_kit_uri_free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_private_and_group_readable_files_are_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_others_can_access_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_of_another_user_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_regular_file_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_pin_file_is_refused_at_once, setup, teardown),
        cmocka_unit_test(test_pin_value_in_uri_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
