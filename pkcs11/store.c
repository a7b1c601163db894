/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token store persistence: JSON file, atomic replace, flock'ed
 * read-modify-write, reload on change. See store.h for the format.
 */
#include "store.h"
#include "store_owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#define TOK_STORE_MAX_BYTES (16u << 20)

static void st_err(struct tok_store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void st_err(struct tok_store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->error, sizeof(st->error), fmt, ap);
    va_end(ap);
}

const char *tok_store_strerror(enum tok_store_err err)
{
    switch (err) {
    case TOK_STORE_OK: return "ok";
    case TOK_STORE_NOMEM: return "out of memory";
    case TOK_STORE_IO: return "token store I/O error";
    case TOK_STORE_CORRUPT: return "token store corrupt";
    }
    return "unknown token store error";
}

void tok_store_data_free(struct tok_store_data *d)
{
    for (size_t i = 0; i < d->n_objects; i++)
        p11_attrs_free(&d->objects[i].attrs);
    free(d->objects);
    tok_pin_clear(&d->so_pin);
    tok_pin_clear(&d->user_pin);
    memset(d, 0, sizeof(*d));
}

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

struct pctx {
    struct tok_store *st;
    const char *what;    /* set on failure: the JSON path */
};

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

static enum tok_store_err parse_text(struct tok_store *st, const char *text, size_t len,
                                     struct tok_store_data *out)
{
    struct tok_store_data d;
    json_tokener *tk = NULL;
    json_object *root = NULL, *v = NULL, *objs = NULL;
    char path[96] = "(root)";
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
    snprintf(path, sizeof(path), "format");
    if (!json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), "trustlink-token") != 0)
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
    if (!json_object_object_get_ex(root, "label", &v) || !json_object_is_type(v, json_type_string) ||
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
    st_err(st, "token store %s is corrupt (at %s); it was left untouched: restore it from a "
               "backup, or move it away and re-initialise the token", st->path, path);
    ret = TOK_STORE_CORRUPT;
cleanup:
    tok_store_data_free(&d);
    json_object_put(root);
    if (tk != NULL)
        json_tokener_free(tk);
    return ret;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Loads the file unconditionally (force) or when its identity changed. */
static enum tok_store_err load(struct tok_store *st, bool force)
{
    struct tok_store_data d;
    struct stat sb;
    char *text = NULL;
    int fd = -1;
    enum tok_store_err ret = TOK_STORE_IO;
    size_t len = 0;

    memset(&d, 0, sizeof(d));
    fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            st_err(st, "cannot open token store %s: %s", st->path, strerror(errno));
            goto cleanup;
        }
        /* No file: an uninitialised token. */
        tok_store_data_free(&st->data);
        st->data.next_uid = 1;
        st->have_stat = false;
        if (st->file_fd >= 0)
            close(st->file_fd);
        st->file_fd = -1;
        ret = TOK_STORE_OK;
        goto cleanup;
    }
    if (fstat(fd, &sb) != 0) {
        st_err(st, "cannot stat token store %s: %s", st->path, strerror(errno));
        goto cleanup;
    }
    if (!force && st->have_stat && same_file(&sb, &st->st)) {
        ret = TOK_STORE_OK;
        goto cleanup;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size < 0 || (uint64_t)sb.st_size > TOK_STORE_MAX_BYTES) {
        st_err(st, "token store %s is not a regular file below 16 MiB; it was left untouched", st->path);
        ret = TOK_STORE_CORRUPT;
        goto cleanup;
    }
    if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    }
    while (len < (size_t)sb.st_size) {
        ssize_t r = read(fd, text + len, (size_t)sb.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st_err(st, "cannot read token store %s: %s", st->path, r < 0 ? strerror(errno) : "short read");
            goto cleanup;
        }
        len += (size_t)r;
    }
    text[len] = '\0';
    ret = parse_text(st, text, len, &d);
    if (ret != TOK_STORE_OK)
        goto cleanup;
    tok_store_data_free(&st->data);
    st->data = d;
    memset(&d, 0, sizeof(d));
    st->st = sb;
    st->have_stat = true;
    if (st->file_fd >= 0)
        close(st->file_fd);
    st->file_fd = fd;
    fd = -1;
cleanup:
    tok_store_data_free(&d);
    if (text != NULL) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    if (fd >= 0)
        close(fd);
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

static json_object *build_json(const struct tok_store_data *d)
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

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Removes temp files left by a crashed writer. Called under the lock. */
static void remove_stale_temps(struct tok_store *st)
{
    DIR *dir = opendir(st->dir);
    struct dirent *de;
    const char prefix[] = TOK_STORE_FILE ".tmp.";

    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) == 0)
            (void)unlinkat(dirfd(dir), de->d_name, 0);
    }
    closedir(dir);
}

static enum tok_store_err write_file(struct tok_store *st)
{
    json_object *root = NULL;
    const char *text;
    char *tmp = NULL;
    int fd = -1, dfd = -1;
    enum tok_store_err ret = TOK_STORE_IO;
    struct tok_file_owner owner;
    size_t tmp_len;

    if ((root = build_json(&st->data)) == NULL) {
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    }
    text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    tmp_len = strlen(st->path) + 48;
    if (text == NULL || (tmp = malloc(tmp_len)) == NULL) {
        ret = TOK_STORE_NOMEM;
        goto cleanup;
    }
    remove_stale_temps(st);
    /* The new file keeps the old one's owner, group and mode (store.h). */
    if (tok_owner_for(st->path, st->dir, &owner, st->error, sizeof(st->error)) != 0)
        goto cleanup;
    snprintf(tmp, tmp_len, "%s.tmp.%ld.%u", st->path, (long)getpid(), st->tmp_counter++);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, TOK_STORE_NEW_FILE_MODE);
    if (fd < 0) {
        st_err(st, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (tok_owner_apply(fd, st->path, &owner, st->error, sizeof(st->error)) != 0)
        goto cleanup;
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        st_err(st, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        st_err(st, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, st->path) != 0) {
        st_err(st, "cannot rename %s to %s: %s", tmp, st->path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        st_err(st, "cannot fsync directory %s: %s", st->dir, strerror(errno));
        goto cleanup;
    }
    /* We hold the lock: nobody renamed another file over ours meanwhile. */
    if (st->file_fd >= 0)
        close(st->file_fd);
    st->have_stat = false;
    st->file_fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (st->file_fd < 0 || fstat(st->file_fd, &st->st) != 0) {
        st_err(st, "cannot reopen %s: %s", st->path, strerror(errno));
        goto cleanup;
    }
    st->have_stat = true;
    ret = TOK_STORE_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        (void)unlink(tmp);
        free(tmp);
    }
    if (dfd >= 0)
        close(dfd);
    json_object_put(root);
    return ret;
}

/* ---------------- public ---------------- */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

enum tok_store_err tok_store_open(const char *dir, struct tok_store **out, char *err, size_t err_len)
{
    struct tok_store *st = NULL;
    enum tok_store_err ret = TOK_STORE_NOMEM;

    *out = NULL;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        goto fail;
    st->lock_fd = -1;
    st->file_fd = -1;
    st->data.next_uid = 1;
    if ((st->dir = strdup(dir)) == NULL || (st->path = join(dir, TOK_STORE_FILE)) == NULL ||
        (st->lock_path = join(dir, TOK_STORE_LOCK)) == NULL)
        goto fail;
    ret = load(st, true);
    if (ret != TOK_STORE_OK)
        goto fail;
    *out = st;
    return TOK_STORE_OK;
fail:
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s", st != NULL && st->error[0] ? st->error : tok_store_strerror(ret));
    tok_store_close(st);
    return ret;
}

void tok_store_close(struct tok_store *st)
{
    if (st == NULL)
        return;
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    if (st->file_fd >= 0)
        close(st->file_fd);
    tok_store_data_free(&st->data);
    free(st->dir);
    free(st->path);
    free(st->lock_path);
    free(st);
}

enum tok_store_err tok_store_refresh(struct tok_store *st)
{
    return load(st, false);
}

enum tok_store_err tok_store_begin(struct tok_store *st)
{
    enum tok_store_err ret;
    struct tok_file_owner owner;
    int fd;

    if (st->lock_fd >= 0) {
        st_err(st, "token store %s: nested lock (internal error)", st->dir);
        return TOK_STORE_IO;
    }
    if (mkdir(st->dir, TOK_STORE_NEW_DIR_MODE) != 0 && errno != EEXIST) {
        st_err(st, "cannot create token store directory %s: %s", st->dir, strerror(errno));
        return TOK_STORE_IO;
    }
    if (tok_owner_for(st->lock_path, st->dir, &owner, st->error, sizeof(st->error)) != 0)
        return TOK_STORE_IO;
    fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, TOK_STORE_NEW_FILE_MODE);
    if (fd < 0) {
        st_err(st, "cannot open lock file %s: %s", st->lock_path, strerror(errno));
        return TOK_STORE_IO;
    }
    /* A lock file this call created follows the new-file rule. */
    if (!owner.strict && tok_owner_apply(fd, st->lock_path, &owner, st->error, sizeof(st->error)) != 0) {
        close(fd);
        return TOK_STORE_IO;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            st_err(st, "cannot lock %s: %s", st->lock_path, strerror(errno));
            close(fd);
            return TOK_STORE_IO;
        }
    }
    st->lock_fd = fd;
    ret = load(st, true);
    if (ret != TOK_STORE_OK)
        tok_store_end(st);
    return ret;
}

enum tok_store_err tok_store_commit(struct tok_store *st)
{
    enum tok_store_err ret;

    if (st->lock_fd < 0) {
        st_err(st, "token store %s: commit without lock (internal error)", st->dir);
        return TOK_STORE_IO;
    }
    st->data.generation++;
    ret = write_file(st);
    if (ret != TOK_STORE_OK) {
        /* Keep memory equal to disk: what was not written did not happen. */
        char saved[sizeof(st->error)];
        memcpy(saved, st->error, sizeof(saved));
        (void)load(st, true);
        memcpy(st->error, saved, sizeof(saved));
        return ret;
    }
    st->data.exists = true;
    return TOK_STORE_OK;
}

enum tok_store_err tok_store_abort(struct tok_store *st)
{
    return load(st, true);
}

void tok_store_end(struct tok_store *st)
{
    if (st->lock_fd >= 0) {
        (void)flock(st->lock_fd, LOCK_UN);
        close(st->lock_fd);
        st->lock_fd = -1;
    }
}

enum tok_store_err tok_store_add_object(struct tok_store *st, const p11_attrs *attrs, uint64_t *uid)
{
    struct tok_store_data *d = &st->data;
    struct tok_object_rec *nv;

    nv = realloc(d->objects, (d->n_objects + 1) * sizeof(*nv));
    if (nv == NULL)
        return TOK_STORE_NOMEM;
    d->objects = nv;
    if (p11_attrs_dup(&nv[d->n_objects].attrs, attrs) != CKR_OK)
        return TOK_STORE_NOMEM;
    nv[d->n_objects].uid = d->next_uid++;
    if (uid != NULL)
        *uid = nv[d->n_objects].uid;
    d->n_objects++;
    return TOK_STORE_OK;
}

struct tok_object_rec *tok_store_find_object(struct tok_store *st, uint64_t uid)
{
    for (size_t i = 0; i < st->data.n_objects; i++)
        if (st->data.objects[i].uid == uid)
            return &st->data.objects[i];
    return NULL;
}

bool tok_store_remove_object(struct tok_store *st, uint64_t uid)
{
    struct tok_store_data *d = &st->data;
    for (size_t i = 0; i < d->n_objects; i++) {
        if (d->objects[i].uid != uid)
            continue;
        p11_attrs_free(&d->objects[i].attrs);
        memmove(&d->objects[i], &d->objects[i + 1], (d->n_objects - i - 1) * sizeof(d->objects[0]));
        d->n_objects--;
        return true;
    }
    return false;
}

void tok_store_clear_objects(struct tok_store *st)
{
    for (size_t i = 0; i < st->data.n_objects; i++)
        p11_attrs_free(&st->data.objects[i].attrs);
    free(st->data.objects);
    st->data.objects = NULL;
    st->data.n_objects = 0;
}

bool tok_store_slot_released(const struct tok_store *st, unsigned slot)
{
    return slot < 16 && (st->data.released_key_slots & (1u << slot)) != 0;
}

void tok_store_release_slot(struct tok_store *st, unsigned slot)
{
    if (slot < 16)
        st->data.released_key_slots |= (uint16_t)(1u << slot);
}

void tok_store_clear_released(struct tok_store *st)
{
    st->data.released_key_slots = 0;
}
