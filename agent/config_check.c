/* SPDX-License-Identifier: Apache-2.0 */
/*
 * System checks of a parsed configuration (see config_check.h).
 * Must never: dlopen the module (its constructors would run in
 * --check-config), follow a FIFO (files are opened non-blocking and must
 * be regular), or print the PIN.
 */
#include "config_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/uri.h>

#include "config.h"
#include "pin.h"
#include "uri.h"

/* Opens path for reading as a regular file (never blocks on a FIFO). */
static FILE *open_regular(const char *where, const char *path, char *err, size_t err_len)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot open %s: %s", where, path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: %s is not a regular file", where, path);
        close(fd);
        return NULL;
    }
    f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open %s: %s", where, path, strerror(errno));
        close(fd);
    }
    return f;
}

/* At least one PEM certificate in path, and nothing unreadable. */
static int check_pem_certificates(const char *where, const char *path, char *err, size_t err_len)
{
    FILE *f = open_regular(where, path, err, err_len);
    X509 *x;
    int n = 0;

    if (!f)
        return -1;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    fclose(f);
    /* The loop ends on "no start line" at the end of the file; anything
     * else is a broken certificate. */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE && n > 0) {
        ERR_clear_error();
        snprintf(err, err_len, "%s: %s holds a certificate that does not parse", where, path);
        return -1;
    }
    ERR_clear_error();
    if (n == 0) {
        snprintf(err, err_len, "%s: %s holds no PEM certificate", where, path);
        return -1;
    }
    return 0;
}

static int check_pkcs11_uri(const char *where, const char *uri, char *err, size_t err_len)
{
    P11KitUri *parsed = agent_uri_parse(where, uri, err, err_len);

    if (!parsed)
        return -1;
    p11_kit_uri_free(parsed);
    return 0;
}

static int check_module(const char *path, char *err, size_t err_len)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        snprintf(err, err_len, "identity.module: %s: %s: check the path of the PKCS#11 module",
                 path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || access(path, R_OK) != 0) {
        snprintf(err, err_len, "identity.module: %s is not a readable file", path);
        return -1;
    }
    return 0;
}

/* The PIN source as the agent reads it at start-up: readable, owner and
 * mode rules, not empty. A systemd credential exists only inside the
 * service ($CREDENTIALS_DIRECTORY), so outside it is not looked at. */
static int check_pin_source(const struct agent_identity_config *id, char *err, size_t err_len)
{
    struct agent_pin pin;
    P11KitUri *uri;
    int rc;

    if (id->pin_credential && !getenv("CREDENTIALS_DIRECTORY"))
        return 0;
    uri = agent_uri_parse("identity.key", id->key_uri, err, err_len);
    if (!uri)
        return -1;
    memset(&pin, 0, sizeof(pin));
    rc = agent_pin_read(id, uri, &pin, err, err_len);
    agent_pin_clear(&pin);
    p11_kit_uri_free(uri);
    return rc;
}

static int check_topic(const char *where, const char *topic, char *err, size_t err_len)
{
    if (!topic)
        return 0;
    if (mosquitto_validate_utf8(topic, (int)strlen(topic)) != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "%s: the topic is not valid UTF-8 (MQTT topics must be)", where);
        return -1;
    }
    if (mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "%s: the topic may not hold wildcards (+, #)", where);
        return -1;
    }
    return 0;
}

int agent_config_check_system(const struct agent_config *cfg, char *err, size_t err_len)
{
    const struct agent_identity_config *id = &cfg->identity;
    const struct agent_broker_config *b = &cfg->broker;
    const struct agent_rotation_config *r = &cfg->rotation;
    struct stat st;

    if (check_pkcs11_uri("identity.key", id->key_uri, err, err_len) != 0)
        return -1;
    if (strncmp(id->certificate, "pkcs11:", 7) == 0) {
        if (check_pkcs11_uri("identity.certificate", id->certificate, err, err_len) != 0)
            return -1;
    } else if (check_pem_certificates("identity.certificate", id->certificate, err, err_len) != 0) {
        return -1;
    }
    if (id->chain_file &&
        check_pem_certificates("identity.chain_file", id->chain_file, err, err_len) != 0)
        return -1;
    if (check_module(id->module, err, err_len) != 0 || check_pin_source(id, err, err_len) != 0)
        return -1;
    if (b->ca_file && check_pem_certificates("broker.ca_file", b->ca_file, err, err_len) != 0)
        return -1;
    if (b->ca_dir && (stat(b->ca_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, err_len, "broker.ca_dir: %s is not a directory", b->ca_dir);
        return -1;
    }
    if (check_topic("telemetry.topic_prefix", cfg->telemetry.topic_prefix, err, err_len) != 0 ||
        check_topic("telemetry.status_topic", cfg->telemetry.status_topic, err, err_len) != 0 ||
        check_topic("telemetry.heartbeat_topic", cfg->telemetry.heartbeat_topic, err, err_len) != 0)
        return -1;
    if (!r->enabled)
        return 0;
    if (check_topic("rotation.request_topic", r->request_topic, err, err_len) != 0 ||
        check_topic("rotation.accepted_topic", r->accepted_topic, err, err_len) != 0 ||
        check_topic("rotation.rejected_topic", r->rejected_topic, err, err_len) != 0)
        return -1;
    if (r->issuing_ca_file &&
        check_pem_certificates("rotation.issuing_ca_file", r->issuing_ca_file, err, err_len) != 0)
        return -1;
    return 0;
}
