/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent/config.c: a valid config with defaults, and a table
 * of bad configs each with the message it must produce (JSON path and
 * what was expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define IDENTITY "\"identity\":{\"key\":\"pkcs11:token=t;object=device;type=private\"," \
                 "\"certificate\":\"/etc/trustlink/device.pem\"}"
#define BROKER "\"broker\":{\"host\":\"mqtt.example.com\",\"ca_file\":\"/etc/ca.pem\"}"
#define MINIMAL "{\"device_id\":\"dev-1\"," IDENTITY "," BROKER "}"
/* A config with a rotation section (device and client id "d"); ROT adds
 * the issuing CA so that later keys are reached. */
#define ROT0(x) "{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"rotation\":{" x "}}"
#define ROT(x) ROT0("\"issuing_ca_file\":\"/ca.pem\"," x)
/* 18 templates of a 64-character device id: 1152 bytes once expanded. */
#define LONG_ID "0123456789012345678901234567890123456789012345678901234567890123"
#define T3 "{device_id}{device_id}{device_id}"
#define T18 T3 T3 T3 T3 T3 T3

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

/* The rotation defaults of the configuration table in docs/agent.md (with enabled as given). */
static void assert_rotation_defaults(const struct agent_rotation_config *rot, const char *id)
{
    char topic[128];

    assert_int_equal(rot->profile, AGENT_ROTATION_TRUSTLINK);
    snprintf(topic, sizeof(topic), "trustlink/%s/csr", id);
    assert_string_equal(rot->request_topic, topic);
    snprintf(topic, sizeof(topic), "trustlink/%s/csr/accepted", id);
    assert_string_equal(rot->accepted_topic, topic);
    snprintf(topic, sizeof(topic), "trustlink/%s/csr/rejected", id);
    assert_string_equal(rot->rejected_topic, topic);
    assert_null(rot->subject);
    assert_string_equal(rot->state_dir, "/var/lib/trustlink");
    assert_int_equal(rot->answer_timeout_ms, 60000);
    assert_int_equal(rot->max_attempts, 3);
    assert_int_equal(rot->retire, AGENT_RETIRE_DESTROY);
    assert_true(rot->auto_renew);
    assert_int_equal(rot->renew_floor_s, 30 * 86400);
    assert_int_equal(rot->check_interval_ms, 3600 * 1000);
    assert_int_equal(rot->jitter_cap_s, 86400);
    assert_int_equal(rot->min_interval_s, 60);
    assert_int_equal(rot->retry_base_s, 60);
    assert_int_equal(rot->retry_max_s, 21600);
    snprintf(topic, sizeof(topic), "%s-probe", id);
    assert_string_equal(rot->probe_client_id, topic);
}

static void test_absent_rotation_is_disabled_with_defaults(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    unsetenv("STATE_DIRECTORY");
    assert_int_equal(parse(MINIMAL, &cfg, err, sizeof(err)), 0);
    assert_false(cfg.rotation.enabled);
    assert_null(cfg.rotation.issuing_ca_file);
    assert_rotation_defaults(&cfg.rotation, "dev-1");
    agent_config_free(&cfg);
}

static void test_present_rotation_is_enabled_with_defaults(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    unsetenv("STATE_DIRECTORY");
    assert_int_equal(parse(ROT0("\"issuing_ca_file\":\"/etc/trustlink/ca.pem\""), &cfg, err,
                           sizeof(err)), 0);
    assert_true(cfg.rotation.enabled);
    assert_string_equal(cfg.rotation.issuing_ca_file, "/etc/trustlink/ca.pem");
    assert_rotation_defaults(&cfg.rotation, "d");
    agent_config_free(&cfg);

    /* Disabled: the issuing CA is not required, the rest is still checked. */
    assert_int_equal(parse(ROT0("\"enabled\":false"), &cfg, err, sizeof(err)), 0);
    assert_false(cfg.rotation.enabled);
    assert_null(cfg.rotation.issuing_ca_file);
    assert_rotation_defaults(&cfg.rotation, "d");
    agent_config_free(&cfg);
}

static void test_aws_profile_defaults(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse(ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\"}"), &cfg, err,
                           sizeof(err)), 0);
    assert_int_equal(cfg.rotation.profile, AGENT_ROTATION_AWS);
    assert_true(cfg.rotation.aws_activation);
    assert_string_equal(cfg.rotation.aws_template, "t");
    assert_int_equal(cfg.rotation.aws_param_count, 0);
    assert_string_equal(cfg.rotation.request_topic, "$aws/certificates/create-from-csr/json");
    assert_string_equal(cfg.rotation.accepted_topic,
                        "$aws/certificates/create-from-csr/json/accepted");
    assert_string_equal(cfg.rotation.rejected_topic,
                        "$aws/certificates/create-from-csr/json/rejected");
    agent_config_free(&cfg);

    /* A request topic given with the profile still derives the answers. */
    assert_int_equal(parse(ROT("\"profile\":\"aws\",\"request_topic\":\"x/{device_id}\","
                               "\"aws\":{\"activation\":false}"),
                           &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.request_topic, "x/d");
    assert_string_equal(cfg.rotation.accepted_topic, "x/d/accepted");
    assert_string_equal(cfg.rotation.rejected_topic, "x/d/rejected");
    assert_false(cfg.rotation.aws_activation);
    assert_null(cfg.rotation.aws_template);
    agent_config_free(&cfg);
}

/* rotation.aws: template and parameters for RegisterThing, kept in order
 * with their placeholders unexpanded ({serial} is read from the token at
 * rotation time). */
static void test_aws_activation_template_and_parameters(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse(ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"Fleet_1-a\","
                               "\"parameters\":{\"ThingName\":\"{device_id}\","
                               "\"SerialNumber\":\"sn-{serial}\",\"Site\":\"lab\"}}"),
                           &cfg, err, sizeof(err)), 0);
    assert_true(cfg.rotation.aws_activation);
    assert_string_equal(cfg.rotation.aws_template, "Fleet_1-a");
    assert_int_equal(cfg.rotation.aws_param_count, 3);
    assert_string_equal(cfg.rotation.aws_param_names[0], "ThingName");
    assert_string_equal(cfg.rotation.aws_param_values[0], "{device_id}");
    assert_string_equal(cfg.rotation.aws_param_names[1], "SerialNumber");
    assert_string_equal(cfg.rotation.aws_param_values[1], "sn-{serial}");
    assert_string_equal(cfg.rotation.aws_param_values[2], "lab");
    agent_config_free(&cfg);
}

static void test_full_rotation_is_read_field_by_field(void **state)
{
    static const char text[] =
        "{\"device_id\":\"dev-7\"," IDENTITY ",\"broker\":{\"host\":\"h\",\"ca_file\":\"/c\","
        "\"client_id\":\"cli\"},\"rotation\":{\"enabled\":true,\"profile\":\"trustlink\","
        "\"request_topic\":\"fleet/{device_id}/csr\","
        "\"accepted_topic\":\"fleet/{device_id}/ok\","
        "\"rejected_topic\":\"fleet/{client_id}/{device_id}/no\","
        "\"issuing_ca_file\":\"/etc/trustlink/issuing-ca.pem\","
        "\"subject\":\"CN=dev-7,O=Example\",\"state_dir\":\"/srv/trustlink\","
        "\"answer_timeout\":0.5,\"max_attempts\":20,\"retire\":\"keep-previous\","
        "\"auto_renew\":false,\"renew_floor_days\":0.5,\"check_interval\":1.25,"
        "\"jitter_cap\":0,\"min_interval\":0,\"retry_base\":1.4,\"retry_max\":604800,"
        "\"probe_client_id\":\"cli-health\"}}";
    struct agent_config cfg;
    char err[512] = "";
    const struct agent_rotation_config *rot = &cfg.rotation;

    (void)state;
    assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
    assert_true(rot->enabled);
    assert_int_equal(rot->profile, AGENT_ROTATION_TRUSTLINK);
    assert_string_equal(rot->request_topic, "fleet/dev-7/csr");
    assert_string_equal(rot->accepted_topic, "fleet/dev-7/ok");
    assert_string_equal(rot->rejected_topic, "fleet/cli/dev-7/no");
    assert_string_equal(rot->issuing_ca_file, "/etc/trustlink/issuing-ca.pem");
    assert_string_equal(rot->subject, "CN=dev-7,O=Example");
    assert_string_equal(rot->state_dir, "/srv/trustlink");
    assert_int_equal(rot->answer_timeout_ms, 500);
    assert_int_equal(rot->max_attempts, 20);
    assert_int_equal(rot->retire, AGENT_RETIRE_KEEP_PREVIOUS);
    assert_false(rot->auto_renew);
    assert_int_equal(rot->renew_floor_s, 43200);
    assert_int_equal(rot->check_interval_ms, 1250);
    assert_int_equal(rot->jitter_cap_s, 0);
    assert_int_equal(rot->min_interval_s, 0);
    assert_int_equal(rot->retry_base_s, 1);
    assert_int_equal(rot->retry_max_s, 604800);
    assert_string_equal(rot->probe_client_id, "cli-health");
    agent_config_free(&cfg);

    /* The slash form of the subject, with an escaped '/'. */
    assert_int_equal(parse(ROT("\"subject\":\"/CN=dev\\\\/1/O=Example Ltd\""), &cfg, err,
                           sizeof(err)), 0);
    assert_string_equal(cfg.rotation.subject, "/CN=dev\\/1/O=Example Ltd");
    agent_config_free(&cfg);
}

static void test_state_directory_from_systemd(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/trustlink-a:/var/lib/other", 1), 0);
    assert_int_equal(parse(ROT("\"enabled\":true"), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.state_dir, "/var/lib/trustlink-a");
    agent_config_free(&cfg);

    assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/only", 1), 0);
    assert_int_equal(parse(MINIMAL, &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.state_dir, "/var/lib/only");
    agent_config_free(&cfg);

    /* The file wins over the environment. */
    assert_int_equal(parse(ROT("\"state_dir\":\"/srv/s\""), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.state_dir, "/srv/s");
    agent_config_free(&cfg);

    /* Not an absolute path (systemd never sets one): the built-in default. */
    assert_int_equal(setenv("STATE_DIRECTORY", "relative/dir", 1), 0);
    assert_int_equal(parse(ROT("\"enabled\":true"), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.state_dir, "/var/lib/trustlink");
    agent_config_free(&cfg);
    assert_int_equal(setenv("STATE_DIRECTORY", "", 1), 0);
    assert_int_equal(parse(ROT("\"enabled\":true"), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.rotation.state_dir, "/var/lib/trustlink");
    agent_config_free(&cfg);
    unsetenv("STATE_DIRECTORY");
}

static void test_status_and_heartbeat_topics_expand_templates(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"device_id\":\"dev-1\"," IDENTITY ",\"broker\":{\"host\":\"h\","
                           "\"ca_file\":\"/c\",\"client_id\":\"cli\"},\"telemetry\":{"
                           "\"topic_prefix\":\"site\",\"status_topic\":\"status/{device_id}\","
                           "\"heartbeat_topic\":\"{device_id}/hb/{client_id}\"}}",
                           &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.telemetry.topic_prefix, "site");
    assert_string_equal(cfg.telemetry.status_topic, "site/status/dev-1");
    assert_string_equal(cfg.telemetry.heartbeat_topic, "site/dev-1/hb/cli");
    agent_config_free(&cfg);
}

/* config/trustlink.example.json, found from this file's path. */
static void test_example_config_parses(void **state)
{
    static const char tail[] = "tests/agent/test_config.c";
    char path[4096];
    size_t n = strlen(__FILE__);
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    assert_true(n >= sizeof(tail) - 1 && strcmp(__FILE__ + n - (sizeof(tail) - 1), tail) == 0);
    snprintf(path, sizeof(path), "%.*sconfig/trustlink.example.json",
             (int)(n - (sizeof(tail) - 1)), __FILE__);
    if (agent_config_load(path, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(cfg.rotation.enabled);
    assert_non_null(cfg.rotation.issuing_ca_file);
    assert_string_equal(cfg.rotation.request_topic, "trustlink/device-001/csr");
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
        "\"control\":{\"path\":\"/tmp/c.sock\",\"mode\":\"0600\",\"admin_uids\":[0,1000],"
        "\"admin_gids\":[\"root\"],\"publish_uids\":[1001],\"publish_gids\":[0,\"root\"]},"
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
    assert_int_equal(cfg.control.n_admin_uids, 2);
    assert_int_equal(cfg.control.admin_uids[1], 1000);
    assert_int_equal(cfg.control.admin_gids[0], 0);
    assert_int_equal(cfg.control.n_publish_uids, 1);
    assert_int_equal(cfg.control.publish_uids[0], 1001);
    assert_int_equal(cfg.control.n_publish_gids, 2);
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
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:token=t;object=k;pin-value=1234\","
     "\"certificate\":\"/c.pem\"}," BROKER "}",
     "identity.key: a pin-value in the URI is refused"},
    /* p11-kit drops the whitespace: this is a pin-value too. */
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:token=t;object=k;pin-\\nvalue=1234\","
     "\"certificate\":\"/c.pem\"}," BROKER "}",
     "identity.key: a pin-value in the URI is refused"},
    {"{\"device_id\":\"d\",\"identity\":{\"key\":\"pkcs11:token=t;object=k\","
     "\"certificate\":\"pkcs11:token=t;object=k?pin-value=1\"}," BROKER "}",
     "identity.certificate: a pin-value in the URI is refused"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"reconnect\":{\"jitter\":true}}",
     "reconnect.jitter: expected \"none\" or \"full\", got true"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"mode\":\"660\"}}",
     "control.mode: expected an octal file mode such as \"0660\", got \"660\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"allowed_uids\":[1,-2]}}",
     "control.allowed_uids[1]: expected an id 0-4294967294, got -2"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"allowed_gids\":[\"no-such-group-x\"]}}",
     "control.allowed_gids[0]: expected an existing group, got \"no-such-group-x\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"publish_uids\":[\"no-such-user-x\"]}}",
     "control.publish_uids[0]: expected an existing user, got \"no-such-user-x\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"control\":{\"allowed_uids\":[1],\"admin_uids\":[2]}}",
     "control.allowed_uids: is the old name of admin_uids: give one"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"topic_prefix\":\"a/#\"}}",
     "telemetry.topic_prefix: expected a topic without wildcards"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"queue_max_messages\":0}}",
     "telemetry.queue_max_messages: expected an integer 1-100000, got 0"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"status_topic\":\"s/+\"}}",
     "telemetry.status_topic: expected a topic below topic_prefix without wildcards, got \"s/+\""},
    {"{\"device_id\":\"" LONG_ID "\"," IDENTITY "," BROKER ",\"telemetry\":{\"heartbeat_topic\":\""
     T3 T3 T3 "\"}}",
     "telemetry.heartbeat_topic: expected at most 511 bytes once expanded"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"queue_durability\":\"disk\"}}",
     "telemetry.queue_durability: expected \"fsync\" or \"batch\" or \"memory\", got \"disk\""},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{\"queue_batch_ms\":0}}",
     "telemetry.queue_batch_ms: expected an integer 1-60000, got 0"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"state_dir\":\"var/lib\"}",
     "state_dir: expected an absolute path of the agent's state directory, got \"var/lib\""},
    /* rotation */
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"rotation\":[]}",
     "rotation: expected an object, got []"},
    {"{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"rotation\":true}",
     "rotation: expected an object, got true"},
    {ROT("\"bogus\":1"), "rotation.bogus: unknown key (expected one of: enabled, profile, "
     "request_topic, accepted_topic, rejected_topic, issuing_ca_file, subject, state_dir, "
     "answer_timeout, max_attempts, retire, auto_renew, renew_floor_days, check_interval, "
     "jitter_cap, min_interval, retry_base, retry_max, probe_client_id, aws)"},
    /* profile aws activates by default: a template is required. */
    {ROT("\"profile\":\"aws\""), "rotation.aws.template: required with profile aws"},
    {ROT("\"profile\":\"aws\",\"aws\":{}"), "rotation.aws.template: required with profile aws"},
    {ROT("\"profile\":\"aws\",\"aws\":[]"), "rotation.aws: expected an object, got"},
    {ROT("\"aws\":{\"template\":\"t\"}"), "rotation.aws: only with \"profile\": \"aws\""},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"bogus\":1}"),
     "rotation.aws.bogus: unknown key (expected one of: template, activation, parameters)"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"a/b\"}"),
     "rotation.aws.template: expected a provisioning template name of 1-36 characters"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"\"}"),
     "rotation.aws.template: expected a provisioning template name"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"activation\":\"no\"}"),
     "rotation.aws.activation: expected true or false"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":[]}"),
     "rotation.aws.parameters: expected an object of strings"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":{\"A\":1}}"),
     "rotation.aws.parameters.A: expected a string"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":{\"A\":\"{chip}\"}}"),
     "rotation.aws.parameters.A: expected a string of at most 4096 bytes whose only {...} are "
     "{device_id} and {serial}, got \"{chip}\""},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":{\"A\":\"{serial\"}}"),
     "rotation.aws.parameters.A: expected a string"},
    {ROT("\"profile\":\"aws\",\"aws\":{\"template\":\"t\",\"parameters\":{\"\":\"x\"}}"),
     "rotation.aws.parameters: expected parameter names of 1-128 bytes"},
    {ROT0(""), "rotation.issuing_ca_file: required key is missing (expected a path of a PEM file"},
    {ROT0("\"enabled\":true"), "rotation.issuing_ca_file: required key is missing"},
    {ROT0("\"issuing_ca_file\":\"\""),
     "rotation.issuing_ca_file: expected a path of a PEM file of the issuing CA certificates, got \"\""},
    {ROT0("\"issuing_ca_file\":null"), "rotation.issuing_ca_file: expected a path of a PEM file"},
    {ROT("\"enabled\":\"yes\""), "rotation.enabled: expected true or false, got \"yes\""},
    {ROT("\"enabled\":1"), "rotation.enabled: expected true or false, got 1"},
    {ROT("\"profile\":\"gcp\""), "rotation.profile: expected \"trustlink\" or \"aws\", got \"gcp\""},
    {ROT("\"request_topic\":\"a/+/csr\""),
     "rotation.request_topic: expected a topic without wildcards or leading/trailing '/', may use "
     "{device_id} and {client_id}, got \"a/+/csr\""},
    {ROT("\"request_topic\":\"a/#\""), "rotation.request_topic: expected a topic without wildcards"},
    {ROT("\"request_topic\":\"\""), "rotation.request_topic: expected a topic without wildcards"},
    {ROT("\"request_topic\":7"), "rotation.request_topic: expected a topic without wildcards"},
    {ROT("\"request_topic\":\"/csr\""), "rotation.request_topic: expected a topic without wildcards"},
    {"{\"device_id\":\"" LONG_ID "\"," IDENTITY "," BROKER ",\"rotation\":{\"request_topic\":\""
     T18 "\",\"issuing_ca_file\":\"/ca.pem\"}}",
     "rotation.request_topic: expected at most 511 bytes once expanded"},
    {ROT("\"accepted_topic\":\"a/#\""),
     "rotation.accepted_topic: expected a topic without wildcards"},
    {ROT("\"rejected_topic\":\"a/+\""),
     "rotation.rejected_topic: expected a topic without wildcards"},
    {ROT("\"rejected_topic\":\"r/\""),
     "rotation.rejected_topic: expected a topic without wildcards"},
    {ROT("\"accepted_topic\":\"x/{device_id}\",\"rejected_topic\":\"x/d\""),
     "rotation: expected distinct request_topic, accepted_topic and rejected_topic, got "
     "\"trustlink/d/csr\", \"x/d\", \"x/d\""},
    {ROT("\"request_topic\":\"x\",\"accepted_topic\":\"x\""),
     "rotation: expected distinct request_topic, accepted_topic and rejected_topic"},
    {ROT("\"subject\":\"/XX=1\""),
     "rotation.subject: expected a subject such as \"/CN=device-001/O=Example\" or "
     "\"CN=device-001,O=Example\", got \"/XX=1\" (subject \"/XX=1\": unknown attribute \"XX\")"},
    {ROT("\"subject\":\"CN\""), "rotation.subject: expected a subject such as"},
    {ROT("\"subject\":\"/CN=\""), "rotation.subject: expected a subject such as"},
    {ROT("\"subject\":\"\""), "rotation.subject: expected a subject such as"},
    {ROT("\"subject\":[\"CN=a\"]"), "rotation.subject: expected a subject such as"},
    {ROT("\"state_dir\":\"var/lib\""),
     "rotation.state_dir: expected an absolute path of the rotation journal directory, got "
     "\"var/lib\""},
    {ROT("\"answer_timeout\":0"),
     "rotation.answer_timeout: expected a number of seconds 0.001-3600, got 0"},
    {ROT("\"answer_timeout\":3600.5"),
     "rotation.answer_timeout: expected a number of seconds 0.001-3600, got 3600.5"},
    {ROT("\"answer_timeout\":\"60\""),
     "rotation.answer_timeout: expected a number of seconds 0.001-3600, got \"60\""},
    {ROT("\"max_attempts\":0"), "rotation.max_attempts: expected an integer 1-20, got 0"},
    {ROT("\"max_attempts\":21"), "rotation.max_attempts: expected an integer 1-20, got 21"},
    {ROT("\"max_attempts\":2.5"), "rotation.max_attempts: expected an integer 1-20, got 2.5"},
    {ROT("\"retire\":\"keep\""),
     "rotation.retire: expected \"destroy\" or \"keep-previous\", got \"keep\""},
    {ROT("\"auto_renew\":\"true\""), "rotation.auto_renew: expected true or false, got \"true\""},
    {ROT("\"renew_floor_days\":-1"),
     "rotation.renew_floor_days: expected a number of days 0-3650, got -1"},
    {ROT("\"renew_floor_days\":3650.5"),
     "rotation.renew_floor_days: expected a number of days 0-3650, got 3650.5"},
    {ROT("\"check_interval\":0"),
     "rotation.check_interval: expected a number of seconds 0.001-86400, got 0"},
    {ROT("\"check_interval\":86401"),
     "rotation.check_interval: expected a number of seconds 0.001-86400, got 86401"},
    {ROT("\"jitter_cap\":-1"), "rotation.jitter_cap: expected a number of seconds 0-604800, got -1"},
    {ROT("\"jitter_cap\":604801"),
     "rotation.jitter_cap: expected a number of seconds 0-604800, got 604801"},
    {ROT("\"min_interval\":86401"),
     "rotation.min_interval: expected a number of seconds 0-86400, got 86401"},
    {ROT("\"min_interval\":null"),
     "rotation.min_interval: expected a number of seconds 0-86400, got null"},
    {ROT("\"retry_base\":0"), "rotation.retry_base: expected a number of seconds 1-86400, got 0"},
    {ROT("\"retry_base\":86401"),
     "rotation.retry_base: expected a number of seconds 1-86400, got 86401"},
    {ROT("\"retry_max\":604801"),
     "rotation.retry_max: expected a number of seconds 1-604800, got 604801"},
    {ROT("\"retry_base\":100,\"retry_max\":50"),
     "rotation.retry_max: expected at least rotation.retry_base (100 s), got 50"},
    {ROT("\"retry_base\":30000"),
     "rotation.retry_max: expected at least rotation.retry_base (30000 s), got 21600"},
    {ROT("\"probe_client_id\":\"d\""),
     "rotation.probe_client_id: expected a client id other than broker.client_id, got \"d\""},
    {ROT("\"probe_client_id\":\"\""),
     "rotation.probe_client_id: expected an MQTT client id of 1-128 bytes, got \"\""},
    {ROT("\"probe_client_id\":\"" LONG_ID LONG_ID "x\""),
     "rotation.probe_client_id: expected an MQTT client id of 1-128 bytes, got"},
    {ROT("\"probe_client_id\":false"),
     "rotation.probe_client_id: expected an MQTT client id of 1-128 bytes, got false"},
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

static void test_rotation_settings_do_not_change_the_connection(void **state)
{
    struct agent_config a, b;
    char err[512];

    (void)state;
    assert_int_equal(parse(MINIMAL, &a, err, sizeof(err)), 0);
    assert_int_equal(parse("{\"device_id\":\"dev-1\"," IDENTITY "," BROKER ",\"rotation\":{"
                           "\"profile\":\"aws\",\"issuing_ca_file\":\"/ca.pem\","
                           "\"subject\":\"/CN=x\",\"state_dir\":\"/s\",\"answer_timeout\":5,"
                           "\"max_attempts\":1,\"retire\":\"keep-previous\",\"auto_renew\":false,"
                           "\"renew_floor_days\":1,\"check_interval\":10,\"jitter_cap\":1,"
                           "\"min_interval\":1,\"retry_base\":2,\"retry_max\":3,"
                           "\"probe_client_id\":\"p\",\"aws\":{\"template\":\"t\"}}}",
                           &b, err, sizeof(err)), 0);
    assert_false(agent_config_connection_changed(&a, &b));
    assert_false(agent_config_connection_changed(&b, &a));
    agent_config_free(&a);
    agent_config_free(&b);
}

static void test_queue_durability_defaults_to_fsync(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    unsetenv("STATE_DIRECTORY");
    assert_int_equal(parse(MINIMAL, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.telemetry.queue_durability, AGENT_DURABILITY_FSYNC);
    assert_int_equal(cfg.telemetry.queue_batch_ms, 200);
    assert_string_equal(cfg.state_dir, "/var/lib/trustlink");
    agent_config_free(&cfg);
}

static void test_queue_durability_modes_are_read(void **state)
{
    static const struct {
        const char *mode;
        enum agent_queue_durability want;
    } modes[] = {{"fsync", AGENT_DURABILITY_FSYNC},
                 {"batch", AGENT_DURABILITY_BATCH},
                 {"memory", AGENT_DURABILITY_MEMORY}};
    char text[1024], err[512] = "";

    (void)state;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct agent_config cfg;

        snprintf(text, sizeof(text),
                 "{\"device_id\":\"d\"," IDENTITY "," BROKER ",\"telemetry\":{"
                 "\"queue_durability\":\"%s\",\"queue_batch_ms\":50}}",
                 modes[i].mode);
        assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
        assert_int_equal(cfg.telemetry.queue_durability, modes[i].want);
        assert_int_equal(cfg.telemetry.queue_batch_ms, 50);
        agent_config_free(&cfg);
    }
}

/* The delivery queue's file lives in the agent's state directory: the
 * top-level key, else rotation.state_dir (older configs), which in turn
 * defaults to the top-level one. */
static void test_state_dir_is_shared_with_the_rotation_journal(void **state)
{
    struct agent_config cfg;
    char err[512] = "";

    (void)state;
    unsetenv("STATE_DIRECTORY");
    assert_int_equal(parse("{\"device_id\":\"d\"," IDENTITY "," BROKER
                           ",\"state_dir\":\"/srv/agent\"}",
                           &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.state_dir, "/srv/agent");
    assert_string_equal(cfg.rotation.state_dir, "/srv/agent");
    agent_config_free(&cfg);
    assert_int_equal(parse(ROT("\"state_dir\":\"/srv/rot\""), &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.state_dir, "/srv/rot");
    agent_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_config_gets_documented_defaults),
        cmocka_unit_test(test_full_config_is_read_field_by_field),
        cmocka_unit_test(test_absent_rotation_is_disabled_with_defaults),
        cmocka_unit_test(test_present_rotation_is_enabled_with_defaults),
        cmocka_unit_test(test_aws_profile_defaults),
        cmocka_unit_test(test_aws_activation_template_and_parameters),
        cmocka_unit_test(test_full_rotation_is_read_field_by_field),
        cmocka_unit_test(test_state_directory_from_systemd),
        cmocka_unit_test(test_status_and_heartbeat_topics_expand_templates),
        cmocka_unit_test(test_example_config_parses),
        cmocka_unit_test(test_bad_configs_name_path_and_expectation),
        cmocka_unit_test(test_load_prefixes_errors_with_the_file_path),
        cmocka_unit_test(test_connection_change_detects_broker_but_not_heartbeat),
        cmocka_unit_test(test_rotation_settings_do_not_change_the_connection),
        cmocka_unit_test(test_queue_durability_defaults_to_fsync),
        cmocka_unit_test(test_queue_durability_modes_are_read),
        cmocka_unit_test(test_state_dir_is_shared_with_the_rotation_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
