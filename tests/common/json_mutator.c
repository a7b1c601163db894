/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic JSON mutator for the fuzz tests (see json_mutator.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_mutator.h"

uint64_t rng_next(struct rng *r)
{
    /* xorshift64*: deterministic per seed, no global state. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

size_t rng_below(struct rng *r, size_t n)
{
    return n == 0 ? 0 : (size_t)(rng_next(r) % n);
}

static const char *const tokens[] = {
    "{", "}", "[", "]", ":", ",", "\"", "\\", "true", "false", "null", "0", "-1", "-0",
    "1e999", "-1e999", "1e-999", "2147483648", "4294967296", "-9223372036854775809",
    "18446744073709551616", "99999999999999999999999999999999999999", "0.5", "1.0", "0x10",
    "NaN", "Infinity", "\\u0000", "\\ud800", "\\udfff", "\\u12", "\xff", "\xc3\x28", "\xe2\x82",
    "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "\0", " ", "\r", "\n", "\t", "/*", "//",
    "\"\":\"\",", "\"x\":1,", "[[[[[[[[[[", "]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":",
};

/* Byte-level mutations; returns the new length (< cap). */
static size_t mutate_bytes(struct rng *r, char *buf, size_t len, size_t cap)
{
    size_t rounds = 1 + rng_below(r, 6);

    while (rounds-- > 0) {
        size_t pos = rng_below(r, len + 1);

        switch (rng_below(r, 7)) {
        case 0: /* flip a bit */
            if (len > 0)
                buf[rng_below(r, len)] ^= (char)(1u << rng_below(r, 8));
            break;
        case 1: /* delete a run */
            if (len > 0 && pos < len) {
                size_t n = 1 + rng_below(r, 8);

                if (pos + n > len)
                    n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
            }
            break;
        case 2: { /* insert a token */
            const char *t = tokens[rng_below(r, sizeof(tokens) / sizeof(tokens[0]))];
            size_t n = t[0] == '\0' ? 1 : strlen(t);

            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                memcpy(buf + pos, t, n);
                len += n;
            }
            break;
        }
        case 3: /* random byte */
            if (len + 1 < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (char)rng_below(r, 256);
                len++;
            }
            break;
        case 4: /* truncate */
            len = pos;
            break;
        case 5: { /* overwrite a byte with a JSON-significant one */
            static const char sig[] = "{}[]:,\"\\0123456789-+.eE \x80\xff";

            if (len > 0)
                buf[rng_below(r, len)] = sig[rng_below(r, sizeof(sig) - 1)];
            break;
        }
        default: { /* duplicate a slice (the memmove leaves both copies) */
            size_t n = rng_below(r, len - pos + 1);

            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                len += n;
            }
            break;
        }
        }
    }
    return len;
}

/* A random JSON value, depth-bounded: what a schema field may get instead
 * of what it expects. */
static struct json_object *random_value(struct rng *r, int depth)
{
    static const char *const strs[] = {
        "", "x", "trustlink", "0660", "0999", "1.2", "1.3", "3.1.1", "5", "full", "none",
        "debug", "warning", "pkcs11:token=t;object=k;type=private", "pkcs11:", "pkcs11:%zz",
        "emu:", "i2c:/dev/i2c-1@0x35", "/", "{device_id}", "a/{device_id}/+/#",
        "\xff\xfe", "\xc3\x28", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };

    switch (rng_below(r, depth > 3 ? 7 : 9)) {
    case 0:
        return NULL; /* JSON null */
    case 1:
        return json_object_new_boolean(rng_below(r, 2));
    case 2: {
        static const int64_t ints[] = { 0, 1, -1, 15, 16, 65535, 65536, 1000, 999, 10000000,
                                        10000001, INT32_MAX, INT32_MIN, (int64_t)UINT32_MAX + 1,
                                        INT64_MAX, INT64_MIN };

        return json_object_new_int64(ints[rng_below(r, sizeof(ints) / sizeof(ints[0]))]);
    }
    case 3: {
        static const double ds[] = { 0.5, -0.0, 1e300, -1e300, 1e-300, 0.2, 65535.5, 2.0 };

        return json_object_new_double(ds[rng_below(r, sizeof(ds) / sizeof(ds[0]))]);
    }
    case 4:
        return json_object_new_uint64(UINT64_MAX - rng_below(r, 3));
    case 5:
    case 6:
        return json_object_new_string(strs[rng_below(r, sizeof(strs) / sizeof(strs[0]))]);
    case 7: {
        struct json_object *a = json_object_new_array();
        size_t n = rng_below(r, 20);

        while (n-- > 0)
            json_object_array_add(a, random_value(r, depth + 1));
        return a;
    }
    default: {
        struct json_object *o = json_object_new_object();
        size_t n = rng_below(r, 4);

        while (n-- > 0) {
            char key[16];

            snprintf(key, sizeof(key), "k%u", (unsigned)rng_below(r, 4));
            json_object_object_add(o, key, random_value(r, depth + 1));
        }
        return o;
    }
    }
}

/* Picks a random object or array node in the tree (reservoir over a walk). */
static void pick_node(struct rng *r, struct json_object *node, struct json_object **pick,
                      size_t *seen)
{
    if (node == NULL)
        return;
    if (json_object_is_type(node, json_type_object)) {
        if (rng_below(r, ++*seen) == 0)
            *pick = node;
        json_object_object_foreach(node, k, v) {
            (void)k;
            pick_node(r, v, pick, seen);
        }
    } else if (json_object_is_type(node, json_type_array)) {
        size_t i;

        if (rng_below(r, ++*seen) == 0)
            *pick = node;
        for (i = 0; i < json_object_array_length(node); i++)
            pick_node(r, json_object_array_get_idx(node, i), pick, seen);
    }
}

/* Structural mutation of a parsed seed: remove a member or element, replace
 * a value with a random one of any type, or add a random member. */
static void mutate_tree(struct rng *r, struct json_object *root)
{
    size_t rounds = 1 + rng_below(r, 3);

    while (rounds-- > 0) {
        struct json_object *node = NULL;
        size_t seen = 0;

        pick_node(r, root, &node, &seen);
        if (node == NULL)
            return;
        if (json_object_is_type(node, json_type_object)) {
            size_t n = (size_t)json_object_object_length(node), i = 0, want;
            const char *key = NULL;

            want = rng_below(r, n + 1);
            json_object_object_foreach(node, k, v) {
                (void)v;
                if (i++ == want)
                    key = k;
            }
            if (key != NULL) {
                char copy[64];

                snprintf(copy, sizeof(copy), "%s", key);
                if (rng_below(r, 2) == 0)
                    json_object_object_del(node, copy);
                else
                    json_object_object_add(node, copy, random_value(r, 0));
            } else {
                json_object_object_add(node, rng_below(r, 2) ? "unknown" : "", random_value(r, 0));
            }
        } else {
            size_t n = json_object_array_length(node);

            if (n > 0 && rng_below(r, 2) == 0)
                json_object_array_del_idx(node, rng_below(r, n), 1);
            else if (n > 0)
                json_object_array_put_idx(node, rng_below(r, n), random_value(r, 0));
            else
                json_object_array_add(node, random_value(r, 0));
        }
    }
}

/* Duplicates a random member textually (json-c objects cannot hold two):
 * copies the text from a '"' after a '{' or ',' up to the next ',' or '}'. */
static size_t duplicate_member(struct rng *r, char *buf, size_t len, size_t cap)
{
    size_t start = rng_below(r, len + 1), i, end;

    for (i = start; i < len; i++)
        if ((buf[i] == '{' || buf[i] == ',') && i + 1 < len && buf[i + 1] == '"')
            break;
    if (i >= len)
        return len;
    start = i + 1;
    for (end = start; end < len && buf[end] != ',' && buf[end] != '}'; end++)
        ;
    if (end >= len || len + (end - start) + 1 >= cap)
        return len;
    /* insert "<member>," at start */
    memmove(buf + start + (end - start) + 1, buf + start, len - start);
    memcpy(buf + start, buf + start + (end - start) + 1, end - start);
    buf[start + (end - start)] = ',';
    return len + (end - start) + 1;
}

/* Deep nesting: N '[' or '{"a":' then a value, closed or not. */
static size_t deep_nesting(struct rng *r, char *buf, size_t cap)
{
    size_t depth = 1 + rng_below(r, 5000), len = 0, i;
    bool obj = rng_below(r, 2);
    bool close = rng_below(r, 2);
    const char *open = obj ? "{\"tokens\":" : "[";

    if (rng_below(r, 2))
        len += (size_t)snprintf(buf, cap, "{\"x\":");
    for (i = 0; i < depth && len + 16 < cap / 2; i++) {
        memcpy(buf + len, open, strlen(open));
        len += strlen(open);
    }
    buf[len++] = '1';
    for (; close && i > 0 && len + 2 < cap; i--)
        buf[len++] = obj ? '}' : ']';
    return len;
}

/* One fuzz document from a seed into buf (cap bytes); returns its length. */
size_t make_document(struct rng *r, const char *const *seeds, size_t n_seeds, char *buf,
                     size_t cap)
{
    const char *seed = seeds[rng_below(r, n_seeds)];
    size_t len, k;

    switch (rng_below(r, 16)) {
    case 0: /* random bytes */
        len = rng_below(r, 300);
        for (k = 0; k < len; k++)
            buf[k] = (char)rng_below(r, 256);
        return len;
    case 1:
        return deep_nesting(r, buf, cap);
    case 2:
    case 3:
    case 4:
    case 5:
    case 6: { /* structural: valid JSON, wrong schema */
        struct json_object *root = json_tokener_parse(seed);
        const char *text;

        assert_non_null(root);
        mutate_tree(r, root);
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        len = strlen(text);
        if (len >= cap)
            len = cap - 1;
        memcpy(buf, text, len);
        json_object_put(root);
        if (rng_below(r, 4) == 0)
            len = mutate_bytes(r, buf, len, cap);
        return len;
    }
    case 7:
    case 8:
        len = strlen(seed);
        memcpy(buf, seed, len);
        len = duplicate_member(r, buf, len, cap);
        if (rng_below(r, 3) == 0)
            len = duplicate_member(r, buf, len, cap);
        return len;
    default:
        len = strlen(seed);
        memcpy(buf, seed, len);
        return mutate_bytes(r, buf, len, cap);
    }
}

uint64_t fuzz_seed(uint64_t dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_SEED");

    return env ? strtoull(env, NULL, 0) : dflt;
}

long fuzz_iterations(long dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_ITERATIONS");

    return env ? strtol(env, NULL, 0) : dflt;
}
