/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session table, session objects, object visibility and search.
 * See session.h. Runs under the module lock.
 */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "object.h"

void p11_op_reset(struct p11_op *op)
{
    EVP_MD_CTX_free(op->md);
    OPENSSL_cleanse(op, sizeof(*op));
    op->md = NULL;
    op->active = false;
}

void p11_session_free(struct p11_session *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_objs; i++)
        p11_attrs_free(&s->objs[i].attrs);
    free(s->objs);
    free(s->found);
    p11_op_reset(&s->sign);
    p11_op_reset(&s->verify);
    p11_op_reset(&s->digest);
    free(s);
}

CK_ULONG p11_session_count(struct p11_module *m, CK_SLOT_ID slot, bool rw_only)
{
    CK_ULONG n = 0;
    for (size_t i = 0; i < m->n_sessions; i++)
        if (m->sessions[i]->slot == slot && (!rw_only || (m->sessions[i]->flags & CKF_RW_SESSION)))
            n++;
    return n;
}

CK_RV p11_session_open(struct p11_module *m, struct p11_token *tok, CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
    struct p11_session *s, **ns;

    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (tok->login == P11_SO && !(flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CKR_HOST_MEMORY;
    ns = realloc(m->sessions, (m->n_sessions + 1) * sizeof(*ns));
    if (ns == NULL) {
        free(s);
        return CKR_HOST_MEMORY;
    }
    m->sessions = ns;
    s->handle = p11_module_new_handle(m);
    s->slot = tok->id;
    s->flags = CKF_SERIAL_SESSION | (flags & CKF_RW_SESSION);
    m->sessions[m->n_sessions++] = s;
    *out = s->handle;
    return CKR_OK;
}

struct p11_session *p11_session_get(struct p11_module *m, CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < m->n_sessions; i++)
        if (m->sessions[i]->handle == h)
            return m->sessions[i];
    return NULL;
}

static void remove_at(struct p11_module *m, size_t i)
{
    CK_SLOT_ID slot = m->sessions[i]->slot;
    if (m->sessions[i]->busy > 0)
        m->sessions[i]->closed = true;   /* the busy thread frees it */
    else
        p11_session_free(m->sessions[i]);
    memmove(&m->sessions[i], &m->sessions[i + 1], (m->n_sessions - i - 1) * sizeof(m->sessions[0]));
    m->n_sessions--;
    if (p11_session_count(m, slot, false) == 0 && slot < m->n_tokens)
        m->tokens[slot].login = P11_PUBLIC;
}

CK_RV p11_session_close(struct p11_module *m, CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < m->n_sessions; i++) {
        if (m->sessions[i]->handle == h) {
            remove_at(m, i);
            return CKR_OK;
        }
    }
    return CKR_SESSION_HANDLE_INVALID;
}

void p11_session_close_all(struct p11_module *m, CK_SLOT_ID slot)
{
    for (size_t i = m->n_sessions; i > 0; i--)
        if (m->sessions[i - 1]->slot == slot)
            remove_at(m, i - 1);
    if (slot < m->n_tokens)
        m->tokens[slot].login = P11_PUBLIC;
}

CK_STATE p11_session_state(struct p11_module *m, const struct p11_session *s)
{
    bool rw = (s->flags & CKF_RW_SESSION) != 0;
    switch (m->tokens[s->slot].login) {
    case P11_USER: return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    case P11_SO: return CKS_RW_SO_FUNCTIONS;
    default: return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    }
}

void p11_sessions_logged_out(struct p11_module *m, CK_SLOT_ID slot)
{
    for (size_t i = 0; i < m->n_sessions; i++) {
        if (m->sessions[i]->slot != slot)
            continue;
        p11_op_reset(&m->sessions[i]->sign);
        if (m->sessions[i]->find_active) {
            free(m->sessions[i]->found);
            m->sessions[i]->found = NULL;
            m->sessions[i]->find_active = false;
        }
    }
}

CK_RV p11_session_add_object(struct p11_module *m, struct p11_session *s, p11_attrs *attrs,
                             CK_OBJECT_HANDLE *out)
{
    struct p11_sobj *no = realloc(s->objs, (s->n_objs + 1) * sizeof(*no));
    if (no == NULL)
        return CKR_HOST_MEMORY;
    s->objs = no;
    no[s->n_objs].handle = p11_module_new_handle(m);
    no[s->n_objs].attrs = *attrs;
    p11_attrs_init(attrs);
    *out = no[s->n_objs++].handle;
    return CKR_OK;
}

static bool visible(struct p11_module *m, const struct p11_session *s, const p11_attrs *a)
{
    return !p11_object_is_private(a) || m->tokens[s->slot].login == P11_USER;
}

CK_RV p11_object_lookup(struct p11_module *m, struct p11_session *s, CK_OBJECT_HANDLE h,
                        p11_attrs **attrs, struct p11_session **owner)
{
    struct p11_token *tok = &m->tokens[s->slot];
    p11_attrs *a;

    *owner = NULL;
    if (tok->store != NULL) {
        CK_RV rv = p11_token_refresh(tok);
        if (rv != CKR_OK)
            return rv;
        if ((a = p11_token_object(tok, h)) != NULL) {
            if (!visible(m, s, a))
                return CKR_OBJECT_HANDLE_INVALID;
            *attrs = a;
            return CKR_OK;
        }
    }
    /* Session objects are shared by the sessions of this application. */
    for (size_t i = 0; i < m->n_sessions; i++) {
        struct p11_session *o = m->sessions[i];
        if (o->slot != s->slot)
            continue;
        for (size_t k = 0; k < o->n_objs; k++) {
            if (o->objs[k].handle != h)
                continue;
            if (!visible(m, s, &o->objs[k].attrs))
                return CKR_OBJECT_HANDLE_INVALID;
            *attrs = &o->objs[k].attrs;
            *owner = o;
            return CKR_OK;
        }
    }
    return CKR_OBJECT_HANDLE_INVALID;
}

CK_RV p11_object_destroy(struct p11_module *m, struct p11_session *s, CK_OBJECT_HANDLE h)
{
    struct p11_session *owner = NULL;
    p11_attrs *a = NULL;
    CK_RV rv = p11_object_lookup(m, s, h, &a, &owner);

    if (rv != CKR_OK)
        return rv;
    if (owner == NULL) {
        if (!(s->flags & CKF_RW_SESSION))
            return CKR_SESSION_READ_ONLY;
        return p11_token_destroy_object(&m->tokens[s->slot], h);
    }
    if (!p11_attrs_bool(a, CKA_DESTROYABLE, true))
        return CKR_ACTION_PROHIBITED;
    for (size_t k = 0; k < owner->n_objs; k++) {
        if (owner->objs[k].handle == h) {
            p11_attrs_free(&owner->objs[k].attrs);
            memmove(&owner->objs[k], &owner->objs[k + 1], (owner->n_objs - k - 1) * sizeof(owner->objs[0]));
            owner->n_objs--;
            break;
        }
    }
    return CKR_OK;
}

static CK_RV push(CK_OBJECT_HANDLE **v, size_t *n, CK_OBJECT_HANDLE h)
{
    CK_OBJECT_HANDLE *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return CKR_HOST_MEMORY;
    nv[(*n)++] = h;
    *v = nv;
    return CKR_OK;
}

CK_RV p11_find_init(struct p11_module *m, struct p11_session *s, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    struct p11_token *tok = &m->tokens[s->slot];
    CK_OBJECT_HANDLE *found = NULL;
    size_t n_found = 0;
    CK_RV rv = CKR_OK;

    if (tok->store != NULL && (rv = p11_token_refresh(tok)) != CKR_OK)
        return rv;
    for (size_t i = 0; tok->store != NULL && i < tok->store->data.n_objects; i++) {
        struct tok_object_rec *rec = &tok->store->data.objects[i];
        if (!visible(m, s, &rec->attrs) || !p11_attrs_match(&rec->attrs, t, n, p11_object_is_sensitive))
            continue;
        CK_OBJECT_HANDLE h = p11_token_handle_for(m, tok, rec->uid);
        if (h == CK_INVALID_HANDLE || (rv = push(&found, &n_found, h)) != CKR_OK)
            goto fail;
    }
    for (size_t i = 0; i < m->n_sessions; i++) {
        struct p11_session *o = m->sessions[i];
        if (o->slot != s->slot)
            continue;
        for (size_t k = 0; k < o->n_objs; k++) {
            if (!visible(m, s, &o->objs[k].attrs) ||
                !p11_attrs_match(&o->objs[k].attrs, t, n, p11_object_is_sensitive))
                continue;
            if ((rv = push(&found, &n_found, o->objs[k].handle)) != CKR_OK)
                goto fail;
        }
    }
    free(s->found);
    s->found = found;
    s->n_found = n_found;
    s->find_pos = 0;
    s->find_active = true;
    return CKR_OK;
fail:
    free(found);
    return rv == CKR_OK ? CKR_HOST_MEMORY : rv;
}
