/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host token store: one token's persistent state in one directory.
 *
 * Owns: the file <dir>/token.json (label, PIN records, token objects as
 * attribute lists), its atomic replacement, its reload when another
 * process changed it, and the inter-process lock <dir>/.lock serialising
 * read-modify-write cycles.
 * Must never: interpret object attributes (object.c does), hold a PIN,
 * or replace a file it cannot parse (a corrupt store is an error the user
 * must resolve).
 *
 * File format (JSON, UTF-8):
 *   {"format":"trustlink-token","version":1,"generation":N,
 *    "label":"...", "next_uid":N,
 *    "so_pin":null | PIN, "user_pin":null | PIN,
 *    "objects":[{"uid":N,"attributes":[{"type":N,"value":"hex"},...]},...],
 *    "released_key_slots":[slot,...]}
 *   PIN = {"kdf":"pbkdf2-sha256","iterations":N,"salt":"hex32",
 *          "hash":"hex64","failures":N,"max_failures":N}
 * Attribute types and values are raw PKCS#11 (CK_ULONG values in host byte
 * order: the store is host-local, like the CK_ULONG width).
 * "generation" increases on every write.
 * "released_key_slots" (optional; missing = none, and written only when
 * not empty so stores without released slots keep the old layout): chip
 * slots of provisioned keys (key_slots) whose private key object was
 * destroyed; the module must not list them again until C_InitToken.
 *
 * Writes: <dir>/token.json.tmp.<pid>.<n> is written, fsync'ed, renamed over
 * token.json, then the directory is fsync'ed. A crash leaves either the
 * old or the new file; leftover temp files are ignored by load and removed
 * by the next write.
 *
 * Ownership contract (store_owner.h): a rewrite keeps the existing
 * token.json's owner, group and mode (set on the temp file with fchown and
 * fchmod before the rename; a writer that cannot keep them fails instead
 * of changing them). A new token.json or .lock gets mode 0600 and, when
 * the writer is root, the owner and group of the store directory; a new
 * store directory gets 0700 and the writer's owner. A symbolic link at
 * token.json or .lock is refused, never followed.
 *
 * Concurrency: tok_store_begin() takes flock(LOCK_EX) on <dir>/.lock and
 * reloads the file if it changed; the caller edits store->data and calls
 * tok_store_commit() (or tok_store_abort() to drop its edits), then
 * tok_store_end(); begin always re-reads the file. Readers call
 * tok_store_refresh(), which reloads when the file's identity (device,
 * inode, size, mtime) changed; the loaded file stays open, so its inode
 * number is never recycled for a newer file while we compare. Not
 * thread-safe: the module lock serialises threads of one process.
 */
#ifndef TRUSTLINK_P11_STORE_H
#define TRUSTLINK_P11_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "attributes.h"
#include "pin.h"

#define TOK_STORE_FILE "token.json"
#define TOK_STORE_LOCK ".lock"
#define TOK_STORE_VERSION 1

enum tok_store_err {
    TOK_STORE_OK = 0,
    TOK_STORE_NOMEM,
    TOK_STORE_IO,        /* cannot read, write, create or lock */
    TOK_STORE_CORRUPT,   /* the file exists but does not parse */
};

struct tok_object_rec {
    uint64_t uid;        /* stable for the object's lifetime, never reused */
    p11_attrs attrs;
};

struct tok_store_data {
    bool exists;         /* token.json was present (or has been written) */
    uint64_t generation;
    uint64_t next_uid;
    char label[33];
    struct tok_pin_record so_pin;
    struct tok_pin_record user_pin;
    struct tok_object_rec *objects;
    size_t n_objects;
    uint16_t released_key_slots;  /* bit n: chip slot n released (slots 0-15) */
};

struct tok_store {
    char *dir;
    char *path;
    char *lock_path;
    int lock_fd;         /* -1 unless inside begin/end */
    bool have_stat;
    struct stat st;      /* identity of the file last loaded */
    int file_fd;         /* that file, kept open so its inode number cannot
                            be reused by a later file: (dev, ino) then
                            identifies the content */
    unsigned tmp_counter;
    struct tok_store_data data;
    char error[512];     /* detail of the last failure */
};

/* Opens (does not create) the store in dir and loads token.json if it
 * exists. A missing file is not an error: data.exists is false. */
enum tok_store_err tok_store_open(const char *dir, struct tok_store **out, char *err, size_t err_len);
void tok_store_close(struct tok_store *st);

/* Reloads if the file changed on disk. */
enum tok_store_err tok_store_refresh(struct tok_store *st);
/* Read-modify-write. begin locks (creating dir/.lock if needed) and
 * refreshes; commit writes data atomically; abort reloads from disk,
 * discarding edits; end unlocks. begin/end must pair. */
enum tok_store_err tok_store_begin(struct tok_store *st);
enum tok_store_err tok_store_commit(struct tok_store *st);
enum tok_store_err tok_store_abort(struct tok_store *st);
void tok_store_end(struct tok_store *st);

/* Object records in data. add copies attrs and assigns the uid. */
enum tok_store_err tok_store_add_object(struct tok_store *st, const p11_attrs *attrs, uint64_t *uid);
struct tok_object_rec *tok_store_find_object(struct tok_store *st, uint64_t uid);
bool tok_store_remove_object(struct tok_store *st, uint64_t uid);
void tok_store_clear_objects(struct tok_store *st);

/* Released provisioned-key chip slots (see the format above); slot 0-15,
 * others are never released. Edits belong inside begin/commit. */
bool tok_store_slot_released(const struct tok_store *st, unsigned slot);
void tok_store_release_slot(struct tok_store *st, unsigned slot);
void tok_store_clear_released(struct tok_store *st);

void tok_store_data_free(struct tok_store_data *d);
const char *tok_store_strerror(enum tok_store_err err);

#endif
