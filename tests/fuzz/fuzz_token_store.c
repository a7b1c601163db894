/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the PKCS#11 module's token store file (pkcs11/store.c):
 * the input is written as <dir>/token.json and opened with tok_store_open,
 * as the module does at C_Initialize. Checks: a file that loads holds what
 * store.h promises (a terminated label, object uids distinct and below
 * next_uid); a file that does not load is an error with a message; a
 * loaded store with one object added, written back (begin/commit) and
 * opened again gives the same label, PINs, objects, next uid and released
 * slots, and the generation it was written with.
 * The directory is on /dev/shm when there is one (commit fsyncs).
 * Corpus: tests/fuzz/token_store/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz_target.h"
#include "store.h"

/* One directory per process, removed at exit (libFuzzer calls the target
 * many times in one process). */
static char store_dir[64];
static char store_file[96];

static void remove_store_dir(void)
{
    char lock[96];

    snprintf(lock, sizeof(lock), "%s/" TOK_STORE_LOCK, store_dir);
    unlink(store_file);
    unlink(lock);
    rmdir(store_dir);
}

static void store_dir_init(void)
{
    struct stat st;

    if (store_dir[0] != '\0')
        return;
    snprintf(store_dir, sizeof(store_dir), "%s/trustlink-fuzz-store-XXXXXX",
             stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                 ? "/dev/shm"
                 : "/tmp");
    if (mkdtemp(store_dir) == NULL)
        fail_msg("cannot create %s", store_dir);
    snprintf(store_file, sizeof(store_file), "%s/" TOK_STORE_FILE, store_dir);
    atexit(remove_store_dir);
}

static void write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(store_file, "wb");

    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        fail_msg("cannot write %s", store_file);
}

static void check_loaded(const struct tok_store_data *d)
{
    size_t i, j;

    if (!d->exists)
        fail_msg("a loaded store that does not exist");
    if (memchr(d->label, '\0', sizeof(d->label)) == NULL)
        fail_msg("label not terminated");
    if (d->n_objects > 0 && d->objects == NULL)
        fail_msg("%zu objects without the array", d->n_objects);
    for (i = 0; i < d->n_objects; i++) {
        if (d->objects[i].uid >= d->next_uid)
            fail_msg("object uid %llu not below next_uid %llu",
                     (unsigned long long)d->objects[i].uid, (unsigned long long)d->next_uid);
        for (j = 0; j < i; j++)
            if (d->objects[j].uid == d->objects[i].uid)
                fail_msg("two objects with uid %llu", (unsigned long long)d->objects[i].uid);
    }
}

static bool same_attrs(const p11_attrs *a, const p11_attrs *b)
{
    size_t i;

    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++) {
        const CK_ATTRIBUTE *x = &a->v[i], *y = &b->v[i];

        if (x->type != y->type || x->ulValueLen != y->ulValueLen ||
            (x->ulValueLen > 0 && memcmp(x->pValue, y->pValue, x->ulValueLen) != 0))
            return false;
    }
    return true;
}

static bool same_pin(const struct tok_pin_record *a, const struct tok_pin_record *b)
{
    if (a->set != b->set)
        return false;
    return !a->set ||
           (a->iterations == b->iterations && a->failures == b->failures &&
            a->max_failures == b->max_failures && memcmp(a->salt, b->salt, sizeof(a->salt)) == 0 &&
            memcmp(a->hash, b->hash, sizeof(a->hash)) == 0);
}

static void check_same(const struct tok_store_data *a, const struct tok_store_data *b)
{
    size_t i;

    if (strcmp(a->label, b->label) != 0 || a->next_uid != b->next_uid ||
        a->released_key_slots != b->released_key_slots || a->n_objects != b->n_objects ||
        !same_pin(&a->so_pin, &b->so_pin) || !same_pin(&a->user_pin, &b->user_pin))
        fail_msg("the store read back differs from what was written");
    for (i = 0; i < a->n_objects; i++)
        if (a->objects[i].uid != b->objects[i].uid ||
            !same_attrs(&a->objects[i].attrs, &b->objects[i].attrs))
            fail_msg("object %zu read back differs", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tok_store *st = NULL, *again = NULL;
    enum tok_store_err rc;
    p11_attrs attrs;
    uint64_t uid;
    char err[512];

    store_dir_init();
    write_input(data, size);
    err[0] = '\0';
    rc = tok_store_open(store_dir, &st, err, sizeof(err));
    if (rc != TOK_STORE_OK) {
        if (st != NULL || err[0] == '\0')
            fail_msg("open failed (%s) with a store or without a message", tok_store_strerror(rc));
        return 0;
    }
    if (st == NULL)
        fail_msg("open succeeded without a store");
    check_loaded(&st->data);
    /* Written back as the module writes it, then read again. */
    if (tok_store_begin(st) != TOK_STORE_OK)
        fail_msg("begin on a loaded store: %s", st->error);
    p11_attrs_init(&attrs);
    if (p11_attrs_set(&attrs, CKA_LABEL, "fuzz", 4) != CKR_OK ||
        tok_store_add_object(st, &attrs, &uid) != TOK_STORE_OK)
        fail_msg("cannot add an object to a loaded store");
    p11_attrs_free(&attrs);
    if (tok_store_commit(st) != TOK_STORE_OK)
        fail_msg("commit of a loaded store: %s", st->error);
    tok_store_end(st);
    rc = tok_store_open(store_dir, &again, err, sizeof(err));
    if (rc != TOK_STORE_OK)
        fail_msg("the store we wrote does not load: %s", err);
    check_loaded(&again->data);
    check_same(&st->data, &again->data);
    if (again->data.generation != st->data.generation)
        fail_msg("generation %llu read back as %llu", (unsigned long long)st->data.generation,
                 (unsigned long long)again->data.generation);
    tok_store_close(again);
    tok_store_close(st);
    return 0;
}
