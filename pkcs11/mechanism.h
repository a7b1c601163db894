/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mechanisms: the list and info the token reports, and the sign / verify /
 * digest / derive operations on a session's p11_op.
 *
 * Owns: CKM_ECDSA and CKM_ECDSA_SHA256 (hash on the host, sign on the
 * chip; verify on the host with OpenSSL), CKM_SHA256, CKM_ECDH1_DERIVE,
 * and the output-buffer sizing of C_Sign/C_Digest (the two-call rule: a
 * NULL buffer or one too small leaves the operation active, and the data
 * it was given is not consumed; every other error ends the operation).
 * Must never: see a private key (the chip signs), be called without the
 * module lock, or call the chip itself (entry_ops.c does, unlocked).
 */
#ifndef TRUSTLINK_P11_MECHANISM_H
#define TRUSTLINK_P11_MECHANISM_H

#include "session.h"

CK_RV p11_mech_list(CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

/* key: the private key (sign) or public key / certificate (verify). */
CK_RV p11_sign_init(struct p11_op *op, const CK_MECHANISM *mech, const p11_attrs *key);
CK_RV p11_verify_init(struct p11_op *op, const CK_MECHANISM *mech, const p11_attrs *key);
CK_RV p11_digest_init(struct p11_op *op, const CK_MECHANISM *mech);

/* Update: accumulates (hash or raw input). */
CK_RV p11_op_update(struct p11_op *op, const CK_BYTE *data, CK_ULONG len);
/* Final: data NULL for C_*Final; otherwise single-part (refused after an
 * Update with CKR_OPERATION_ACTIVE). The operation ends unless the
 * answer is a length query or CKR_BUFFER_TOO_SMALL. */

/* What the chip needs for one signature, copied out of the session so
 * the chip call runs without the module lock. */
struct p11_sign_job {
    bool ready;              /* false: the answer was a length (no chip call) */
    unsigned chip_slot;
    uint8_t digest[32];
    bool have_pub;           /* the key's public half is known: */
    uint8_t pub[64];         /* X || Y, for verify-after-sign */
};
/* Sign/SignFinal up to the chip call: answers a length query or a short
 * buffer (job->ready false, operation still active), else computes the
 * digest into job and ends the operation. The caller signs job->digest
 * with p11_chip_sign, sets *sig_len = 64 and cleanses the job. */
CK_RV p11_sign_prepare(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       const CK_BYTE *sig, CK_ULONG *sig_len, struct p11_sign_job *job);
/* ECDSA P-256 check of sig (r || s) over a 32-byte digest: CKR_OK,
 * CKR_SIGNATURE_INVALID, or CKR_FUNCTION_FAILED (OpenSSL failed).
 * Thread-safe, needs no lock (verify-after-sign runs it unlocked). */
CK_RV p11_ecdsa_verify_digest(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);
CK_RV p11_verify_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV p11_digest_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       CK_BYTE *out, CK_ULONG *out_len);

/* CKM_ECDH1_DERIVE (CKD_NULL): checks the mechanism and key and returns
 * the key's chip slot and the peer point (X || Y) for p11_chip_ecdh. */
CK_RV p11_ecdh_prepare(const CK_MECHANISM *mech, const p11_attrs *key, unsigned *chip_slot,
                       uint8_t peer[64]);

#endif
