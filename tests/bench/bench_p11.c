/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sign benchmark's PKCS#11 side (see sign_bench.h): the module is
 * loaded exactly as any application loads it (dlopen + C_GetFunctionList),
 * in a forked child, one session per thread, CKM_ECDSA on 32-byte digests.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sign_bench.h"

struct worker {
    struct p11 *p;
    unsigned id;
    unsigned warmup;
    unsigned count;
    pthread_barrier_t *start;
    double *lat;
    unsigned failures;
    CK_RV first_error;
    double t_end;
};

int p11_load(struct p11 *p, const char *module)
{
    CK_C_GetFunctionList get = NULL;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    CK_C_INITIALIZE_ARGS args;

    memset(p, 0, sizeof(*p));
    p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (p->lib == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", module, dlerror());
        return -1;
    }
    *(void **)&get = dlsym(p->lib, "C_GetFunctionList");
    if (get == NULL || get(&p->f) != CKR_OK)
        return -1;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (p->f->C_Initialize(&args) != CKR_OK)
        return -1;
    if (p->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
        return -1;
    p->slot = slots[0];
    return 0;
}

void p11_unload(struct p11 *p)
{
    if (p->f != NULL)
        p->f->C_Finalize(NULL);
    if (p->lib != NULL)
        dlclose(p->lib);
}

int init_token(const char *module)
{
    struct p11 p;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h;
    int rc = -1;

    if (p11_load(&p, module) != 0)
        goto cleanup;
    memset(label, ' ', sizeof(label));
    memcpy(label, "bench", 5);
    if (p.f->C_InitToken(p.slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label) != CKR_OK ||
        p.f->C_OpenSession(p.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) != CKR_OK ||
        p.f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)) != CKR_OK ||
        p.f->C_InitPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) != CKR_OK)
        goto cleanup;
    p.f->C_CloseSession(h);
    rc = 0;
cleanup:
    p11_unload(&p);
    return rc;
}

static CK_OBJECT_HANDLE find_key(struct p11 *p, CK_SESSION_HANDLE h)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (p->f->C_FindObjectsInit(h, t, 1) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (p->f->C_FindObjects(h, &out, 1, &n) != CKR_OK || n != 1)
        out = CK_INVALID_HANDLE;
    p->f->C_FindObjectsFinal(h);
    return out;
}

CK_RV p11_session_key(struct p11 *p, CK_SESSION_HANDLE *h, CK_OBJECT_HANDLE *key)
{
    CK_RV rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, h);

    *key = CK_INVALID_HANDLE;
    if (rv == CKR_OK)
        *key = find_key(p, *h);
    if (rv == CKR_OK && *key == CK_INVALID_HANDLE)
        rv = CKR_KEY_HANDLE_INVALID;
    return rv;
}

CK_RV p11_login(struct p11 *p, CK_SESSION_HANDLE *login)
{
    CK_RV rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, login);

    if (rv == CKR_OK)
        rv = p->f->C_Login(*login, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
    return rv;
}

CK_RV sign_once(struct p11 *p, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned id,
                unsigned n)
{
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    CK_BYTE digest[32];
    CK_BYTE sig[64];
    CK_ULONG sig_len = sizeof(sig);
    CK_RV rv;

    for (unsigned i = 0; i < 32; i++)
        digest[i] = (CK_BYTE)(id * 131 + n * 17 + i);
    rv = p->f->C_SignInit(h, &mech, key);
    if (rv == CKR_OK)
        rv = p->f->C_Sign(h, digest, sizeof(digest), sig, &sig_len);
    if (rv == CKR_OK && sig_len != 64)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_RV rv;

    rv = p11_session_key(w->p, &h, &key);
    for (unsigned n = 0; rv == CKR_OK && n < w->warmup; n++)
        rv = sign_once(w->p, h, key, w->id, 100000 + n);
    if (rv != CKR_OK) {
        w->first_error = rv;
        w->failures = w->count;
    }
    pthread_barrier_wait(w->start);
    for (unsigned n = 0; rv == CKR_OK && n < w->count; n++) {
        double t0 = now_s();
        CK_RV r = sign_once(w->p, h, key, w->id, n);

        w->lat[n] = (now_s() - t0) * 1e3;
        if (r != CKR_OK) {
            w->failures++;
            if (w->first_error == CKR_OK)
                w->first_error = r;
        }
    }
    w->t_end = now_s();
    if (h != CK_INVALID_HANDLE)
        w->p->f->C_CloseSession(h);
    return NULL;
}

/* One run in this (child) process: load, log in, warm up, measure. */
int run_child(const char *module, unsigned threads, unsigned per_thread, int out_fd)
{
    struct p11 p;
    struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    pthread_barrier_t start;
    CK_SESSION_HANDLE login = CK_INVALID_HANDLE;
    static double lat[MAX_SIGS];
    unsigned total = threads * per_thread;
    unsigned failures = 0;
    CK_RV first_error = CKR_OK;
    double t0;
    double t_end = 0;
    char line[256];
    int rc = 1;

    if (threads == 0 || threads > MAX_THREADS || total > MAX_SIGS)
        return 2;
    if (p11_load(&p, module) != 0) {
        fprintf(stderr, "trustlink-bench: the module did not initialise\n");
        goto cleanup;
    }
    if (p11_login(&p, &login) != CKR_OK) {
        fprintf(stderr, "trustlink-bench: login failed\n");
        goto cleanup;
    }
    pthread_barrier_init(&start, NULL, threads + 1);
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){ .p = &p, .id = i, .warmup = 1, .count = per_thread,
                                .start = &start, .lat = &lat[i * per_thread] };
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
        if (first_error == CKR_OK)
            first_error = w[i].first_error;
        if (w[i].t_end > t_end)
            t_end = w[i].t_end;
    }
    pthread_barrier_destroy(&start);
    p.f->C_CloseSession(login);
    login = CK_INVALID_HANDLE;
    if (first_error != CKR_OK)
        fprintf(stderr, "trustlink-bench: C_Sign failed: CKR 0x%lx (%u failures)\n",
                (unsigned long)first_error, failures);
    snprintf(line, sizeof(line), "%u %.6f %.3f %.3f %.3f\n", failures, t_end - t0,
             percentile(lat, total, 0.50), percentile(lat, total, 0.99),
             percentile(lat, total, 1.0));
    if (write(out_fd, line, strlen(line)) != (ssize_t)strlen(line))
        goto cleanup;
    rc = 0;
cleanup:
    if (login != CK_INVALID_HANDLE)
        p.f->C_CloseSession(login);
    p11_unload(&p);  /* C_Finalize: the driver writes its counters */
    return rc;
}
