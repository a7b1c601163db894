/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate chain a rotation received, kept across restarts.
 *
 * The CA's answer carries the intermediates after the new leaf, but the
 * token stores only the leaf, and identity.chain_file names what was true
 * at provisioning. Once a CA issues from another intermediate, a restarted
 * agent would send a chain that no longer leads to its leaf and the broker
 * would refuse it. So each rotation saves its intermediates in the state
 * directory as chain-<key id hex>.pem, and the identity load uses the file
 * of the key it resolved, only when its first certificate issued the leaf.
 *
 * Owns: the chain-*.pem files of rotation.state_dir.
 * Must never: hand out a chain that does not continue the given leaf.
 */
#ifndef TRUSTLINK_AGENT_ROTATION_CHAIN_H
#define TRUSTLINK_AGENT_ROTATION_CHAIN_H

#include <stddef.h>

#include <openssl/x509.h>

enum rotation_chain_load {
    ROTATION_CHAIN_NONE,     /* no saved chain for this key, or an empty one */
    ROTATION_CHAIN_LOADED,   /* *out continues the leaf */
    ROTATION_CHAIN_MISMATCH, /* saved, but its first certificate did not issue the leaf */
    ROTATION_CHAIN_BAD,      /* unreadable or not PEM certificates: err says why */
};

/* Saves chain (may be empty) as dir/chain-<key_id_hex>.pem, atomically. */
int rotation_chain_save(const char *dir, const char *key_id_hex, STACK_OF(X509) *chain,
                        char *err, size_t err_len);

/* Loads dir/chain-<key_id_hex>.pem for leaf. *out (owned by the caller) is
 * set only for ROTATION_CHAIN_LOADED. */
enum rotation_chain_load rotation_chain_load(const char *dir, const char *key_id_hex, X509 *leaf,
                                             STACK_OF(X509) **out, char *err, size_t err_len);

struct agent_identity;

/* For a resolved identity: loads the saved chain of its key and, when it
 * continues the certificate, makes it the chain sent after the leaf. desc
 * gets one sentence for a log or a report (empty for NONE). */
enum rotation_chain_load rotation_chain_apply(const char *dir, struct agent_identity *id,
                                              char *desc, size_t desc_len);

/* Removes every saved chain but keep_key_id_hex's (NULL: all). Returns the
 * number removed; a directory that does not exist is not an error. */
int rotation_chain_prune(const char *dir, const char *keep_key_id_hex);

/* A rotation ended and in_use_key_id_hex is the identity's key again (a
 * roll-back) or now (a completion): the chains of every other key are
 * abandoned (rolled back, refused) and removed, so they do not pile up in
 * the state directory. With the key in use unknown (NULL or ""), only
 * abandoned_key_id_hex's chain is removed. Returns the number removed. */
int rotation_chain_settle(const char *dir, const char *in_use_key_id_hex,
                          const char *abandoned_key_id_hex);

#endif
