/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "rotation" section of the configuration and the agent's state
 * directory (see config_internal.h).
 * Must never: accept an unknown key or an out-of-range value silently.
 */
#include "config_internal.h"

#include <limits.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "aws_register.h"
#include "csr.h"
#define ROTATION_TOPIC_WHAT \
    "a topic without wildcards or leading/trailing '/', may use {device_id} and {client_id}"
#define ROTATION_DEFAULT_STATE_DIR "/var/lib/trustlink"

/* The default journal directory: the first entry of $STATE_DIRECTORY
 * (systemd StateDirectory=; ':'-separated) when it is an absolute path. */
static void default_state_dir(char *out, size_t len)
{
    const char *env = getenv("STATE_DIRECTORY");
    size_t n;

    snprintf(out, len, "%s", ROTATION_DEFAULT_STATE_DIR);
    if (env == NULL || env[0] != '/')
        return;
    n = strcspn(env, ":");
    if (n < len)
        snprintf(out, len, "%.*s", (int)n, env);
}

/* rotation.subject must be a subject agent_csr_parse_subject accepts. */
static int check_subject(struct cfg_reader *r, struct json_object *sec, const char *what,
                         const char *subject)
{
    char detail[256];
    char buf[64];
    X509_NAME *name = NULL;
    int rc;

    ERR_set_mark();
    rc = agent_csr_parse_subject(subject, &name, detail, sizeof(detail));
    ERR_pop_to_mark();
    X509_NAME_free(name);
    if (rc != 0)
        return cfg_fail(r, "rotation.subject", "expected %s, got %s (%s)", what,
                        cfg_got(json_object_object_get(sec, "subject"), buf, sizeof(buf)), detail);
    return 0;
}

/* RegisterThing parameters: at most this many (AWS templates take a
 * handful; the request must stay well under the MQTT payload limit). */
#define AWS_PARAMS_MAX 16
#define AWS_PARAM_NAME_MAX 128

/* rotation.aws: {"template", "activation", "parameters"}. Profile "aws"
 * activates by default, and then a template is required: AWS creates
 * every certificate from CreateCertificateFromCsr PENDING_ACTIVATION, so
 * a rotation without RegisterThing could only fail at the probe. */
static int parse_rotation_aws(struct cfg_reader *r, struct json_object *sec,
                              struct agent_rotation_config *rot, bool aws_profile)
{
    static const char *const keys[] = {"template", "activation", "parameters", NULL};
    struct json_object *aws = NULL, *params = NULL;
    bool present = false, params_present = false;
    char buf[64];
    size_t n = 0;

    aws = sec ? cfg_member(sec, "aws", &present) : NULL;
    if (present && !json_object_is_type(aws, json_type_object))
        return cfg_fail(r, "rotation.aws", "expected an object, got %s",
                        cfg_got(aws, buf, sizeof(buf)));
    if (present && !aws_profile)
        return cfg_fail(r, "rotation.aws", "only with \"profile\": \"aws\"");
    if (aws && cfg_check_keys(r, aws, "rotation.aws", keys) != 0)
        return -1;
    if (cfg_get_bool(r, aws, "rotation.aws", "activation", aws_profile, &rot->aws_activation) != 0 ||
        cfg_get_string(r, aws, "rotation.aws", "template", false,
                       "a provisioning template name of 1-36 characters [A-Za-z0-9_-]", 36,
                       aws_register_template_name_ok, NULL, &rot->aws_template) != 0)
        return -1;
    if (rot->enabled && rot->aws_activation && !rot->aws_template)
        return cfg_fail(r, "rotation.aws.template",
                        "required with profile aws: AWS IoT certificates stay "
                        "PENDING_ACTIVATION until RegisterThing with a provisioning template "
                        "(set \"activation\": false only for a CA whose certificates are "
                        "active at once)");
    params = aws ? cfg_member(aws, "parameters", &params_present) : NULL;
    if (!params_present)
        return 0;
    if (!json_object_is_type(params, json_type_object))
        return cfg_fail(r, "rotation.aws.parameters", "expected an object of strings, got %s",
                        cfg_got(params, buf, sizeof(buf)));
    if (json_object_object_length(params) > AWS_PARAMS_MAX)
        return cfg_fail(r, "rotation.aws.parameters", "expected at most %d parameters, got %d",
                        AWS_PARAMS_MAX, json_object_object_length(params));
    rot->aws_param_names = calloc(AWS_PARAMS_MAX, sizeof(char *));
    rot->aws_param_values = calloc(AWS_PARAMS_MAX, sizeof(char *));
    if (!rot->aws_param_names || !rot->aws_param_values)
        return cfg_fail(r, "rotation.aws.parameters", "out of memory");
    json_object_object_foreach(params, key, val) {
        char path[CFG_PATH_MAX];

        cfg_join(path, "rotation.aws.parameters", key);
        if (key[0] == '\0' || strlen(key) > AWS_PARAM_NAME_MAX)
            return cfg_fail(r, "rotation.aws.parameters",
                            "expected parameter names of 1-%d bytes", AWS_PARAM_NAME_MAX);
        if (!json_object_is_type(val, json_type_string) ||
            !aws_register_value_ok(json_object_get_string(val)))
            return cfg_fail(r, path,
                            "expected a string of at most 4096 bytes whose only {...} are "
                            "{device_id} and {serial}, got %s",
                            cfg_got(val, buf, sizeof(buf)));
        rot->aws_param_names[n] = strdup(key);
        rot->aws_param_values[n] = strdup(json_object_get_string(val));
        rot->aws_param_count = ++n;
        if (!rot->aws_param_names[n - 1] || !rot->aws_param_values[n - 1])
            return cfg_fail(r, path, "out of memory");
    }
    return 0;
}

int agent_config_parse_rotation(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {
        "enabled", "profile", "request_topic", "accepted_topic", "rejected_topic",
        "issuing_ca_file", "subject", "state_dir", "answer_timeout", "max_attempts", "retire",
        "auto_renew", "renew_floor_days", "check_interval", "jitter_cap", "min_interval",
        "retry_base", "retry_max", "probe_client_id", "aws", NULL};
    static const char *const profile_names[] = {"trustlink", "aws", NULL};
    static const char *const retire_names[] = {"destroy", "keep-previous", NULL};
    static const char *const default_request[] = {"trustlink/{device_id}/csr",
                                                  "$aws/certificates/create-from-csr/json"};
    static const char subject_what[] =
        "a subject such as \"/CN=device-001/O=Example\" or \"CN=device-001,O=Example\"";
    struct json_object *sec = NULL;
    struct agent_rotation_config *rot = &cfg->rotation;
    char accepted[600], rejected[600], state_dir[PATH_MAX], probe[80], buf[64];
    unsigned long attempts;
    double floor_days;
    int profile, retire;

    if (cfg_get_section(r, root, "rotation", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "rotation", keys) != 0))
        return -1;
    if (cfg_get_bool(r, sec, "rotation", "enabled", sec != NULL, &rot->enabled) != 0 ||
        cfg_get_choice(r, sec, "rotation", "profile", profile_names, AGENT_ROTATION_TRUSTLINK,
                       &profile) != 0 ||
        cfg_get_topic(r, sec, "rotation", "request_topic", ROTATION_TOPIC_WHAT, 200,
                  default_request[profile], cfg, &rot->request_topic) != 0)
        return -1;
    /* The answer topics default below the expanded request topic (which
     * holds no template: device and client ids have no braces). */
    snprintf(accepted, sizeof(accepted), "%s/accepted", rot->request_topic);
    snprintf(rejected, sizeof(rejected), "%s/rejected", rot->request_topic);
    /* The top-level state_dir is the rotation journal's default; a config
     * that names only rotation.state_dir keeps everything there. */
    if (cfg_get_string(r, root, "", "state_dir", false,
                       "an absolute path of the agent's state directory", PATH_MAX,
                       cfg_is_absolute_path, NULL, &cfg->state_dir) != 0)
        return -1;
    if (cfg->state_dir)
        snprintf(state_dir, sizeof(state_dir), "%s", cfg->state_dir);
    else
        default_state_dir(state_dir, sizeof(state_dir));
    snprintf(probe, sizeof(probe), "%s-probe", cfg->broker.client_id);
    if (cfg_get_topic(r, sec, "rotation", "accepted_topic", ROTATION_TOPIC_WHAT, 200, accepted, cfg,
                  &rot->accepted_topic) != 0 ||
        cfg_get_topic(r, sec, "rotation", "rejected_topic", ROTATION_TOPIC_WHAT, 200, rejected, cfg,
                  &rot->rejected_topic) != 0 ||
        cfg_get_string(r, sec, "rotation", "issuing_ca_file", rot->enabled,
                       "a path of a PEM file of the issuing CA certificates", PATH_MAX, NULL, NULL,
                       &rot->issuing_ca_file) != 0 ||
        cfg_get_string(r, sec, "rotation", "subject", false, subject_what, 1024, NULL, NULL,
                       &rot->subject) != 0 ||
        (rot->subject && check_subject(r, sec, subject_what, rot->subject) != 0) ||
        cfg_get_string(r, sec, "rotation", "state_dir", false,
                       "an absolute path of the rotation journal directory", PATH_MAX,
                       cfg_is_absolute_path, state_dir, &rot->state_dir) != 0 ||
        cfg_get_seconds(r, sec, "rotation", "answer_timeout", 0.001, 3600, 60,
                        &rot->answer_timeout_ms) != 0 ||
        cfg_get_uint(r, sec, "rotation", "max_attempts", 1, 20, 3, &attempts) != 0 ||
        cfg_get_choice(r, sec, "rotation", "retire", retire_names, AGENT_RETIRE_DESTROY,
                       &retire) != 0 ||
        cfg_get_bool(r, sec, "rotation", "auto_renew", true, &rot->auto_renew) != 0 ||
        cfg_get_number(r, sec, "rotation", "renew_floor_days", "days", 0, 3650, 30,
                       &floor_days) != 0 ||
        cfg_get_seconds(r, sec, "rotation", "check_interval", 0.001, 86400, 3600,
                        &rot->check_interval_ms) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "jitter_cap", 0, 604800, 86400,
                              &rot->jitter_cap_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "min_interval", 0, 86400, 60,
                              &rot->min_interval_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "retry_base", 1, 86400, 60,
                              &rot->retry_base_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "retry_max", 1, 604800, 21600,
                              &rot->retry_max_s) != 0 ||
        cfg_get_string(r, sec, "rotation", "probe_client_id", false,
                       "an MQTT client id of 1-128 bytes", 128, NULL, probe,
                       &rot->probe_client_id) != 0)
        return -1;
    if (rot->retry_max_s < rot->retry_base_s)
        return cfg_fail(r, "rotation.retry_max",
                        "expected at least rotation.retry_base (%lld s), got %lld",
                        (long long)rot->retry_base_s, (long long)rot->retry_max_s);
    if (strcmp(rot->probe_client_id, cfg->broker.client_id) == 0)
        return cfg_fail(r, "rotation.probe_client_id",
                        "expected a client id other than broker.client_id, got %s",
                        cfg_got(json_object_object_get(sec, "probe_client_id"), buf, sizeof(buf)));
    if (strcmp(rot->accepted_topic, rot->request_topic) == 0 ||
        strcmp(rot->rejected_topic, rot->request_topic) == 0 ||
        strcmp(rot->accepted_topic, rot->rejected_topic) == 0)
        return cfg_fail(r, "rotation",
                        "expected distinct request_topic, accepted_topic and rejected_topic, "
                        "got \"%s\", \"%s\", \"%s\"", rot->request_topic, rot->accepted_topic,
                        rot->rejected_topic);
    if (parse_rotation_aws(r, sec, rot, profile == AGENT_ROTATION_AWS) != 0)
        return -1;
    rot->profile = (enum agent_rotation_profile)profile;
    rot->retire = (enum agent_rotation_retire)retire;
    rot->max_attempts = (unsigned)attempts;
    rot->renew_floor_s = cfg_round_non_negative(floor_days * 86400.0);
    if (!cfg->state_dir && (cfg->state_dir = strdup(rot->state_dir)) == NULL)
        return cfg_fail(r, "state_dir", "out of memory");
    return 0;
}
