/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token store persistence: JSON file, atomic replace, flock'ed
 * read-modify-write, reload on change. See store.h for the format.
 */
#include "store.h"
#include "store_format.h"
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

#include "regular_file.h"
#include "write_all.h"

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
    char where[256] = "";
    char *text = NULL;
    int fd = -1;
    enum tok_store_err ret = TOK_STORE_IO;
    size_t len = 0;

    memset(&d, 0, sizeof(d));
    /* Non-blocking, no symbolic link, a regular file only: a FIFO at
     * token.json would hang every program that loads the module. */
    fd = tl_open_regular(st->path, O_RDONLY | O_NOFOLLOW, 0, "token store", st->error,
                         sizeof(st->error));
    if (fd < 0) {
        if (errno != ENOENT) {
            if (errno == EINVAL)
                ret = TOK_STORE_CORRUPT; /* there, but not a file we may read */
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
    ret = tok_store_parse(text, len, &d, where, sizeof(where));
    if (ret == TOK_STORE_CORRUPT)
        st_err(st, "token store %s is corrupt (at %s); it was left untouched: restore it from a "
                   "backup, or move it away and re-initialise the token", st->path, where);
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

/* ---------------- write ---------------- */

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

    if ((root = tok_store_to_json(&st->data)) == NULL) {
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
    if (tl_write_all(fd, text, strlen(text)) != 0 || tl_write_all(fd, "\n", 1) != 0 ||
        fsync(fd) != 0) {
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
    st->file_fd = tl_open_regular(st->path, O_RDONLY | O_NOFOLLOW, 0, "token store",
                                  st->error, sizeof(st->error));
    if (st->file_fd < 0)
        goto cleanup;
    if (fstat(st->file_fd, &st->st) != 0) {
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
