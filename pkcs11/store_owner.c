/* SPDX-License-Identifier: Apache-2.0 */
/* The token store's file ownership rule (see store_owner.h). */
#include "store_owner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tok_owner_for(const char *path, const char *dir, struct tok_file_owner *out, char *err, size_t err_len)
{
    struct stat sb;

    if (lstat(path, &sb) == 0) {
        if (S_ISLNK(sb.st_mode)) {
            snprintf(err, err_len, "%s is a symbolic link: the token store does not follow links "
                     "(replace it with the file itself)", path);
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) {
            snprintf(err, err_len, "%s is not a regular file", path);
            return -1;
        }
        out->uid = sb.st_uid;
        out->gid = sb.st_gid;
        out->mode = sb.st_mode & 07777;
        out->set_owner = true;
        out->strict = true;
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, err_len, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    out->uid = geteuid();
    out->gid = getegid();
    out->mode = TOK_STORE_NEW_FILE_MODE;
    out->set_owner = geteuid() == 0;
    out->strict = false;
    if (out->set_owner) {
        if (stat(dir, &sb) != 0) {
            snprintf(err, err_len, "cannot stat %s: %s", dir, strerror(errno));
            return -1;
        }
        out->uid = sb.st_uid;
        out->gid = sb.st_gid;
    }
    return 0;
}

int tok_owner_apply(int fd, const char *path, const struct tok_file_owner *o, char *err, size_t err_len)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        snprintf(err, err_len, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (o->set_owner && (sb.st_uid != o->uid || sb.st_gid != o->gid) && fchown(fd, o->uid, o->gid) != 0 &&
        o->strict) {
        snprintf(err, err_len,
                 "cannot keep owner %ld:%ld of %s (%s): run as that user or as root, the store keeps "
                 "its owner", (long)o->uid, (long)o->gid, path, strerror(errno));
        return -1;
    }
    /* After fchown, which may clear set-id bits. */
    if (fchmod(fd, o->mode) != 0) {
        snprintf(err, err_len, "cannot set mode %04o on %s: %s", (unsigned)o->mode, path, strerror(errno));
        return -1;
    }
    return 0;
}
