/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute lists and the PKCS#11 attribute conventions, in one place.
 *
 * Owns: p11_attrs (an owned list of CK_ATTRIBUTEs with copied values), the
 * single copy-out helper implementing C_GetAttributeValue's two-call
 * convention, template matching for C_FindObjects, and template validation
 * against per-class rule tables for C_CreateObject / C_GenerateKeyPair /
 * C_SetAttributeValue.
 *
 * Must never: know what an object class means (object.c supplies the rule
 * tables and the sensitivity predicate), or keep any state of its own.
 */
#ifndef TRUSTLINK_P11_ATTRIBUTES_H
#define TRUSTLINK_P11_ATTRIBUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

typedef struct p11_attrs {
    CK_ATTRIBUTE *v;  /* pValue of each entry is malloc'ed (NULL when ulValueLen 0) */
    size_t n;
    size_t cap;
} p11_attrs;

void p11_attrs_init(p11_attrs *a);
void p11_attrs_free(p11_attrs *a);                 /* cleanses values too */
CK_RV p11_attrs_dup(p11_attrs *dst, const p11_attrs *src);
/* Adds or replaces. CKR_HOST_MEMORY on allocation failure. */
CK_RV p11_attrs_set(p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV p11_attrs_set_bool(p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV p11_attrs_set_ulong(p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
/* Sets only when the type is absent. */
CK_RV p11_attrs_default(p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV p11_attrs_default_bool(p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV p11_attrs_default_ulong(p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
void p11_attrs_remove(p11_attrs *a, CK_ATTRIBUTE_TYPE type);
const CK_ATTRIBUTE *p11_attrs_find(const p11_attrs *a, CK_ATTRIBUTE_TYPE type);
/* false when absent or not a CK_BBOOL / CK_ULONG sized value. */
bool p11_attrs_get_bool(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool *out);
bool p11_attrs_get_ulong(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
/* Convenience: the boolean value, or def when absent. */
bool p11_attrs_bool(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, bool def);

/* Template helpers (a caller's CK_ATTRIBUTE array, values not owned). */
const CK_ATTRIBUTE *p11_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type);
bool p11_tmpl_get_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
bool p11_tmpl_get_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, bool *out);

/*
 * C_GetAttributeValue's two-call convention (PKCS#11 v2.40 §5.7), for every
 * entry of the template, all entries always processed:
 *   - sensitive (is_sensitive says so): ulValueLen = CK_UNAVAILABLE_INFORMATION,
 *     CKR_ATTRIBUTE_SENSITIVE;
 *   - not present on the object: CK_UNAVAILABLE_INFORMATION,
 *     CKR_ATTRIBUTE_TYPE_INVALID;
 *   - pValue NULL: ulValueLen = the length;
 *   - buffer large enough: value copied, ulValueLen = the length;
 *   - buffer too small: CK_UNAVAILABLE_INFORMATION, CKR_BUFFER_TOO_SMALL.
 * The spec lets any of the three codes win when several apply; ours is
 * fixed: SENSITIVE over TYPE_INVALID over BUFFER_TOO_SMALL (the first two
 * cannot be fixed by retrying with a bigger buffer, so they are the more
 * useful answer). n > 0 with t NULL is the caller's job to refuse.
 */
typedef bool (*p11_sensitive_fn)(const p11_attrs *obj, CK_ATTRIBUTE_TYPE type);
CK_RV p11_attrs_copy_out(const p11_attrs *obj, CK_ATTRIBUTE *t, CK_ULONG n,
                         p11_sensitive_fn is_sensitive);

/* C_FindObjects matching: every template entry is present with equal bytes.
 * An empty template matches everything. Sensitive values never match. */
bool p11_attrs_match(const p11_attrs *obj, const CK_ATTRIBUTE *t, CK_ULONG n,
                     p11_sensitive_fn is_sensitive);

/* ---- template validation ---- */
enum p11_attr_kind {
    P11_K_BOOL,    /* CK_BBOOL, CK_TRUE or CK_FALSE */
    P11_K_ULONG,   /* CK_ULONG */
    P11_K_BYTES,   /* any byte string, possibly empty */
    P11_K_DATE,    /* CK_DATE (8 bytes) or empty */
};
enum {
    P11_AF_REQ_CREATE = 1u << 0,  /* must be given to C_CreateObject */
    P11_AF_REQ_GEN = 1u << 1,     /* must be given to C_GenerateKeyPair */
    P11_AF_RO_CREATE = 1u << 2,   /* token-computed: refused in C_CreateObject */
    P11_AF_RO_GEN = 1u << 3,      /* token-computed: refused in C_GenerateKeyPair */
    P11_AF_MODIFIABLE = 1u << 4,  /* may change through C_SetAttributeValue */
};
struct p11_attr_rule {
    CK_ATTRIBUTE_TYPE type;
    uint8_t kind;   /* enum p11_attr_kind */
    uint8_t flags;
};
enum p11_tmpl_op { P11_TMPL_CREATE, P11_TMPL_GENERATE, P11_TMPL_SET };

/*
 * Checks a caller template against rules. In template order, per entry:
 * unknown type -> CKR_ATTRIBUTE_TYPE_INVALID; malformed value (NULL with a
 * length, wrong size, a CK_BBOOL not 0/1) -> CKR_ATTRIBUTE_VALUE_INVALID;
 * token-computed on create/generate, or not modifiable on set ->
 * CKR_ATTRIBUTE_READ_ONLY; then the same type twice with different values
 * -> CKR_TEMPLATE_INCONSISTENT; then a required type missing ->
 * CKR_TEMPLATE_INCOMPLETE. First error wins.
 */
CK_RV p11_template_check(const struct p11_attr_rule *rules, size_t nrules,
                         const CK_ATTRIBUTE *t, CK_ULONG n, enum p11_tmpl_op op);

#endif
