/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots and tokens: the module's table of configured tokens, each with its
 * chip, token store, login state and object handles.
 *
 * Owns: struct p11_module (everything C_Initialize creates, guarded by one
 * mutex held by entry.c around every call), struct p11_token, token info
 * and flags, login/logout/PIN management (C_Login, C_Logout, C_InitToken,
 * C_InitPIN, C_SetPIN), token objects (lookup by handle, create, destroy,
 * modify, all through the store's read-modify-write), and allocation of
 * free chip slots for generated keys.
 * Must never: be called without the module lock; log a PIN; cast a
 * pointer to a handle (handles are numbers from the module's counter).
 *
 * C_InitToken: verifies (or, on a blank token, sets) the SO PIN, removes
 * the user PIN and every object from the store, and sets the label. Keys
 * generated into free_slots are forgotten: their chip slots become free
 * again and are overwritten by the next key generation. The keys in
 * key_slots (provisioned keys the token cannot recreate) are re-listed
 * at once as fresh private/public key objects.
 *
 * C_DestroyObject of a provisioned key's private key records its chip slot
 * as released in the store (token.json "released_key_slots"): it is never
 * listed again until C_InitToken, so a key retired by a rotation stays
 * retired and its label does not become ambiguous.
 */
#ifndef TRUSTLINK_P11_SLOT_H
#define TRUSTLINK_P11_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "attributes.h"
#include "chip.h"
#include "config.h"
#include "store.h"

enum p11_login { P11_PUBLIC = 0, P11_USER, P11_SO };

struct p11_handle_map {
    uint64_t uid;
    CK_OBJECT_HANDLE handle;
};

struct p11_token {
    CK_SLOT_ID id;
    const struct p11_token_config *cfg;   /* points into module->cfg */
    struct p11_chip *chip;                /* NULL: never answered yet */
    /* The chip stopped answering (a call returned CKR_DEVICE_REMOVED): the
     * token is absent and its sessions are closed; the handle stays open
     * (calls in other threads may still use it) and is probed again. */
    bool removed;
    bool present;                         /* as last reported */
    bool event;                           /* presence changed, not yet told by C_WaitForSlotEvent */
    struct p11_chip_info info;
    struct tok_store *store;              /* NULL when the chip is absent */
    enum p11_login login;
    uint32_t kdf_iterations;              /* for new PIN records */
    struct p11_handle_map *hmap;
    size_t n_hmap;
    char error[512];                      /* why the token is not present */
};

struct p11_session;

struct p11_module {
    pid_t pid;
    struct p11_config cfg;
    struct p11_token *tokens;
    size_t n_tokens;
    struct p11_session **sessions;
    size_t n_sessions;
    CK_ULONG next_handle;                 /* sessions and objects; never 0 */
    unsigned chip_calls;                  /* unlocked chip calls in progress */
    /* CKF_LIBRARY_CANT_CREATE_OS_THREADS was given: chips are opened with
     * a sign path that starts no worker thread. */
    bool no_os_threads;
};

/* Module life cycle (C_Initialize / C_Finalize). A bad configuration
 * fails with CKR_GENERAL_ERROR and the reason in err (also logged). */
CK_RV p11_module_init(struct p11_module *m, bool no_os_threads, char *err, size_t err_len);
void p11_module_fini(struct p11_module *m, bool close_chips);
CK_ULONG p11_module_new_handle(struct p11_module *m);

/* Slots. */
struct p11_token *p11_slot_get(struct p11_module *m, CK_SLOT_ID id);  /* NULL: CKR_SLOT_ID_INVALID */
/* Opens the chip and the store if not yet done; CKR_TOKEN_NOT_PRESENT
 * (reason in tok->error) when the chip does not answer. */
CK_RV p11_token_ensure(struct p11_module *m, struct p11_token *tok);
void p11_slot_info(const struct p11_token *tok, CK_SLOT_INFO *info);
bool p11_token_is_present(const struct p11_token *tok);
/* A chip call returned CKR_DEVICE_REMOVED: marks the token absent
 * (CKF_TOKEN_PRESENT clear, every session of the slot closed, logged
 * out) and records a slot event. */
void p11_token_mark_removed(struct p11_module *m, struct p11_token *tok);
/* C_WaitForSlotEvent: takes the first pending slot event (chip came or
 * went since the last call) into *slot; false when there is none. */
bool p11_slot_take_event(struct p11_module *m, CK_SLOT_ID *slot);
/* Probes the tokens that are not present (records an event when one
 * answers again). */
void p11_slot_probe_absent(struct p11_module *m);
CK_RV p11_token_info(struct p11_module *m, struct p11_token *tok, CK_TOKEN_INFO *info);

/* Login state (the caller has checked the session handle). */
CK_RV p11_token_login(struct p11_module *m, struct p11_token *tok, CK_USER_TYPE user,
                      const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV p11_token_logout(struct p11_module *m, struct p11_token *tok);
CK_RV p11_token_init(struct p11_module *m, struct p11_token *tok, const CK_UTF8CHAR *so_pin,
                     CK_ULONG so_len, const CK_UTF8CHAR *label32);
CK_RV p11_token_init_pin(struct p11_token *tok, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV p11_token_set_pin(struct p11_token *tok, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                        const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

/* Token objects. A handle names a token object when it is in tok->hmap
 * and its uid is still in the store. */
CK_RV p11_token_refresh(struct p11_token *tok);
p11_attrs *p11_token_object(struct p11_token *tok, CK_OBJECT_HANDLE h);
CK_OBJECT_HANDLE p11_token_handle_for(struct p11_module *m, struct p11_token *tok, uint64_t uid);
/* Adds objects (all or none) and commits; handles returned in order. */
CK_RV p11_token_add_objects(struct p11_module *m, struct p11_token *tok, p11_attrs *const *objs,
                            size_t n, CK_OBJECT_HANDLE *handles);
CK_RV p11_token_destroy_object(struct p11_token *tok, CK_OBJECT_HANDLE h);
CK_RV p11_token_set_attributes(struct p11_token *tok, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t,
                               CK_ULONG n);
/* Generates a key pair on the chip in a free slot and stores both
 * objects (the templates were checked with p11_object_check_keygen). */
CK_RV p11_token_generate_keypair(struct p11_module *m, struct p11_token *tok, struct p11_session *sess,
                                 const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                                 CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv);

/* Maps a store failure to a CKR (once, here). */
CK_RV p11_store_ckr(enum tok_store_err err);

#endif
