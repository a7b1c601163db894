/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed readers of the JSON configuration (see config_reader.h).
 */
#include "config_reader.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cfg_fail(struct cfg_reader *r, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(r->err, r->err_len, "%s: ", path);
    if (n < 0 || (size_t)n >= r->err_len)
        return -1;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->err_len - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

const char *cfg_got(struct json_object *val, char *buf, size_t len)
{
    const char *text =
        val ? json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE)
            : "null";

    if (strlen(text) < len) {
        snprintf(buf, len, "%s", text);
    } else {
        snprintf(buf, len, "%.*s...", (int)(len - 4), text);
    }
    return buf;
}

void cfg_join(char *out, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        snprintf(out, CFG_PATH_MAX, "%s", key);
    else
        snprintf(out, CFG_PATH_MAX, "%s.%s", parent, key);
}

int cfg_check_keys(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *const *allowed)
{
    json_object_object_foreach(obj, key, val) {
        bool known = false;
        char where[CFG_PATH_MAX];

        (void)val;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            char list[384] = "";
            size_t used = 0;

            for (size_t i = 0; allowed[i] != NULL && used < sizeof(list); i++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                 allowed[i]);
                if (n < 0)
                    break;
                used += (size_t)n;
            }
            cfg_join(where, path, key);
            return cfg_fail(r, where, "unknown key (expected one of: %s)", list);
        }
    }
    return 0;
}

/* The value of key, or NULL if absent. An explicit JSON null counts as
 * present (and then fails the type check). */
struct json_object *cfg_member(struct json_object *obj, const char *key, bool *present)
{
    struct json_object *val = NULL;

    *present = json_object_object_get_ex(obj, key, &val);
    return val;
}

int cfg_get_section(struct cfg_reader *r, struct json_object *root, const char *key,
                    bool required, struct json_object **out)
{
    bool present;
    struct json_object *val = cfg_member(root, key, &present);
    char buf[64];

    *out = NULL;
    if (!present) {
        if (required)
            return cfg_fail(r, key, "required section is missing (expected an object)");
        return 0;
    }
    if (!json_object_is_type(val, json_type_object))
        return cfg_fail(r, key, "expected an object, got %s", cfg_got(val, buf, sizeof(buf)));
    *out = val;
    return 0;
}

int cfg_get_string(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, bool required, const char *what, size_t max_len,
                   cfg_string_check_fn check, const char *fallback, char **out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;
    const char *text;
    size_t len;

    cfg_join(where, path, key);
    val = obj ? cfg_member(obj, key, &present) : (present = false, NULL);
    if (!present) {
        if (required)
            return cfg_fail(r, where, "required key is missing (expected %s)", what);
        if (fallback == NULL) {
            *out = NULL;
            return 0;
        }
        text = fallback;
    } else {
        if (!json_object_is_type(val, json_type_string))
            return cfg_fail(r, where, "expected %s, got %s", what, cfg_got(val, buf, sizeof(buf)));
        text = json_object_get_string(val);
        len = strlen(text);
        if (len == 0 || len > max_len || len != (size_t)json_object_get_string_len(val) ||
            (check != NULL && !check(text)))
            return cfg_fail(r, where, "expected %s, got %s", what, cfg_got(val, buf, sizeof(buf)));
    }
    *out = strdup(text);
    if (*out == NULL)
        return cfg_fail(r, where, "out of memory");
    return 0;
}

int cfg_get_uint(struct cfg_reader *r, struct json_object *obj, const char *path,
                 const char *key, unsigned long min, unsigned long max,
                 unsigned long fallback, unsigned long *out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;
    int64_t v;

    cfg_join(where, path, key);
    val = obj ? cfg_member(obj, key, &present) : (present = false, NULL);
    if (!present) {
        *out = fallback;
        return 0;
    }
    if (!json_object_is_type(val, json_type_int))
        return cfg_fail(r, where, "expected an integer %lu-%lu, got %s", min, max,
                        cfg_got(val, buf, sizeof(buf)));
    errno = 0;
    v = json_object_get_int64(val);
    if (errno != 0 || v < 0 || (uint64_t)v < min || (uint64_t)v > max)
        return cfg_fail(r, where, "expected an integer %lu-%lu, got %s", min, max,
                        cfg_got(val, buf, sizeof(buf)));
    *out = (unsigned long)v;
    return 0;
}

int cfg_get_number(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, const char *unit, double min, double max,
                   double fallback, double *out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;
    double v;

    cfg_join(where, path, key);
    val = obj ? cfg_member(obj, key, &present) : (present = false, NULL);
    if (!present) {
        *out = fallback;
        return 0;
    }
    if (!json_object_is_type(val, json_type_int) && !json_object_is_type(val, json_type_double))
        return cfg_fail(r, where, "expected a number of %s %g-%g, got %s", unit, min, max,
                        cfg_got(val, buf, sizeof(buf)));
    v = json_object_get_double(val);
    if (!isfinite(v) || v < min || v > max)
        return cfg_fail(r, where, "expected a number of %s %g-%g, got %s", unit, min, max,
                        cfg_got(val, buf, sizeof(buf)));
    *out = v;
    return 0;
}

/* By hand rather than lround(): it keeps libm out of the daemon. */
int64_t cfg_round_non_negative(double v)
{
    return (int64_t)(v + 0.5);
}

/* A duration in seconds, times scale, rounded to an integer. */
static int get_scaled_seconds(struct cfg_reader *r, struct json_object *obj, const char *path,
                              const char *key, double min_s, double max_s, double fallback_s,
                              double scale, int64_t *out)
{
    double v;

    if (cfg_get_number(r, obj, path, key, "seconds", min_s, max_s, fallback_s, &v) != 0)
        return -1;
    *out = cfg_round_non_negative(v * scale);
    return 0;
}

int cfg_get_seconds(struct cfg_reader *r, struct json_object *obj, const char *path,
                    const char *key, double min_s, double max_s, double fallback_s,
                    unsigned *out_ms)
{
    int64_t ms;

    if (get_scaled_seconds(r, obj, path, key, min_s, max_s, fallback_s, 1000.0, &ms) != 0)
        return -1;
    *out_ms = (unsigned)ms;
    return 0;
}

int cfg_get_whole_seconds(struct cfg_reader *r, struct json_object *obj, const char *path,
                          const char *key, double min_s, double max_s, double fallback_s,
                          int64_t *out_s)
{
    return get_scaled_seconds(r, obj, path, key, min_s, max_s, fallback_s, 1.0, out_s);
}

int cfg_get_bool(struct cfg_reader *r, struct json_object *obj, const char *path,
                 const char *key, bool fallback, bool *out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;

    cfg_join(where, path, key);
    val = obj ? cfg_member(obj, key, &present) : (present = false, NULL);
    if (!present) {
        *out = fallback;
        return 0;
    }
    if (!json_object_is_type(val, json_type_boolean))
        return cfg_fail(r, where, "expected true or false, got %s", cfg_got(val, buf, sizeof(buf)));
    *out = json_object_get_boolean(val);
    return 0;
}

int cfg_get_choice(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, const char *const *names, int fallback, int *out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    char list[128] = "";
    size_t used = 0;
    bool present;
    struct json_object *val;

    cfg_join(where, path, key);
    val = obj ? cfg_member(obj, key, &present) : (present = false, NULL);
    if (!present) {
        *out = fallback;
        return 0;
    }
    if (json_object_is_type(val, json_type_string)) {
        for (int i = 0; names[i] != NULL; i++) {
            if (strcmp(json_object_get_string(val), names[i]) == 0) {
                *out = i;
                return 0;
            }
        }
    }
    for (size_t i = 0; names[i] != NULL && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? " or " : "", names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return cfg_fail(r, where, "expected %s, got %s", list, cfg_got(val, buf, sizeof(buf)));
}
