/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 entry points, part 2: objects, search, sign/verify/digest, key
 * generation, derivation, random. Thin: check arguments and session state,
 * then call session.c / slot.c / object.c / mechanism.c under the module
 * lock (see entry.h). Sign, random and ECDH reach the chip with the module
 * lock released (p11_chip_call_begin/end): everything the chip needs is
 * copied out first, and the session may be closed meanwhile
 * (CKR_SESSION_CLOSED).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "entry.h"
#include "log.h"
#include "mechanism.h"
#include "object.h"

static bool user_in(struct p11_module *m, struct p11_session *s)
{
    return m->tokens[s->slot].login == P11_USER;
}

/* Write access to an object of the given token/private flags. */
static CK_RV may_write(struct p11_module *m, struct p11_session *s, bool token_obj, bool private_obj)
{
    if (token_obj && !(s->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (private_obj && !user_in(m, s))
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

/* Where C_CreateObject and C_CopyObject put the object they built: on the
 * token or in the session, once the session may write it. */
static CK_RV add_new_object(struct p11_module *m, struct p11_session *s, p11_attrs *a,
                            CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv = may_write(m, s, p11_object_is_token(a), p11_object_is_private(a));

    if (rv != CKR_OK)
        return rv;
    if (p11_object_is_token(a)) {
        p11_attrs *one[1] = {a};
        return p11_token_add_objects(m, &m->tokens[s->slot], one, 1, out);
    }
    return p11_session_add_object(m, s, a, out);
}

CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    struct p11_module *m;
    struct p11_session *s;
    p11_attrs a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if ((t == NULL && n > 0) || out == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    p11_attrs_init(&a);
    if ((rv = p11_object_create(t, n, &a)) != CKR_OK)
        goto done;
    rv = add_new_object(m, s, &a, out);
done:
    p11_attrs_free(&a);
    return p11_leave(rv);
}

CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                   CK_OBJECT_HANDLE_PTR out)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *src, a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if ((t == NULL && n > 0) || out == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((rv = p11_object_lookup(m, s, o, &src, &owner)) != CKR_OK)
        return p11_leave(rv);
    p11_attrs_init(&a);
    /* The copy is taken before any store transaction (which reloads the
     * store and may move src). */
    if ((rv = p11_object_copy(src, t, n, &a)) != CKR_OK)
        goto done;
    rv = add_new_object(m, s, &a, out);
done:
    p11_attrs_free(&a);
    return p11_leave(rv);
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_session *owner;
    p11_attrs *a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if ((rv = p11_object_lookup(m, s, o, &a, &owner)) != CKR_OK)
        return p11_leave(rv);
    if ((rv = may_write(m, s, owner == NULL, p11_object_is_private(a))) != CKR_OK)
        return p11_leave(rv);
    return p11_leave(p11_object_destroy(m, s, o));
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG_PTR size)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (size == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((rv = p11_object_lookup(m, s, o, &a, &owner)) != CKR_OK)
        return p11_leave(rv);
    *size = CK_UNAVAILABLE_INFORMATION;
    return p11_leave(CKR_OK);
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (t == NULL && n > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((rv = p11_object_lookup(m, s, o, &a, &owner)) != CKR_OK)
        return p11_leave(rv);
    return p11_leave(p11_object_get(a, t, n));
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *a;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (t == NULL && n > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((rv = p11_object_lookup(m, s, o, &a, &owner)) != CKR_OK)
        return p11_leave(rv);
    if ((rv = may_write(m, s, owner == NULL, p11_object_is_private(a))) != CKR_OK)
        return p11_leave(rv);
    if (owner == NULL)
        return p11_leave(p11_token_set_attributes(&m->tokens[s->slot], o, t, n));
    return p11_leave(p11_object_set(a, t, n));
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (t == NULL && n > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (s->find_active)
        return p11_leave(CKR_OPERATION_ACTIVE);
    return p11_leave(p11_find_init(m, s, t, n));
}

CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_ULONG k = 0;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (out == NULL || count == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (!s->find_active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    while (k < max && s->find_pos < s->n_found)
        out[k++] = s->found[s->find_pos++];
    *count = k;
    return p11_leave(CKR_OK);
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->find_active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    free(s->found);
    s->found = NULL;
    s->n_found = 0;
    s->find_active = false;
    return p11_leave(CKR_OK);
}

/* ---- digest ---- */

CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (mech == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (s->digest.active)
        return p11_leave(CKR_OPERATION_ACTIVE);
    return p11_leave(p11_digest_init(&s->digest, mech));
}

/* A bad argument to an active operation ends it like any other error
 * (PKCS#11 v2.40 §5.2: only CKR_BUFFER_TOO_SMALL and a successful length
 * query leave it active). */
static CK_RV end_op(struct p11_op *op, CK_RV rv)
{
    p11_op_reset(op);
    return p11_leave(rv);
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->digest.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if ((data == NULL && len > 0) || out_len == NULL)
        return end_op(&s->digest, CKR_ARGUMENTS_BAD);
    return p11_leave(p11_digest_final(&s->digest, data, len, true, out, out_len));
}

/* The *Update calls of every multi-part operation: the operation is
 * picked by its offset in the session, so the spec's checks live once. */
static CK_RV session_op_update(CK_SESSION_HANDLE h, size_t op_offset, CK_BYTE_PTR data,
                               CK_ULONG len)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_op *op;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    op = (struct p11_op *)((char *)s + op_offset);
    if (!op->active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if (data == NULL && len > 0)
        return end_op(op, CKR_ARGUMENTS_BAD);
    if ((rv = p11_op_update(op, data, len)) != CKR_OK)
        p11_op_reset(op);
    return p11_leave(rv);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    return session_op_update(h, offsetof(struct p11_session, digest), data, len);
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->digest.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if (out_len == NULL)
        return end_op(&s->digest, CKR_ARGUMENTS_BAD);
    return p11_leave(p11_digest_final(&s->digest, NULL, 0, false, out, out_len));
}

/* ---- sign / verify ---- */

/* After a chip call (lock held again): a chip that no longer answers
 * marks its token absent. */
static CK_RV chip_outcome(struct p11_module *m, CK_SLOT_ID slot, CK_RV rv)
{
    if (rv == CKR_DEVICE_REMOVED)
        p11_token_mark_removed(m, &m->tokens[slot]);
    return rv;
}

/* Verify-after-sign: a signature the chip returned is checked against the
 * key's public key before anyone sees it. A corrupted response that still
 * framed and CRC-checked (a flipped bit with a recomputed CRC) is signed
 * again once; a second bad one is a device error. Unlocked. */
static CK_RV chip_sign_checked(struct p11_chip *chip, const struct p11_sign_job *job, bool verify,
                               uint8_t sig[64])
{
    CK_RV rv = CKR_OK;

    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rv = p11_chip_sign(chip, job->chip_slot, job->digest, sig)) != CKR_OK)
            return rv;
        if (!verify || (rv = p11_ecdsa_verify_digest(job->pub, job->digest, sig)) == CKR_OK)
            return CKR_OK;
        p11_log(attempt == 0 ? P11_LOG_WARNING : P11_LOG_ERROR,
                "chip slot %u returned a signature that does not verify with its public key%s",
                job->chip_slot, attempt == 0 ? "; signing again" : " twice: device error");
    }
    OPENSSL_cleanse(sig, 64);
    return CKR_DEVICE_ERROR;
}

/* The unlocked part of C_Sign / C_SignFinal. */
static CK_RV sign_on_chip(struct p11_module *m, struct p11_session *s, struct p11_sign_job *job,
                          CK_BYTE *sig, CK_ULONG *sig_len)
{
    struct p11_chip *chip = m->tokens[s->slot].chip;
    CK_SLOT_ID slot = s->slot;
    bool verify = m->cfg.verify_signatures && job->have_pub;
    CK_RV rv, end;

    p11_chip_call_begin(m, s);
    rv = chip_sign_checked(chip, job, verify, sig);
    end = p11_chip_call_end(m, s);
    OPENSSL_cleanse(job, sizeof(*job));
    rv = chip_outcome(m, slot, rv);
    if (end != CKR_OK)
        return end;
    if (rv == CKR_OK)
        *sig_len = 64;
    return rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *a;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (mech == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (s->sign.active)
        return p11_leave(CKR_OPERATION_ACTIVE);
    if ((rv = p11_object_lookup(m, s, key, &a, &owner)) != CKR_OK)
        return p11_leave(rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv);
    if (p11_object_is_private(a) && !user_in(m, s))
        return p11_leave(CKR_USER_NOT_LOGGED_IN);
    return p11_leave(p11_sign_init(&s->sign, mech, a));
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_sign_job job;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->sign.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if ((data == NULL && len > 0) || sig_len == NULL)
        return end_op(&s->sign, CKR_ARGUMENTS_BAD);
    rv = p11_sign_prepare(&s->sign, data, len, true, sig, sig_len, &job);
    if (rv != CKR_OK || !job.ready)
        return p11_leave(rv);
    return p11_leave(sign_on_chip(m, s, &job, sig, sig_len));
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    return session_op_update(h, offsetof(struct p11_session, sign), data, len);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_sign_job job;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->sign.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if (sig_len == NULL)
        return end_op(&s->sign, CKR_ARGUMENTS_BAD);
    rv = p11_sign_prepare(&s->sign, NULL, 0, false, sig, sig_len, &job);
    if (rv != CKR_OK || !job.ready)
        return p11_leave(rv);
    return p11_leave(sign_on_chip(m, s, &job, sig, sig_len));
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *a;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (mech == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (s->verify.active)
        return p11_leave(CKR_OPERATION_ACTIVE);
    if ((rv = p11_object_lookup(m, s, key, &a, &owner)) != CKR_OK)
        return p11_leave(rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv);
    return p11_leave(p11_verify_init(&s->verify, mech, a));
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->verify.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if ((data == NULL && len > 0) || sig == NULL)
        return end_op(&s->verify, CKR_ARGUMENTS_BAD);
    return p11_leave(p11_verify_final(&s->verify, data, len, true, sig, sig_len));
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
    return session_op_update(h, offsetof(struct p11_session, verify), data, len);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (!s->verify.active)
        return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
    if (sig == NULL)
        return end_op(&s->verify, CKR_ARGUMENTS_BAD);
    return p11_leave(p11_verify_final(&s->verify, NULL, 0, false, sig, sig_len));
}

/* ---- keys ---- */

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                        CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
                        CK_OBJECT_HANDLE_PTR hpriv)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_SLOT_ID slot;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (mech == NULL || hpub == NULL || hpriv == NULL || (pub == NULL && npub > 0) || (priv == NULL && npriv > 0))
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (mech->mechanism != CKM_EC_KEY_PAIR_GEN)
        return p11_leave(CKR_MECHANISM_INVALID);
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return p11_leave(CKR_MECHANISM_PARAM_INVALID);
    if ((rv = p11_object_check_keygen(pub, npub, priv, npriv)) != CKR_OK)
        return p11_leave(rv);
    if ((rv = may_write(m, s, true, true)) != CKR_OK)
        return p11_leave(rv);
    slot = s->slot;
    rv = p11_token_generate_keypair(m, &m->tokens[slot], s, pub, npub, priv, npriv, hpub, hpriv);
    return p11_leave(chip_outcome(m, slot, rv));
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR t,
                  CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    struct p11_module *m;
    struct p11_session *s, *owner;
    p11_attrs *key, a;
    struct p11_chip *chip;
    uint8_t shared[32], peer[64];
    unsigned chip_slot = 0;
    CK_ULONG value_len = 32;
    CK_SLOT_ID slot;
    CK_RV rv, end;

    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (mech == NULL || out == NULL || (t == NULL && n > 0))
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((rv = p11_object_lookup(m, s, base, &key, &owner)) != CKR_OK)
        return p11_leave(rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv);
    if (p11_object_is_private(key) && !user_in(m, s))
        return p11_leave(CKR_USER_NOT_LOGGED_IN);
    /* The whole template is checked before the chip runs ECDH: a refused
     * template must not have cost a chip operation. */
    if ((rv = p11_object_check_derive(t, n, &value_len)) != CKR_OK)
        return p11_leave(rv);
    if ((rv = p11_ecdh_prepare(mech, key, &chip_slot, peer)) != CKR_OK)
        return p11_leave(rv);
    chip = m->tokens[s->slot].chip;
    slot = s->slot;
    p11_chip_call_begin(m, s);
    rv = p11_chip_ecdh(chip, chip_slot, peer, shared);
    end = p11_chip_call_end(m, s);
    rv = chip_outcome(m, slot, rv);
    if (end != CKR_OK)
        rv = end;
    if (rv != CKR_OK) {
        OPENSSL_cleanse(shared, sizeof(shared));
        return p11_leave(rv);
    }
    rv = p11_object_derived_secret(t, n, shared, value_len, &a);
    OPENSSL_cleanse(shared, sizeof(shared));
    if (rv == CKR_OK) {
        rv = p11_session_add_object(m, s, &a, out);
        p11_attrs_free(&a);
    }
    return p11_leave(rv);
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (seed == NULL && len > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    return p11_leave(CKR_RANDOM_SEED_NOT_SUPPORTED);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_chip *chip;
    uint8_t block[32];
    CK_ULONG done = 0;
    CK_SLOT_ID slot;
    CK_RV rv, end;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (out == NULL && len > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (len == 0)
        return p11_leave(CKR_OK);
    chip = m->tokens[s->slot].chip;
    slot = s->slot;
    p11_chip_call_begin(m, s);
    while (done < len && rv == CKR_OK) {
        CK_ULONG take = len - done < 32 ? len - done : 32;
        if ((rv = p11_chip_random(chip, block)) == CKR_OK)
            memcpy(out + done, block, take);
        done += take;
    }
    OPENSSL_cleanse(block, sizeof(block));
    end = p11_chip_call_end(m, s);
    rv = chip_outcome(m, slot, rv);
    if (end != CKR_OK)
        rv = end;
    return p11_leave(rv);
}
