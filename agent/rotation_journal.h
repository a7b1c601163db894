/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rotation journal: one record in the StateDirectory saying how far a
 * key rotation got, written before each step takes effect, so a crash at
 * any point is completed or rolled back on the next start. Plus the pure
 * renewal-time computation.
 *
 * Owns: the file <state_dir>/rotation.json (format: tests/rotation/README.md),
 * its atomic replacement (temp file, fsync, rename, fsync of the dir), its
 * validation on load, and the start-up decision per step.
 * Must never: hold key material or PINs (only CKA_IDs, labels, a slot id,
 * a request id); silently drop or "repair" a record it cannot read;
 * read the clock or a random source in the pure functions.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_JOURNAL_H
#define TRUSTLINK_AGENT_ROTATION_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROTATION_JOURNAL_FILE "rotation.json"
/* 2: slot_id is the PKCS#11 slot of the token the new key was made on.
 * Version 1 files (slot_id always 0) are still read; their slot_id is not
 * checked.
 * 3: the activation steps (AWS RegisterThing) and their fields
 * ownership_token and token_expires. Version 1 and 2 files are still read
 * (they hold neither field and none of the new steps). */
#define ROTATION_JOURNAL_VERSION 3
#define ROTATION_ID_HEX_MAX 128     /* CKA_ID up to 64 bytes, hex */
#define ROTATION_LABEL_MAX 64
#define ROTATION_REQUEST_ID_MAX 64
#define ROTATION_ERROR_MAX 256
/* AWS ownership tokens are opaque strings of a few hundred bytes. */
#define ROTATION_OWNERSHIP_TOKEN_MAX 4096

enum rotation_step {
    ROTATION_IDLE = 0,
    ROTATION_KEY_GENERATED,  /* new pair on the token: new_key_id, temp_label, slot_id */
    ROTATION_CSR_PUBLISHED,  /* + request_id */
    ROTATION_CERT_RECEIVED,  /* answer validated, not yet stored */
    ROTATION_CERT_STORED,    /* certificate object on the token (temp label) */
    ROTATION_ACTIVATION_REQUESTED, /* + ownership_token, token_expires: RegisterThing sent */
    ROTATION_ACTIVATED,      /* RegisterThing accepted (token no longer kept) */
    ROTATION_PROBE_OK,       /* probe connection got CONNACK with the new identity */
    ROTATION_SWITCHED,       /* main session on the new identity */
    ROTATION_COMMITTED,      /* labels swapped; old pair being retired */
    ROTATION_ROLLED_BACK,    /* new objects being destroyed; old identity kept */
};
#define ROTATION_STEP_COUNT 11

struct rotation_record {
    enum rotation_step step;
    unsigned long slot_id;                      /* PKCS#11 slot of the token of the new key */
    bool slot_id_recorded;                      /* set by load: slot_id is meaningful (v2) */
    char new_key_id[ROTATION_ID_HEX_MAX + 1];   /* hex CKA_ID of the new pair */
    char old_key_id[ROTATION_ID_HEX_MAX + 1];   /* hex CKA_ID of the current pair */
    char temp_label[ROTATION_LABEL_MAX + 1];    /* label of the new objects until commit */
    char label[ROTATION_LABEL_MAX + 1];         /* the configured label (URI object=) */
    char request_id[ROTATION_REQUEST_ID_MAX + 1];
    int64_t started;                            /* unix seconds */
    int64_t updated;                            /* unix seconds */
    unsigned attempt;                           /* CSR publications so far */
    char error[ROTATION_ERROR_MAX + 1];         /* why (rolled-back) */
    /* AWS activation: the certificate's ownership token (a secret for
     * one hour: the file is 0600, logs show only its first bytes) and
     * its end as unix seconds; empty / 0 outside activation-requested. */
    char ownership_token[ROTATION_OWNERSHIP_TOKEN_MAX + 1];
    int64_t token_expires;
};

enum rotation_load {
    ROTATION_LOAD_OK = 0,
    ROTATION_LOAD_ABSENT,    /* no journal: idle */
    ROTATION_LOAD_CORRUPT,   /* unreadable as a journal: err says where */
    ROTATION_LOAD_IO,        /* cannot read the file */
};

/* What start-up does for the recorded step. */
enum rotation_action {
    ROTATION_ACTION_NONE = 0,   /* idle: nothing to do */
    ROTATION_ACTION_ROLL_BACK,  /* destroy new objects (by new_key_id), keep old, go idle */
    ROTATION_ACTION_COMPLETE,   /* relabel to the new pair, retire old, go idle */
    ROTATION_ACTION_REFUSE,     /* record inconsistent: keep the file, report, do nothing */
};

const char *rotation_step_name(enum rotation_step step);
/* Returns 0 and sets *out for a known name, -1 otherwise. */
int rotation_step_parse(const char *name, enum rotation_step *out);
const char *rotation_action_name(enum rotation_action action);

/* Checks the fields a step requires (e.g. new_key_id from key-generated
 * on). Returns 0, or -1 with err naming the missing field. */
int rotation_record_validate(const struct rotation_record *r, char *err, size_t err_len);

/* Writes the record atomically to <dir>/rotation.json. Returns 0, or -1
 * with err (path and errno text); on failure the previous file is intact. */
int rotation_journal_write(const char *dir, const struct rotation_record *r, char *err,
                           size_t err_len);
enum rotation_load rotation_journal_load(const char *dir, struct rotation_record *out, char *err,
                                         size_t err_len);
/* Replaces dir/name with data atomically and durably (temporary file,
 * fsync, rename, fsync of dir). 0, or -1 with err set. */
int rotation_state_write(const char *dir, const char *name, const char *data, size_t len,
                         char *err, size_t err_len);
/* Removes the journal (after returning to idle) and fsyncs the dir. */
int rotation_journal_clear(const char *dir, char *err, size_t err_len);

/* Pure: what to do on start-up for a loaded record, on the token in PKCS#11
 * slot token_slot. Before the new identity was proven by the broker (up to
 * cert-stored, and the activation steps activation-requested and
 * activated) roll back; from probe-ok on, complete; committed completes
 * (retire is idempotent); rolled-back rolls back again (destroy is
 * idempotent). A record made on the token of another slot is refused (the
 * token is left alone). why (optional) gets a one-line reason. */
enum rotation_action rotation_recovery_action(const struct rotation_record *r,
                                              unsigned long token_slot, const char **why);

/* ---- renewal timing (pure) -------------------------------------------- */

struct renewal_policy {
    int64_t floor;          /* renew when notAfter is nearer than this (default 30 days) */
    int64_t jitter_cap;     /* cap on the jitter window (default 24 h) */
    int64_t min_interval;   /* rate limit between attempts (default 60 s) */
    int64_t retry_base;     /* first retry delay (default 60 s) */
    int64_t retry_max;      /* longest retry delay (default 6 h) */
};

void renewal_policy_default(struct renewal_policy *p);

/* When to renew a certificate valid [not_before, not_after]: the earlier of
 * not_before + 2/3 of the lifetime and not_after - floor, moved earlier by
 * a jitter in [0, W) with W = max(lifetime/20, 1) capped at jitter_cap
 * (random is any uniformly random 32-bit value). Never before not_before.
 * Returns INT64_MIN for an invalid window (not_after <= not_before). */
int64_t renewal_due(int64_t not_before, int64_t not_after, const struct renewal_policy *p,
                    uint32_t random);

/* When to try next: `now` if due and not rate-limited; after a failure,
 * retry_base * 2^(failures-1) capped at retry_max and at a quarter of the
 * time left before not_after (escalating as expiry nears), never sooner
 * than min_interval after last_attempt (0 = never tried). */
int64_t renewal_next_attempt(int64_t now, int64_t due, int64_t not_after, int64_t last_attempt,
                             unsigned failures, const struct renewal_policy *p);

#endif
