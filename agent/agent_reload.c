/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGHUP: the reload rule (see agent.h, docs/agent.md).
 *
 *   1. The file parses, the rotation section is consistent, and every
 *      system check of --check-config passes (config_check.h).
 *   2. Connection settings unchanged: the new settings apply in place.
 *   3. Identity unchanged (and loaded): the new TLS context and MQTT client
 *      are built over the running identity, then replace the running ones.
 *   4. Identity changed: a separate process (this binary with
 *      --verify-identity) loads it with every check of start-up, builds
 *      the TLS context and client, and says ok. A second instance of the
 *      same module cannot be loaded in this process: freeing the old one
 *      would C_Finalize the module under the new one. Only then is the old
 *      identity freed and the new one loaded here; should that still fail,
 *      the previous configuration comes back (agent_reload_fall_back).
 *   Any failure: logged, kept in status (last_reload_error), and the
 *   running configuration, identity and connection stay as they were.
 *
 * Owns: the previous configuration until the new one has built its
 * connection objects.
 * Must never: touch the running identity, TLS context or client before
 * the new ones are verified; exit the agent on a bad reload; wait for the
 * verifying process without a deadline.
 */
#define _GNU_SOURCE /* pipe2 */
#include "agent_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mosquitto.h>

#include "config_check.h"
#include "identity.h"
#include "log.h"
#include "mqtt.h"
#include "publish.h"

#define VERIFY_TIMEOUT_MS 20000
#define VERIFY_OK_LINE "ok"

extern char **environ;

static void reload_refused(struct agent *a, const char *why)
{
    agent_err("reload: %s; keeping the running configuration", why);
    snprintf(a->last_reload_error, sizeof(a->last_reload_error), "%.1000s", why);
    a->last_reload_time = time(NULL);
    a->counters.reload_failures++;
}

static void reload_applied(struct agent *a)
{
    a->last_reload_error[0] = '\0';
    a->last_reload_time = time(NULL);
    a->counters.reloads++;
}

static bool same_text(const char *x, const char *y)
{
    if (!x || !y)
        return x == y;
    return strcmp(x, y) == 0;
}

static bool identity_changed(const struct agent_identity_config *x,
                             const struct agent_identity_config *y)
{
    return !same_text(x->module, y->module) || !same_text(x->key_uri, y->key_uri) ||
           !same_text(x->certificate, y->certificate) ||
           !same_text(x->chain_file, y->chain_file) || !same_text(x->pin_file, y->pin_file) ||
           !same_text(x->pin_credential, y->pin_credential);
}

/* Settings that never need a new connection. */
static void apply_settings(struct agent *a, struct agent_config *fresh, bool reconnect)
{
    unsigned failures = a->backoff.failures;

    agent_outbox_reload(a, fresh);
    agent_config_free(&a->config);
    a->config = *fresh;
    memset(fresh, 0, sizeof(*fresh));
    agent_log_set_level(a->config.log_level);
    agent_backoff_init(&a->backoff, a->config.reconnect.initial_ms, a->config.reconnect.maximum_ms,
                       a->config.reconnect.jitter);
    a->backoff.failures = reconnect ? 0 : failures;
    agent_queue_set_limits(&a->queue, a->config.telemetry.queue_max_messages,
                           a->config.telemetry.queue_max_bytes);
    if (a->state == AGENT_STATE_CONNECTED && a->config.telemetry.heartbeat_interval_s)
        a->next_heartbeat_ms = agent_monotonic_ms();
}

/* Runs `trustlinkd --verify-identity --config PATH` and reads its verdict:
 * 0, or -1 with why. */
static int verify_in_child(const char *config_path, char *why, size_t why_len)
{
    char *argv[] = {"trustlinkd", "--verify-identity", "--config", (char *)config_path, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t no_signals;
    char out[1024];
    size_t used = 0;
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    int status = 0;
    int rc = -1;
    uint64_t deadline = agent_monotonic_ms() + VERIFY_TIMEOUT_MS;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot verify the new identity: pipe: %s", strerror(errno));
        return -1;
    }
    if (posix_spawn_file_actions_init(&actions) != 0) {
        snprintf(why, why_len, "cannot verify the new identity: out of memory");
        goto cleanup;
    }
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    /* The loop blocks SIGTERM/SIGINT/SIGHUP for its signalfd; the child
     * must not inherit that mask. */
    sigemptyset(&no_signals);
    if (posix_spawnattr_init(&attr) == 0) {
        posix_spawnattr_setsigmask(&attr, &no_signals);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        errno = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
    } else {
        errno = ENOMEM;
    }
    posix_spawn_file_actions_destroy(&actions);
    if (errno != 0) {
        snprintf(why, why_len, "cannot verify the new identity: cannot start trustlinkd "
                               "--verify-identity: %s", strerror(errno));
        pid = -1;
        goto cleanup;
    }
    close(fds[1]);
    fds[1] = -1;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        uint64_t now = agent_monotonic_ms();
        ssize_t got;

        if (now >= deadline) {
            snprintf(why, why_len, "the new identity could not be verified within %d s (token "
                                   "not answering?)", VERIFY_TIMEOUT_MS / 1000);
            kill(pid, SIGKILL);
            goto cleanup;
        }
        if (poll(&p, 1, (int)(deadline - now)) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, why_len, "cannot verify the new identity: poll: %s", strerror(errno));
            kill(pid, SIGKILL);
            goto cleanup;
        }
        got = read(fds[0], out + used, sizeof(out) - 1 - used);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
        out[used] = '\0';
        if (used == sizeof(out) - 1)
            break;
    }
    out[strcspn(out, "\n")] = '\0';
    rc = 0;
cleanup:
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                     strcmp(out, VERIFY_OK_LINE) == 0)) {
        if (out[0])
            snprintf(why, why_len, "the new identity does not work: %s", out);
        else
            snprintf(why, why_len, "the new identity could not be verified (trustlinkd "
                                   "--verify-identity ended with status %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        rc = -1;
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return rc;
}

/* Step 3: new TLS context and client over the running identity, built
 * before anything running is touched. */
static int replace_connection(struct agent *a, struct agent_config *fresh, char *why,
                              size_t why_len)
{
    char err[512];
    struct agent_tls *tls = agent_tls_new(&fresh->broker, a->identity, &a->tls_counters, err,
                                          sizeof(err));
    struct agent_mqtt *mqtt = NULL;

    if (!tls) {
        snprintf(why, why_len, "TLS: %s", err);
        return -1;
    }
    mqtt = agent_client_new(a, fresh, tls, err, sizeof(err));
    if (!mqtt) {
        snprintf(why, why_len, "MQTT: %s", err);
        agent_tls_free(tls);
        return -1;
    }
    agent_release_client(a);
    agent_tls_free(a->tls);
    a->tls = tls;
    a->mqtt = mqtt;
    return 0;
}

void agent_reload(struct agent *a)
{
    struct agent_config fresh;
    char err[1024];
    char why[1200];

    agent_notice("reloading %s", a->config_path);
    memset(&fresh, 0, sizeof(fresh));
    if (agent_config_load(a->config_path, &fresh, err, sizeof(err)) != 0) {
        reload_refused(a, err);
        return;
    }
    if (fresh.rotation.enabled) {
        char label[ROTATION_LABEL_MAX + 1];

        if (agent_rotation_check_config(&fresh, label, sizeof(label), err, sizeof(err)) != 0) {
            reload_refused(a, err);
            goto cleanup;
        }
    }
    if (agent_config_check_system(&fresh, err, sizeof(err)) != 0) {
        reload_refused(a, err);
        goto cleanup;
    }
    if (a->state == AGENT_STATE_STOPPING)
        goto cleanup;
    if (!agent_config_connection_changed(&a->config, &fresh)) {
        agent_notice("reload: connection settings unchanged; staying connected");
        apply_settings(a, &fresh, false);
        reload_applied(a);
        agent_notify_status(a);
        goto cleanup;
    }
    if (a->rotation.phase != ROTATION_PHASE_IDLE) {
        reload_refused(a, "a key rotation is in progress; send SIGHUP again once it is over "
                          "(trustlinkctl status shows rotation.state)");
        goto cleanup;
    }
    if (a->identity && !identity_changed(&a->config.identity, &fresh.identity)) {
        if (replace_connection(a, &fresh, why, sizeof(why)) != 0) {
            reload_refused(a, why);
            goto cleanup;
        }
        agent_notice("reload: connection settings changed; reconnecting with the new broker "
                     "settings (same identity)");
    } else {
        if (identity_changed(&a->config.identity, &fresh.identity) &&
            verify_in_child(a->config_path, why, sizeof(why)) != 0) {
            reload_refused(a, why);
            goto cleanup;
        }
        /* The configuration to come back to until the new one has built
         * its connection objects here too (agent_reload_commit); a
         * reload before that keeps the one that last worked. */
        if (!a->reload_previous) {
            a->reload_previous = malloc(sizeof(*a->reload_previous));
            if (!a->reload_previous) {
                reload_refused(a, "out of memory");
                goto cleanup;
            }
            *a->reload_previous = a->config;
            memset(&a->config, 0, sizeof(a->config));
        }
        agent_notice("reload: connection settings changed; reconnecting with the new identity "
                     "and broker settings");
        agent_drop_connection_objects(a, true);
    }
    apply_settings(a, &fresh, true);
    reload_applied(a);
    /* What the old client recorded is not the new one's. */
    a->event_connack = a->event_disconnected = a->event_acked = false;
    a->last_connack_rc = 0;
    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = agent_monotonic_ms();
    agent_notify_status(a);
cleanup:
    agent_config_free(&fresh);
}

void agent_reload_commit(struct agent *a)
{
    if (!a->reload_previous)
        return;
    agent_config_free(a->reload_previous);
    free(a->reload_previous);
    a->reload_previous = NULL;
}

bool agent_reload_fall_back(struct agent *a, uint64_t now)
{
    char why[1200];

    if (!a->reload_previous)
        return false;
    snprintf(why, sizeof(why), "the new configuration failed once applied: %.1100s",
             a->last_error);
    agent_drop_connection_objects(a, true);
    agent_config_free(&a->config);
    a->config = *a->reload_previous;
    free(a->reload_previous);
    a->reload_previous = NULL;
    agent_outbox_reload(a, &a->config);
    agent_log_set_level(a->config.log_level);
    agent_queue_set_limits(&a->queue, a->config.telemetry.queue_max_messages,
                           a->config.telemetry.queue_max_bytes);
    reload_refused(a, why);
    agent_notice("reload: back to the previous configuration");
    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = now;
    return true;
}

int agent_reload_verify_identity(const char *config_path, FILE *out)
{
    struct agent_config cfg;
    struct agent_tls_counters counters;
    struct agent_identity *id = NULL;
    struct agent_tls *tls = NULL;
    struct agent_mqtt *mqtt = NULL;
    struct agent *scratch = NULL;
    enum agent_identity_status st;
    char err[1024];
    int status = AGENT_EXIT_CONFIG;

    memset(&cfg, 0, sizeof(cfg));
    memset(&counters, 0, sizeof(counters));
    mosquitto_lib_init();
    if (agent_config_load(config_path, &cfg, err, sizeof(err)) != 0 ||
        agent_config_check_system(&cfg, err, sizeof(err)) != 0)
        goto cleanup;
    st = agent_identity_load(&cfg.identity, &id, err, sizeof(err));
    if (st != AGENT_IDENTITY_OK) {
        char detail[sizeof(err)];

        snprintf(detail, sizeof(detail), "%s", err);
        snprintf(err, sizeof(err), "identity (%s): %.900s", agent_identity_status_name(st),
                 detail);
        goto cleanup;
    }
    tls = agent_tls_new(&cfg.broker, id, &counters, err, sizeof(err));
    if (!tls)
        goto cleanup;
    /* The agent's own constructor, so the client is built exactly as
     * after the reload; it never connects, so no callback runs. */
    scratch = calloc(1, sizeof(*scratch));
    if (!scratch) {
        snprintf(err, sizeof(err), "out of memory");
        goto cleanup;
    }
    mqtt = agent_client_new(scratch, &cfg, tls, err, sizeof(err));
    if (!mqtt)
        goto cleanup;
    snprintf(err, sizeof(err), VERIFY_OK_LINE);
    status = 0;
cleanup:
    fprintf(out, "%s\n", err);
    fflush(out);
    agent_mqtt_free(mqtt);
    free(scratch);
    agent_tls_free(tls);
    agent_identity_free(id);
    agent_config_free(&cfg);
    mosquitto_lib_cleanup();
    return status;
}
