/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ownership contract of the token store's files (see store.h): which owner,
 * group and mode a rewritten token.json and the lock file get.
 *
 * Owns: the rule, and the checks that keep a store's files from being
 * redirected through symbolic links.
 * Must never: change the owner or mode of a directory, or of a file other
 * than the store's own.
 */
#ifndef TRUSTLINK_P11_STORE_OWNER_H
#define TRUSTLINK_P11_STORE_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Mode of a token.json (and lock file) the module creates. */
#define TOK_STORE_NEW_FILE_MODE 0600
/* Mode of a store directory the module creates. */
#define TOK_STORE_NEW_DIR_MODE 0700

struct tok_file_owner {
    uid_t uid;
    gid_t gid;
    mode_t mode;        /* permission bits only */
    bool set_owner;     /* uid/gid apply (else the creator's stay) */
    bool strict;        /* the file existed: failing to keep its owner is an error */
};

/* The owner a new version of path must get: the existing file's owner,
 * group and mode; for a new file, mode TOK_STORE_NEW_FILE_MODE and, when
 * running as root, the owner and group of its directory (so a root run
 * in the service's directory leaves files the service can use). A
 * symbolic link at path is refused. 0, or -1 with err filled. */
int tok_owner_for(const char *path, const char *dir, struct tok_file_owner *out, char *err, size_t err_len);
/* Gives the open file fd that owner, group and mode (fchown, fchmod).
 * 0, or -1 with err filled. */
int tok_owner_apply(int fd, const char *path, const struct tok_file_owner *o, char *err, size_t err_len);

#endif
