/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots, tokens, login state and token objects. See slot.h.
 * Every function here runs under the module lock (entry.c).
 */
#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "object.h"
#include "session.h"

CK_RV p11_store_ckr(enum tok_store_err err)
{
    switch (err) {
    case TOK_STORE_OK: return CKR_OK;
    case TOK_STORE_NOMEM: return CKR_HOST_MEMORY;
    case TOK_STORE_IO: return CKR_DEVICE_ERROR;
    case TOK_STORE_CORRUPT: return CKR_DEVICE_ERROR;
    }
    return CKR_GENERAL_ERROR;
}

static CK_RV store_fail(struct p11_token *tok, enum tok_store_err err)
{
    p11_log(P11_LOG_ERROR, "token \"%s\": %s", tok->cfg->label, tok->store->error);
    return p11_store_ckr(err);
}

static CK_RV begin(struct p11_token *tok)
{
    enum tok_store_err e = tok_store_begin(tok->store);
    return e == TOK_STORE_OK ? CKR_OK : store_fail(tok, e);
}

/* Commits when rv is CKR_OK, else drops the edits; always unlocks. */
static CK_RV finish(struct p11_token *tok, CK_RV rv)
{
    enum tok_store_err e;
    if (rv == CKR_OK) {
        e = tok_store_commit(tok->store);
        if (e != TOK_STORE_OK)
            rv = store_fail(tok, e);
    } else {
        (void)tok_store_abort(tok->store);
    }
    tok_store_end(tok->store);
    return rv;
}

CK_ULONG p11_module_new_handle(struct p11_module *m)
{
    CK_ULONG h = m->next_handle++;
    if (m->next_handle == 0 || m->next_handle == CK_INVALID_HANDLE)
        m->next_handle = 1;
    return h;
}

CK_RV p11_module_init(struct p11_module *m, bool no_os_threads, char *err, size_t err_len)
{
    memset(m, 0, sizeof(*m));
    m->no_os_threads = no_os_threads;
    m->pid = getpid();
    m->next_handle = 1;
    if (p11_config_load(NULL, &m->cfg, err, err_len) != 0) {
        p11_log(P11_LOG_ERROR, "%s", err);
        return CKR_GENERAL_ERROR;
    }
    p11_log_set_level(m->cfg.log_level);
    for (size_t i = 0; i < m->cfg.n_tokens; i++) {
        if (!p11_chip_interface_known(m->cfg.tokens[i].interface)) {
            snprintf(err, err_len,
                     "%s: tokens[%zu].interface \"%s\": unknown interface scheme (expected "
                     "i2c:/dev/i2c-N@0xADDR or emu:/path/to/socket)",
                     p11_config_path(), i, m->cfg.tokens[i].interface);
            p11_log(P11_LOG_ERROR, "%s", err);
            p11_config_free(&m->cfg);
            return CKR_GENERAL_ERROR;
        }
    }
    m->tokens = calloc(m->cfg.n_tokens, sizeof(*m->tokens));
    if (m->tokens == NULL) {
        p11_config_free(&m->cfg);
        return CKR_HOST_MEMORY;
    }
    m->n_tokens = m->cfg.n_tokens;
    for (size_t i = 0; i < m->n_tokens; i++) {
        m->tokens[i].id = (CK_SLOT_ID)i;
        m->tokens[i].cfg = &m->cfg.tokens[i];
        m->tokens[i].kdf_iterations = m->cfg.pin_kdf_iterations ? m->cfg.pin_kdf_iterations : P11_PIN_ITERATIONS;
        /* A chip that does not answer now is "token not present"; it is
         * tried again by the next call that needs it. */
        (void)p11_token_ensure(m, &m->tokens[i]);
        /* The state at C_Initialize is the baseline, not an event. */
        m->tokens[i].event = false;
    }
    return CKR_OK;
}

void p11_module_fini(struct p11_module *m, bool close_chips)
{
    while (m->n_sessions > 0)
        p11_session_free(m->sessions[--m->n_sessions]);
    free(m->sessions);
    for (size_t i = 0; i < m->n_tokens; i++) {
        /* In a forked child the chip connection is the parent's: leave it. */
        if (close_chips)
            p11_chip_close(m->tokens[i].chip);
        tok_store_close(m->tokens[i].store);
        free(m->tokens[i].hmap);
    }
    free(m->tokens);
    p11_config_free(&m->cfg);
    memset(m, 0, sizeof(*m));
}

struct p11_token *p11_slot_get(struct p11_module *m, CK_SLOT_ID id)
{
    return id < m->n_tokens ? &m->tokens[id] : NULL;
}

static bool has_key_for_slot(struct tok_store *st, unsigned slot)
{
    for (size_t i = 0; i < st->data.n_objects; i++)
        if (p11_object_chip_slot(&st->data.objects[i].attrs) == (int)slot)
            return true;
    return false;
}

static bool is_key_slot(const struct p11_token *tok, int slot)
{
    for (size_t i = 0; i < tok->cfg->n_key_slots; i++)
        if ((int)tok->cfg->key_slots[i] == slot)
            return true;
    return false;
}

/* A provisioned key whose private key object was destroyed stays gone:
 * listing it again would revive a key its owner retired (e.g. the factory
 * key after a rotation) and make its label ambiguous. */
static bool wants_provisioning(struct p11_token *tok, unsigned slot)
{
    return !has_key_for_slot(tok->store, slot) && !tok_store_slot_released(tok->store, slot);
}

/* Lists provisioned keys (config key_slots) that have no object yet and
 * were not released. Called inside begin/finish. */
static CK_RV add_provisioned_keys(struct p11_token *tok)
{
    static const CK_BBOOL yes = CK_TRUE;
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < tok->cfg->n_key_slots; i++) {
        unsigned slot = tok->cfg->key_slots[i];
        uint8_t pub[64];
        char label[16];
        p11_attrs pa, ka;

        if (!wants_provisioning(tok, slot))
            continue;
        rv = p11_chip_pubkey(tok->chip, slot, pub);
        if (rv != CKR_OK) {
            p11_log(P11_LOG_WARNING, "token \"%s\": no public key for chip slot %u (key_slots): skipped",
                    tok->cfg->label, slot);
            rv = CKR_OK;
            continue;
        }
        /* The first provisioned key is the device identity. */
        if (i == 0)
            snprintf(label, sizeof(label), "device");
        else
            snprintf(label, sizeof(label), "key%u", slot);
        CK_ATTRIBUTE pt[] = {{CKA_TOKEN, (void *)&yes, 1}, {CKA_LABEL, label, (CK_ULONG)strlen(label)},
                             {CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)}};
        CK_ATTRIBUTE kt[] = {{CKA_TOKEN, (void *)&yes, 1}};
        rv = p11_object_keypair(pt, 3, kt, 1, slot, pub, false, &pa, &ka);
        if (rv != CKR_OK)
            return rv;
        if (tok_store_add_object(tok->store, &ka, NULL) != TOK_STORE_OK ||
            tok_store_add_object(tok->store, &pa, NULL) != TOK_STORE_OK)
            rv = CKR_HOST_MEMORY;
        p11_attrs_free(&pa);
        p11_attrs_free(&ka);
        if (rv != CKR_OK)
            return rv;
    }
    return rv;
}

static bool needs_provisioning(struct p11_token *tok)
{
    for (size_t i = 0; i < tok->cfg->n_key_slots; i++)
        if (wants_provisioning(tok, tok->cfg->key_slots[i]))
            return true;
    return false;
}

bool p11_token_is_present(const struct p11_token *tok)
{
    return tok->chip != NULL && !tok->removed && tok->store != NULL;
}

static void note_presence(struct p11_token *tok)
{
    bool now = p11_token_is_present(tok);
    if (now != tok->present) {
        tok->present = now;
        tok->event = true;
    }
}

void p11_token_mark_removed(struct p11_module *m, struct p11_token *tok)
{
    if (tok->removed)
        return;
    p11_log(P11_LOG_WARNING, "token \"%s\": the chip at %s stopped answering; token marked absent, its sessions closed",
            tok->cfg->label, tok->cfg->interface);
    snprintf(tok->error, sizeof(tok->error), "the chip at %s stopped answering", tok->cfg->interface);
    tok->removed = true;
    p11_session_close_all(m, tok->id);
    note_presence(tok);
}

bool p11_slot_take_event(struct p11_module *m, CK_SLOT_ID *slot)
{
    for (size_t i = 0; i < m->n_tokens; i++) {
        if (m->tokens[i].event) {
            m->tokens[i].event = false;
            *slot = m->tokens[i].id;
            return true;
        }
    }
    return false;
}

void p11_slot_probe_absent(struct p11_module *m)
{
    for (size_t i = 0; i < m->n_tokens; i++)
        if (!p11_token_is_present(&m->tokens[i]))
            (void)p11_token_ensure(m, &m->tokens[i]);
}

static CK_RV token_ensure(struct p11_module *m, struct p11_token *tok);

CK_RV p11_token_ensure(struct p11_module *m, struct p11_token *tok)
{
    CK_RV rv = token_ensure(m, tok);
    note_presence(tok);
    return rv;
}

static CK_RV token_ensure(struct p11_module *m, struct p11_token *tok)
{
    char detail[384];
    enum tok_store_err e;
    CK_RV rv;

    if (tok->chip != NULL && tok->removed) {
        /* Removed earlier: present again once it answers. */
        if (p11_chip_info(tok->chip, &tok->info) != CKR_OK)
            return CKR_TOKEN_NOT_PRESENT;
        tok->removed = false;
        tok->error[0] = '\0';
        p11_log(P11_LOG_INFO, "token \"%s\": the chip answers again", tok->cfg->label);
    }
    if (tok->chip != NULL && tok->store != NULL)
        return CKR_OK;
    if (tok->chip == NULL) {
        rv = p11_chip_open(tok->cfg->interface, m->cfg.lock_dir, !m->no_os_threads, &tok->chip,
                           detail, sizeof(detail));
        if (rv != CKR_OK) {
            /* Logged once per reason: C_WaitForSlotEvent probes every second. */
            if (strncmp(tok->error, detail, sizeof(tok->error)) != 0)
                p11_log(P11_LOG_WARNING, "token \"%s\" not present: %s", tok->cfg->label, detail);
            snprintf(tok->error, sizeof(tok->error), "%s", detail);
            tok->chip = NULL;
            return CKR_TOKEN_NOT_PRESENT;
        }
        if ((rv = p11_chip_info(tok->chip, &tok->info)) != CKR_OK) {
            p11_chip_close(tok->chip);
            tok->chip = NULL;
            snprintf(tok->error, sizeof(tok->error), "chip at %s did not report its serial", tok->cfg->interface);
            return CKR_TOKEN_NOT_PRESENT;
        }
    }
    e = tok_store_open(tok->cfg->store, &tok->store, tok->error, sizeof(tok->error));
    if (e != TOK_STORE_OK) {
        p11_log(P11_LOG_ERROR, "token \"%s\": %s", tok->cfg->label, tok->error);
        return CKR_TOKEN_NOT_PRESENT;
    }
    if (needs_provisioning(tok)) {
        if ((rv = begin(tok)) != CKR_OK)
            return CKR_OK; /* read-only store: the token works without them */
        (void)finish(tok, add_provisioned_keys(tok));
    }
    tok->error[0] = '\0';
    return CKR_OK;
}

void p11_slot_info(const struct p11_token *tok, CK_SLOT_INFO *info)
{
    char desc[65];
    memset(info, ' ', sizeof(*info));
    snprintf(desc, sizeof(desc), "trustlink ATECC608 %s", tok->cfg->interface);
    memcpy(info->slotDescription, desc, strnlen(desc, sizeof(info->slotDescription)));
    memcpy(info->manufacturerID, "trustlink", 9);
    info->flags = CKF_HW_SLOT | CKF_REMOVABLE_DEVICE | (p11_token_is_present(tok) ? CKF_TOKEN_PRESENT : 0);
    info->hardwareVersion.major = 0;
    info->hardwareVersion.minor = 0;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
}

static void pad(CK_UTF8CHAR *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n);
    memset(dst, ' ', n);
    memcpy(dst, src, len);
}

CK_RV p11_token_refresh(struct p11_token *tok)
{
    enum tok_store_err e = tok_store_refresh(tok->store);
    return e == TOK_STORE_OK ? CKR_OK : store_fail(tok, e);
}

CK_RV p11_token_info(struct p11_module *m, struct p11_token *tok, CK_TOKEN_INFO *info)
{
    struct tok_store_data *d;
    char serial[17];
    CK_RV rv;

    if ((rv = p11_token_ensure(m, tok)) != CKR_OK)
        return rv;
    if ((rv = p11_token_refresh(tok)) != CKR_OK)
        return rv;
    d = &tok->store->data;
    memset(info, 0, sizeof(*info));
    pad(info->label, sizeof(info->label), d->label[0] ? d->label : tok->cfg->label);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "Microchip");
    pad(info->model, sizeof(info->model), tok->info.model);
    for (size_t i = 0; i < 8; i++)
        snprintf(serial + 2 * i, 3, "%02X", tok->info.serial[i + 1]);
    pad(info->serialNumber, sizeof(info->serialNumber), serial);
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
    if (d->so_pin.set)
        info->flags |= CKF_TOKEN_INITIALIZED;
    if (d->user_pin.set)
        info->flags |= CKF_USER_PIN_INITIALIZED;
    info->flags |= tok_pin_flags(&d->user_pin, false) | tok_pin_flags(&d->so_pin, true);
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = p11_session_count(m, tok->id, false);
    info->ulRwSessionCount = p11_session_count(m, tok->id, true);
    info->ulMaxPinLen = P11_PIN_MAX_LEN;
    info->ulMinPinLen = P11_PIN_MIN_LEN;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    /* The Info command's revision word (00 00 60 02 = 608A, .. 03 = 608B)
     * is the only version the chip reports: it names the silicon and its
     * ROM firmware, so both versions carry it. */
    info->hardwareVersion.major = tok->info.revision[2];
    info->hardwareVersion.minor = tok->info.revision[3];
    info->firmwareVersion.major = tok->info.revision[2];
    info->firmwareVersion.minor = tok->info.revision[3];
    memset(info->utcTime, ' ', sizeof(info->utcTime));
    return CKR_OK;
}

/* Checks pin against a record and persists the counter before answering. */
static CK_RV check_pin(struct p11_token *tok, bool so, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    struct tok_pin_record *rec;
    bool changed = false;
    CK_RV rv, prv;

    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    rec = so ? &tok->store->data.so_pin : &tok->store->data.user_pin;
    prv = tok_pin_check(rec, pin, len, &changed);
    rv = finish(tok, changed ? CKR_OK : CKR_CANCEL);
    if (changed && rv != CKR_OK)
        return rv;  /* a failure we could not record must not pass */
    return prv;
}

CK_RV p11_token_login(struct p11_module *m, struct p11_token *tok, CK_USER_TYPE user,
                      const CK_UTF8CHAR *pin, CK_ULONG len)
{
    CK_RV rv;

    if (user != CKU_USER && user != CKU_SO)
        return CKR_USER_TYPE_INVALID;
    if (tok->login == P11_USER)
        return user == CKU_USER ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (tok->login == P11_SO)
        return user == CKU_SO ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (user == CKU_SO && p11_session_count(m, tok->id, false) > p11_session_count(m, tok->id, true))
        return CKR_SESSION_READ_ONLY_EXISTS;
    if ((rv = p11_token_refresh(tok)) != CKR_OK)
        return rv;
    if (user == CKU_USER && !tok->store->data.user_pin.set)
        return CKR_USER_PIN_NOT_INITIALIZED;
    if (user == CKU_SO && !tok->store->data.so_pin.set)
        return CKR_PIN_INCORRECT; /* blank token: no SO PIN to log in with */
    rv = check_pin(tok, user == CKU_SO, pin, len);
    if (rv == CKR_OK)
        tok->login = user == CKU_SO ? P11_SO : P11_USER;
    return rv;
}

CK_RV p11_token_logout(struct p11_module *m, struct p11_token *tok)
{
    if (tok->login == P11_PUBLIC)
        return CKR_USER_NOT_LOGGED_IN;
    tok->login = P11_PUBLIC;
    p11_sessions_logged_out(m, tok->id);
    return CKR_OK;
}

CK_RV p11_token_init(struct p11_module *m, struct p11_token *tok, const CK_UTF8CHAR *so_pin,
                     CK_ULONG so_len, const CK_UTF8CHAR *label32)
{
    struct tok_store_data *d;
    bool changed = false;
    char label[33];
    size_t len = 32;
    CK_RV rv;

    if (p11_session_count(m, tok->id, false) > 0)
        return CKR_SESSION_EXISTS;
    memcpy(label, label32, 32);
    while (len > 0 && label[len - 1] == ' ')
        len--;
    label[len] = '\0';
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    d = &tok->store->data;
    if (d->so_pin.set) {
        rv = tok_pin_check(&d->so_pin, so_pin, so_len, &changed);
        if (rv != CKR_OK) {
            /* Persist only the counter. */
            struct tok_pin_record rec = d->so_pin;
            (void)tok_store_abort(tok->store);
            if (changed) {
                tok->store->data.so_pin = rec;
                CK_RV frv = finish(tok, CKR_OK);
                tok_pin_clear(&rec);
                return frv != CKR_OK ? frv : rv;
            }
            tok_pin_clear(&rec);
            return finish(tok, rv);
        }
    } else if ((rv = tok_pin_set(&d->so_pin, so_pin, so_len, tok->kdf_iterations)) != CKR_OK) {
        return finish(tok, rv);
    }
    tok_pin_clear(&d->user_pin);
    tok_store_clear_objects(tok->store);
    /* A re-initialised token gets its factory keys back. */
    tok_store_clear_released(tok->store);
    memcpy(d->label, label, len + 1);
    rv = add_provisioned_keys(tok);
    rv = finish(tok, rv);
    if (rv == CKR_OK)
        tok->login = P11_PUBLIC;
    return rv;
}

CK_RV p11_token_init_pin(struct p11_token *tok, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    CK_RV rv;
    if (tok->login != P11_SO)
        return CKR_USER_NOT_LOGGED_IN;
    if (pin == NULL || len < P11_PIN_MIN_LEN || len > P11_PIN_MAX_LEN)
        return CKR_PIN_LEN_RANGE;
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    return finish(tok, tok_pin_set(&tok->store->data.user_pin, pin, len, tok->kdf_iterations));
}

CK_RV p11_token_set_pin(struct p11_token *tok, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                        const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    bool so = tok->login == P11_SO;
    CK_RV rv;

    if (new_pin == NULL || new_len < P11_PIN_MIN_LEN || new_len > P11_PIN_MAX_LEN)
        return CKR_PIN_LEN_RANGE;
    if ((rv = check_pin(tok, so, old_pin, old_len)) != CKR_OK)
        return rv == CKR_USER_PIN_NOT_INITIALIZED ? CKR_PIN_INCORRECT : rv;
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    return finish(tok, tok_pin_set(so ? &tok->store->data.so_pin : &tok->store->data.user_pin, new_pin,
                                   new_len, tok->kdf_iterations));
}

CK_OBJECT_HANDLE p11_token_handle_for(struct p11_module *m, struct p11_token *tok, uint64_t uid)
{
    struct p11_handle_map *nm;
    for (size_t i = 0; i < tok->n_hmap; i++)
        if (tok->hmap[i].uid == uid)
            return tok->hmap[i].handle;
    nm = realloc(tok->hmap, (tok->n_hmap + 1) * sizeof(*nm));
    if (nm == NULL)
        return CK_INVALID_HANDLE;
    tok->hmap = nm;
    nm[tok->n_hmap].uid = uid;
    nm[tok->n_hmap].handle = p11_module_new_handle(m);
    return nm[tok->n_hmap++].handle;
}

static bool uid_of(const struct p11_token *tok, CK_OBJECT_HANDLE h, uint64_t *uid)
{
    for (size_t i = 0; i < tok->n_hmap; i++) {
        if (tok->hmap[i].handle == h) {
            *uid = tok->hmap[i].uid;
            return true;
        }
    }
    return false;
}

p11_attrs *p11_token_object(struct p11_token *tok, CK_OBJECT_HANDLE h)
{
    struct tok_object_rec *rec;
    uint64_t uid;
    if (tok->store == NULL || !uid_of(tok, h, &uid) || (rec = tok_store_find_object(tok->store, uid)) == NULL)
        return NULL;
    return &rec->attrs;
}

CK_RV p11_token_add_objects(struct p11_module *m, struct p11_token *tok, p11_attrs *const *objs,
                            size_t n, CK_OBJECT_HANDLE *handles)
{
    uint64_t uids[2];
    CK_RV rv;

    if (n > 2)
        return CKR_GENERAL_ERROR;
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    for (size_t i = 0; i < n; i++)
        if (tok_store_add_object(tok->store, objs[i], &uids[i]) != TOK_STORE_OK)
            return finish(tok, CKR_HOST_MEMORY);
    if ((rv = finish(tok, CKR_OK)) != CKR_OK)
        return rv;
    for (size_t i = 0; i < n; i++)
        handles[i] = p11_token_handle_for(m, tok, uids[i]);
    return CKR_OK;
}

CK_RV p11_token_destroy_object(struct p11_token *tok, CK_OBJECT_HANDLE h)
{
    struct tok_object_rec *rec;
    uint64_t uid;
    int chip_slot;
    CK_RV rv;
    if (!uid_of(tok, h, &uid))
        return CKR_OBJECT_HANDLE_INVALID;
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    if ((rec = tok_store_find_object(tok->store, uid)) == NULL)
        return finish(tok, CKR_OBJECT_HANDLE_INVALID);
    if (!p11_attrs_bool(&rec->attrs, CKA_DESTROYABLE, true))
        return finish(tok, CKR_ACTION_PROHIBITED);
    /* A provisioned key's slot is remembered as released (in the same
     * commit) so the next module load does not list it again; a generated
     * key's chip slot simply becomes free once no object names it. */
    chip_slot = p11_object_chip_slot(&rec->attrs);
    if (chip_slot >= 0 && is_key_slot(tok, chip_slot))
        tok_store_release_slot(tok->store, (unsigned)chip_slot);
    (void)tok_store_remove_object(tok->store, uid);
    return finish(tok, CKR_OK);
}

CK_RV p11_token_set_attributes(struct p11_token *tok, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct tok_object_rec *rec;
    uint64_t uid;
    CK_RV rv;
    if (!uid_of(tok, h, &uid))
        return CKR_OBJECT_HANDLE_INVALID;
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    if ((rec = tok_store_find_object(tok->store, uid)) == NULL)
        return finish(tok, CKR_OBJECT_HANDLE_INVALID);
    return finish(tok, p11_object_set(&rec->attrs, t, n));
}

CK_RV p11_token_generate_keypair(struct p11_module *m, struct p11_token *tok, struct p11_session *sess,
                                 const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                                 CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    p11_attrs pa, ka;
    uint64_t upub = 0, upriv = 0;
    uint8_t xy[64];
    int slot = -1;
    bool pub_on_token = false;
    CK_RV rv;

    p11_attrs_init(&pa);
    p11_attrs_init(&ka);
    if ((rv = begin(tok)) != CKR_OK)
        return rv;
    /* Under the store lock: no other process can pick the same slot. */
    for (size_t i = 0; i < tok->cfg->n_free_slots && slot < 0; i++)
        if (!has_key_for_slot(tok->store, tok->cfg->free_slots[i]))
            slot = tok->cfg->free_slots[i];
    if (slot < 0) {
        rv = CKR_DEVICE_MEMORY;
        goto cleanup;
    }
    if ((rv = p11_chip_genkey(tok->chip, (unsigned)slot, xy)) != CKR_OK ||
        (rv = p11_object_keypair(pub, npub, priv, npriv, (unsigned)slot, xy, true, &pa, &ka)) != CKR_OK)
        goto cleanup;
    pub_on_token = p11_object_is_token(&pa);
    if (tok_store_add_object(tok->store, &ka, &upriv) != TOK_STORE_OK ||
        (pub_on_token && tok_store_add_object(tok->store, &pa, &upub) != TOK_STORE_OK)) {
        rv = CKR_HOST_MEMORY;
        goto cleanup;
    }
cleanup:
    rv = finish(tok, rv);
    if (rv == CKR_OK) {
        *hpriv = p11_token_handle_for(m, tok, upriv);
        if (pub_on_token)
            *hpub = p11_token_handle_for(m, tok, upub);
        else
            rv = p11_session_add_object(m, sess, &pa, hpub); /* takes pa */
    }
    p11_attrs_free(&pa);
    p11_attrs_free(&ka);
    return rv;
}
