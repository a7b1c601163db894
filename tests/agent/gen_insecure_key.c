/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper (never installed): generates on a PKCS#11 token a P-256 key
 * pair whose private key is CKA_SENSITIVE=false (CKA_EXTRACTABLE=false), a
 * key trustlinkd must refuse (issue 4). pkcs11-tool cannot make one (its
 * keypairgen has --sensitive but no way to say "not sensitive" with
 * "not extractable"), hence this helper.
 * Usage: gen_insecure_key MODULE TOKEN_LABEL PIN KEY_LABEL ID_HEX
 * Exit 0 when the pair was generated, 1 otherwise (the reason on stderr).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static int find_slot(CK_FUNCTION_LIST_PTR p, const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;

    if (p->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return -1;
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        size_t len = strlen(label);

        if (p->C_GetTokenInfo(slots[i], &ti) != CKR_OK || len > sizeof(ti.label))
            continue;
        if (memcmp(ti.label, label, len) == 0) {
            size_t k;

            for (k = len; k < sizeof(ti.label) && ti.label[k] == ' '; k++)
                ;
            if (k == sizeof(ti.label)) {
                *out = slots[i];
                return 0;
            }
        }
    }
    return -1;
}

static int parse_hex(const char *hex, unsigned char *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex), i;

    if (n == 0 || n % 2 != 0 || n / 2 > cap)
        return -1;
    for (i = 0; i < n / 2; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

int main(int argc, char **argv)
{
    /* DER OID 1.2.840.10045.3.1.7 (prime256v1). */
    static CK_BYTE ec_params[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST_PTR p;
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE pub, priv;
    unsigned char id[64];
    size_t id_len;
    void *lib;
    CK_RV rv;

    if (argc != 6) {
        fprintf(stderr, "usage: %s MODULE TOKEN_LABEL PIN KEY_LABEL ID_HEX\n", argv[0]);
        return 1;
    }
    if (parse_hex(argv[5], id, sizeof(id), &id_len) != 0) {
        fprintf(stderr, "bad ID_HEX %s\n", argv[5]);
        return 1;
    }
    {
        CK_ATTRIBUTE pub_t[] = {
            { CKA_EC_PARAMS, ec_params, sizeof(ec_params) },
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_VERIFY, &yes, sizeof(yes) },
            { CKA_LABEL, argv[4], strlen(argv[4]) },
            { CKA_ID, id, id_len },
        };
        CK_ATTRIBUTE priv_t[] = {
            { CKA_TOKEN, &yes, sizeof(yes) },
            { CKA_PRIVATE, &yes, sizeof(yes) },
            { CKA_SIGN, &yes, sizeof(yes) },
            { CKA_SENSITIVE, &no, sizeof(no) },    /* the point of this helper */
            { CKA_EXTRACTABLE, &no, sizeof(no) },
            { CKA_LABEL, argv[4], strlen(argv[4]) },
            { CKA_ID, id, id_len },
        };

        if ((lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
            fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
            return 1;
        }
        get_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
        if (get_list == NULL || get_list(&p) != CKR_OK || p->C_Initialize(NULL) != CKR_OK) {
            fprintf(stderr, "cannot initialise %s\n", argv[1]);
            return 1;
        }
        if (find_slot(p, argv[2], &slot) != 0) {
            fprintf(stderr, "token \"%s\" not found\n", argv[2]);
            return 1;
        }
        if ((rv = p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) !=
                CKR_OK ||
            (rv = p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)argv[3], strlen(argv[3]))) != CKR_OK) {
            fprintf(stderr, "open/login: CKR 0x%lx\n", (unsigned long)rv);
            return 1;
        }
        rv = p->C_GenerateKeyPair(s, &mech, pub_t, sizeof(pub_t) / sizeof(pub_t[0]), priv_t,
                                  sizeof(priv_t) / sizeof(priv_t[0]), &pub, &priv);
        if (rv != CKR_OK) {
            fprintf(stderr, "C_GenerateKeyPair: CKR 0x%lx\n", (unsigned long)rv);
            return 1;
        }
        {   /* The token kept what was asked. */
            CK_BBOOL sensitive = CK_TRUE, extractable = CK_TRUE;
            CK_ATTRIBUTE got[] = { { CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
                                   { CKA_EXTRACTABLE, &extractable, sizeof(extractable) } };

            if (p->C_GetAttributeValue(s, priv, got, 2) != CKR_OK || sensitive != CK_FALSE ||
                extractable != CK_FALSE) {
                fprintf(stderr, "the token did not keep CKA_SENSITIVE=false/CKA_EXTRACTABLE=false\n");
                return 1;
            }
        }
        p->C_Logout(s);
        p->C_CloseSession(s);
        p->C_Finalize(NULL);
    }
    return 0;
}
