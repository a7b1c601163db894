/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token store's file format: token.json text to struct tok_store_data
 * and back (see store.h for the format itself).
 */
#include "store_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json_strict.h"

/* ---------------- hex ---------------- */

static char *hex_encode(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 0 ok; -1 malformed. *out malloc'ed (NULL for empty). */
static int hex_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *p = NULL;
    *out = NULL;
    *out_len = 0;
    if (len % 2 != 0)
        return -1;
    if (len == 0)
        return 0;
    if ((p = malloc(len / 2)) == NULL)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return -1;
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = p;
    *out_len = len / 2;
    return 0;
}

/* ---------------- parse ---------------- */

/* The largest generation or next_uid a store file may hold. */
#define TOK_STORE_COUNTER_MAX ((uint64_t)1 << 62)

static bool get_u64(json_object *obj, const char *key, uint64_t *out)
{
    json_object *v;
    int64_t x;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    x = json_object_get_int64(v);
    if (x < 0)
        return false;
    *out = (uint64_t)x;
    return true;
}

static bool get_hex_fixed(json_object *obj, const char *key, uint8_t *out, size_t n)
{
    json_object *v;
    uint8_t *buf = NULL;
    size_t len = 0;
    bool ok;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    if (hex_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &buf, &len) != 0)
        return false;
    ok = len == n;
    if (ok)
        memcpy(out, buf, n);
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return ok;
}

static int parse_pin(json_object *root, const char *key, struct tok_pin_record *rec, char *path,
                     size_t path_len)
{
    json_object *p, *kdf;
    uint64_t it = 0, fail = 0, max = 0;

    memset(rec, 0, sizeof(*rec));
    snprintf(path, path_len, "%s", key);
    if (!json_object_object_get_ex(root, key, &p))
        return -1;
    if (json_object_is_type(p, json_type_null))
        return 0;
    if (!json_object_is_type(p, json_type_object))
        return -1;
    snprintf(path, path_len, "%s.kdf", key);
    if (!json_object_object_get_ex(p, "kdf", &kdf) || !json_object_is_type(kdf, json_type_string) ||
        strcmp(json_object_get_string(kdf), "pbkdf2-sha256") != 0)
        return -1;
    snprintf(path, path_len, "%s.iterations", key);
    if (!get_u64(p, "iterations", &it) || it < P11_PIN_MIN_ITERATIONS || it > P11_PIN_MAX_ITERATIONS)
        return -1;
    snprintf(path, path_len, "%s.salt", key);
    if (!get_hex_fixed(p, "salt", rec->salt, sizeof(rec->salt)))
        return -1;
    snprintf(path, path_len, "%s.hash", key);
    if (!get_hex_fixed(p, "hash", rec->hash, sizeof(rec->hash)))
        return -1;
    snprintf(path, path_len, "%s.max_failures", key);
    if (!get_u64(p, "max_failures", &max) || max == 0 || max > 1000)
        return -1;
    snprintf(path, path_len, "%s.failures", key);
    if (!get_u64(p, "failures", &fail) || fail > max)
        return -1;
    rec->iterations = (uint32_t)it;
    rec->failures = (uint32_t)fail;
    rec->max_failures = (uint32_t)max;
    rec->set = true;
    return 0;
}

static int parse_object(json_object *o, size_t idx, struct tok_object_rec *rec, char *path,
                        size_t path_len)
{
    json_object *attrs;
    size_t n;

    snprintf(path, path_len, "objects[%zu]", idx);
    if (!json_object_is_type(o, json_type_object))
        return -1;
    snprintf(path, path_len, "objects[%zu].uid", idx);
    if (!get_u64(o, "uid", &rec->uid) || rec->uid == 0)
        return -1;
    snprintf(path, path_len, "objects[%zu].attributes", idx);
    if (!json_object_object_get_ex(o, "attributes", &attrs) || !json_object_is_type(attrs, json_type_array))
        return -1;
    n = json_object_array_length(attrs);
    for (size_t i = 0; i < n; i++) {
        json_object *a = json_object_array_get_idx(attrs, i), *val;
        uint64_t type;
        uint8_t *buf = NULL;
        size_t len = 0;
        CK_RV rv;

        snprintf(path, path_len, "objects[%zu].attributes[%zu].type", idx, i);
        if (!json_object_is_type(a, json_type_object) || !get_u64(a, "type", &type) ||
            type > (uint64_t)(CK_ULONG)-1)
            return -1;
        if (p11_attrs_find(&rec->attrs, (CK_ATTRIBUTE_TYPE)type) != NULL)
            return -1;
        snprintf(path, path_len, "objects[%zu].attributes[%zu].value", idx, i);
        if (!json_object_object_get_ex(a, "value", &val) || !json_object_is_type(val, json_type_string) ||
            hex_decode(json_object_get_string(val), (size_t)json_object_get_string_len(val), &buf, &len) != 0)
            return -1;
        rv = p11_attrs_set(&rec->attrs, (CK_ATTRIBUTE_TYPE)type, buf, (CK_ULONG)len);
        free(buf);
        if (rv != CKR_OK)
            return -1;
    }
    return 0;
}

/* Optional "released_key_slots": absent means none (stores written before
 * the field existed); present, it must be an array of distinct slots 0-15. */
static int parse_released(json_object *root, uint16_t *out, char *path, size_t path_len)
{
    json_object *arr;
    size_t n;

    *out = 0;
    snprintf(path, path_len, "released_key_slots");
    if (!json_object_object_get_ex(root, "released_key_slots", &arr))
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return -1;
    n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        int64_t slot;

        snprintf(path, path_len, "released_key_slots[%zu]", i);
        if (!json_object_is_type(v, json_type_int))
            return -1;
        slot = json_object_get_int64(v);
        if (slot < 0 || slot > 15 || (*out & (1u << slot)))
            return -1;
        *out |= (uint16_t)(1u << slot);
    }
    return 0;
}

enum tok_store_err tok_store_parse(const char *text, size_t len, struct tok_store_data *out,
                                   char *where, size_t where_len)
{
    struct tok_store_data d;
    json_tokener *tk = NULL;
    json_object *root = NULL, *v = NULL, *objs = NULL;
    char path[256] = "(root)";
    enum tok_store_err ret = TOK_STORE_CORRUPT;
    uint64_t version = 0;
    size_t n;

    memset(&d, 0, sizeof(d));
    if ((tk = json_tokener_new()) == NULL) {
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    }
    root = json_tokener_parse_ex(tk, text, (int)len);
    if (root == NULL || json_tokener_get_error(tk) != json_tokener_success ||
        json_tokener_get_parse_end(tk) != len || !json_object_is_type(root, json_type_object))
        goto corrupt;
    /* json-c keeps the last of two equal keys; another reader may keep
     * the first, so such a file has no one meaning. */
    switch (tl_json_check_keys(text, len, path, sizeof(path))) {
    case 0:
        break;
    case -2:
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    default:
        goto corrupt;
    }
    snprintf(path, sizeof(path), "format");
    if (!json_object_object_get_ex(root, "format", &v) ||
        tl_json_c_string(v) == NULL || strcmp(json_object_get_string(v), "trustlink-token") != 0)
        goto corrupt;
    snprintf(path, sizeof(path), "version");
    if (!get_u64(root, "version", &version) || version != TOK_STORE_VERSION)
        goto corrupt;
    snprintf(path, sizeof(path), "generation");
    /* The counters are written as JSON int64 and only grow by one per
     * write or object: near INT64_MAX (where json-c also clamps larger
     * numbers) a later write would produce a file that does not load.
     * Real use never comes near the limit, which leaves 2^62 steps. */
    if (!get_u64(root, "generation", &d.generation) || d.generation > TOK_STORE_COUNTER_MAX)
        goto corrupt;
    snprintf(path, sizeof(path), "next_uid");
    if (!get_u64(root, "next_uid", &d.next_uid) || d.next_uid == 0 ||
        d.next_uid > TOK_STORE_COUNTER_MAX)
        goto corrupt;
    snprintf(path, sizeof(path), "label");
    if (!json_object_object_get_ex(root, "label", &v) || tl_json_c_string(v) == NULL ||
        json_object_get_string_len(v) > 32)
        goto corrupt;
    memcpy(d.label, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    if (parse_pin(root, "so_pin", &d.so_pin, path, sizeof(path)) != 0 ||
        parse_pin(root, "user_pin", &d.user_pin, path, sizeof(path)) != 0)
        goto corrupt;
    snprintf(path, sizeof(path), "objects");
    if (!json_object_object_get_ex(root, "objects", &objs) || !json_object_is_type(objs, json_type_array))
        goto corrupt;
    n = json_object_array_length(objs);
    if (n > 0 && (d.objects = calloc(n, sizeof(*d.objects))) == NULL) {
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        d.n_objects = i + 1;
        p11_attrs_init(&d.objects[i].attrs);
        if (parse_object(json_object_array_get_idx(objs, i), i, &d.objects[i], path, sizeof(path)) != 0)
            goto corrupt;
        if (d.objects[i].uid >= d.next_uid)
            goto corrupt;
        for (size_t j = 0; j < i; j++)
            if (d.objects[j].uid == d.objects[i].uid)
                goto corrupt;
    }
    if (parse_released(root, &d.released_key_slots, path, sizeof(path)) != 0)
        goto corrupt;
    d.exists = true;
    *out = d;
    memset(&d, 0, sizeof(d));
    ret = TOK_STORE_OK;
    goto cleanup;
corrupt:
    snprintf(where, where_len, "%s", path);
    ret = TOK_STORE_CORRUPT;
cleanup:
    tok_store_data_free(&d);
    json_object_put(root);
    if (tk != NULL)
        json_tokener_free(tk);
    return ret;
}

/* ---------------- serialise ---------------- */

static int add_pin(json_object *root, const char *key, const struct tok_pin_record *rec)
{
    json_object *p;
    char *salt = NULL, *hash = NULL;
    int ret = -1;

    if (!rec->set)
        return json_object_object_add(root, key, NULL);
    if ((p = json_object_new_object()) == NULL)
        goto cleanup;
    if ((salt = hex_encode(rec->salt, sizeof(rec->salt))) == NULL ||
        (hash = hex_encode(rec->hash, sizeof(rec->hash))) == NULL) {
        json_object_put(p);
        goto cleanup;
    }
    json_object_object_add(p, "kdf", json_object_new_string("pbkdf2-sha256"));
    json_object_object_add(p, "iterations", json_object_new_int64(rec->iterations));
    json_object_object_add(p, "salt", json_object_new_string(salt));
    json_object_object_add(p, "hash", json_object_new_string(hash));
    json_object_object_add(p, "failures", json_object_new_int64(rec->failures));
    json_object_object_add(p, "max_failures", json_object_new_int64(rec->max_failures));
    ret = json_object_object_add(root, key, p);
cleanup:
    free(salt);
    free(hash);
    return ret;
}

json_object *tok_store_to_json(const struct tok_store_data *d)
{
    json_object *root = json_object_new_object(), *objs = NULL;

    if (root == NULL)
        return NULL;
    json_object_object_add(root, "format", json_object_new_string("trustlink-token"));
    json_object_object_add(root, "version", json_object_new_int64(TOK_STORE_VERSION));
    json_object_object_add(root, "generation", json_object_new_int64((int64_t)d->generation));
    json_object_object_add(root, "label", json_object_new_string(d->label));
    json_object_object_add(root, "next_uid", json_object_new_int64((int64_t)d->next_uid));
    if (add_pin(root, "so_pin", &d->so_pin) != 0 || add_pin(root, "user_pin", &d->user_pin) != 0)
        goto fail;
    if ((objs = json_object_new_array()) == NULL)
        goto fail;
    json_object_object_add(root, "objects", objs);
    for (size_t i = 0; i < d->n_objects; i++) {
        json_object *o = json_object_new_object(), *attrs = json_object_new_array();
        if (o == NULL || attrs == NULL) {
            json_object_put(o);
            json_object_put(attrs);
            goto fail;
        }
        json_object_array_add(objs, o);
        json_object_object_add(o, "uid", json_object_new_int64((int64_t)d->objects[i].uid));
        json_object_object_add(o, "attributes", attrs);
        for (size_t k = 0; k < d->objects[i].attrs.n; k++) {
            const CK_ATTRIBUTE *at = &d->objects[i].attrs.v[k];
            json_object *a = json_object_new_object();
            char *hex = hex_encode(at->pValue, at->ulValueLen);
            if (a == NULL || hex == NULL) {
                json_object_put(a);
                free(hex);
                goto fail;
            }
            json_object_object_add(a, "type", json_object_new_int64((int64_t)at->type));
            json_object_object_add(a, "value", json_object_new_string(hex));
            free(hex);
            json_object_array_add(attrs, a);
        }
    }
    if (d->released_key_slots != 0) {
        json_object *rel = json_object_new_array();
        if (rel == NULL)
            goto fail;
        json_object_object_add(root, "released_key_slots", rel);
        for (unsigned slot = 0; slot < 16; slot++)
            if (d->released_key_slots & (1u << slot))
                json_object_array_add(rel, json_object_new_int64(slot));
    }
    return root;
fail:
    json_object_put(root);
    return NULL;
}
