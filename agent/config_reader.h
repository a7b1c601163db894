/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed readers of the JSON configuration (used by config.c): each reads
 * one key of a json-c object, checks type and range, and on failure writes
 * "<json.path>: expected ..., got ..." into the reader's error buffer.
 *
 * Owns: the message format and the JSON path of every configuration error.
 * Must never: accept a wrong type or an out-of-range value silently.
 */
#ifndef TRUSTLINK_AGENT_CONFIG_READER_H
#define TRUSTLINK_AGENT_CONFIG_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define CFG_PATH_MAX 128

struct cfg_reader {
    char *err;
    size_t err_len;
};

typedef bool (*cfg_string_check_fn)(const char *value);

/* Writes "path: <message>" and returns -1. */
__attribute__((format(printf, 3, 4)))
int cfg_fail(struct cfg_reader *r, const char *path, const char *fmt, ...);
/* A short rendering of what the file had, for "got ..." in messages. */
const char *cfg_got(struct json_object *val, char *buf, size_t len);
/* out = parent.key (or key at the root); out has CFG_PATH_MAX bytes. */
void cfg_join(char *out, const char *parent, const char *key);
/* Every key of obj must be one of allowed (NULL-terminated). */
int cfg_check_keys(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *const *allowed);
/* The value of key, or NULL if absent; an explicit JSON null counts as
 * present (and then fails the type check). */
struct json_object *cfg_member(struct json_object *obj, const char *key, bool *present);
/* A section object; *out NULL when absent and not required. */
int cfg_get_section(struct cfg_reader *r, struct json_object *root, const char *key,
                    bool required, struct json_object **out);

/* The readers below take obj NULL as "section absent": the fallback
 * applies. Each returns 0 or -1 with the error written. */
int cfg_get_string(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, bool required, const char *what, size_t max_len,
                   cfg_string_check_fn check, const char *fallback, char **out);
int cfg_get_uint(struct cfg_reader *r, struct json_object *obj, const char *path,
                 const char *key, unsigned long min, unsigned long max,
                 unsigned long fallback, unsigned long *out);
int cfg_get_number(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, const char *unit, double min, double max, double fallback,
                   double *out);
/* Rounds a range-checked, non-negative number to the nearest integer. */
int64_t cfg_round_non_negative(double v);
/* A duration in seconds (integer or fraction) stored as milliseconds. */
int cfg_get_seconds(struct cfg_reader *r, struct json_object *obj, const char *path,
                    const char *key, double min_s, double max_s, double fallback_s,
                    unsigned *out_ms);
/* A duration in seconds (integer or fraction) rounded to whole seconds. */
int cfg_get_whole_seconds(struct cfg_reader *r, struct json_object *obj, const char *path,
                          const char *key, double min_s, double max_s, double fallback_s,
                          int64_t *out_s);
int cfg_get_bool(struct cfg_reader *r, struct json_object *obj, const char *path,
                 const char *key, bool fallback, bool *out);
/* One of names (NULL-terminated); *out is its index. */
int cfg_get_choice(struct cfg_reader *r, struct json_object *obj, const char *path,
                   const char *key, const char *const *names, int fallback, int *out);

#endif
