/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation: the configuration check, the token steps that the live commit
 * and start-up recovery share, and recovery from the journal (see
 * rotation.h). Every token step finds objects by CKA_ID, so running it
 * again after a crash is harmless.
 */
#include "rotation.h"
#include "rotation_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "agent.h"
#include "hex.h"
#include "token.h"
#include "log.h"
#include "rotation_chain.h"
#include "uri.h"

/* ---- configuration ------------------------------------------------------ */

static int uri_label(const char *what, const char *text, char *label, size_t label_len,
                     bool *has_id, char *err, size_t err_len)
{
    P11KitUri *uri = agent_uri_parse(what, text, err, err_len);
    CK_ATTRIBUTE *attr;
    int rc = -1;

    if (!uri)
        return -1;
    attr = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    *has_id = p11_kit_uri_get_attribute(uri, CKA_ID) != NULL;
    if (!attr || attr->ulValueLen == 0 || attr->ulValueLen >= label_len ||
        attr->ulValueLen > ROTATION_LABEL_MAX - strlen(ROTATION_PREVIOUS_LABEL_SUFFIX)) {
        snprintf(err, err_len, "%s must name its object by label (object=..., at most %zu bytes) "
                               "for key rotation",
                 what, (size_t)(ROTATION_LABEL_MAX - strlen(ROTATION_PREVIOUS_LABEL_SUFFIX)));
        goto cleanup;
    }
    memcpy(label, attr->pValue, attr->ulValueLen);
    label[attr->ulValueLen] = '\0';
    rc = 0;
cleanup:
    p11_kit_uri_free(uri);
    return rc;
}

int agent_rotation_check_config(const struct agent_config *cfg, char *label, size_t label_len,
                                char *err, size_t err_len)
{
    char cert_label[ROTATION_LABEL_MAX + 1];
    bool has_id = false;

    if (uri_label("identity.key", cfg->identity.key_uri, label, label_len, &has_id, err,
                  err_len) != 0)
        return -1;
    if (has_id) {
        snprintf(err, err_len, "identity.key must not contain id= when rotation is enabled: a "
                               "rotated key gets a new CKA_ID; name it by object= only");
        return -1;
    }
    if (strncmp(cfg->identity.certificate, "pkcs11:", 7) != 0) {
        snprintf(err, err_len, "identity.certificate must be a pkcs11: URI (the certificate on "
                               "the token) when rotation is enabled");
        return -1;
    }
    if (uri_label("identity.certificate", cfg->identity.certificate, cert_label,
                  sizeof(cert_label), &has_id, err, err_len) != 0)
        return -1;
    if (has_id || strcmp(cert_label, label) != 0) {
        snprintf(err, err_len, "identity.certificate must name the same object= as identity.key "
                               "(\"%s\") and no id= when rotation is enabled",
                 label);
        return -1;
    }
    return 0;
}

/* ---- token steps shared by the live path and recovery -------------------- */

enum agent_identity_status rotation_retire_old(const struct agent_config *cfg,
                                             struct agent_identity *id,
                                             const struct rotation_proof *proof,
                                             const unsigned char *old_id, size_t old_len,
                                             const unsigned char *new_id, size_t new_len,
                                             char *err, size_t err_len)
{
    const struct rotation_record *rec = &proof->rec;
    char previous[ROTATION_LABEL_MAX + 16];
    unsigned count = 0;

    if (cfg->rotation.retire == AGENT_RETIRE_DESTROY)
        return agent_token_destroy_id(agent_identity_token(id), proof, old_id, old_len, &count,
                                      err, err_len);

    snprintf(previous, sizeof(previous), "%s%s", rec->label, ROTATION_PREVIOUS_LABEL_SUFFIX);
    {
        struct agent_token_object found[12];
        int n = agent_token_find_label(agent_identity_token(id), previous, found, 12, err, err_len);

        if (n < 0)
            return AGENT_IDENTITY_TOKEN_FAULT;
        for (int i = 0; i < n && i < 12; i++) {
            bool is_old = found[i].id_len == old_len && memcmp(found[i].id, old_id, old_len) == 0;
            bool is_new = found[i].id_len == new_len && memcmp(found[i].id, new_id, new_len) == 0;
            enum agent_identity_status st;

            if (is_old || is_new)
                continue;
            st = agent_token_destroy_id(agent_identity_token(id), proof, found[i].id,
                                        found[i].id_len, &count, err, err_len);
            if (st != AGENT_IDENTITY_OK)
                return st;
        }
    }
    return agent_token_relabel(agent_identity_token(id), proof, old_id, old_len, previous,
                               &count, err, err_len);
}

enum agent_identity_status rotation_promote_new(struct agent_identity *id,
                                              const struct rotation_proof *proof,
                                              const unsigned char *new_id, size_t new_len,
                                              char *err, size_t err_len)
{
    unsigned count = 0;

    return agent_token_relabel(agent_identity_token(id), proof, new_id, new_len, proof->rec.label,
                               &count, err, err_len);
}

/* ---- recovery ------------------------------------------------------------ */

static bool has_private_key(struct agent_identity *id, const unsigned char *key_id, size_t len,
                            char *err, size_t err_len, bool *fault)
{
    struct agent_token_object found[8];
    int n = agent_token_find_id(agent_identity_token(id), key_id, len, found, 8, err, err_len);

    *fault = n < 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (found[i].klass == CKO_PRIVATE_KEY)
            return true;
    }
    return false;
}

enum agent_identity_status agent_rotation_recover(struct agent *a, struct agent_identity *id,
                                                  char *err, size_t err_len)
{
    struct agent_rotation *r = &a->rotation;
    const char *dir = a->config.rotation.state_dir;
    struct rotation_proof proof;
    struct rotation_record rec;
    unsigned char old_id[64], new_id[64];
    size_t old_len = 0, new_len = 0;
    enum rotation_load load;
    enum rotation_action action;
    enum agent_identity_status st = AGENT_IDENTITY_OK;
    const char *why = "";
    char jerr[512];
    bool fault = false;
    unsigned count = 0;

    load = rotation_proof_load(dir, &proof, jerr, sizeof(jerr));
    rec = proof.rec;
    if (load == ROTATION_LOAD_ABSENT)
        return AGENT_IDENTITY_OK;
    if (load != ROTATION_LOAD_OK) {
        /* Never guess: the token is left alone and the file kept. */
        agent_err("rotation journal: %s; leaving the token as it is (remove the file once the "
                  "token was checked by hand)",
                  jerr);
        snprintf(r->last_result, sizeof(r->last_result), "journal-unreadable");
        snprintf(r->last_error, sizeof(r->last_error), "%s", jerr);
        return AGENT_IDENTITY_OK;
    }
    action = rotation_recovery_action(&rec, agent_identity_slot_id(id), &why);
    if (action == ROTATION_ACTION_NONE) {
        rotation_journal_clear(dir, jerr, sizeof(jerr));
        return AGENT_IDENTITY_OK;
    }
    if (action == ROTATION_ACTION_REFUSE ||
        agent_hex_decode(rec.new_key_id, new_id, sizeof(new_id), &new_len) != 0 ||
        agent_hex_decode(rec.old_key_id, old_id, sizeof(old_id), &old_len) != 0) {
        agent_err("rotation journal %s/%s: refusing to act (%s); leaving the token as it is", dir,
                  ROTATION_JOURNAL_FILE, why);
        snprintf(r->last_result, sizeof(r->last_result), "journal-refused");
        snprintf(r->last_error, sizeof(r->last_error), "%s", why);
        return AGENT_IDENTITY_OK;
    }
    if (action == ROTATION_ACTION_COMPLETE &&
        !has_private_key(id, new_id, new_len, err, err_len, &fault)) {
        if (fault)
            return AGENT_IDENTITY_TOKEN_FAULT;
        /* Completing would retire the only key: refuse, loudly. */
        agent_err("rotation journal says step %s but the new key (id %s) is not on the token; "
                  "not retiring the old key",
                  rotation_step_name(rec.step), rec.new_key_id);
        snprintf(r->last_result, sizeof(r->last_result), "journal-refused");
        snprintf(r->last_error, sizeof(r->last_error), "new key %s missing at step %s",
                 rec.new_key_id, rotation_step_name(rec.step));
        return AGENT_IDENTITY_OK;
    }
    if (action == ROTATION_ACTION_ROLL_BACK &&
        !has_private_key(id, old_id, old_len, err, err_len, &fault)) {
        if (fault)
            return AGENT_IDENTITY_TOKEN_FAULT;
        /* Rolling back would destroy the only key left: never. If the new
         * pair is there, it is the identity now (the journal lags behind
         * the token, e.g. storage failed); otherwise leave it all alone. */
        if (!has_private_key(id, new_id, new_len, err, err_len, &fault)) {
            if (fault)
                return AGENT_IDENTITY_TOKEN_FAULT;
            agent_err("rotation journal says step %s (roll back) but neither the old key (id %s) "
                      "nor the new one (id %s) is on the token; leaving the token as it is",
                      rotation_step_name(rec.step), rec.old_key_id, rec.new_key_id);
            snprintf(r->last_result, sizeof(r->last_result), "journal-refused");
            snprintf(r->last_error, sizeof(r->last_error), "old key %s and new key %s missing",
                     rec.old_key_id, rec.new_key_id);
            return AGENT_IDENTITY_OK;
        }
        agent_err("rotation journal says step %s (roll back) but the old key (id %s) is gone; "
                  "keeping the new key %s, the only one left",
                  rotation_step_name(rec.step), rec.old_key_id, rec.new_key_id);
        /* Completing retires and relabels: the gateway does that only once
         * the journal says so on disk. */
        rec.step = ROTATION_COMMITTED;
        rec.updated = (int64_t)time(NULL);
        if (rotation_proof_record(dir, &rec, &proof, jerr, sizeof(jerr)) != 0) {
            snprintf(err, err_len, "rotation journal: cannot record the switch to the new key "
                                   "(%s); retrying later",
                     jerr);
            return AGENT_IDENTITY_TOKEN_FAULT;
        }
        action = ROTATION_ACTION_COMPLETE;
        why = "the old key is gone: the new one is the only identity left";
    }
    agent_notice("rotation journal: interrupted at step %s (%s): %s", rotation_step_name(rec.step),
                 why, action == ROTATION_ACTION_COMPLETE ? "completing it" : "rolling it back");
    if (action == ROTATION_ACTION_ROLL_BACK) {
        st = agent_token_destroy_id(agent_identity_token(id), &proof, new_id, new_len, &count,
                                    err, err_len);
    } else {
        st = rotation_retire_old(&a->config, id, &proof, old_id, old_len, new_id, new_len, err,
                                 err_len);
        if (st == AGENT_IDENTITY_OK)
            st = rotation_promote_new(id, &proof, new_id, new_len, err, err_len);
    }
    if (st != AGENT_IDENTITY_OK) {
        agent_err("rotation recovery: %s; the journal stays for the next attempt", err);
        return st == AGENT_IDENTITY_TOKEN_FAULT ? st : AGENT_IDENTITY_TOKEN_FAULT;
    }
    if (rotation_journal_clear(dir, jerr, sizeof(jerr)) != 0)
        agent_warn("rotation journal: %s", jerr);
    rotation_chain_settle(dir, action == ROTATION_ACTION_COMPLETE ? rec.new_key_id : rec.old_key_id,
                          action == ROTATION_ACTION_COMPLETE ? rec.old_key_id : rec.new_key_id);
    if (action == ROTATION_ACTION_COMPLETE) {
        r->rotations++;
        snprintf(r->last_result, sizeof(r->last_result), "completed-after-restart");
        r->last_error[0] = '\0';
    } else {
        r->failures++;
        snprintf(r->last_result, sizeof(r->last_result), "rolled-back-after-restart");
        snprintf(r->last_error, sizeof(r->last_error), "interrupted at step %s%s%s",
                 rotation_step_name(rec.step), rec.error[0] ? ": " : "", rec.error);
    }
    r->last_finished = time(NULL);
    return AGENT_IDENTITY_OK;
}

void agent_rotation_use_saved_chain(struct agent *a)
{
    char desc[768];

    switch (rotation_chain_apply(a->config.rotation.state_dir, a->identity, desc, sizeof(desc))) {
    case ROTATION_CHAIN_LOADED:
        agent_info("certificate chain: %s", desc);
        break;
    case ROTATION_CHAIN_MISMATCH:
    case ROTATION_CHAIN_BAD:
        agent_warn("%s", desc);
        break;
    case ROTATION_CHAIN_NONE:
        break;
    }
}
