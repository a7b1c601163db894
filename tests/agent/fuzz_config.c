/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic fuzz test of the agent configuration parser
 * (agent_config_parse, and agent_config_load on temp files): valid seeds
 * mutated with bit flips, truncations, token and byte insertions,
 * duplicated and removed members, values of the wrong type, huge numbers,
 * deep nesting and invalid UTF-8. Every document must give either a
 * config that holds the documented bounds, or -1 with a non-empty message
 * and the output struct untouched (config.h);
 * never a crash or a leak (the ASan/UBSan build runs this too). The
 * per-document check is the libFuzzer target's (tests/fuzz/fuzz_agent_config.c). Documents
 * are passed in exact-size heap buffers, without a terminating NUL, so a
 * read past len is caught. TRUSTLINK_FUZZ_SEED and TRUSTLINK_FUZZ_ITERATIONS
 * override the defaults; the seed is printed so a failure can be replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "fuzz_target.h"
#include "json_mutator.h"

#include "config.h"


static const char *const seeds[] = {
    "{\"device_id\":\"device-001\",\"log_level\":\"info\",\"identity\":{\"module\":"
    "\"/usr/lib/x86_64-linux-gnu/pkcs11/libtrustlink-pkcs11.so\",\"key\":"
    "\"pkcs11:token=trustlink;object=device;type=private\",\"certificate\":"
    "\"pkcs11:token=trustlink;object=device;type=cert\",\"pin_credential\":\"trustlink-pin\"},"
    "\"broker\":{\"host\":\"mqtt.example.com\",\"port\":8883,\"ca_file\":\"/etc/trustlink/broker-ca.pem\","
    "\"tls_min_version\":\"1.2\",\"mqtt_version\":\"3.1.1\",\"keepalive\":60,\"client_id\":\"device-001\"},"
    "\"reconnect\":{\"initial\":1,\"maximum\":120,\"jitter\":\"full\",\"stable_reset\":30},"
    "\"control\":{\"path\":\"/run/trustlink/control.sock\",\"mode\":\"0660\",\"allowed_uids\":[],"
    "\"allowed_gids\":[]},\"telemetry\":{\"heartbeat_interval\":60,\"topic_prefix\":"
    "\"trustlink/{device_id}\",\"status_topic\":\"status\",\"heartbeat_topic\":\"heartbeat\","
    "\"queue_max_messages\":100,\"queue_max_bytes\":262144}}",
    "{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"/c.pem\"},"
    "\"broker\":{\"host\":\"h\",\"ca_file\":\"/ca.pem\"}}",
    "{\"device_id\":\"dev-\xc3\xa9\",\"log_level\":\"debug\",\"identity\":{\"module\":\"/m.so\","
    "\"key\":\"pkcs11:token=agent;object=device;type=private\",\"certificate\":\"/cert.pem\","
    "\"chain_file\":\"/chain.pem\",\"pin_file\":\"/etc/trustlink/pin\"},\"broker\":{\"host\":"
    "\"127.0.0.1\",\"port\":1,\"ca_dir\":\"/etc/ssl/certs\",\"tls_min_version\":\"1.3\","
    "\"mqtt_version\":\"5\",\"keepalive\":5},\"reconnect\":{\"initial\":0.2,\"maximum\":2,"
    "\"jitter\":\"none\",\"stable_reset\":0.5},\"control\":{\"path\":\"/tmp/c.sock\",\"mode\":\"0600\","
    "\"allowed_uids\":[0,1000],\"allowed_gids\":[0,4294967294]},\"telemetry\":{\"heartbeat_interval\":0,"
    "\"topic_prefix\":\"a/{device_id}/b\"}}",
    "{\"device_id\":\"d-9\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"/c.pem\"},"
    "\"broker\":{\"host\":\"h\",\"ca_file\":\"/ca.pem\",\"client_id\":\"c-9\"},"
    "\"telemetry\":{\"status_topic\":\"s/{device_id}\",\"heartbeat_topic\":\"{client_id}/hb\"},"
    "\"rotation\":{\"enabled\":true,\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":"
    "{\"SerialNumber\":\"{serial}\",\"ThingName\":\"{device_id}\"}},\"request_topic\":\"r/{device_id}/csr\","
    "\"accepted_topic\":\"r/{client_id}/ok\",\"rejected_topic\":\"r/{device_id}/no\","
    "\"issuing_ca_file\":\"/etc/trustlink/issuing-ca.pem\",\"subject\":\"/CN=d-9/O=Example\","
    "\"state_dir\":\"/var/lib/t\",\"answer_timeout\":0.5,\"max_attempts\":20,"
    "\"retire\":\"keep-previous\",\"auto_renew\":false,\"renew_floor_days\":3650,"
    "\"check_interval\":86400,\"jitter_cap\":604800,\"min_interval\":0,\"retry_base\":1,"
    "\"retry_max\":604800,\"probe_client_id\":\"c-9-probe\"}}",
};

static void test_mutated_documents_parse_or_fail_cleanly(void **state)
{
    uint64_t seed = fuzz_seed(0x6167656e74ull);
    long iterations = fuzz_iterations(15000);
    struct rng r = { .s = seed ? seed : 1 };
    char *buf = malloc(MAX_DOC);
    struct agent_config prev;
    bool have_prev = false;
    long i, accepted = 0;

    (void)state;
    assert_non_null(buf);
    printf("fuzz seed 0x%llx, %ld documents\n", (unsigned long long)seed, iterations);
    for (i = 0; i < iterations; i++) {
        size_t len = make_document(&r, seeds, sizeof(seeds) / sizeof(seeds[0]), buf, MAX_DOC);
        char *exact = malloc(len ? len : 1);
        struct agent_config cfg;
        char err[512];
        int rc;

        assert_non_null(exact);
        memcpy(exact, buf, len);
        memset(&cfg, FUZZ_CONFIG_POISON, sizeof(cfg));
        err[0] = '\0';
        rc = agent_config_parse(exact, len, &cfg, err, sizeof(err));
        fuzz_check_agent_config(rc, &cfg, err, exact, len);
        if (rc == 0) {
            accepted++;
            /* A reload compares two accepted configurations. */
            if (have_prev) {
                (void)agent_config_connection_changed(&prev, &cfg);
                assert_false(agent_config_connection_changed(&cfg, &cfg));
                agent_config_free(&prev);
            }
            prev = cfg;
            have_prev = true;
        }
        if (rc != 0 && i % 16 == 0) {
            char small[8];

            memset(&cfg, FUZZ_CONFIG_POISON, sizeof(cfg));
            assert_int_equal(agent_config_parse(exact, len, &cfg, small, sizeof(small)), -1);
            assert_true(memchr(small, '\0', sizeof(small)) != NULL);
        }
        free(exact);
    }
    if (have_prev)
        agent_config_free(&prev);
    printf("%ld of %ld accepted\n", accepted, iterations);
    assert_true(accepted > 0 && accepted < iterations);
    free(buf);
}

static void test_mutated_files_load_or_fail_with_the_path(void **state)
{
    uint64_t seed = fuzz_seed(0x6167656e74ull) ^ 0x5a5a;
    long iterations = fuzz_iterations(15000) / 20;
    struct rng r = { .s = seed ? seed : 1 };
    char dir[] = "/tmp/trustlink-agent-fuzz-XXXXXX";
    char path[64];
    char *buf = malloc(MAX_DOC);
    long i;

    (void)state;
    assert_non_null(buf);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/trustlink.json", dir);
    for (i = 0; i < iterations; i++) {
        size_t len = make_document(&r, seeds, sizeof(seeds) / sizeof(seeds[0]), buf, MAX_DOC);
        struct agent_config cfg;
        char err[512];
        FILE *f = fopen(path, "wb");
        int rc;

        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        memset(&cfg, FUZZ_CONFIG_POISON, sizeof(cfg));
        err[0] = '\0';
        rc = agent_config_load(path, &cfg, err, sizeof(err));
        fuzz_check_agent_config(rc, &cfg, err, buf, len);
        if (rc == 0)
            agent_config_free(&cfg);
        else if (strstr(err, path) == NULL)
            fail_msg("load error does not name the file: \"%s\"", err);
    }
    unlink(path);
    rmdir(dir);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_documents_parse_or_fail_cleanly),
        cmocka_unit_test(test_mutated_files_load_or_fail_with_the_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
