/*
 * Unit tests of agent/config.c: a valid config with defaults, and a table
 * of bad configs each with the message it must produce (JSON path and
 * what was expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define IDENTITY "\"identity\":{\"key\":\"pkcs11:token=t;object=device;type=private\"," \
                 "\"certificate\":\"/etc/trustlink/device.pem\"}"
#define BROKER "\"broker\":{\"host\":\"mqtt.example.com\",\"ca_file\":\"/etc/ca.pem\"}"
#define MINIMAL "{\"device_id\":\"dev-1\"," IDENTITY "," BROKER "}"

static int parse(const char *text, struct agent_config *cfg, char *err, size_t len)
{
    return agent_config_parse(text, strlen(text), cfg, err, len);
}

static void test_minimal_config_gets_documented_defaults(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse(MINIMAL, &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.device_id, "dev-1");
    assert_string_equal(cfg.identity.module, AGENT_DEFAULT_PKCS11_MODULE);
    assert_int_equal(cfg.broker.port, 8883);
    assert_int_equal(cfg.broker.keepalive_s, 60);
    assert_string_equal(cfg.broker.client_id, "dev-1");
    assert_int_equal(cfg.broker.tls_min_version, AGENT_TLS_1_2);
    assert_int_equal(cfg.broker.mqtt_version, AGENT_MQTT_3_1_1);
    assert_int_equal(cfg.reconnect.initial_ms, 1000);
    assert_int_equal(cfg.reconnect.maximum_ms, 120000);
    assert_int_equal(cfg.reconnect.stable_reset_ms, 30000);
    assert_true(cfg.reconnect.jitter);
    assert_string_equal(cfg.control.path, "/run/trustlink/control.sock");
    assert_int_equal(cfg.control.mode, 0660);
    assert_string_equal(cfg.telemetry.status_topic, "trustlink/dev-1/status");
    assert_string_equal(cfg.telemetry.heartbeat_topic, "trustlink/dev-1/heartbeat");
    assert_int_equal(cfg.telemetry.heartbeat_interval_s, 60);
    assert_int_equal(cfg.log_level, AGENT_LOG_INFO);
    agent_config_free(&cfg);
}

static void test_full_config_is_read_field_by_field(void **state)
{
    static const char text[] =
        "{\"device_id\":\"d\",\"log_level\":\"debug\","
        "\"identity\":{\"module\":\"/m.so\",\"key\":\"pkcs11:object=k\","
        "\"certificate\":\"pkcs11:object=k;type=cert\",\"chain_file\":\"/c.pem\","
        "\"pin_credential\":\"pin\"},"
        "\"broker\":{\"host\":\"127.0.0.1\",\"port\":1883,\"ca_dir\":\"/etc/ssl/certs\","
        "\"tls_min_version\":\"1.3\",\"mqtt_version\":\"5\",\"keepalive\":30,\"client_id\":\"c\"},"
        "\"reconnect\":{\"initial\":0.5,\"maximum\":10,\"jitter\":\"none\",\"stable_reset\":5},"
        "\"control\":{\"path\":\"/tmp/c.sock\",\"mode\":\"0600\",\"allowed_uids\":[0,1000],"
        "\"allowed_gids\":[\"root\"]},"
        "\"telemetry\":{\"heartbeat_interval\":0,\"topic_prefix\":\"x/{client_id}\","
        "\"status_topic\":\"s\",\"heartbeat_topic\":\"h/b\",\"queue_max_messages\":5,"
        "\"queue_max_bytes\":2048}}";
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, AGENT_LOG_DEBUG);
    assert_string_equal(cfg.identity.pin_credential, "pin");
    assert_int_equal(cfg.broker.mqtt_version, AGENT_MQTT_5);
    assert_int_equal(cfg.broker.tls_min_version, AGENT_TLS_1_3);
    assert_int_equal(cfg.reconnect.initial_ms, 500);
    assert_false(cfg.reconnect.jitter);
    assert_int_equal(cfg.control.n_allowed_uids, 2);
    assert_int_equal(cfg.control.allowed_uids[1], 1000);
    assert_int_equal(cfg.control.allowed_gids[0], 0);
    assert_string_equal(cfg.telemetry.status_topic, "x/c/s");
    assert_string_equal(cfg.telemetry.heartbeat_topic, "x/c/h/b");
    agent_config_free(&cfg);
}

struct bad_case {
    const char *text;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"", "(file): invalid JSON"},
    {"{\"device_id\":", "(file): invalid JSON at line 1"},
    {"[1]", "(top level): expected an object, got [1]"},
    {"{}", "device_id: required key is missing (expected a device id of 1-64 characters"},
    {"{\"device_id\":\"a b\"}", "device_id: expected a device id of 1-64 characters [A-Za-z0-9._-], got \"a b\""},
    {"{\"device_id\":\"d\",\"bogus\":1}", "bogus: unknown key (expected one of: device_id, log_level"},
    {"{\"device_id\":\"d\"}", "identity: required section is missing (expected an object)"},
    {"{\"device_id\":\"d\",\"identity\":[]}", "identity: expected an object, got []"},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"k\"}}",
     "identity.key: expected a pkcs11: URI naming the private key (RFC 7512), got \"k\""},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\"}}",
     "identity.certificate: required key is missing"},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"rel.pem\"}}",
     "identity.certificate: expected a pkcs11: URI or an absolute path of a PEM file, got \"rel.pem\""},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"/c\",\"pin\":\"1234\"}}",
     "identity.pin: unknown key"},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"/c\","
     "\"pin_file\":\"/p\",\"pin_credential\":\"p\"}}",
     "identity: expected at most one of \"pin_file\" and \"pin_credential\", got both"},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:object=k\",\"certificate\":\"/c\","
     "\"pin_credential\":\"a/b\"}}",
     "identity.pin_credential: expected a systemd credential name (no '/'), got \"a/b\""},
    {"{\"device_id\":\"d\"," IDENTITY "}", "broker: required section is missing"},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\"}}",
     "broker: expected \"ca_file\" or \"ca_dir\" (the broker is always verified), got neither"},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\",\"port\":70000}}",
     "broker.port: expected an integer 1-65535, got 70000"},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\",\"port\":\"8883\"}}",
     "broker.port: expected an integer 1-65535, got \"8883\""},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":12,\"ca_file\":\"/c\"}}",
     "broker.host: expected a host name or IP address, got 12"},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\",\"mqtt_version\":\"4\"}}",
     "broker.mqtt_version: expected \"3.1.1\" or \"5\", got \"4\""},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\",\"tls_min_version\":\"1.1\"}}",
     "broker.tls_min_version: expected \"1.2\" or \"1.3\", got \"1.1\""},
    {"{\"device_id\":\"d\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\",\"keepalive\":1}}",
     "broker.keepalive: expected an integer 5-65535, got 1"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"reconnect\":{\"initial\":-1}}",
     "reconnect.initial: expected a number of seconds 0.01-3600, got -1"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"reconnect\":{\"initial\":10,\"maximum\":5}}",
     "reconnect.maximum: expected at least reconnect.initial (10 s), got 5"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"reconnect\":{\"jitter\":true}}",
     "reconnect.jitter: expected \"none\" or \"full\", got true"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"mode\":\"660\"}}",
     "control.mode: expected an octal file mode such as \"0660\", got \"660\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"allowed_uids\":[1,-2]}}",
     "control.allowed_uids[1]: expected an id 0-4294967294, got -2"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"allowed_gids\":[\"no-such-group-x\"]}}",
     "control.allowed_gids[0]: expected an existing group, got \"no-such-group-x\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"topic_prefix\":\"a/#\"}}",
     "telemetry.topic_prefix: expected a topic without wildcards"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"queue_max_messages\":0}}",
     "telemetry.queue_max_messages: expected an integer 1-100000, got 0"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"log_level\":\"loud\"}",
     "log_level: expected \"error\" or \"warning\" or \"notice\" or \"info\" or \"debug\", got \"loud\""},
};

static void test_bad_configs_name_path_and_expectation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct agent_config cfg;
        char err[512] = "";
        int rc;

        memset(&cfg, 0x5a, sizeof(cfg));
        rc = parse(bad_cases[i].text, &cfg, err, sizeof(err));
        if (rc == 0 || strncmp(err, bad_cases[i].message, strlen(bad_cases[i].message)) != 0)
            fail_msg("case %zu: %s\n  expected message starting with: %s\n  got (rc %d): %s", i,
                     bad_cases[i].text, bad_cases[i].message, rc, err);
    }
}

static void test_load_prefixes_errors_with_the_file_path(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(agent_config_load("/nonexistent/trustlink.json", &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/trustlink.json: cannot open"));
}

static void test_connection_change_detects_broker_but_not_heartbeat(void **state)
{
    struct agent_config a, b;
    char err[512];

    (void)state;
    assert_int_equal(parse(MINIMAL, &a, err, sizeof(err)), 0);
    assert_int_equal(parse("{\"device_id\":\"dev-1\"," IDENTITY "," BROKER
                           ",\"telemetry\":{\"heartbeat_interval\":5}}",
                           &b, err, sizeof(err)), 0);
    assert_false(agent_config_connection_changed(&a, &b));
    agent_config_free(&b);
    assert_int_equal(parse("{\"device_id\":\"dev-1\"," IDENTITY
                           ",\"broker\":{\"host\":\"other\",\"ca_file\":\"/etc/ca.pem\"}}",
                           &b, err, sizeof(err)), 0);
    assert_true(agent_config_connection_changed(&a, &b));
    agent_config_free(&a);
    agent_config_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_config_gets_documented_defaults),
        cmocka_unit_test(test_full_config_is_read_field_by_field),
        cmocka_unit_test(test_bad_configs_name_path_and_expectation),
        cmocka_unit_test(test_load_prefixes_errors_with_the_file_path),
        cmocka_unit_test(test_connection_change_detects_broker_but_not_heartbeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
