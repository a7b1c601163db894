/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Duplicate keys and NULs in JSON (see json_strict.h).
 *
 * The scan relies on json-c having accepted the text, so it only follows
 * the structure: objects and arrays, strings (the keys are decoded, so
 * "a" and "\u0061" are the same key, as they are for json-c), comments.
 * The keys of an object are collected while it is open and sorted when it
 * closes; duplicates are then neighbours.
 */
#define _GNU_SOURCE /* qsort_r */
#include "json_strict.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct key_entry {
    size_t arena_off;   /* decoded bytes in the arena */
    size_t len;
    size_t text_off;    /* where the key starts in the text */
};

struct frame {
    bool is_object;
    bool expect_key;
    size_t first_key;   /* index of its first entry in keys */
};

struct scan {
    const char *text;
    size_t len;
    size_t pos;
    char *arena;
    size_t arena_len, arena_cap;
    struct key_entry *keys;
    size_t n_keys, keys_cap;
    struct frame *frames;
    size_t n_frames, frames_cap;
    char *err;
    size_t err_len;
};

static bool grow(void **buf, size_t *cap, size_t need, size_t size)
{
    size_t cap2;
    void *p;

    if (need <= *cap)
        return true;
    cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    p = realloc(*buf, cap2 * size);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = cap2;
    return true;
}

static bool arena_put(struct scan *s, const void *bytes, size_t n)
{
    if (!grow((void **)&s->arena, &s->arena_cap, s->arena_len + n, 1))
        return false;
    memcpy(s->arena + s->arena_len, bytes, n);
    s->arena_len += n;
    return true;
}

static bool arena_put_utf8(struct scan *s, uint32_t cp)
{
    unsigned char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return arena_put(s, b, n);
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    uint32_t v = 0;
    int i;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Line number (from 1) of offset in the text, for messages. */
static size_t line_of(const struct scan *s, size_t offset)
{
    size_t line = 1;
    size_t i;

    for (i = 0; i < offset && i < s->len; i++)
        if (s->text[i] == '\n')
            line++;
    return line;
}

/* Quotes a key for a message: at most 64 bytes, cut on a character
 * boundary, control characters shown as '?'. */
static void quote_key(const char *key, size_t len, char *out, size_t out_len)
{
    char tmp[65];
    size_t n = len < 64 ? len : 64;
    size_t i;

    memcpy(tmp, key, n);
    tmp[n] = '\0';
    n = tl_utf8_prefix_len(tmp, 64);
    for (i = 0; i < n; i++)
        if ((unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f)
            tmp[i] = '?';
    tmp[n] = '\0';
    snprintf(out, out_len, "%s%s", tmp, n < len ? "..." : "");
}

/* Reads the string at s->pos (its opening quote); decodes it into the
 * arena when as_key. -1 with err set (a key with NUL), -2 out of memory. */
static int scan_string(struct scan *s, bool as_key)
{
    const char *p = s->text + s->pos;
    const char *end = s->text + s->len;
    char quote = *p++;
    size_t start = s->pos;

    while (p < end && *p != quote) {
        uint32_t cp;

        if (*p != '\\') {
            if (*p == '\0' && as_key)
                goto nul_key;
            if (as_key && !arena_put(s, p, 1))
                return -2;
            p++;
            continue;
        }
        p++;
        if (p >= end)
            break;
        if (*p != 'u') {
            static const char from[] = "bfnrt";
            static const char to[] = "\b\f\n\r\t";
            const char *m = strchr(from, *p);
            char c = m != NULL && *p != '\0' ? to[m - from] : *p;

            if (as_key && !arena_put(s, &c, 1))
                return -2;
            p++;
            continue;
        }
        p++;
        if (hex4(p, end, &cp) != 0) {
            /* json-c refuses this already; stop rather than guess. */
            s->pos = s->len;
            return 0;
        }
        p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t low;

            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &low) == 0 &&
                low >= 0xdc00 && low <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                p += 6;
            } else {
                cp = 0xfffd;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            cp = 0xfffd;
        }
        if (cp == 0 && as_key)
            goto nul_key;
        if (as_key && !arena_put_utf8(s, cp))
            return -2;
    }
    s->pos = (size_t)(p - s->text) + (p < end ? 1 : 0);
    return 0;
nul_key:
    /* json-c keeps keys as C strings: it would cut this one there. */
    snprintf(s->err, s->err_len, "a key contains a NUL character (line %zu): refusing it",
             line_of(s, start));
    return -1;
}

static int compare_keys(const void *a, const void *b, void *arena)
{
    const struct key_entry *x = a;
    const struct key_entry *y = b;
    const char *base = arena;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(base + x->arena_off, base + y->arena_off, n);

    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    /* Equal keys: document order, so the report names the later one. */
    return x->text_off < y->text_off ? -1 : x->text_off > y->text_off;
}

/* An object closes: its keys must be distinct. */
static int close_object(struct scan *s, const struct frame *f)
{
    size_t n = s->n_keys - f->first_key;
    /* No key seen yet means no table at all: no pointer arithmetic on it. */
    struct key_entry *k = n > 0 ? s->keys + f->first_key : NULL;
    /* Inner objects have closed and given their keys back, so this
     * object's keys are the last ones, in order, before the sort. */
    size_t arena_start = n > 0 ? k[0].arena_off : s->arena_len;
    size_t i;

    if (n > 1)
        qsort_r(k, n, sizeof(*k), compare_keys, s->arena);
    for (i = 1; i < n; i++) {
        char quoted[80];

        if (k[i].len != k[i - 1].len ||
            memcmp(s->arena + k[i].arena_off, s->arena + k[i - 1].arena_off, k[i].len) != 0)
            continue;
        quote_key(s->arena + k[i].arena_off, k[i].len, quoted, sizeof(quoted));
        snprintf(s->err, s->err_len,
                 "duplicate key \"%s\" (line %zu; first at line %zu): each key may appear "
                 "only once in an object",
                 quoted, line_of(s, k[i].text_off), line_of(s, k[i - 1].text_off));
        return -1;
    }
    s->arena_len = arena_start;
    s->n_keys = f->first_key;
    return 0;
}

static int scan_run(struct scan *s)
{
    while (s->pos < s->len) {
        char c = s->text[s->pos];
        struct frame *top = s->n_frames ? &s->frames[s->n_frames - 1] : NULL;

        if (c == '/' && s->pos + 1 < s->len && s->text[s->pos + 1] == '*') {
            const char *e = NULL;

            if (s->pos + 2 < s->len)
                e = memmem(s->text + s->pos + 2, s->len - s->pos - 2, "*/", 2);
            s->pos = e ? (size_t)(e - s->text) + 2 : s->len;
        } else if (c == '/' && s->pos + 1 < s->len && s->text[s->pos + 1] == '/') {
            const char *e = memchr(s->text + s->pos, '\n', s->len - s->pos);

            s->pos = e ? (size_t)(e - s->text) + 1 : s->len;
        } else if (c == '"' || c == '\'') {
            bool as_key = top != NULL && top->is_object && top->expect_key;
            size_t at = s->pos;
            size_t arena_at = s->arena_len;
            int rc;

            if (as_key && !grow((void **)&s->keys, &s->keys_cap, s->n_keys + 1, sizeof(*s->keys)))
                return -2;
            rc = scan_string(s, as_key);
            if (rc != 0)
                return rc;
            if (as_key) {
                s->keys[s->n_keys].arena_off = arena_at;
                s->keys[s->n_keys].len = s->arena_len - arena_at;
                s->keys[s->n_keys].text_off = at;
                s->n_keys++;
                top->expect_key = false;
            }
        } else if (c == '{' || c == '[') {
            if (!grow((void **)&s->frames, &s->frames_cap, s->n_frames + 1, sizeof(*s->frames)))
                return -2;
            s->frames[s->n_frames].is_object = c == '{';
            s->frames[s->n_frames].expect_key = c == '{';
            s->frames[s->n_frames].first_key = s->n_keys;
            s->n_frames++;
            s->pos++;
        } else if (c == '}' || c == ']') {
            if (top != NULL) {
                if (top->is_object && close_object(s, top) != 0)
                    return -1;
                s->n_frames--;
            }
            s->pos++;
        } else {
            if (c == ',' && top != NULL && top->is_object)
                top->expect_key = true;
            s->pos++;
        }
    }
    return 0;
}

int tl_json_check_keys(const char *text, size_t len, char *err, size_t err_len)
{
    struct scan s;
    int rc;

    memset(&s, 0, sizeof(s));
    s.text = text;
    s.len = len;
    s.err = err;
    s.err_len = err_len;
    /* The arena exists from the start: keys may all be empty (""), and
     * offsets are taken from it even then. */
    rc = grow((void **)&s.arena, &s.arena_cap, 64, 1) ? scan_run(&s) : -2;
    if (rc == -2)
        snprintf(err, err_len, "out of memory checking the JSON keys");
    free(s.arena);
    free(s.keys);
    free(s.frames);
    return rc;
}

const char *tl_json_c_string(struct json_object *obj)
{
    const char *v;

    if (obj == NULL || !json_object_is_type(obj, json_type_string))
        return NULL;
    v = json_object_get_string(obj);
    if (v == NULL || strlen(v) != (size_t)json_object_get_string_len(obj))
        return NULL;
    return v;
}
