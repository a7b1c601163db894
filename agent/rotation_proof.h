/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Proof that a rotation journal record is durably on disk, demanded by
 * every token change of a rotation (token.h): the gateway refuses to
 * generate, store, relabel or destroy unless the journal step that change
 * belongs to is recorded, so a crash can always be completed or rolled
 * back without losing the only key.
 *
 * A proof is issued only by rotation_proof_record (after
 * rotation_journal_write returned: file and directory fsynced) or
 * rotation_proof_load (read back from disk), sealed with a per-process
 * random key (HMAC-SHA256), and checked by rotation_proof_verify, which
 * also reads the journal again: a proof for a record the file no longer
 * holds is refused. Filling the struct by hand yields no valid seal.
 *
 * Owns: the seal key (random, per process, never leaves this file).
 * Must never: issue a proof for a write that failed.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_PROOF_H
#define TRUSTLINK_AGENT_ROTATION_PROOF_H

#include <stddef.h>

#include "rotation_journal.h"

#define ROTATION_PROOF_DIR_MAX 512

struct rotation_proof {
    char dir[ROTATION_PROOF_DIR_MAX];
    struct rotation_record rec;
    unsigned char seal[32];
};

/* Writes r to <dir>/rotation.json (rotation_journal_write) and, only when
 * that succeeded, fills *out. 0, or -1 with err (*out untouched). */
int rotation_proof_record(const char *dir, const struct rotation_record *r,
                          struct rotation_proof *out, char *err, size_t err_len);
/* rotation_journal_load, with a proof for the record read. */
enum rotation_load rotation_proof_load(const char *dir, struct rotation_proof *out, char *err,
                                       size_t err_len);
/* 0 when p was sealed by this process and <dir>/rotation.json still holds
 * its step and key ids; -1 with err otherwise. NULL is refused. */
int rotation_proof_verify(const struct rotation_proof *p, char *err, size_t err_len);

#endif
