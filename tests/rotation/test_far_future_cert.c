/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates whose notAfter does not fit a 32-bit time_t: 2040-01-01
 * (an ordinary 20-year device certificate) and 99991231235959Z, the
 * "no well-defined expiry" date of RFC 5280 4.1.2.5. On armhf time_t is
 * 32 bits; these must still be accepted, reported with a positive
 * days_left and scheduled for renewal, never "expired" or overflowed.
 * The same tests run on x86_64, arm64 and armhf (scripts/cross --test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "cert_check.h"
#include "report.h"
#include "rotation_internal.h"
#include "rotation_journal.h"
#include "test_certs.h"

#define DAY 86400
#define Y2040 "20400101000000Z"
#define Y2040_EPOCH INT64_C(2208988800)
#define Y9999 "99991231235959Z"
#define Y9999_EPOCH INT64_C(253402300799)

struct fixture {
    EVP_PKEY *ca_key, *dev_key;
    X509 *ca;
    char ca_file[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->ca_key = new_key();
    f->dev_key = new_key();
    /* The CA outlives its leaves too, as real device PKIs do. */
    f->ca = test_cert(&(struct test_cert_spec){.key = f->ca_key, .subject = "CN=test CA",
                                               .not_before = -10 * DAY, .not_after_at = Y9999,
                                               .is_ca = 1});
    strcpy(f->ca_file, "/tmp/far-future-ca-XXXXXX");
    write_cert_file(f->ca, f->ca_file);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->ca_file);
    X509_free(f->ca);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->dev_key);
    free(f);
    return 0;
}

/* A device certificate valid from NOW - 1 day until `not_after`. */
static X509 *leaf_until(struct fixture *f, const char *not_after)
{
    return test_cert(&(struct test_cert_spec){
        .key = f->dev_key, .subject = "CN=device-far", .issuer = f->ca, .issuer_key = f->ca_key,
        .not_before = -DAY, .not_after_at = not_after, .eku = "clientAuth",
        .ku = "critical,digitalSignature"});
}

static void check_accepts(struct fixture *f, const char *not_after)
{
    X509 *leaf = leaf_until(f, not_after);
    char *pem = pem_of(leaf, NULL);
    char err[512] = "";
    enum agent_cert_check rc;

    rc = agent_cert_check(pem, strlen(pem), f->dev_key,
                          &(struct agent_cert_identity){.subject = X509_get_subject_name(leaf)},
                          f->ca_file, NOW, NULL, NULL, err, sizeof(err));
    if (rc != AGENT_CERT_OK)
        print_error("notAfter %s: %s\n", not_after, err);
    assert_int_equal(rc, AGENT_CERT_OK);
    free(pem);
    X509_free(leaf);
}

static void cert_check_accepts_2040(void **state)
{
    check_accepts(*state, Y2040);
}

static void cert_check_accepts_9999(void **state)
{
    check_accepts(*state, Y9999);
}

static void info_has(struct fixture *f, const char *not_after, const char *iso, int64_t epoch)
{
    X509 *leaf = leaf_until(f, not_after);
    struct agent_cert_info info;

    agent_cert_info_fill(&info, leaf);
    assert_string_equal(info.not_after, iso);
    assert_true(info.not_after_epoch == epoch);
    X509_free(leaf);
}

static void cert_info_2040(void **state)
{
    info_has(*state, Y2040, "2040-01-01T00:00:00Z", Y2040_EPOCH);
}

static void cert_info_9999(void **state)
{
    info_has(*state, Y9999, "9999-12-31T23:59:59Z", Y9999_EPOCH);
}

/* The status document's days_left (against the wall clock, which is
 * before 2038 while these tests can matter): positive, and within a day
 * of the exact count. */
static void status_days_left(struct fixture *f, const char *not_after, int64_t epoch)
{
    struct agent *a = calloc(1, sizeof(*a));
    struct json_object *out = json_object_new_object();
    struct json_object *cert = NULL, *days = NULL;
    X509 *leaf = leaf_until(f, not_after);
    int64_t expected, got;

    assert_non_null(a);
    a->config.broker.host = "localhost";
    a->config.device_id = "device-far";
    a->config.identity.key_uri = "pkcs11:object=k";
    a->identity_ever_loaded = true;
    agent_cert_info_fill(&a->cert, leaf);
    agent_report_status(a, out);
    expected = (epoch - (int64_t)time(NULL)) / DAY;
    assert_true(json_object_object_get_ex(out, "certificate", &cert));
    assert_true(json_object_object_get_ex(cert, "days_left", &days));
    got = json_object_get_int64(days);
    if (got < expected - 1 || got > expected)
        print_error("notAfter %s: days_left %lld, expected %lld\n", not_after, (long long)got,
                    (long long)expected);
    assert_true(got > 0);
    assert_true(got >= expected - 1 && got <= expected);
    json_object_put(out);
    X509_free(leaf);
    free(a);
}

static void status_days_left_2040(void **state)
{
    status_days_left(*state, Y2040, Y2040_EPOCH);
}

static void status_days_left_9999(void **state)
{
    status_days_left(*state, Y9999, Y9999_EPOCH);
}

/* Renewal: due at 2/3 of the lifetime (minus at most the jitter cap),
 * after NOW and before notAfter; the next attempt is that due time. */
static void renewal(struct fixture *f, const char *not_after, int64_t epoch)
{
    X509 *leaf = leaf_until(f, not_after);
    struct renewal_policy p;
    int64_t not_before = (int64_t)NOW - DAY;
    int64_t two_thirds = not_before + (epoch - not_before) / 3 * 2;
    int64_t due, next;

    renewal_policy_default(&p);
    due = rotation_cert_renewal_due(leaf, &p, 0x12345678u);
    if (due <= (int64_t)NOW || due >= epoch)
        print_error("notAfter %s: renewal due %lld\n", not_after, (long long)due);
    assert_true(due > (int64_t)NOW);
    assert_true(due < epoch);
    assert_true(due <= two_thirds + 1 && due >= two_thirds - p.jitter_cap - 1);
    next = renewal_next_attempt((int64_t)NOW, due, epoch, 0, 0, &p);
    assert_true(next == due);
    /* After failures the retry comes soon, never "now, expired". */
    next = renewal_next_attempt(due + 10, due, epoch, due, 3, &p);
    assert_true(next > due && next <= due + 10 + p.retry_max);
    X509_free(leaf);
}

static void renewal_2040(void **state)
{
    renewal(*state, Y2040, Y2040_EPOCH);
}

static void renewal_9999(void **state)
{
    renewal(*state, Y9999, Y9999_EPOCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cert_check_accepts_2040, setup, teardown),
        cmocka_unit_test_setup_teardown(cert_check_accepts_9999, setup, teardown),
        cmocka_unit_test_setup_teardown(cert_info_2040, setup, teardown),
        cmocka_unit_test_setup_teardown(cert_info_9999, setup, teardown),
        cmocka_unit_test_setup_teardown(status_days_left_2040, setup, teardown),
        cmocka_unit_test_setup_teardown(status_days_left_9999, setup, teardown),
        cmocka_unit_test_setup_teardown(renewal_2040, setup, teardown),
        cmocka_unit_test_setup_teardown(renewal_9999, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
