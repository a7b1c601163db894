/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic fuzz test of the agent configuration parser
 * (agent_config_parse, and agent_config_load on temp files): valid seeds
 * mutated with bit flips, truncations, token and byte insertions,
 * duplicated and removed members, values of the wrong type, huge numbers,
 * deep nesting and invalid UTF-8. Every document must give either a
 * config that holds the documented bounds, or -1 with a non-empty message
 * and the output struct untouched (config.h);
 * never a crash or a leak (the ASan/UBSan build runs this too). Documents
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
    "\"rotation\":{\"enabled\":true,\"profile\":\"aws\",\"request_topic\":\"r/{device_id}/csr\","
    "\"accepted_topic\":\"r/{client_id}/ok\",\"rejected_topic\":\"r/{device_id}/no\","
    "\"issuing_ca_file\":\"/etc/trustlink/issuing-ca.pem\",\"subject\":\"/CN=d-9/O=Example\","
    "\"state_dir\":\"/var/lib/t\",\"answer_timeout\":0.5,\"max_attempts\":20,"
    "\"retire\":\"keep-previous\",\"auto_renew\":false,\"renew_floor_days\":3650,"
    "\"check_interval\":86400,\"jitter_cap\":604800,\"min_interval\":0,\"retry_base\":1,"
    "\"retry_max\":604800,\"probe_client_id\":\"c-9-probe\"}}",
};

/* A parse that fails must leave out untouched (config.h). */
static const unsigned char POISON = 0xA5;

static void check_result(int rc, const struct agent_config *cfg, const char *err, const char *doc,
                         size_t len)
{
    if (rc == 0) {
        assert_non_null(cfg->device_id);
        assert_non_null(cfg->identity.key_uri);
        assert_non_null(cfg->identity.certificate);
        assert_non_null(cfg->broker.host);
        assert_true(cfg->broker.port >= 1 && cfg->broker.port <= 65535);
        assert_true(cfg->broker.ca_file != NULL || cfg->broker.ca_dir != NULL);
        assert_false(cfg->identity.pin_file != NULL && cfg->identity.pin_credential != NULL);
        assert_true(cfg->control.n_admin_uids == 0 || cfg->control.admin_uids != NULL);
        assert_true(cfg->control.n_admin_gids == 0 || cfg->control.admin_gids != NULL);
        assert_true(cfg->control.n_publish_uids == 0 || cfg->control.publish_uids != NULL);
        assert_true(cfg->control.n_publish_gids == 0 || cfg->control.publish_gids != NULL);
        assert_non_null(cfg->telemetry.status_topic);
        assert_non_null(cfg->telemetry.heartbeat_topic);
        /* Every topic is expanded: no template left (ids cannot hold
         * braces). */
        assert_non_null(cfg->telemetry.topic_prefix);
        {
            const char *topics[] = {cfg->telemetry.topic_prefix, cfg->telemetry.status_topic,
                                    cfg->telemetry.heartbeat_topic, cfg->rotation.request_topic,
                                    cfg->rotation.accepted_topic, cfg->rotation.rejected_topic};

            for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
                assert_non_null(topics[i]);
                if (strstr(topics[i], "{device_id}") != NULL ||
                    strstr(topics[i], "{client_id}") != NULL)
                    fail_msg("topic \"%s\" not expanded (device id \"%s\") from \"%.*s\"",
                             topics[i], cfg->device_id, (int)len, doc);
            }
        }
        /* Rotation is always filled, within the documented bounds. */
        assert_true(!cfg->rotation.enabled || cfg->rotation.issuing_ca_file != NULL);
        assert_non_null(cfg->rotation.state_dir);
        assert_true(cfg->rotation.state_dir[0] == '/');
        assert_non_null(cfg->rotation.probe_client_id);
        assert_non_null(cfg->broker.client_id);
        assert_string_not_equal(cfg->rotation.probe_client_id, cfg->broker.client_id);
        assert_true(cfg->rotation.answer_timeout_ms >= 1 &&
                    cfg->rotation.answer_timeout_ms <= 3600 * 1000);
        assert_true(cfg->rotation.max_attempts >= 1 && cfg->rotation.max_attempts <= 20);
        assert_true(cfg->rotation.renew_floor_s >= 0 &&
                    cfg->rotation.renew_floor_s <= 3650LL * 86400);
        assert_true(cfg->rotation.check_interval_ms >= 1 &&
                    cfg->rotation.check_interval_ms <= 86400 * 1000);
        assert_true(cfg->rotation.jitter_cap_s >= 0 && cfg->rotation.jitter_cap_s <= 604800);
        assert_true(cfg->rotation.min_interval_s >= 0 && cfg->rotation.min_interval_s <= 86400);
        assert_true(cfg->rotation.retry_base_s >= 1 &&
                    cfg->rotation.retry_base_s <= cfg->rotation.retry_max_s &&
                    cfg->rotation.retry_max_s <= 604800);
    } else if (rc != -1 || err[0] == '\0') {
        fail_msg("rc %d with message \"%s\" for \"%.*s\"", rc, err, (int)len, doc);
    } else {
        const unsigned char *p = (const unsigned char *)cfg;
        size_t i;

        for (i = 0; i < sizeof(*cfg); i++)
            if (p[i] != POISON)
                fail_msg("failed parse wrote out (byte %zu) for \"%.*s\"", i, (int)len, doc);
    }
}

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
        memset(&cfg, POISON, sizeof(cfg));
        err[0] = '\0';
        rc = agent_config_parse(exact, len, &cfg, err, sizeof(err));
        check_result(rc, &cfg, err, exact, len);
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

            memset(&cfg, POISON, sizeof(cfg));
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
        memset(&cfg, POISON, sizeof(cfg));
        err[0] = '\0';
        rc = agent_config_load(path, &cfg, err, sizeof(err));
        check_result(rc, &cfg, err, buf, len);
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
