/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute lists, the two-call copy-out convention, template matching and
 * template validation. See attributes.h. Pure functions over memory: no
 * locks, no I/O, no knowledge of object classes.
 */
#include "attributes.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void p11_attrs_init(p11_attrs *a)
{
    a->v = NULL;
    a->n = 0;
    a->cap = 0;
}

void p11_attrs_free(p11_attrs *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].pValue != NULL) {
            OPENSSL_cleanse(a->v[i].pValue, a->v[i].ulValueLen);
            free(a->v[i].pValue);
        }
    }
    free(a->v);
    p11_attrs_init(a);
}

CK_RV p11_attrs_dup(p11_attrs *dst, const p11_attrs *src)
{
    CK_RV rv = CKR_OK;
    p11_attrs tmp;

    p11_attrs_init(&tmp);
    for (size_t i = 0; i < src->n; i++) {
        rv = p11_attrs_set(&tmp, src->v[i].type, src->v[i].pValue, src->v[i].ulValueLen);
        if (rv != CKR_OK)
            goto cleanup;
    }
    *dst = tmp;
    p11_attrs_init(&tmp);
cleanup:
    p11_attrs_free(&tmp);
    return rv;
}

static CK_ATTRIBUTE *find_mut(p11_attrs *a, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type == type)
            return &a->v[i];
    return NULL;
}

const CK_ATTRIBUTE *p11_attrs_find(const p11_attrs *a, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].type == type)
            return &a->v[i];
    return NULL;
}

CK_RV p11_attrs_set(p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    void *copy = NULL;
    CK_ATTRIBUTE *slot;

    if (len > 0) {
        if (value == NULL)
            return CKR_ARGUMENTS_BAD;
        copy = malloc(len);
        if (copy == NULL)
            return CKR_HOST_MEMORY;
        memcpy(copy, value, len);
    }
    slot = find_mut(a, type);
    if (slot == NULL) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 16;
            CK_ATTRIBUTE *nv = realloc(a->v, cap * sizeof(*nv));
            if (nv == NULL) {
                free(copy);
                return CKR_HOST_MEMORY;
            }
            a->v = nv;
            a->cap = cap;
        }
        slot = &a->v[a->n++];
        slot->type = type;
    } else if (slot->pValue != NULL) {
        OPENSSL_cleanse(slot->pValue, slot->ulValueLen);
        free(slot->pValue);
    }
    slot->pValue = copy;
    slot->ulValueLen = len;
    return CKR_OK;
}

CK_RV p11_attrs_set_bool(p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool value)
{
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return p11_attrs_set(a, type, &b, sizeof(b));
}

CK_RV p11_attrs_set_ulong(p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    return p11_attrs_set(a, type, &value, sizeof(value));
}

CK_RV p11_attrs_default(p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    if (p11_attrs_find(a, type) != NULL)
        return CKR_OK;
    return p11_attrs_set(a, type, value, len);
}

CK_RV p11_attrs_default_bool(p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool value)
{
    if (p11_attrs_find(a, type) != NULL)
        return CKR_OK;
    return p11_attrs_set_bool(a, type, value);
}

CK_RV p11_attrs_default_ulong(p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    if (p11_attrs_find(a, type) != NULL)
        return CKR_OK;
    return p11_attrs_set_ulong(a, type, value);
}

void p11_attrs_remove(p11_attrs *a, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].type != type)
            continue;
        if (a->v[i].pValue != NULL) {
            OPENSSL_cleanse(a->v[i].pValue, a->v[i].ulValueLen);
            free(a->v[i].pValue);
        }
        memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(a->v[0]));
        a->n--;
        return;
    }
}

bool p11_attrs_get_bool(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool *out)
{
    const CK_ATTRIBUTE *at = p11_attrs_find(a, type);
    if (at == NULL || at->ulValueLen != sizeof(CK_BBOOL))
        return false;
    *out = *(const CK_BBOOL *)at->pValue != CK_FALSE;
    return true;
}

bool p11_attrs_get_ulong(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *at = p11_attrs_find(a, type);
    if (at == NULL || at->ulValueLen != sizeof(CK_ULONG))
        return false;
    memcpy(out, at->pValue, sizeof(CK_ULONG));
    return true;
}

bool p11_attrs_bool(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool def)
{
    bool v;
    return p11_attrs_get_bool(a, type, &v) ? v : def;
}

const CK_ATTRIBUTE *p11_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == type)
            return &t[i];
    return NULL;
}

bool p11_tmpl_get_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *at = p11_tmpl_find(t, n, type);
    if (at == NULL || at->pValue == NULL || at->ulValueLen != sizeof(CK_ULONG))
        return false;
    memcpy(out, at->pValue, sizeof(CK_ULONG));
    return true;
}

bool p11_tmpl_get_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, bool *out)
{
    const CK_ATTRIBUTE *at = p11_tmpl_find(t, n, type);
    if (at == NULL || at->pValue == NULL || at->ulValueLen != sizeof(CK_BBOOL))
        return false;
    *out = *(const CK_BBOOL *)at->pValue != CK_FALSE;
    return true;
}

/* Precedence among the three "not really errors" of C_GetAttributeValue. */
static int copy_rank(CK_RV rv)
{
    switch (rv) {
    case CKR_ATTRIBUTE_SENSITIVE: return 3;
    case CKR_ATTRIBUTE_TYPE_INVALID: return 2;
    case CKR_BUFFER_TOO_SMALL: return 1;
    default: return 0;
    }
}

CK_RV p11_attrs_copy_out(const p11_attrs *obj, CK_ATTRIBUTE *t, CK_ULONG n,
                         p11_sensitive_fn is_sensitive)
{
    CK_RV rv = CKR_OK;

    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV this_rv = CKR_OK;
        const CK_ATTRIBUTE *at = NULL;

        if (is_sensitive != NULL && is_sensitive(obj, t[i].type)) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            this_rv = CKR_ATTRIBUTE_SENSITIVE;
        } else if ((at = p11_attrs_find(obj, t[i].type)) == NULL) {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            this_rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (t[i].pValue == NULL) {
            t[i].ulValueLen = at->ulValueLen;
        } else if (t[i].ulValueLen >= at->ulValueLen) {
            if (at->ulValueLen > 0)
                memcpy(t[i].pValue, at->pValue, at->ulValueLen);
            t[i].ulValueLen = at->ulValueLen;
        } else {
            t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            this_rv = CKR_BUFFER_TOO_SMALL;
        }
        if (copy_rank(this_rv) > copy_rank(rv))
            rv = this_rv;
    }
    return rv;
}

bool p11_attrs_match(const p11_attrs *obj, const CK_ATTRIBUTE *t, CK_ULONG n,
                     p11_sensitive_fn is_sensitive)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *at;

        if (is_sensitive != NULL && is_sensitive(obj, t[i].type))
            return false;
        at = p11_attrs_find(obj, t[i].type);
        if (at == NULL || at->ulValueLen != t[i].ulValueLen)
            return false;
        if (at->ulValueLen > 0 &&
            (t[i].pValue == NULL || memcmp(at->pValue, t[i].pValue, at->ulValueLen) != 0))
            return false;
    }
    return true;
}

static const struct p11_attr_rule *find_rule(const struct p11_attr_rule *rules, size_t nrules,
                                             CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < nrules; i++)
        if (rules[i].type == type)
            return &rules[i];
    return NULL;
}

static CK_RV check_value(const struct p11_attr_rule *r, const CK_ATTRIBUTE *at)
{
    if (at->ulValueLen > 0 && at->pValue == NULL)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (at->ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    switch (r->kind) {
    case P11_K_BOOL:
        if (at->ulValueLen != sizeof(CK_BBOOL))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        if (*(const CK_BBOOL *)at->pValue != CK_TRUE && *(const CK_BBOOL *)at->pValue != CK_FALSE)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        return CKR_OK;
    case P11_K_ULONG:
        return at->ulValueLen == sizeof(CK_ULONG) ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
    case P11_K_DATE:
        return (at->ulValueLen == 0 || at->ulValueLen == sizeof(CK_DATE))
                   ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
    case P11_K_BYTES:
    default:
        return CKR_OK;
    }
}

CK_RV p11_template_check(const struct p11_attr_rule *rules, size_t nrules,
                         const CK_ATTRIBUTE *t, CK_ULONG n, enum p11_tmpl_op op)
{
    if (n > 0 && t == NULL)
        return CKR_ARGUMENTS_BAD;

    for (CK_ULONG i = 0; i < n; i++) {
        const struct p11_attr_rule *r = find_rule(rules, nrules, t[i].type);
        CK_RV rv;

        if (r == NULL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        rv = check_value(r, &t[i]);
        if (rv != CKR_OK)
            return rv;
        if ((op == P11_TMPL_CREATE && (r->flags & P11_AF_RO_CREATE)) ||
            (op == P11_TMPL_GENERATE && (r->flags & P11_AF_RO_GEN)) ||
            (op == P11_TMPL_SET && !(r->flags & P11_AF_MODIFIABLE)))
            return CKR_ATTRIBUTE_READ_ONLY;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        for (CK_ULONG j = i + 1; j < n; j++) {
            if (t[i].type != t[j].type)
                continue;
            if (t[i].ulValueLen != t[j].ulValueLen ||
                (t[i].ulValueLen > 0 && memcmp(t[i].pValue, t[j].pValue, t[i].ulValueLen) != 0))
                return CKR_TEMPLATE_INCONSISTENT;
        }
    }
    if (op != P11_TMPL_SET) {
        unsigned need = op == P11_TMPL_CREATE ? P11_AF_REQ_CREATE : P11_AF_REQ_GEN;
        for (size_t k = 0; k < nrules; k++)
            if ((rules[k].flags & need) && p11_tmpl_find(t, n, rules[k].type) == NULL)
                return CKR_TEMPLATE_INCOMPLETE;
    }
    return CKR_OK;
}
