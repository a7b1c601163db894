/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper for the two-process test (two_processes.sh): loads a PKCS#11
 * module with dlopen, logs in, waits until GO_FILE exists (so two copies
 * start signing together), then signs COUNT messages "PREFIX-i" with
 * CKM_ECDSA_SHA256 and writes OUTDIR/PREFIX-i.msg and .sig (raw R || S).
 * Usage: p11_sign_loop MODULE TOKEN_LABEL KEY_LABEL PIN COUNT PREFIX OUTDIR GO_FILE
 * Exit 0 when every signature was made; the caller verifies them.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static int write_file(const char *dir, const char *name, const char *ext, const void *data, size_t len)
{
    char path[1024];
    FILE *f;
    int ok;
    snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
    if ((f = fopen(path, "wb")) == NULL)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int find_slot(CK_FUNCTION_LIST_PTR p, const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (p->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return -1;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        size_t len = strlen(label);
        if (p->C_GetTokenInfo(slots[i], &ti) == CKR_OK && len <= 32 && memcmp(ti.label, label, len) == 0 &&
            (len == 32 || ti.label[len] == ' ')) {
            *out = slots[i];
            return 0;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST_PTR p = NULL;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE key;
    CK_SLOT_ID slot;
    CK_ULONG n = 0;
    CK_RV rv;
    void *lib;
    long count;
    int status = 1;

    if (argc != 9) {
        fprintf(stderr, "usage: %s MODULE TOKEN_LABEL KEY_LABEL PIN COUNT PREFIX OUTDIR GO_FILE\n", argv[0]);
        return 2;
    }
    count = strtol(argv[5], NULL, 10);
    if ((lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    *(void **)&get_list = dlsym(lib, "C_GetFunctionList");
    if (get_list == NULL || get_list(&p) != CKR_OK || (rv = p->C_Initialize(NULL)) != CKR_OK) {
        fprintf(stderr, "C_Initialize failed\n");
        goto out;
    }
    if (find_slot(p, argv[2], &slot) != 0) {
        fprintf(stderr, "token '%s' not found\n", argv[2]);
        goto fini;
    }
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, argv[3], (CK_ULONG)strlen(argv[3])}};
    if ((rv = p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h)) != CKR_OK ||
        (rv = p->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)argv[4], (CK_ULONG)strlen(argv[4]))) != CKR_OK ||
        (rv = p->C_FindObjectsInit(h, t, 2)) != CKR_OK || (rv = p->C_FindObjects(h, &key, 1, &n)) != CKR_OK ||
        (rv = p->C_FindObjectsFinal(h)) != CKR_OK || n != 1) {
        fprintf(stderr, "session/login/find failed: 0x%lx (found %lu)\n", rv, n);
        goto fini;
    }
    /* Start line: both processes sign at the same time (bounded wait). */
    for (int i = 0; i < 3000 && access(argv[8], F_OK) != 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (long i = 0; i < count; i++) {
        char name[256], msg[384];
        CK_BYTE sig[64];
        CK_ULONG sig_len = sizeof(sig);
        snprintf(name, sizeof(name), "%s-%ld", argv[6], i);
        snprintf(msg, sizeof(msg), "message %s from pid %ld", name, (long)getpid());
        if ((rv = p->C_SignInit(h, &mech, key)) != CKR_OK ||
            (rv = p->C_Sign(h, (CK_BYTE_PTR)msg, (CK_ULONG)strlen(msg), sig, &sig_len)) != CKR_OK) {
            fprintf(stderr, "%s: sign failed: 0x%lx\n", name, rv);
            goto fini;
        }
        if (write_file(argv[7], name, "msg", msg, strlen(msg)) != 0 ||
            write_file(argv[7], name, "sig", sig, sig_len) != 0) {
            fprintf(stderr, "%s: cannot write to %s\n", name, argv[7]);
            goto fini;
        }
    }
    status = 0;
fini:
    p->C_Finalize(NULL);
out:
    dlclose(lib);
    return status;
}
