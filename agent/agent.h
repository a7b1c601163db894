/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state of one running trustlinkd and its transitions: identity ->
 * TLS context -> MQTT client -> connected, failures classed and handled,
 * the offline queue, heartbeats, reload and shutdown.
 *
 * Owns: every long-lived object of the daemon (config, identity, TLS,
 * MQTT client, queue, counters) and the teardown order: MQTT client, then
 * TLS context, then identity (integration-facts.md 1).
 * Must never: block or wait on the network; run on any thread but the
 * loop thread (agent/loop.c); be re-entered from a libmosquitto callback
 * (callbacks only record events; agent_process_events acts on them).
 */
#ifndef TRUSTLINK_AGENT_AGENT_H
#define TRUSTLINK_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"
#include "config.h"
#include "failure.h"
#include "inflight.h"
#include "queue.h"
#include "rotation.h"
#include "tls.h"

/* Identity reloads after a token fault: their own backoff (no jitter),
 * reset once a connection is up again. The ceiling bounds how late a
 * cleared fault is noticed (the connection-core target is 5 s from a
 * cleared chip fault to connected); a reload is cheap enough to repeat
 * that often: on the emulated chip at real timing, module load, login and
 * object search take ~7 chip commands, ~21 ms of chip time and ~20 ms of
 * CPU (docs/agent.md, Recovery timing). */
#define AGENT_TOKEN_RETRY_INITIAL_MS 1000u
#define AGENT_TOKEN_RETRY_MAX_MS 4000u
#define AGENT_CONNECT_TIMEOUT_MS 30000u
#define AGENT_SHUTDOWN_GRACE_MS 3000u
/* MQTT allows 256 MB; the queue's byte limit is the practical bound. */
#define AGENT_PUBLISH_MAX_PAYLOAD (256u * 1024u * 1024u - 1024u)

struct agent_identity;
struct agent_mqtt;
struct agent_control_thread;
struct agent_outbox;

enum agent_state {
    AGENT_STATE_IDENTITY_WAIT,   /* token not usable yet; retry with token_backoff */
    AGENT_STATE_WAITING,         /* backing off until next_attempt_ms */
    AGENT_STATE_CONNECTING,
    AGENT_STATE_CONNECTED,
    AGENT_STATE_STOPPING,
};

struct agent_counters {
    uint64_t connects;           /* CONNACK accepted */
    uint64_t connect_failures;
    uint64_t disconnects;        /* connections lost after being up */
    uint64_t published;          /* messages handed to the broker connection */
    uint64_t queued;             /* messages accepted into the offline queue */
    uint64_t rejected;           /* publish requests refused (queue full, bad topic) */
    uint64_t heartbeats;
    uint64_t token_reinits;      /* identity reloads after a token fault */
    uint64_t reloads;            /* SIGHUP reloads applied */
    uint64_t reload_failures;    /* SIGHUP reloads refused (old configuration kept) */
    uint64_t requeued;           /* unacknowledged messages put back when a client went away */
    uint64_t dropped;            /* queued messages the MQTT client refused (logged) */
    uint64_t loop_wakeups;       /* poll() returns of the event loop (spin check) */
};

struct agent_cert_info {
    char subject[256];
    char issuer[256];
    char serial[80];
    char not_before[32];         /* ISO 8601 UTC */
    char not_after[32];
    int64_t not_after_epoch; /* not time_t: 32 bits on armhf */
    char sha256[96];             /* hex with ':' */
};

struct agent {
    char *config_path;
    struct agent_config config;
    struct agent_identity *identity;
    struct agent_cert_info cert;
    struct agent_tls *tls;
    struct agent_mqtt *mqtt;
    struct agent_control_thread *control;
    struct agent_tls_counters tls_counters;
    struct agent_counters counters;
    struct agent_backoff backoff;
    struct agent_queue queue;
    struct agent_inflight inflight;  /* QoS 1/2 messages sent, not yet acknowledged */
    struct agent_outbox *outbox;     /* the delivery queue file (agent/publish.h) */

    enum agent_state state;
    bool starting;               /* until agent_start returned (status "starting") */
    uint64_t started_ms;
    uint64_t connecting_since_ms;
    uint64_t connected_since_ms;
    uint64_t next_attempt_ms;
    uint64_t next_heartbeat_ms;
    uint64_t next_misc_ms;
    uint64_t last_identity_load_ms;
    bool identity_ever_loaded;
    /* Token recovery: set by a token-class failure, cleared by the next
     * CONNACK; while set, identity loads back off on token_backoff and a
     * load that cannot find the token is reported as the token's fault. */
    bool token_faulty;
    struct agent_backoff token_backoff;

    /* Reconnect backoff across broker restarts: a connection lost before
     * reconnect.stable_reset keeps its failure count (a connection that is
     * taken over or kicked at once must back off), unless the next attempt
     * finds the broker unreachable: then it was the broker going away, and
     * this outage counts from its first refusal; the connection that ends
     * such an outage resets the count. */
    bool short_connection_lost;
    bool broker_was_unreachable;

    /* The last SIGHUP that was refused, for status (empty: none yet or
     * the last one applied). */
    char last_reload_error[1024];
    time_t last_reload_time;
    /* The configuration before a reload that changed the identity, until
     * the new one has loaded its identity, TLS context and client. */
    struct agent_config *reload_previous;

    /* Events recorded by libmosquitto callbacks, acted on afterwards. */
    bool event_connack;
    int event_connack_rc;
    bool event_disconnected;
    int event_disconnect_rc;
    int event_disconnect_errno;
    int last_connack_rc;
    bool event_acked;            /* a PUBACK freed room in the in-flight window */

    struct agent_rotation rotation;
    bool publish_hold;           /* rotation switching: queue, do not send */
    bool switch_disconnect;      /* our disconnect to switch identities */

    bool reconnect_requested;    /* control "reconnect" */
    bool user_disconnect;        /* our own disconnect: reconnect at once */
    int offline_mid;             /* SIGTERM: mid of the "offline" publish */
    bool offline_sent;
    uint64_t shutdown_deadline_ms;

    enum agent_failure_class last_failure;
    char last_error[1024];
    time_t last_error_time;

    char status_text[256];       /* last STATUS= sent to systemd */
    bool exit_requested;
    int exit_status;
};

/* A random 32-bit value (OpenSSL's RNG; a clock-derived one if it fails):
 * backoff and renewal jitter, never key material. */
uint32_t agent_random_u32(void);

/* Returns the heap's free pages to the system (after transient work). */
void agent_trim_heap(void);

/* Loads config_path into a fresh agent (log level applied). 0, or the
 * exit status (AGENT_EXIT_CONFIG for config errors) with the reason logged. */
int agent_init(struct agent *a, const char *config_path);
/* Checks what the configuration names (config_check.h), loads the
 * identity and starts the first connection attempt. 0, or an exit
 * status. */
int agent_start(struct agent *a);
/* Frees everything in the right order. */
void agent_destroy(struct agent *a);

/* Timers: acts on what is due at now; returns ms until the next timer. */
int agent_run_timers(struct agent *a, uint64_t now);
/* Acts on events recorded by libmosquitto callbacks. */
void agent_process_events(struct agent *a);
/* After mosquitto_loop_read/write/misc returned rc: libmosquitto 2.0.11
 * closes the socket on a failed TLS handshake without calling
 * on_disconnect; this turns that into the disconnect event, then calls
 * agent_process_events. */
void agent_mqtt_io_done(struct agent *a, int rc);

/* The loop saw POLLERR/POLLHUP on the main client's socket. While
 * connecting, a pending socket error (SO_ERROR) is the failure, classed
 * by its errno; true when it was handled (do not read the socket). */
bool agent_mqtt_hangup(struct agent *a);
/* After a read on a hung-up socket: a connect that made no progress
 * (still connecting, socket still open) failed; the peer closed it. */
void agent_mqtt_hangup_read_done(struct agent *a);

void agent_request_reconnect(struct agent *a);
/* Frees the MQTT client and TLS context (identity kept). */
void agent_drop_connection(struct agent *a);
/* Next connection attempt now (state WAITING); no failure is counted. */
void agent_reconnect_now(struct agent *a);
/* SIGHUP: applies the configuration file again, or keeps the running one
 * (logged, status last_reload_error) when anything in it fails; never
 * exits. The rule is in agent_reload.c. */
void agent_reload(struct agent *a);
/* trustlinkd --verify-identity: loads the identity of config_path with
 * every start-up check, builds its TLS context and MQTT client, prints
 * "ok" or the reason on one line to out. 0 ok, AGENT_EXIT_CONFIG not. */
int agent_reload_verify_identity(const char *config_path, FILE *out);
/* SIGTERM/SIGINT: publish "offline", disconnect, then exit_requested. */
void agent_shutdown(struct agent *a);

/* Publishes under the device prefix, or queues while offline. */
int agent_publish(struct agent *a, const char *topic, const void *payload, size_t len, int qos,
                  bool retain, char *err, size_t err_len);

const char *agent_state_name(enum agent_state state);
/* Fills a->cert from the identity's certificate. */
void agent_cert_info_fill(struct agent_cert_info *info, const void *x509);

#endif
