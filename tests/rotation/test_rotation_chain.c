/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chain a rotation received, saved for restarts (agent/rotation_chain.c):
 * saved and loaded back for the leaf it continues, refused for a leaf it
 * does not, empty and missing files mean "none", garbage is reported, and
 * pruning keeps exactly the named key's file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "rotation_chain.h"
#include "test_certs.h"

#define DAY 86400

struct fixture {
    char dir[64];
    EVP_PKEY *root_key, *inter_key, *other_inter_key, *dev_key;
    X509 *root, *inter, *other_inter, *leaf, *leaf_from_root;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/tl-chain-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->root_key = new_key();
    f->inter_key = new_key();
    f->other_inter_key = new_key();
    f->dev_key = new_key();
    f->root = make_cert(f->root_key, "root", NULL, NULL, -DAY, DAY, 1, NULL, NULL);
    f->inter = make_cert(f->inter_key, "issuing-2", f->root, f->root_key, -DAY, DAY, 1, NULL, NULL);
    f->other_inter = make_cert(f->other_inter_key, "issuing-1", f->root, f->root_key, -DAY, DAY,
                               1, NULL, NULL);
    f->leaf = make_cert(f->dev_key, "device", f->inter, f->inter_key, -DAY, DAY, 0, "clientAuth",
                        NULL);
    f->leaf_from_root = make_cert(f->dev_key, "device", f->root, f->root_key, -DAY, DAY, 0,
                                  "clientAuth", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    X509_free(f->root);
    X509_free(f->inter);
    X509_free(f->other_inter);
    X509_free(f->leaf);
    X509_free(f->leaf_from_root);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->inter_key);
    EVP_PKEY_free(f->other_inter_key);
    EVP_PKEY_free(f->dev_key);
    free(f);
    return 0;
}

static STACK_OF(X509) *chain_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *sk = sk_X509_new_null();

    assert_non_null(sk);
    if (a)
        assert_true(sk_X509_push(sk, a) > 0);
    if (b)
        assert_true(sk_X509_push(sk, b) > 0);
    return sk;
}

static int exists(const struct fixture *f, const char *name)
{
    char path[160];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    return stat(path, &st) == 0;
}

static void saved_chain_comes_back_for_its_leaf(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *saved = chain_of(f->inter, f->root);
    STACK_OF(X509) *loaded = NULL;
    char err[256] = "";

    assert_int_equal(rotation_chain_save(f->dir, "0a0b", saved, err, sizeof(err)), 0);
    assert_true(exists(f, "chain-0a0b.pem"));
    assert_int_equal(rotation_chain_load(f->dir, "0a0b", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_LOADED);
    assert_non_null(loaded);
    assert_int_equal(sk_X509_num(loaded), 2);
    assert_int_equal(X509_cmp(sk_X509_value(loaded, 0), f->inter), 0);
    assert_int_equal(X509_cmp(sk_X509_value(loaded, 1), f->root), 0);
    sk_X509_pop_free(loaded, X509_free);
    sk_X509_free(saved);
}

static void chain_that_did_not_issue_the_leaf_is_refused(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *saved = chain_of(f->other_inter, NULL);
    STACK_OF(X509) *loaded = NULL;
    char err[256] = "";

    assert_int_equal(rotation_chain_save(f->dir, "0a0b", saved, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_load(f->dir, "0a0b", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_MISMATCH);
    assert_null(loaded);
    /* Same key, but a leaf issued straight by the root: not this chain's. */
    sk_X509_free(saved);
    saved = chain_of(f->inter, NULL);
    assert_int_equal(rotation_chain_save(f->dir, "0a0b", saved, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_load(f->dir, "0a0b", f->leaf_from_root, &loaded, err,
                                         sizeof(err)),
                     ROTATION_CHAIN_MISMATCH);
    assert_null(loaded);
    sk_X509_free(saved);
}

static void empty_or_missing_means_none(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *empty = chain_of(NULL, NULL);
    STACK_OF(X509) *loaded = NULL;
    char err[256] = "";

    assert_int_equal(rotation_chain_load(f->dir, "ffff", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_NONE);
    assert_int_equal(rotation_chain_save(f->dir, "ffff", empty, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_load(f->dir, "ffff", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_NONE);
    assert_int_equal(rotation_chain_save(f->dir, "eeee", NULL, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_load(f->dir, "eeee", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_NONE);
    assert_null(loaded);
    sk_X509_free(empty);
}

static void garbage_is_reported(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *loaded = NULL;
    char path[160], err[256] = "";
    char *pem = pem_of(f->inter, NULL);
    FILE *fp;

    snprintf(path, sizeof(path), "%s/chain-0c.pem", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    /* A good certificate, then a block that is not one. */
    fprintf(fp, "%s-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            pem);
    fclose(fp);
    assert_int_equal(rotation_chain_load(f->dir, "0c", f->leaf, &loaded, err, sizeof(err)),
                     ROTATION_CHAIN_BAD);
    assert_null(loaded);
    assert_non_null(strstr(err, "chain-0c.pem"));
    free(pem);
}

static void unwritable_directory_fails_cleanly(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *saved = chain_of(f->inter, NULL);
    char dir[96], err[256] = "";

    snprintf(dir, sizeof(dir), "%s/missing", f->dir);
    assert_int_equal(rotation_chain_save(dir, "0a", saved, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing"));
    sk_X509_free(saved);
}

static void prune_keeps_only_the_named_key(void **state)
{
    struct fixture *f = *state;
    STACK_OF(X509) *saved = chain_of(f->inter, NULL);
    char path[160], err[256] = "";
    FILE *fp;

    assert_int_equal(rotation_chain_save(f->dir, "01", saved, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_save(f->dir, "02", saved, err, sizeof(err)), 0);
    assert_int_equal(rotation_chain_save(f->dir, "03", saved, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/rotation.json", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(rotation_chain_prune(f->dir, "02"), 2);
    assert_false(exists(f, "chain-01.pem"));
    assert_true(exists(f, "chain-02.pem"));
    assert_false(exists(f, "chain-03.pem"));
    assert_true(exists(f, "rotation.json"));
    assert_int_equal(rotation_chain_prune(f->dir, NULL), 1);
    assert_false(exists(f, "chain-02.pem"));
    assert_int_equal(rotation_chain_prune("/nonexistent-trustlink-dir", "02"), 0);
    sk_X509_free(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(saved_chain_comes_back_for_its_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(chain_that_did_not_issue_the_leaf_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(empty_or_missing_means_none, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_directory_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_keeps_only_the_named_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
