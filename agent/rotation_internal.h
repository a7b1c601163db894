/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the rotation files (rotation.c, rotation_recover.c,
 * rotation_renewal.c) share among themselves; nothing else includes it.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_INTERNAL_H
#define TRUSTLINK_AGENT_ROTATION_INTERNAL_H

#include <stddef.h>

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
