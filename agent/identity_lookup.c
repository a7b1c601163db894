/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity lookup (see identity_internal.h): objects of a token matched
 * against a pkcs11: URI by class, CKA_ID and CKA_LABEL, the candidates named
 * in messages, and PKCS#11 return values classed as token faults or
 * configuration errors.
 */
#include "identity_internal.h"

#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "token.h"

void agent_identity_describe(const unsigned char *id, size_t id_len, const char *label,
                             char *out, size_t out_len)
{
    char idhex[2 * AGENT_IDENTITY_KEY_ID_MAX + 1];

    agent_hex_encode(id, id_len, idhex, sizeof(idhex));
    snprintf(out, out_len, "object=%s;id=%s", label && label[0] ? label : "(no label)",
             idhex[0] ? idhex : "(none)");
}

void identity_object_describe(const struct identity_object *o, char *out, size_t out_len)
{
    agent_identity_describe(o->id, o->id_len, o->label_len ? o->label : NULL, out, out_len);
}

/* Reads CKA_ID and CKA_LABEL of an object (truncating oversized values is
 * treated as "does not match": they are then not equal to the URI's). */
static CK_RV read_object_info(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                              struct identity_object *o)
{
    CK_ATTRIBUTE attrs[2] = {
        {CKA_ID, NULL, 0},
        {CKA_LABEL, NULL, 0},
    };
    CK_RV rv;

    memset(o, 0, sizeof(*o));
    o->handle = h;
    rv = fn->C_GetAttributeValue(s, h, attrs, 2);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    if (attrs[0].ulValueLen != CK_UNAVAILABLE_INFORMATION && attrs[0].ulValueLen <= sizeof(o->id))
        attrs[0].pValue = o->id;
    else
        attrs[0].ulValueLen = 0;
    if (attrs[1].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        attrs[1].ulValueLen < sizeof(o->label))
        attrs[1].pValue = o->label;
    else
        attrs[1].ulValueLen = 0;
    rv = fn->C_GetAttributeValue(s, h, attrs, 2);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    o->id_len = attrs[0].pValue ? attrs[0].ulValueLen : 0;
    o->label_len = attrs[1].pValue ? attrs[1].ulValueLen : 0;
    o->label[o->label_len] = '\0';
    return CKR_OK;
}

static bool object_matches(P11KitUri *uri, CK_OBJECT_CLASS klass, const struct identity_object *o)
{
    CK_ATTRIBUTE attrs[3] = {
        {CKA_CLASS, &klass, sizeof(klass)},
        {CKA_ID, (void *)o->id, o->id_len},
        {CKA_LABEL, (void *)o->label, o->label_len},
    };

    return p11_kit_uri_match_attributes(uri, attrs, 3) == 1;
}

/* Finds the objects of klass on the session matching uri. Returns the
 * number found (up to max kept in found), or -1 with *rv_out set. */
int identity_find_objects(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, P11KitUri *uri,
                          CK_OBJECT_CLASS klass, struct identity_object *found, int max, CK_RV *rv_out)
{
    CK_ATTRIBUTE tmpl = {CKA_CLASS, &klass, sizeof(klass)};
    CK_OBJECT_HANDLE handles[32];
    CK_ULONG n = 0;
    int matched = 0;
    CK_RV rv;

    rv = fn->C_FindObjectsInit(s, &tmpl, 1);
    if (rv != CKR_OK) {
        *rv_out = rv;
        return -1;
    }
    do {
        rv = fn->C_FindObjects(s, handles, 32, &n);
        if (rv != CKR_OK)
            break;
        for (CK_ULONG i = 0; i < n; i++) {
            struct identity_object info;

            rv = read_object_info(fn, s, handles[i], &info);
            if (rv != CKR_OK)
                break;
            if (!object_matches(uri, klass, &info))
                continue;
            if (matched < max)
                found[matched] = info;
            matched++;
        }
    } while (rv == CKR_OK && n == 32);
    fn->C_FindObjectsFinal(s);
    if (rv != CKR_OK) {
        *rv_out = rv;
        return -1;
    }
    return matched;
}

enum agent_identity_status identity_status_of_rv(CK_RV rv)
{
    return agent_token_status_of_rv(rv);
}

void identity_list_candidates(const struct identity_object *c, int n, char *out, size_t out_len)
{
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; i < n && i < IDENTITY_MAX_CANDIDATES && used < out_len; i++) {
        char name[200];
        int w;

        identity_object_describe(&c[i], name, sizeof(name));
        w = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
