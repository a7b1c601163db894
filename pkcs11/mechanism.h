/*
 * Mechanisms: the list and info the token reports, and the sign / verify /
 * digest / derive operations on a session's p11_op.
 *
 * Owns: CKM_ECDSA and CKM_ECDSA_SHA256 (hash on the host, sign on the
 * chip; verify on the host with OpenSSL), CKM_SHA256, CKM_ECDH1_DERIVE,
 * and the output-buffer sizing of C_Sign/C_Digest (the two-call rule: a
 * NULL buffer or one too small leaves the operation active).
 * Must never: see a private key (the chip signs), or be called without the
 * module lock.
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
CK_RV p11_sign_final(struct p11_chip *chip, struct p11_op *op, const CK_BYTE *data, CK_ULONG len,
                     bool single, CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV p11_verify_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV p11_digest_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       CK_BYTE *out, CK_ULONG *out_len);

/* CKM_ECDH1_DERIVE (CKD_NULL) into a CKK_GENERIC_SECRET value. */
CK_RV p11_ecdh_derive(struct p11_chip *chip, const CK_MECHANISM *mech, const p11_attrs *key,
                      uint8_t shared[32]);

#endif
