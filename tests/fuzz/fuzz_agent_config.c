/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the agent configuration parser (agent/config.c).
 * Every document gives either a config within the documented bounds, or
 * -1 with a non-empty message and the output untouched (config.h); a
 * tiny error buffer truncates; an accepted config compared with itself is
 * no connection change (the reload path). The check is shared with
 * tests/agent/fuzz_config.c, which generates documents deterministically.
 * Corpus: tests/fuzz/agent_config/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "fuzz_target.h"

void fuzz_check_agent_config(int rc, const struct agent_config *cfg, const char *err,
                             const char *doc, size_t len)
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
            if (p[i] != FUZZ_CONFIG_POISON)
                fail_msg("failed parse wrote out (byte %zu) for \"%.*s\"", i, (int)len, doc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_config cfg, again;
    char err[512];
    char small[8];
    int rc;

    memset(&cfg, FUZZ_CONFIG_POISON, sizeof(cfg));
    err[0] = '\0';
    rc = agent_config_parse((const char *)data, size, &cfg, err, sizeof(err));
    fuzz_check_agent_config(rc, &cfg, err, (const char *)data, size);
    if (rc != 0) {
        memset(&cfg, FUZZ_CONFIG_POISON, sizeof(cfg));
        if (agent_config_parse((const char *)data, size, &cfg, small, sizeof(small)) != -1 ||
            memchr(small, '\0', sizeof(small)) == NULL)
            fail_msg("a tiny error buffer changed the outcome or was not terminated");
        return 0;
    }
    /* A reload of the same document changes nothing about the connection. */
    memset(&again, FUZZ_CONFIG_POISON, sizeof(again));
    if (agent_config_parse((const char *)data, size, &again, err, sizeof(err)) != 0)
        fail_msg("the same document parsed once and failed the second time: %s", err);
    if (agent_config_connection_changed(&cfg, &again))
        fail_msg("the same document twice is a connection change");
    agent_config_free(&again);
    agent_config_free(&cfg);
    return 0;
}
