/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token store's file format (store.h describes it): parsing token.json
 * into struct tok_store_data and building it back.
 *
 * Owns: the JSON layout, its checks (a file that does not match is
 * corrupt, never half-loaded) and the hex encoding of values.
 * Must never: do file I/O or locking (store.c does), or accept a document
 * json-c would read differently from what was checked (duplicate keys).
 */
#ifndef TRUSTLINK_P11_STORE_FORMAT_H
#define TRUSTLINK_P11_STORE_FORMAT_H

#include <stddef.h>

#include <json-c/json.h>

#include "store.h"

/* Parses len bytes of token.json into *out (owned by the caller).
 * TOK_STORE_OK; TOK_STORE_CORRUPT with where = the JSON path or the reason
 * it failed; TOK_STORE_NOMEM. */
enum tok_store_err tok_store_parse(const char *text, size_t len, struct tok_store_data *out,
                                   char *where, size_t where_len);

/* The JSON document for d, or NULL out of memory (caller puts it). */
json_object *tok_store_to_json(const struct tok_store_data *d);

#endif
