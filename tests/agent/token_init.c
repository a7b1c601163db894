/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper (never installed): initialises the first token of a
 * PKCS#11 module (C_InitToken with a label and SO PIN) and sets its user
 * PIN (SO login, C_InitPIN), as `pkcs11-tool --init-token` and
 * `--init-pin` do. It exists for the cross builds' end-to-end test: there
 * the module is an ARM library that the host's pkcs11-tool cannot load,
 * and this helper, built for the target, runs under the same emulator.
 * Usage: token_init MODULE TOKEN_LABEL SO_PIN USER_PIN
 * Exit 0 when both steps succeeded, 1 otherwise (the failed call and its
 * CKR_ value on stderr).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

/* Prints the failed call; returns whether rv is CKR_OK. */
static int ok(const char *call, CK_RV rv)
{
    if (rv == CKR_OK)
        return 1;
    fprintf(stderr, "token_init: %s: CKR 0x%lx\n", call, (unsigned long)rv);
    return 0;
}

static int init_token(CK_FUNCTION_LIST_PTR p, const char *label, const char *so_pin,
                      const char *user_pin)
{
    CK_UTF8CHAR padded[32];
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    int done = 0;

    if (strlen(label) > sizeof(padded)) {
        fprintf(stderr, "token_init: label longer than 32 bytes\n");
        return 0;
    }
    memset(padded, ' ', sizeof(padded));
    memcpy(padded, label, strlen(label));
    if (!ok("C_GetSlotList", p->C_GetSlotList(CK_TRUE, slots, &n)))
        return 0;
    if (n == 0) {
        fprintf(stderr, "token_init: the module has no token\n");
        return 0;
    }
    if (!ok("C_InitToken", p->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)so_pin,
                                          (CK_ULONG)strlen(so_pin), padded)))
        return 0;
    if (!ok("C_OpenSession", p->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                              NULL, NULL, &s)))
        return 0;
    if (ok("C_Login(SO)", p->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin,
                                     (CK_ULONG)strlen(so_pin)))) {
        done = ok("C_InitPIN", p->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin,
                                            (CK_ULONG)strlen(user_pin)));
        (void)p->C_Logout(s);
    }
    (void)p->C_CloseSession(s);
    return done;
}

int main(int argc, char **argv)
{
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST_PTR p = NULL;
    void *lib;
    int done = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: token_init MODULE TOKEN_LABEL SO_PIN USER_PIN\n");
        return 1;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "token_init: %s\n", dlerror());
        return 1;
    }
    *(void **)&get_list = dlsym(lib, "C_GetFunctionList");
    if (get_list != NULL && ok("C_GetFunctionList", get_list(&p)) &&
        ok("C_Initialize", p->C_Initialize(NULL))) {
        done = init_token(p, argv[2], argv[3], argv[4]);
        (void)p->C_Finalize(NULL);
    } else if (get_list == NULL) {
        fprintf(stderr, "token_init: no C_GetFunctionList in %s\n", argv[1]);
    }
    dlclose(lib);
    return done ? 0 : 1;
}
