/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 entry points, part 1: library, slots, tokens, sessions, login,
 * slot events, and the function list (every v2.40 function; unsupported
 * ones return CKR_FUNCTION_NOT_SUPPORTED once the library is initialised). Thin: check arguments, take the module
 * lock, call slot.c / session.c.
 *
 * Owns: the module state (one instance, guarded by g_lock), the pid
 * recorded at C_Initialize (calls from a forked child get
 * CKR_CRYPTOKI_NOT_INITIALIZED until it initialises again), and fork
 * handlers keeping g_lock consistent across fork().
 * Locking: CKF_OS_LOCKING_OK is honoured with our own pthread mutex; an
 * application that offers only its own mutex callbacks gets CKR_CANT_LOCK.
 * The module lock guards the tables only: chip calls (sign, random, ECDH)
 * run without it (p11_chip_call_begin/end), so sessions in several
 * threads sign at once and the driver batches them. Key generation stays
 * under the lock because it runs inside a token-store transaction.
 * Threads: the provider creates none; the driver's tuned sign path runs a
 * worker thread, so under CKF_LIBRARY_CANT_CREATE_OS_THREADS (GnuTLS and
 * p11tool always pass it) chips are opened with the thread-less sign
 * policy instead.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "entry.h"
#include "log.h"
#include "mechanism.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_calls_done = PTHREAD_COND_INITIALIZER; /* chip_calls / g_waiters reached 0 */
static pthread_cond_t g_slot_event = PTHREAD_COND_INITIALIZER;  /* C_Finalize wakes slot waiters */
static unsigned g_waiters;          /* guarded by g_lock: threads in C_WaitForSlotEvent */
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static bool g_initialized;          /* guarded by g_lock */
static bool g_finalizing;           /* guarded by g_lock: C_Finalize waits for chip calls */
static struct p11_module g_mod;     /* guarded by g_lock */

static void atfork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void atfork_child(void) { pthread_mutex_unlock(&g_lock); }
static void register_atfork(void) { (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

CK_RV p11_enter(struct p11_module **m)
{
    pthread_mutex_lock(&g_lock);
    if (!g_initialized || g_finalizing || g_mod.pid != getpid()) {
        pthread_mutex_unlock(&g_lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    *m = &g_mod;
    return CKR_OK;
}

CK_RV p11_enter_session(CK_SESSION_HANDLE h, struct p11_module **m, struct p11_session **s)
{
    CK_RV rv = p11_enter(m);
    if (rv != CKR_OK)
        return rv;
    if ((*s = p11_session_get(*m, h)) == NULL) {
        pthread_mutex_unlock(&g_lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

CK_RV p11_leave(CK_RV rv)
{
    pthread_mutex_unlock(&g_lock);
    return rv;
}

/* Before C_Initialize every function answers CKR_CRYPTOKI_NOT_INITIALIZED,
 * the unsupported ones included (PKCS#11 v2.40 §5.1). */
static CK_RV initialized_then(CK_RV rv)
{
    struct p11_module *m;
    CK_RV e = p11_enter(&m);
    return e != CKR_OK ? e : p11_leave(rv);
}

void p11_chip_call_begin(struct p11_module *m, struct p11_session *s)
{
    s->busy++;
    m->chip_calls++;
    pthread_mutex_unlock(&g_lock);
}

CK_RV p11_chip_call_end(struct p11_module *m, struct p11_session *s)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&g_lock);
    if (--s->busy == 0 && s->closed) {
        p11_session_free(s);
        rv = CKR_SESSION_CLOSED;
    } else if (s->closed) {
        rv = CKR_SESSION_CLOSED;
    }
    if (--m->chip_calls == 0)
        pthread_cond_broadcast(&g_calls_done);
    return rv;
}

CK_RV C_Initialize(void *init_args)
{
    const CK_C_INITIALIZE_ARGS *a = init_args;
    char err[768];
    CK_RV rv;

    if (a != NULL) {
        int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
                (a->UnlockMutex != NULL);
        if (a->pReserved != NULL || (n != 0 && n != 4))
            return CKR_ARGUMENTS_BAD;
        if (n == 4 && !(a->flags & CKF_OS_LOCKING_OK))
            return CKR_CANT_LOCK;
    }
    pthread_once(&g_atfork_once, register_atfork);
    pthread_mutex_lock(&g_lock);
    if (g_initialized && g_mod.pid == getpid()) {
        pthread_mutex_unlock(&g_lock);
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    if (g_initialized) {
        /* A forked child: drop the parent's state without touching the
         * parent's chip connections (threads in chip calls at fork time
         * do not exist here, so their counts are dropped too). */
        p11_module_fini(&g_mod, false);
        g_initialized = false;
    }
    g_finalizing = false;
    rv = p11_module_init(&g_mod, a != NULL && (a->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS) != 0,
                         err, sizeof(err));
    if (rv == CKR_OK)
        g_initialized = true;
    pthread_mutex_unlock(&g_lock);
    return rv;
}

CK_RV C_Finalize(void *reserved)
{
    struct p11_module *m;
    CK_RV rv;
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    /* New calls now see CKR_CRYPTOKI_NOT_INITIALIZED; calls inside the
     * chip finish first, since they use the chip and their sessions. */
    g_finalizing = true;
    pthread_cond_broadcast(&g_slot_event);
    while (m->chip_calls > 0 || g_waiters > 0)
        pthread_cond_wait(&g_calls_done, &g_lock);
    p11_module_fini(m, true);
    g_initialized = false;
    g_finalizing = false;
    return p11_leave(CKR_OK);
}

static void pad(unsigned char *dst, size_t n, const char *src)
{
    memset(dst, ' ', n);
    memcpy(dst, src, strnlen(src, n));
}

CK_RV C_GetInfo(CK_INFO_PTR info)
{
    struct p11_module *m;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (info == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof(info->manufacturerID), "trustlink");
    pad(info->libraryDescription, sizeof(info->libraryDescription), "trustlink ATECC608 PKCS#11");
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    return p11_leave(CKR_OK);
}

CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    struct p11_module *m;
    CK_ULONG n = 0;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (count == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    for (size_t i = 0; i < m->n_tokens; i++) {
        if (token_present && p11_token_ensure(m, &m->tokens[i]) != CKR_OK)
            continue;
        if (list != NULL && n < *count)
            list[n] = m->tokens[i].id;
        n++;
    }
    rv = (list != NULL && n > *count) ? CKR_BUFFER_TOO_SMALL : CKR_OK;
    *count = n;
    return p11_leave(rv);
}

CK_RV C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
    struct p11_module *m;
    struct p11_token *tok;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (info == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((tok = p11_slot_get(m, id)) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    (void)p11_token_ensure(m, tok);
    p11_slot_info(tok, info);
    return p11_leave(CKR_OK);
}

CK_RV C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
    struct p11_module *m;
    struct p11_token *tok;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (info == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((tok = p11_slot_get(m, id)) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    return p11_leave(p11_token_info(m, tok, info));
}

/* How often a blocked C_WaitForSlotEvent probes the absent tokens. */
#define SLOT_PROBE_INTERVAL_MS 1000

static void deadline_in_ms(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);  /* pthread_cond_timedwait's default clock */
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* An event is a token that came (its chip answers again) or went (a chip
 * call found it gone) since the last call. CKF_DONT_BLOCK answers at once;
 * otherwise the call waits, probing absent tokens now and then, until an
 * event or C_Finalize (CKR_CRYPTOKI_NOT_INITIALIZED, PKCS#11 v2.40 §5.5). */
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, void *reserved)
{
    struct p11_module *m;
    struct timespec deadline;
    CK_RV rv;

    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (slot == NULL || reserved != NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (p11_slot_take_event(m, slot))
        return p11_leave(CKR_OK);
    if (flags & CKF_DONT_BLOCK)
        return p11_leave(CKR_NO_EVENT);
    g_waiters++;
    for (;;) {
        deadline_in_ms(&deadline, SLOT_PROBE_INTERVAL_MS);
        (void)pthread_cond_timedwait(&g_slot_event, &g_lock, &deadline);
        if (g_finalizing) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
            break;
        }
        p11_slot_probe_absent(m);
        if (p11_slot_take_event(m, slot)) {
            rv = CKR_OK;
            break;
        }
    }
    if (--g_waiters == 0)
        pthread_cond_broadcast(&g_calls_done);
    return p11_leave(rv);
}

CK_RV C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    struct p11_module *m;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (count == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (p11_slot_get(m, id) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    return p11_leave(p11_mech_list(list, count));
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    struct p11_module *m;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (info == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (p11_slot_get(m, id) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    return p11_leave(p11_mech_info(type, info));
}

CK_RV C_InitToken(CK_SLOT_ID id, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
    struct p11_module *m;
    struct p11_token *tok;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (label == NULL || (pin == NULL && pin_len > 0))
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((tok = p11_slot_get(m, id)) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    if ((rv = p11_token_ensure(m, tok)) != CKR_OK)
        return p11_leave(rv);
    return p11_leave(p11_token_init(m, tok, pin, pin_len, label));
}

CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (pin == NULL && pin_len > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (!(s->flags & CKF_RW_SESSION))
        return p11_leave(CKR_SESSION_READ_ONLY);
    return p11_leave(p11_token_init_pin(&m->tokens[s->slot], pin, pin_len));
}

CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin,
               CK_ULONG new_len)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if ((old_pin == NULL && old_len > 0) || (new_pin == NULL && new_len > 0))
        return p11_leave(CKR_ARGUMENTS_BAD);
    if (!(s->flags & CKF_RW_SESSION))
        return p11_leave(CKR_SESSION_READ_ONLY);
    return p11_leave(p11_token_set_pin(&m->tokens[s->slot], old_pin, old_len, new_pin, new_len));
}

CK_RV C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, void *app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR out)
{
    struct p11_module *m;
    struct p11_token *tok;
    CK_RV rv;
    (void)app;
    (void)notify; /* no callbacks are ever made */
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (out == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    if ((tok = p11_slot_get(m, id)) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    if ((rv = p11_token_ensure(m, tok)) != CKR_OK)
        return p11_leave(rv);
    return p11_leave(p11_session_open(m, tok, flags, out));
}

CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
    struct p11_module *m;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    return p11_leave(p11_session_close(m, h));
}

CK_RV C_CloseAllSessions(CK_SLOT_ID id)
{
    struct p11_module *m;
    CK_RV rv;
    if ((rv = p11_enter(&m)) != CKR_OK)
        return rv;
    if (p11_slot_get(m, id) == NULL)
        return p11_leave(CKR_SLOT_ID_INVALID);
    p11_session_close_all(m, id);
    return p11_leave(CKR_OK);
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (info == NULL)
        return p11_leave(CKR_ARGUMENTS_BAD);
    info->slotID = s->slot;
    info->state = p11_session_state(m, s);
    info->flags = s->flags;
    info->ulDeviceError = 0;
    return p11_leave(CKR_OK);
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR len)
{
    (void)h;
    (void)state;
    (void)len;
    return initialized_then(CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG len, CK_OBJECT_HANDLE ek,
                          CK_OBJECT_HANDLE ak)
{
    (void)h;
    (void)state;
    (void)len;
    (void)ek;
    (void)ak;
    return initialized_then(CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    struct p11_module *m;
    struct p11_session *s;
    struct p11_token *tok;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    if (pin == NULL && pin_len > 0)
        return p11_leave(CKR_ARGUMENTS_BAD);
    tok = &m->tokens[s->slot];
    if (user == CKU_CONTEXT_SPECIFIC) {
        /* No key needs CKA_ALWAYS_AUTHENTICATE; accept a re-check of the
         * user PIN during an operation, as the spec allows. */
        if (!s->sign.active)
            return p11_leave(CKR_OPERATION_NOT_INITIALIZED);
        if (tok->login != P11_USER)
            return p11_leave(CKR_USER_NOT_LOGGED_IN);
        tok->login = P11_PUBLIC;
        rv = p11_token_login(m, tok, CKU_USER, pin, pin_len);
        tok->login = P11_USER;
        return p11_leave(rv);
    }
    return p11_leave(p11_token_login(m, tok, user, pin, pin_len));
}

CK_RV C_Logout(CK_SESSION_HANDLE h)
{
    struct p11_module *m;
    struct p11_session *s;
    CK_RV rv;
    if ((rv = p11_enter_session(h, &m, &s)) != CKR_OK)
        return rv;
    return p11_leave(p11_token_logout(m, &m->tokens[s->slot]));
}

/* ---- unsupported functions ---- */

#define NOT_SUPPORTED(name, params, uses)                     \
    CK_RV name params                                         \
    {                                                         \
        uses;                                                 \
        return initialized_then(CKR_FUNCTION_NOT_SUPPORTED);  \
    }

NOT_SUPPORTED(C_EncryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
              (void)h; (void)m; (void)k)
NOT_SUPPORTED(C_Encrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_EncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_EncryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol), (void)h; (void)o; (void)ol)
NOT_SUPPORTED(C_DecryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
              (void)h; (void)m; (void)k)
NOT_SUPPORTED(C_Decrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_DecryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_DecryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol), (void)h; (void)o; (void)ol)
NOT_SUPPORTED(C_DigestKey, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k), (void)h; (void)k)
NOT_SUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
              (void)h; (void)m; (void)k)
NOT_SUPPORTED(C_SignRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
              (void)h; (void)m; (void)k)
NOT_SUPPORTED(C_VerifyRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_DigestEncryptUpdate,
              (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_DecryptDigestUpdate,
              (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_SignEncryptUpdate,
              (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_DecryptVerifyUpdate,
              (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)d; (void)l; (void)o; (void)ol)
NOT_SUPPORTED(C_GenerateKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                              CK_OBJECT_HANDLE_PTR k),
              (void)h; (void)m; (void)t; (void)n; (void)k)
NOT_SUPPORTED(C_WrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k,
                          CK_BYTE_PTR o, CK_ULONG_PTR ol),
              (void)h; (void)m; (void)w; (void)k; (void)o; (void)ol)
NOT_SUPPORTED(C_UnwrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE u, CK_BYTE_PTR w,
                            CK_ULONG wl, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k),
              (void)h; (void)m; (void)u; (void)w; (void)wl; (void)t; (void)n; (void)k)

/* Legacy parallel-function calls (PKCS#11 §5.16). */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
    (void)h;
    return initialized_then(CKR_FUNCTION_NOT_PARALLEL);
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
    (void)h;
    return initialized_then(CKR_FUNCTION_NOT_PARALLEL);
}

static CK_FUNCTION_LIST function_list = {
    {2, 40},
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
    C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
    C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
    C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects,
    C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit,
    C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey,
    C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,
    C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover,
    C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
    C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom,
    C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}
