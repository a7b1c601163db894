/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token configuration parser (json-c). See config.h for the schema.
 * Every error names the JSON path; nothing here logs or aborts.
 */
/* secure_getenv: the module runs inside other (possibly setuid) programs. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "json_strict.h"
#include "regular_file.h"

struct perr {
    char *buf;
    size_t len;
};

static void set_err(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct perr *e, const char *fmt, ...)
{
    va_list ap;
    if (e->buf == NULL || e->len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
}

/* A short rendering of a JSON value for messages. */
static void show(const json_object *v, char *out, size_t out_len)
{
    const char *s = v == NULL ? "null"
                              : json_object_to_json_string_ext((json_object *)v, JSON_C_TO_STRING_PLAIN);
    size_t n = strlen(s);
    if (n > 40)
        snprintf(out, out_len, "%.37s...", s);
    else
        snprintf(out, out_len, "%s", s);
}

static const char *type_name(const json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    default: return "something else";
    }
}

static int check_keys(json_object *obj, const char *path, const char *const *known, struct perr *e)
{
    json_object_object_foreach(obj, key, val) {
        bool ok = false;
        (void)val;
        for (size_t i = 0; known[i] != NULL; i++)
            if (strcmp(key, known[i]) == 0)
                ok = true;
        if (!ok) {
            set_err(e, "%s%s%s: unknown key", path, path[0] ? "." : "", key);
            return -1;
        }
    }
    return 0;
}

static int get_string(json_object *obj, const char *path, const char *key, size_t max,
                      const char **out, struct perr *e)
{
    json_object *v = NULL;
    char shown[64];
    size_t n;

    if (!json_object_object_get_ex(obj, key, &v)) {
        set_err(e, "%s.%s: missing (expected a string)", path, key);
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)) {
        show(v, shown, sizeof(shown));
        set_err(e, "%s.%s: expected a string, got %s", path, key, shown);
        return -1;
    }
    n = (size_t)json_object_get_string_len(v);
    if (n == 0 || n > max || strlen(json_object_get_string(v)) != n) {
        set_err(e, "%s.%s: expected a string of 1-%zu bytes, got %zu bytes", path, key, max, n);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

static int get_slots(json_object *obj, const char *path, const char *key, uint8_t *slots,
                     size_t *count, struct perr *e)
{
    json_object *arr = NULL;
    char shown[64];
    size_t n;

    if (!json_object_object_get_ex(obj, key, &arr)) {
        set_err(e, "%s.%s: missing (expected an array of integers 0-15)", path, key);
        return -1;
    }
    if (!json_object_is_type(arr, json_type_array)) {
        show(arr, shown, sizeof(shown));
        set_err(e, "%s.%s: expected an array of integers 0-15, got %s", path, key, shown);
        return -1;
    }
    n = json_object_array_length(arr);
    if (n > P11_CHIP_SLOTS) {
        set_err(e, "%s.%s: expected at most %d slots, got %zu", path, key, P11_CHIP_SLOTS, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        int64_t s;
        if (!json_object_is_type(v, json_type_int) ||
            (s = json_object_get_int64(v)) < 0 || s >= P11_CHIP_SLOTS) {
            show(v, shown, sizeof(shown));
            set_err(e, "%s.%s[%zu]: expected an integer 0-15, got %s", path, key, i, shown);
            return -1;
        }
        slots[i] = (uint8_t)s;
    }
    *count = n;
    return 0;
}

static int parse_token(json_object *tok, size_t idx, struct p11_token_config *out, struct perr *e)
{
    static const char *const known[] = {"label", "interface", "key_slots", "free_slots", "store", NULL};
    char path[32];
    const char *s = NULL;
    bool seen[P11_CHIP_SLOTS] = {false};

    snprintf(path, sizeof(path), "tokens[%zu]", idx);
    if (!json_object_is_type(tok, json_type_object)) {
        set_err(e, "%s: expected an object, got %s", path, type_name(tok));
        return -1;
    }
    if (check_keys(tok, path, known, e) != 0)
        return -1;
    if (get_string(tok, path, "label", P11_LABEL_MAX, &s, e) != 0)
        return -1;
    memcpy(out->label, s, strlen(s) + 1);
    if (get_string(tok, path, "interface", 4096, &s, e) != 0)
        return -1;
    if ((out->interface = strdup(s)) == NULL)
        goto nomem;
    if (get_slots(tok, path, "key_slots", out->key_slots, &out->n_key_slots, e) != 0 ||
        get_slots(tok, path, "free_slots", out->free_slots, &out->n_free_slots, e) != 0)
        return -1;
    for (size_t i = 0; i < out->n_key_slots + out->n_free_slots; i++) {
        bool is_key = i < out->n_key_slots;
        size_t j = is_key ? i : i - out->n_key_slots;
        uint8_t slot = is_key ? out->key_slots[j] : out->free_slots[j];
        if (seen[slot]) {
            set_err(e, "%s.%s[%zu]: slot %u is listed more than once in key_slots/free_slots",
                    path, is_key ? "key_slots" : "free_slots", j, (unsigned)slot);
            return -1;
        }
        seen[slot] = true;
    }
    if (get_string(tok, path, "store", 4096, &s, e) != 0)
        return -1;
    /* A relative store would follow each host program's working
     * directory: the same token would be a different store per program. */
    if (s[0] != '/') {
        set_err(e, "%s.store: expected an absolute directory path, got \"%s\" (relative paths are refused)",
                path, s);
        return -1;
    }
    if ((out->store = strdup(s)) == NULL)
        goto nomem;
    return 0;
nomem:
    set_err(e, "%s: out of memory", path);
    return -1;
}

static int parse_level(json_object *root, enum p11_log_level *out, struct perr *e)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    json_object *v = NULL;
    char shown[64];

    *out = P11_LOG_WARNING;
    if (!json_object_object_get_ex(root, "log_level", &v))
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strcmp(json_object_get_string(v), names[i]) == 0) {
                *out = (enum p11_log_level)i;
                return 0;
            }
        }
    }
    show(v, shown, sizeof(shown));
    set_err(e, "log_level: expected one of \"error\", \"warning\", \"info\", \"debug\", got %s", shown);
    return -1;
}

int p11_config_parse(const char *text, size_t len, struct p11_config *out, char *err, size_t err_len)
{
    static const char *const known[] = {"tokens", "log_level", "pin_kdf_iterations",
                                        "verify_signatures", "lock_dir", NULL};
    struct perr e = {err, err_len};
    struct p11_config cfg = {0};
    json_tokener *tk = NULL;
    json_object *root = NULL, *tokens = NULL;
    enum json_tokener_error jerr;
    int ret = -1;
    size_t n;

    if (err_len > 0)
        err[0] = '\0';
    if (text == NULL || len > (size_t)INT32_MAX) {
        set_err(&e, "(root): no configuration text");
        goto cleanup;
    }
    if ((tk = json_tokener_new()) == NULL) {
        set_err(&e, "(root): out of memory");
        goto cleanup;
    }
    root = json_tokener_parse_ex(tk, text, (int)len);
    jerr = json_tokener_get_error(tk);
    if (root == NULL || jerr != json_tokener_success) {
        set_err(&e, "(root): not valid JSON (%s at byte %zu)",
                jerr == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(jerr),
                json_tokener_get_parse_end(tk));
        goto cleanup;
    }
    if (json_tokener_get_parse_end(tk) < len) {
        for (size_t i = json_tokener_get_parse_end(tk); i < len; i++) {
            if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') {
                set_err(&e, "(root): trailing data after the JSON value at byte %zu", i);
                goto cleanup;
            }
        }
    }
    {
        char dup[256];

        if (tl_json_check_keys(text, len, dup, sizeof(dup)) != 0) {
            set_err(&e, "(root): %s", dup);
            goto cleanup;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        set_err(&e, "(root): expected an object, got %s", type_name(root));
        goto cleanup;
    }
    if (check_keys(root, "", known, &e) != 0 || parse_level(root, &cfg.log_level, &e) != 0)
        goto cleanup;
    cfg.verify_signatures = true;
    if (json_object_object_get_ex(root, "verify_signatures", &tokens)) {
        if (!json_object_is_type(tokens, json_type_boolean)) {
            char shown[64];
            show(tokens, shown, sizeof(shown));
            set_err(&e, "verify_signatures: expected true or false, got %s", shown);
            goto cleanup;
        }
        cfg.verify_signatures = json_object_get_boolean(tokens) != 0;
    }
    if (json_object_object_get_ex(root, "pin_kdf_iterations", &tokens)) {
        int64_t it = json_object_is_type(tokens, json_type_int) ? json_object_get_int64(tokens) : -1;
        if (it < 1000 || it > 10000000) {
            char shown[64];
            show(tokens, shown, sizeof(shown));
            set_err(&e, "pin_kdf_iterations: expected an integer 1000-10000000, got %s", shown);
            goto cleanup;
        }
        cfg.pin_kdf_iterations = (uint32_t)it;
    }
    if (json_object_object_get_ex(root, "lock_dir", &tokens)) {
        const char *dir = NULL;

        if (get_string(root, "", "lock_dir", 4096, &dir, &e) != 0)
            goto cleanup;
        if (dir[0] != '/') {
            set_err(&e, "lock_dir: expected an absolute path, got \"%s\"", dir);
            goto cleanup;
        }
        if ((cfg.lock_dir = strdup(dir)) == NULL) {
            set_err(&e, "lock_dir: out of memory");
            goto cleanup;
        }
    }
    if (!json_object_object_get_ex(root, "tokens", &tokens)) {
        set_err(&e, "tokens: missing (expected an array of 1-%d token objects)", P11_MAX_TOKENS);
        goto cleanup;
    }
    if (!json_object_is_type(tokens, json_type_array) ||
        (n = json_object_array_length(tokens)) == 0 || n > P11_MAX_TOKENS) {
        char shown[64];
        show(tokens, shown, sizeof(shown));
        set_err(&e, "tokens: expected an array of 1-%d token objects, got %s", P11_MAX_TOKENS, shown);
        goto cleanup;
    }
    if ((cfg.tokens = calloc(n, sizeof(*cfg.tokens))) == NULL) {
        set_err(&e, "tokens: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        cfg.n_tokens = i + 1;
        if (parse_token(json_object_array_get_idx(tokens, i), i, &cfg.tokens[i], &e) != 0)
            goto cleanup;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg.tokens[j].label, cfg.tokens[i].label) == 0) {
                set_err(&e, "tokens[%zu].label: \"%s\" is already the label of tokens[%zu]", i,
                        cfg.tokens[i].label, j);
                goto cleanup;
            }
            if (strcmp(cfg.tokens[j].store, cfg.tokens[i].store) == 0) {
                set_err(&e, "tokens[%zu].store: \"%s\" is already the store of tokens[%zu]", i,
                        cfg.tokens[i].store, j);
                goto cleanup;
            }
        }
    }
    *out = cfg;
    memset(&cfg, 0, sizeof(cfg));
    ret = 0;
cleanup:
    p11_config_free(&cfg);
    json_object_put(root);
    if (tk != NULL)
        json_tokener_free(tk);
    return ret;
}

const char *p11_config_path(void)
{
    const char *p = secure_getenv(P11_CONFIG_ENV);
    return (p != NULL && p[0] != '\0') ? p : P11_CONFIG_DEFAULT_PATH;
}

int p11_config_load(const char *path, struct p11_config *out, char *err, size_t err_len)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    char inner[512];
    int ret = -1;
    int fd;

    if (path == NULL)
        path = p11_config_path();
    /* Non-blocking and a regular file only: a FIFO would hang every
     * program that loads the module. */
    fd = tl_open_regular(path, O_RDONLY, 0, "file", inner, sizeof(inner));
    if (fd < 0) {
        snprintf(err, err_len, "cannot open the token configuration: %s (set %s to its path)",
                 inner, P11_CONFIG_ENV);
        goto cleanup;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot open the token configuration: %s (set %s to its path)",
                 path, strerror(errno), P11_CONFIG_ENV);
        close(fd);
        goto cleanup;
    }
    for (;;) {
        size_t got;
        if (len + 4096 + 1 > cap) {
            char *nt;
            if (cap >= (1u << 20)) {
                snprintf(err, err_len, "%s: larger than 1 MiB, not a token configuration", path);
                goto cleanup;
            }
            cap = cap ? cap * 2 : 8192;
            if ((nt = realloc(text, cap)) == NULL) {
                snprintf(err, err_len, "%s: out of memory", path);
                goto cleanup;
            }
            text = nt;
        }
        got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, err_len, "%s: read error", path);
        goto cleanup;
    }
    text[len] = '\0';
    if (p11_config_parse(text, len, out, inner, sizeof(inner)) != 0) {
        snprintf(err, err_len, "%s: %s", path, inner);
        goto cleanup;
    }
    ret = 0;
cleanup:
    free(text);
    if (f != NULL)
        fclose(f);
    return ret;
}

void p11_config_free(struct p11_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_tokens; i++) {
        free(cfg->tokens[i].interface);
        free(cfg->tokens[i].store);
    }
    free(cfg->tokens);
    free(cfg->lock_dir);
    memset(cfg, 0, sizeof(*cfg));
}
