/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keyless key rotation inside trustlinkd: a journaled state machine driven
 * by the agent's event loop.
 *
 *   start -> [journal key-generated] new P-256 pair on the token (temp
 *   label, new CKA_ID) -> CSR signed on the token -> [journal
 *   csr-published] publish, wait for the answer (timeout, bounded
 *   re-publication) -> validate (cert_check) -> [journal cert-received,
 *   cert-stored] certificate on the token -> with profile aws and
 *   activation: [journal activation-requested] RegisterThing with the
 *   ownership token, wait for accepted (timeout, bounded re-publication
 *   while the token lives) -> [journal activated] -> probe connection with its
 *   own client id -> [journal probe-ok] drain the main connection (new
 *   messages are queued) -> one reconnect with the new identity ->
 *   [journal switched] -> [journal committed] retire the old pair, relabel
 *   the new one to the configured label -> journal removed.
 *   Any failure before probe-ok: roll back (destroy the new objects by
 *   CKA_ID; the old identity never stopped). Fail-stop: no destructive
 *   token step runs unless the step before it is on disk; a journal write
 *   that fails at probe-ok rolls back, after the switch the agent keeps
 *   both pairs and retries ("commit-pending"); recovery never destroys
 *   the only key left on the token. A crash anywhere: the next
 *   identity load reads the journal and completes or rolls back
 *   (agent_rotation_recover) before the key URI is resolved.
 *
 * Owns: the in-flight rotation (new key, certificate, probe client and
 * its TLS context), the journal in rotation.state_dir and the renewal
 * schedule (files: rotation.c the first live steps, rotation_activate.c
 * the AWS activation, rotation_switch.c probe, switch and commit,
 * rotation_recover.c the
 * config check, shared token steps and recovery, rotation_renewal.c the
 * schedule; status fields are laid out by report.c).
 * Must never: export or copy key material (keys stay on the token; the
 * EVP_PKEYs are libp11 handles); leave the agent without a working
 * identity; block beyond token calls (keygen, one CSR signature).
 */
#ifndef TRUSTLINK_AGENT_ROTATION_H
#define TRUSTLINK_AGENT_ROTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "aws_register.h"
#include "identity.h"
#include "rotation_journal.h"
#include "rotation_proof.h"

struct agent;
struct agent_config;
struct agent_mqtt;
struct agent_tls;

#define ROTATION_PROBE_TIMEOUT_MS 30000u
#define ROTATION_DRAIN_TIMEOUT_MS 5000u
#define ROTATION_JOURNAL_RETRY_MS 5000u

enum rotation_phase {
    ROTATION_PHASE_IDLE = 0,
    ROTATION_PHASE_SUBSCRIBING,  /* answer topics not yet acknowledged */
    ROTATION_PHASE_WAIT_ANSWER,
    ROTATION_PHASE_ACTIVATING,   /* RegisterThing sent, waiting for its answer */
    ROTATION_PHASE_PROBING,
    ROTATION_PHASE_DRAINING,     /* main connection finishing in-flight messages */
    ROTATION_PHASE_SWITCHING,    /* main connection redone with the new identity */
    ROTATION_PHASE_COMMIT_PENDING, /* new identity in use, the journal refuses "committed" */
};

struct agent_rotation {
    enum rotation_phase phase;
    struct rotation_record rec;  /* what the journal says while in progress */
    struct rotation_proof proof; /* the last record durably written: token steps need it */
    char trigger[16];            /* "manual", "auto" */
    uint64_t deadline_ms;        /* answer, probe or drain deadline */

    unsigned char old_id[64];
    size_t old_id_len;
    unsigned char new_id[16];
    size_t new_id_len;
    EVP_PKEY *new_key;
    X509 *new_cert;
    STACK_OF(X509) *new_chain;
    char *csr_pem;
    char new_sha256[96];

    /* Main connection: answer-topic subscriptions (CSR accepted and
     * rejected, then RegisterThing accepted and rejected with activation). */
    int sub_mid[4];
    bool sub_acked[4];
    unsigned sub_count;
    bool subscribed;
    char *answer;                /* copied by the message callback */
    size_t answer_len;
    bool answer_accepted;

    /* AWS activation (RegisterThing). */
    struct aws_register_call activation;
    unsigned activation_attempt;

    /* Probe connection. */
    struct agent_tls *probe_tls;
    struct agent_mqtt *probe;
    bool probe_connack;
    int probe_connack_rc;
    bool probe_closed;
    int probe_close_rc;

    /* Outcomes and schedule. */
    uint64_t rotations;
    uint64_t failures;
    unsigned consecutive_failures;
    time_t last_attempt;
    time_t last_finished;
    char last_result[32];        /* "", "success", "failed", "rolled-back-after-restart", ... */
    char last_error[512];
    char previous_sha256[96];
    int64_t due;                 /* renewal due time of the current certificate */
    int64_t next_check;          /* next automatic attempt (unix s), 0 = none */
    uint32_t jitter_random;
};

void agent_rotation_init(struct agent_rotation *r);
/* Frees the in-flight objects (journal untouched). */
void agent_rotation_free(struct agent_rotation *r);

/* Config check at start-up: rotation needs the key URI to name the key by
 * object= (label) without id=, and the certificate to be on the token
 * with the same label. 0, or -1 with err. */
int agent_rotation_check_config(const struct agent_config *cfg, char *label, size_t label_len,
                                char *err, size_t err_len);

/* On every identity load, between agent_identity_open and _resolve:
 * completes or rolls back a journaled rotation. OK, or TOKEN_FAULT (retry
 * the load later; the journal stays). */
enum agent_identity_status agent_rotation_recover(struct agent *a, struct agent_identity *id,
                                                  char *err, size_t err_len);

/* After the identity resolved: the intermediates the last rotation
 * received for this key (rotation_chain.h) replace identity.chain_file's
 * when they continue the certificate. */
void agent_rotation_use_saved_chain(struct agent *a);

/* control "rotate" and the renewal timer. 0, or -1 with err. */
int agent_rotation_start(struct agent *a, const char *trigger, char *err, size_t err_len);

/* Main-connection events. */
void agent_rotation_connected(struct agent *a);
void agent_rotation_disconnected(struct agent *a);
void agent_rotation_message(struct agent *a, const char *topic, const void *payload, size_t len);
void agent_rotation_subscribed(struct agent *a, int mid, bool ok);
/* The main client closed while SWITCHING: swaps in the new identity.
 * Returns true if it handled the disconnect (the agent reconnects now). */
bool agent_rotation_switch_disconnected(struct agent *a);
/* The identity is about to be dropped (token fault, reload): stop using
 * the in-flight objects; the journal decides at the next load. */
void agent_rotation_abandon(struct agent *a, const char *why);
/* The identity's certificate changed (load, switch): reschedule renewal. */
void agent_rotation_cert_changed(struct agent *a);

/* Drives the machine; returns ms until it needs to run again. */
int agent_rotation_run(struct agent *a, uint64_t now);
/* The probe client to poll, or NULL. */
struct agent_mqtt *agent_rotation_probe(const struct agent *a);
void agent_rotation_probe_io_done(struct agent *a, int rc);

/* "idle", "waiting-for-certificate", ... for status. */
const char *agent_rotation_phase_name(enum rotation_phase phase);

#endif
