/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON configuration parser of trustlinkd (schema in config.h and
 * docs/agent.md "Configuration"): the top level, identity and control
 * sections, loading and freeing; the other sections have their own files
 * (config_internal.h).
 *
 * Owns: walking the json-c tree once, checking every key against the
 * schema, filling struct agent_config with copies (the json-c tree is
 * freed before returning).
 * Must never: accept an unknown key, a wrong type or an out-of-range
 * value silently; read the PIN file; log (errors go to the caller).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config_internal.h"
#include "json_strict.h"
#include "uri.h"

#define MAX_ID_LIST 64

void agent_default_pkcs11_module(char *buf, size_t len)
{
    const char *rel = AGENT_PKCS11_MODULE_PREFIX_RELPATH;
    char exe[PATH_MAX];
    ssize_t n;

    snprintf(buf, len, "%s", AGENT_DEFAULT_PKCS11_MODULE);
    if (rel[0] == '\0')
        return;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    /* PREFIX/sbin/trustlinkd or PREFIX/bin/trustlinkctl -> PREFIX */
    for (int level = 0; level < 2; level++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            return;
        *slash = '\0';
    }
    {
        char candidate[PATH_MAX];
        int w = snprintf(candidate, sizeof(candidate), "%s/%s", exe, rel);

        if (w > 0 && (size_t)w < sizeof(candidate) && (size_t)w < len &&
            access(candidate, F_OK) == 0)
            snprintf(buf, len, "%s", candidate);
    }
}

static int parse_identity(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"module", "key", "certificate", "chain_file",
                                       "pin_file", "pin_credential", NULL};
    struct json_object *sec = NULL;
    struct agent_identity_config *id = &cfg->identity;
    char default_module[PATH_MAX];
    char msg[256];

    agent_default_pkcs11_module(default_module, sizeof(default_module));
    if (cfg_get_section(r, root, "identity", true, &sec) != 0 ||
        cfg_check_keys(r, sec, "identity", keys) != 0)
        return -1;
    if (cfg_get_string(r, sec, "identity", "module", false, "an absolute path of a PKCS#11 module",
                       PATH_MAX, cfg_is_absolute_path, default_module, &id->module) != 0 ||
        cfg_get_string(r, sec, "identity", "key", true,
                       "a pkcs11: URI naming the private key (RFC 7512)", 4096, cfg_is_pkcs11_uri, NULL,
                       &id->key_uri) != 0 ||
        cfg_get_string(r, sec, "identity", "certificate", true,
                       "a pkcs11: URI or an absolute path of a PEM file", 4096, cfg_is_cert_source, NULL,
                       &id->certificate) != 0 ||
        cfg_get_string(r, sec, "identity", "chain_file", false,
                       "an absolute path of a PEM file of intermediate certificates", PATH_MAX,
                       cfg_is_absolute_path, NULL, &id->chain_file) != 0 ||
        cfg_get_string(r, sec, "identity", "pin_file", false, "an absolute path of a PIN file",
                       PATH_MAX, cfg_is_absolute_path, NULL, &id->pin_file) != 0 ||
        cfg_get_string(r, sec, "identity", "pin_credential", false,
                       "a systemd credential name (no '/')", 255, cfg_is_credential_name, NULL,
                       &id->pin_credential) != 0)
        return -1;
    if (id->pin_file && id->pin_credential)
        return cfg_fail(r, "identity", "expected at most one of \"pin_file\" and \"pin_credential\", "
                                   "got both");
    if (agent_uri_refuse_pin_value(id->key_uri, msg, sizeof(msg)) != 0)
        return cfg_fail(r, "identity.key", "%s", msg);
    if (cfg_is_pkcs11_uri(id->certificate) &&
        agent_uri_refuse_pin_value(id->certificate, msg, sizeof(msg)) != 0)
        return cfg_fail(r, "identity.certificate", "%s", msg);
    return 0;
}

/* admin_uids / publish_gids ...: integers or user/group names. */
static int get_id_list(struct cfg_reader *r, struct json_object *sec, const char *key, bool groups,
                       unsigned **out, size_t *n_out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;
    const char *what = groups ? "an array of group names or gids" : "an array of user names or uids";
    unsigned *ids = NULL;
    size_t n;

    cfg_join(where, "control", key);
    *out = NULL;
    *n_out = 0;
    val = sec ? cfg_member(sec, key, &present) : (present = false, NULL);
    if (!present)
        return 0;
    if (!json_object_is_type(val, json_type_array))
        return cfg_fail(r, where, "expected %s, got %s", what, cfg_got(val, buf, sizeof(buf)));
    n = json_object_array_length(val);
    if (n > MAX_ID_LIST)
        return cfg_fail(r, where, "expected at most %d entries, got %zu", MAX_ID_LIST, n);
    if (n == 0)
        return 0;
    ids = calloc(n, sizeof(*ids));
    if (!ids)
        return cfg_fail(r, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(val, i);
        char item_path[CFG_PATH_MAX + 32];

        snprintf(item_path, sizeof(item_path), "%s[%zu]", where, i);
        if (json_object_is_type(item, json_type_int)) {
            int64_t v = json_object_get_int64(item);

            if (v < 0 || v >= (int64_t)UINT32_MAX) {
                free(ids);
                return cfg_fail(r, item_path, "expected an id 0-%u, got %s", UINT32_MAX - 1,
                                cfg_got(item, buf, sizeof(buf)));
            }
            ids[i] = (unsigned)v;
        } else if (json_object_is_type(item, json_type_string)) {
            const char *name = json_object_get_string(item);

            if (groups) {
                struct group *gr = getgrnam(name);
                if (!gr) {
                    free(ids);
                    return cfg_fail(r, item_path, "expected an existing group, got \"%s\"", name);
                }
                ids[i] = gr->gr_gid;
            } else {
                struct passwd *pw = getpwnam(name);
                if (!pw) {
                    free(ids);
                    return cfg_fail(r, item_path, "expected an existing user, got \"%s\"", name);
                }
                ids[i] = pw->pw_uid;
            }
        } else {
            free(ids);
            return cfg_fail(r, item_path, "expected a %s name or number, got %s",
                            groups ? "group" : "user", cfg_got(item, buf, sizeof(buf)));
        }
    }
    *out = ids;
    *n_out = n;
    return 0;
}

static int parse_control(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    /* allowed_uids/allowed_gids: the names before the privilege split;
     * they keep their meaning (every command), i.e. admin_*. */
    static const char *const keys[] = {"path", "mode", "admin_uids", "admin_gids",
                                       "publish_uids", "publish_gids", "allowed_uids",
                                       "allowed_gids", NULL};
    struct json_object *sec = NULL;
    struct agent_control_section *c = &cfg->control;
    char *mode = NULL;
    unsigned *admin_uids = NULL, *admin_gids = NULL, *pub_uids = NULL, *pub_gids = NULL;
    const char *uid_key = "admin_uids", *gid_key = "admin_gids";
    int rc = -1;

    if (cfg_get_section(r, root, "control", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "control", keys) != 0))
        return -1;
    if (sec && json_object_object_get_ex(sec, "allowed_uids", NULL)) {
        if (json_object_object_get_ex(sec, "admin_uids", NULL))
            return cfg_fail(r, "control.allowed_uids", "is the old name of admin_uids: give one");
        uid_key = "allowed_uids";
    }
    if (sec && json_object_object_get_ex(sec, "allowed_gids", NULL)) {
        if (json_object_object_get_ex(sec, "admin_gids", NULL))
            return cfg_fail(r, "control.allowed_gids", "is the old name of admin_gids: give one");
        gid_key = "allowed_gids";
    }
    if (cfg_get_string(r, sec, "control", "path", false, "an absolute path of the control socket",
                       107, cfg_is_absolute_path, "/run/trustlink/control.sock", &c->path) != 0 ||
        cfg_get_string(r, sec, "control", "mode", false, "an octal file mode such as \"0660\"", 4,
                       cfg_is_octal_mode, "0660", &mode) != 0 ||
        get_id_list(r, sec, uid_key, false, &admin_uids, &c->n_admin_uids) != 0 ||
        get_id_list(r, sec, gid_key, true, &admin_gids, &c->n_admin_gids) != 0 ||
        get_id_list(r, sec, "publish_uids", false, &pub_uids, &c->n_publish_uids) != 0 ||
        get_id_list(r, sec, "publish_gids", true, &pub_gids, &c->n_publish_gids) != 0)
        goto cleanup;
    c->mode = (mode_t)strtoul(mode, NULL, 8);
    c->admin_uids = (uid_t *)admin_uids;
    c->admin_gids = (gid_t *)admin_gids;
    c->publish_uids = (uid_t *)pub_uids;
    c->publish_gids = (gid_t *)pub_gids;
    admin_uids = admin_gids = pub_uids = pub_gids = NULL;
    rc = 0;
cleanup:
    free(mode);
    free(admin_uids);
    free(admin_gids);
    free(pub_uids);
    free(pub_gids);
    return rc;
}


int agent_config_parse(const char *text, size_t len, struct agent_config *out,
                       char *err, size_t err_len)
{
    static const char *const keys[] = {"device_id", "log_level", "identity", "broker",
                                       "reconnect", "control", "telemetry", "rotation",
                                       "state_dir", NULL};
    static const char *const level_names[] = {"error", "warning", "notice", "info", "debug", NULL};
    struct cfg_reader r = {err, err_len};
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    struct agent_config cfg;
    int level;
    int rc = -1;

    memset(&cfg, 0, sizeof(cfg));
    if (len > 1024 * 1024) {
        cfg_fail(&r, "(file)", "expected at most 1 MiB of JSON, got %zu bytes", len);
        goto cleanup;
    }
    tok = json_tokener_new();
    if (!tok) {
        cfg_fail(&r, "(file)", "out of memory");
        goto cleanup;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) < len) {
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        bool trailing = root && jerr == json_tokener_success;
        size_t at = json_tokener_get_parse_end(tok);
        size_t line = 1;

        for (size_t i = 0; i < at && i < len; i++)
            line += text[i] == '\n';
        cfg_fail(&r, "(file)", "invalid JSON at line %zu: %s", line,
                 trailing ? "unexpected text after the top-level object"
                 : !root && jerr == json_tokener_success ? "incomplete document"
                                                       : json_tokener_error_desc(jerr));
        goto cleanup;
    }
    {
        char dup[256];

        if (tl_json_check_keys(text, len, dup, sizeof(dup)) != 0) {
            cfg_fail(&r, "(file)", "%s", dup);
            goto cleanup;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        char buf[64];
        cfg_fail(&r, "(top level)", "expected an object, got %s", cfg_got(root, buf, sizeof(buf)));
        goto cleanup;
    }
    if (cfg_check_keys(&r, root, "", keys) != 0 ||
        cfg_get_string(&r, root, "", "device_id", true,
                       "a device id of 1-64 characters [A-Za-z0-9._-]", 64, cfg_is_device_id, NULL,
                       &cfg.device_id) != 0 ||
        cfg_get_choice(&r, root, "", "log_level", level_names, 3, &level) != 0 ||
        parse_identity(&r, root, &cfg) != 0 || agent_config_parse_broker(&r, root, &cfg) != 0 ||
        agent_config_parse_reconnect(&r, root, &cfg) != 0 || parse_control(&r, root, &cfg) != 0 ||
        agent_config_parse_telemetry(&r, root, &cfg) != 0 || agent_config_parse_rotation(&r, root, &cfg) != 0)
        goto cleanup;
    cfg.log_level = (enum agent_log_level)(AGENT_LOG_ERR + level);
    *out = cfg;
    memset(&cfg, 0, sizeof(cfg));
    rc = 0;
cleanup:
    agent_config_free(&cfg);
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

int agent_config_load(const char *path, struct agent_config *out, char *err, size_t err_len)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t cap = 0, used = 0;
    char inner[512];
    struct stat st;
    int fd = -1;
    int rc = -1;

    /* Non-blocking open and a regular file only: a FIFO (or a device)
     * given as the config would otherwise block the daemon forever. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        goto cleanup;
    }
    f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    for (;;) {
        size_t n;

        if (used + 4096 + 1 > cap) {
            char *bigger;

            cap = cap ? cap * 2 : 8192;
            if (cap > 2 * 1024 * 1024) {
                snprintf(err, err_len, "%s: larger than 1 MiB: not a trustlinkd config", path);
                goto cleanup;
            }
            bigger = realloc(text, cap);
            if (!bigger) {
                snprintf(err, err_len, "%s: out of memory", path);
                goto cleanup;
            }
            text = bigger;
        }
        n = fread(text + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
                goto cleanup;
            }
            break;
        }
    }
    text[used] = '\0';
    if (agent_config_parse(text, used, out, inner, sizeof(inner)) != 0) {
        snprintf(err, err_len, "%s: %s", path, inner);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (f)
        fclose(f);
    free(text);
    return rc;
}

void agent_config_free(struct agent_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->device_id);
    free(cfg->state_dir);
    free(cfg->identity.module);
    free(cfg->identity.key_uri);
    free(cfg->identity.certificate);
    free(cfg->identity.chain_file);
    free(cfg->identity.pin_file);
    free(cfg->identity.pin_credential);
    free(cfg->broker.host);
    free(cfg->broker.ca_file);
    free(cfg->broker.ca_dir);
    free(cfg->broker.client_id);
    free(cfg->broker.alpn);
    free(cfg->broker.proxy.host);
    free(cfg->broker.proxy.auth_file);
    free(cfg->broker.proxy.auth_credential);
    free(cfg->control.path);
    free(cfg->control.admin_uids);
    free(cfg->control.admin_gids);
    free(cfg->control.publish_uids);
    free(cfg->control.publish_gids);
    free(cfg->telemetry.topic_prefix);
    free(cfg->telemetry.status_topic);
    free(cfg->telemetry.heartbeat_topic);
    free(cfg->rotation.request_topic);
    free(cfg->rotation.accepted_topic);
    free(cfg->rotation.rejected_topic);
    free(cfg->rotation.issuing_ca_file);
    free(cfg->rotation.subject);
    free(cfg->rotation.state_dir);
    free(cfg->rotation.probe_client_id);
    free(cfg->rotation.aws_template);
    for (size_t i = 0; i < cfg->rotation.aws_param_count; i++) {
        free(cfg->rotation.aws_param_names[i]);
        free(cfg->rotation.aws_param_values[i]);
    }
    free(cfg->rotation.aws_param_names);
    free(cfg->rotation.aws_param_values);
    memset(cfg, 0, sizeof(*cfg));
}

static bool same_string(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool agent_config_connection_changed(const struct agent_config *a, const struct agent_config *b)
{
    const struct agent_identity_config *ia = &a->identity, *ib = &b->identity;
    const struct agent_broker_config *ba = &a->broker, *bb = &b->broker;

    return !same_string(ia->module, ib->module) || !same_string(ia->key_uri, ib->key_uri) ||
           !same_string(ia->certificate, ib->certificate) ||
           !same_string(ia->chain_file, ib->chain_file) ||
           !same_string(ia->pin_file, ib->pin_file) ||
           !same_string(ia->pin_credential, ib->pin_credential) ||
           !same_string(ba->host, bb->host) || ba->port != bb->port ||
           !same_string(ba->ca_file, bb->ca_file) || !same_string(ba->ca_dir, bb->ca_dir) ||
           ba->tls_min_version != bb->tls_min_version || ba->mqtt_version != bb->mqtt_version ||
           ba->keepalive_s != bb->keepalive_s || !same_string(ba->client_id, bb->client_id) ||
           ba->alpn_len != bb->alpn_len ||
           (ba->alpn_len > 0 && memcmp(ba->alpn, bb->alpn, ba->alpn_len) != 0) ||
           !same_string(ba->proxy.host, bb->proxy.host) || ba->proxy.port != bb->proxy.port ||
           !same_string(ba->proxy.auth_file, bb->proxy.auth_file) ||
           !same_string(ba->proxy.auth_credential, bb->proxy.auth_credential) ||
           !same_string(a->telemetry.status_topic, b->telemetry.status_topic);
}
