/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What json-c accepts silently and trustlink refuses.
 *
 * json-c keeps the last value of a key that appears twice in an object
 * ({"cmd":"status","cmd":"rotate"} runs rotate), cuts a key at a "\u0000"
 * ({"cmd\u0000x":...} is "cmd"), and keeps "\u0000" inside string values,
 * where C code reading the value with strlen() sees a shorter string than
 * the one that was checked ("status\u0000x" ran status). Every JSON
 * input (agent config, PKCS#11 module config, token store, control
 * requests) goes through these checks after json-c parsed it.
 *
 * Owns: the duplicate-key and NUL rules and their messages.
 * Must never: accept a document in which two readers could see different
 * values for the same key.
 */
#ifndef TRUSTLINK_COMMON_JSON_STRICT_H
#define TRUSTLINK_COMMON_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Checks text (len bytes, which json-c has already parsed successfully)
 * for an object with the same key twice or a key containing NUL. 0, or
 * -1 with err = "duplicate key \"k\" (line N)" / "... NUL ..."; -2 out of
 * memory. Runs in O(n log n); comments and single-quoted strings (json-c's
 * lenient syntax) are understood. */
int tl_json_check_keys(const char *text, size_t len, char *err, size_t err_len);

/* The string value of obj when it is a string without NUL bytes, else
 * NULL: a value that C code will read as a C string must not hide a
 * second part after a NUL. */
const char *tl_json_c_string(struct json_object *obj);

#endif
