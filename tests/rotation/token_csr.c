/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver: builds a CSR with agent_csr_build for a private key on a
 * PKCS#11 token, loaded through libp11 (no engine, no key bytes on the
 * host: every signature is a C_Sign on the token).
 *   rotation_token_csr MODULE TOKEN_LABEL KEY_ID_HEX PIN SUBJECT OUT_PEM
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/err.h>

#include "csr.h"

static void to_hex(const unsigned char *id, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
    out[2 * n] = '\0';
}

int main(int argc, char **argv)
{
    PKCS11_CTX *ctx = NULL;
    PKCS11_SLOT *slots = NULL, *slot = NULL;
    PKCS11_KEY *keys = NULL;
    unsigned int n_slots = 0, n_keys = 0;
    EVP_PKEY *key = NULL;
    X509_NAME *subj = NULL;
    char err[512], *pem = NULL, hex[130];
    int rc = 1, loaded = 0;
    FILE *out;

    if (argc != 7) {
        fprintf(stderr, "usage: %s MODULE TOKEN_LABEL KEY_ID_HEX PIN SUBJECT OUT_PEM\n", argv[0]);
        return 64;
    }
    ctx = PKCS11_CTX_new();
    if (!ctx || PKCS11_CTX_load(ctx, argv[1]) != 0) {
        fprintf(stderr, "cannot load module %s\n", argv[1]);
        goto out;
    }
    loaded = 1;
    if (PKCS11_enumerate_slots(ctx, &slots, &n_slots) != 0) {
        fprintf(stderr, "cannot enumerate slots\n");
        goto out;
    }
    for (unsigned i = 0; i < n_slots && !slot; i++)
        if (slots[i].token && strcmp(slots[i].token->label, argv[2]) == 0)
            slot = &slots[i];
    if (!slot) {
        fprintf(stderr, "no token labelled %s\n", argv[2]);
        goto out;
    }
    if (PKCS11_login(slot, 0, argv[4]) != 0) {
        fprintf(stderr, "login failed\n");
        goto out;
    }
    if (PKCS11_enumerate_keys(slot->token, &keys, &n_keys) != 0) {
        fprintf(stderr, "cannot enumerate keys\n");
        goto out;
    }
    for (unsigned i = 0; i < n_keys && !key; i++) {
        if (keys[i].id_len * 2 + 1 > sizeof(hex))
            continue;
        to_hex(keys[i].id, keys[i].id_len, hex);
        if (strcmp(hex, argv[3]) == 0)
            key = PKCS11_get_private_key(&keys[i]);
    }
    if (!key) {
        fprintf(stderr, "no private key with id %s on %s\n", argv[3], argv[2]);
        goto out;
    }
    ERR_clear_error();
    if (agent_csr_parse_subject(argv[5], &subj, err, sizeof(err)) != 0 ||
        agent_csr_build(key, subj, &pem, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    out = fopen(argv[6], "w");
    if (!out || fputs(pem, out) < 0 || fclose(out) != 0) {
        fprintf(stderr, "%s: cannot write\n", argv[6]);
        goto out;
    }
    rc = 0;
out:
    free(pem);
    X509_NAME_free(subj);
    EVP_PKEY_free(key);   /* before the slots and the module (integration-facts 1) */
    if (slots)
        PKCS11_release_all_slots(ctx, slots, n_slots);
    if (ctx) {
        if (loaded)
            PKCS11_CTX_unload(ctx);
        PKCS11_CTX_free(ctx);
    }
    return rc;
}
