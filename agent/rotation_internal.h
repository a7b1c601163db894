/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the rotation files (rotation.c, rotation_activate.c,
 * rotation_switch.c, rotation_recover.c, rotation_renewal.c) share among
 * themselves; nothing else includes it.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_INTERNAL_H
#define TRUSTLINK_AGENT_ROTATION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "rotation_journal.h"

struct agent;
struct agent_config;

#define ROTATION_TEMP_LABEL_SUFFIX ".next"
#define ROTATION_PREVIOUS_LABEL_SUFFIX ".previous"

/* Retires the old pair per rotation.retire (destroy, or relabel to
 * <label>.previous after destroying an older previous pair). Idempotent.
 * proof: the journal record on disk (a step from probe-ok on), which the
 * token gateway checks before each change. */
enum agent_identity_status rotation_retire_old(const struct agent_config *cfg,
                                               struct agent_identity *id,
                                               const struct rotation_proof *proof,
                                               const unsigned char *old_id, size_t old_len,
                                               const unsigned char *new_id, size_t new_len,
                                               char *err, size_t err_len);
/* Gives the new pair the configured label. Idempotent. */
enum agent_identity_status rotation_promote_new(struct agent_identity *id,
                                                const struct rotation_proof *proof,
                                                const unsigned char *new_id, size_t new_len,
                                                char *err, size_t err_len);

/* ---- the live steps, shared across rotation*.c ------------------------- */

/* Test hook (rotation.c's file comment): SIGKILL or SIGSTOP after step. */
void rotation_crash_point(const char *step);
/* Records the step durably (and the proof token changes need). 0, or -1
 * with err; on failure the in-memory record keeps the step on disk. */
int rotation_journal_step(struct agent *a, enum rotation_step step, char *err, size_t err_len);
/* Before probe-ok: roll back (new objects destroyed), keep the old
 * identity, status says msg. */
void rotation_fail(struct agent *a, const char *msg);

/* rotation_activate.c: RegisterThing between cert-stored and the probe
 * (profile aws with rotation.aws.activation). */
void rotation_activation_begin(struct agent *a, uint64_t now, const char *ownership_token);
void rotation_activation_step(struct agent *a, uint64_t now);
/* A message on one of the RegisterThing answer topics: true if taken. */
bool rotation_activation_message(struct agent *a, const char *topic, const void *payload,
                                 size_t len);
/* The RegisterThing answer topics to subscribe to (false: no activation). */
bool rotation_activation_topics(const struct agent_config *cfg, char *accepted, char *rejected);

/* rotation_switch.c */
void rotation_start_probe(struct agent *a, uint64_t now);
void rotation_probe_step(struct agent *a, uint64_t now);
void rotation_drain_step(struct agent *a, uint64_t now);
void rotation_hold_commit(struct agent *a, uint64_t now, const char *err);
void rotation_commit(struct agent *a, uint64_t now);

/* Next automatic attempt (r->next_check) from the current certificate,
 * the last attempt and the failures so far. */
void rotation_schedule_next_check(struct agent *a);
/* Idle-state timer: starts an automatic rotation when due; returns ms
 * until it wants to run again. */
int rotation_renewal_step(struct agent *a);
/* renewal_due() for `cert` (an X509 *), its dates read as 64-bit seconds
 * so certificates expiring after 2038 work where time_t is 32 bits.
 * INT64_MIN when the dates are unreadable or the window is invalid. */
int64_t rotation_cert_renewal_due(const void *cert, const struct renewal_policy *p,
                                  uint32_t random);

#endif
