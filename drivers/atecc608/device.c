/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device lifetime and bookkeeping: open (parse, transport, bus lock, first
 * contact), close, last error, stats, wake-state queries, config-cache
 * helpers. Must never build packets or poll (exec.c does).
 */
#define _GNU_SOURCE 1 /* secure_getenv */
#include "device.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "exec.h"
#include "ops_internal.h"
#include "sign_engine.h"

/* The detail of the calling thread's latest failed call: per thread, so
 * a neighbour's failure on the same device never shows up as yours. */
static _Thread_local char thread_detail[ATECC_DETAIL_MAX];

void atecc_detail_set(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(thread_detail, sizeof(thread_detail), fmt, ap);
    va_end(ap);
}

const char *atecc_error_detail(void)
{
    return thread_detail;
}

atecc_err atecc_fail(struct atecc_device *dev, atecc_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dev->last_error, sizeof(dev->last_error), fmt, ap);
    va_end(ap);
    snprintf(thread_detail, sizeof(thread_detail), "%s", dev->last_error);
    return err;
}

uint64_t atecc_now(struct atecc_device *dev)
{
    return dev->clock.now_us(dev->clock.ctx);
}

void atecc_sleep_for(struct atecc_device *dev, uint64_t us)
{
    if (us > 0)
        dev->clock.sleep_us(dev->clock.ctx, us);
}

void atecc_wait_until(struct atecc_device *dev, uint64_t deadline_us)
{
    uint64_t now;

    if (dev->clock.wait_until_us != NULL) {
        dev->clock.wait_until_us(dev->clock.ctx, deadline_us);
        return;
    }
    now = atecc_now(dev);
    if (deadline_us > now)
        atecc_sleep_for(dev, deadline_us - now);
}

uint64_t atecc_chip_us(const struct atecc_device *dev, uint64_t ms)
{
    return (uint64_t)((double)ms * 1000.0 * dev->tp.time_scale);
}

uint16_t atecc_cfg_u16(const struct atecc_device *dev, unsigned offset)
{
    if (offset + 1 >= ATECC_CONFIG_SIZE)
        return 0;
    return (uint16_t)(dev->config[offset] | dev->config[offset + 1] << 8);
}

uint16_t atecc_slot_config(const struct atecc_device *dev, unsigned slot)
{
    return slot < ATECC_SLOT_COUNT ? atecc_cfg_u16(dev, ATECC_CFG_SLOT_CONFIG + 2 * slot) : 0;
}

uint16_t atecc_key_config(const struct atecc_device *dev, unsigned slot)
{
    return slot < ATECC_SLOT_COUNT ? atecc_cfg_u16(dev, ATECC_CFG_KEY_CONFIG + 2 * slot) : 0;
}

bool atecc_config_locked(const struct atecc_device *dev)
{
    return dev->config[ATECC_CFG_LOCK_CONFIG] != ATECC_LOCK_STATE_UNLOCKED;
}

bool atecc_data_locked(const struct atecc_device *dev)
{
    return dev->config[ATECC_CFG_LOCK_VALUE] != ATECC_LOCK_STATE_UNLOCKED;
}

bool atecc_slot_is_locked(const struct atecc_device *dev, unsigned slot)
{
    /* SlotLocked: bit N = slot N, 1 unlocked, 0 locked. */
    return slot < ATECC_SLOT_COUNT &&
           (atecc_cfg_u16(dev, ATECC_CFG_SLOT_LOCKED) & (1u << slot)) == 0;
}

static atecc_err open_transport(struct atecc_device *dev, const struct atecc_options *options,
                                char *detail, size_t detail_len)
{
    const struct atecc_transport_ops *ops = NULL;
    void *ctx = NULL;
    atecc_err rc = ATECC_OK;
    uint32_t hz = ATECC_IFACE_DEFAULT_BUS_HZ;
    double scale = 1.0;

    switch (dev->iface.scheme) {
    case ATECC_SCHEME_I2C:
        rc = atecc_i2c_open(dev->iface.path, dev->iface.addr7, dev->iface.bus_hz, &ops, &ctx,
                            detail, detail_len);
        dev->tp.owns_ctx = true;
        break;
    case ATECC_SCHEME_EMU:
        rc = atecc_emu_open(dev->iface.path, &ops, &ctx, detail, detail_len);
        dev->tp.owns_ctx = true;
        break;
    case ATECC_SCHEME_INPROC:
        if (options == NULL || options->inproc_ops == NULL || options->inproc_ops->write == NULL ||
            options->inproc_ops->read == NULL) {
            snprintf(detail, detail_len,
                     "interface 'inproc:' needs options.inproc_ops with write and read");
            return ATECC_E_ARGUMENT;
        }
        ops = options->inproc_ops;
        ctx = options->inproc_ctx;
        dev->tp.owns_ctx = false;
        break;
    }
    if (rc != ATECC_OK)
        return rc;
    dev->tp.ops = ops;
    dev->tp.ctx = ctx;
    dev->tp.addr7 = dev->iface.addr7;
    if (ops->bus_info != NULL)
        ops->bus_info(ctx, &hz, &scale);
    dev->tp.bus_hz = hz != 0 ? hz : ATECC_IFACE_DEFAULT_BUS_HZ;
    dev->tp.time_scale = scale >= 0.0 ? scale : 1.0;
    return ATECC_OK;
}

/* options first, then $TRUSTLINK_SIGN_POLICY, then TUNED. */
static enum atecc_sign_policy pick_policy(const struct atecc_options *options)
{
    const char *env = secure_getenv("TRUSTLINK_SIGN_POLICY");

    if (options != NULL && options->sign_policy != ATECC_SIGN_POLICY_DEFAULT)
        return options->sign_policy;
    if (env != NULL && strcmp(env, "naive") == 0)
        return ATECC_SIGN_POLICY_NAIVE;
    return ATECC_SIGN_POLICY_TUNED;
}

/* options first, then $TRUSTLINK_SIGN_LINGER_US (0 = none), then the
 * default; never above the maximum (the linger holds the bus lock). */
static unsigned pick_linger(const struct atecc_options *options)
{
    const char *env = secure_getenv("TRUSTLINK_SIGN_LINGER_US");
    unsigned long v = ATECC_SIGN_LINGER_DEFAULT_US;

    if (options != NULL && options->sign_linger_us == ATECC_SIGN_LINGER_NONE)
        return 0;
    if (options != NULL && options->sign_linger_us != 0) {
        v = options->sign_linger_us;
    } else if (env != NULL && env[0] >= '0' && env[0] <= '9') {
        char *end = NULL;

        v = strtoul(env, &end, 10);
        if (end == NULL || *end != '\0')
            v = ATECC_SIGN_LINGER_DEFAULT_US;
    }
    return v > ATECC_SIGN_LINGER_MAX_US ? ATECC_SIGN_LINGER_MAX_US : (unsigned)v;
}

atecc_err atecc_open(const char *interface, const struct atecc_options *options,
                     struct atecc_device **out, char *detail, size_t detail_len)
{
    struct atecc_device *dev = NULL;
    char scratch[8];
    bool mutex_ok = false;
    atecc_err rc = ATECC_E_ARGUMENT;

    if (detail == NULL || detail_len == 0) {
        detail = scratch;
        detail_len = sizeof(scratch);
    }
    detail[0] = '\0';
    if (out == NULL) {
        snprintf(detail, detail_len, "atecc_open: out is NULL");
        goto cleanup;
    }
    *out = NULL;
    dev = calloc(1, sizeof(*dev));
    if (dev == NULL) {
        rc = ATECC_E_NOMEM;
        snprintf(detail, detail_len, "out of memory");
        goto cleanup;
    }
    dev->lock.fd = -1;
    rc = atecc_iface_parse(interface, &dev->iface, detail, detail_len);
    if (rc != ATECC_OK)
        goto cleanup;
    snprintf(dev->interface, sizeof(dev->interface), "%s", interface);
    if (pthread_mutex_init(&dev->mutex, NULL) != 0) {
        rc = ATECC_E_NOMEM;
        snprintf(detail, detail_len, "pthread_mutex_init failed");
        goto cleanup;
    }
    mutex_ok = true;
    dev->clock = options != NULL && options->clock != NULL ? *options->clock
                                                           : *atecc_clock_default();
    dev->retries = options != NULL && options->retries != 0 ? options->retries : 3;
    dev->state = ATECC_ASLEEP;
    dev->divider = ATECC_CLOCK_M0;
    dev->sign_policy = pick_policy(options);
    dev->linger_us = pick_linger(options);
    rc = open_transport(dev, options, detail, detail_len);
    if (rc != ATECC_OK)
        goto cleanup;
    rc = atecc_buslock_open(&dev->lock, options != NULL ? options->lock_dir : NULL, &dev->iface,
                            dev->tp.ctx, options != NULL ? options->lock_timeout_ms : 0, detail,
                            detail_len);
    if (rc != ATECC_OK)
        goto cleanup;
    rc = atecc_first_contact(dev);
    if (rc != ATECC_OK) {
        snprintf(detail, detail_len, "%s", dev->last_error);
        goto cleanup;
    }
    if (dev->sign_policy == ATECC_SIGN_POLICY_TUNED) {
        rc = atecc_engine_create(dev);
        if (rc != ATECC_OK) {
            snprintf(detail, detail_len, "cannot set up the sign engine (out of memory)");
            goto cleanup;
        }
    }
    *out = dev;
    dev = NULL;
cleanup:
    if (dev != NULL) {
        atecc_buslock_close(&dev->lock);
        atecc_tp_close(&dev->tp);
        if (mutex_ok)
            pthread_mutex_destroy(&dev->mutex);
        free(dev);
    }
    return rc;
}

#ifdef ATECC608_BENCH_STATS
/*
 * Benchmark build only (atecc608_bench, never the shipped library):
 * $TRUSTLINK_ATECC_STATS names a file to which atecc_close appends this
 * device's counters as one JSON line. For measurement (tests/bench): it
 * reads the counters of the very device a PKCS#11 module used, which no
 * API of the module exposes. Mutex held.
 */
static void dump_stats(const struct atecc_device *dev)
{
    const char *path = secure_getenv("TRUSTLINK_ATECC_STATS");
    const struct atecc_stats *s = &dev->stats;
    FILE *f = NULL;

    if (path == NULL || path[0] == '\0')
        return;
    f = fopen(path, "ae");
    if (f == NULL)
        return;
    fprintf(f,
            "{\"policy\":\"%s\",\"linger_us\":%u,\"commands\":%llu,\"wake_pulses\":%llu,"
            "\"idles\":%llu,\"sleeps\":%llu,\"retries\":%llu,\"polls\":%llu,"
            "\"bus_bytes\":%llu,\"watchdog_avoided\":%llu,\"signatures\":%llu,"
            "\"sign_failures\":%llu,\"batches\":%llu,\"batch_max\":%llu,\"batch_sum\":%llu,"
            "\"linger_hits\":%llu,\"linger_idles\":%llu,\"chip_busy_us\":%llu,\"batch_hist\":[",
            atecc_sign_policy_name(dev->sign_policy), dev->linger_us,
            (unsigned long long)s->commands, (unsigned long long)s->wake_pulses,
            (unsigned long long)s->idles, (unsigned long long)s->sleeps,
            (unsigned long long)s->retries, (unsigned long long)s->polls,
            (unsigned long long)s->bus_bytes, (unsigned long long)s->watchdog_avoided,
            (unsigned long long)s->signatures, (unsigned long long)s->sign_failures,
            (unsigned long long)s->batches, (unsigned long long)s->batch_max,
            (unsigned long long)s->batch_sum, (unsigned long long)s->linger_hits,
            (unsigned long long)s->linger_idles, (unsigned long long)s->chip_busy_us);
    for (unsigned i = 0; i < ATECC_BATCH_HIST_BUCKETS; i++)
        fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)s->batch_hist[i]);
    fprintf(f, "]}\n");
    fclose(f);
}
#endif

void atecc_close(struct atecc_device *dev)
{
    if (dev == NULL)
        return;
    /* First: the worker finishes its queue and ends its linger window. */
    atecc_engine_destroy(dev);
    pthread_mutex_lock(&dev->mutex);
#ifdef ATECC608_BENCH_STATS
    dump_stats(dev);
#endif
    if (dev->state == ATECC_AWAKE) {
        /* Leave the chip idle for the next user, under the lock. */
        if (atecc_window_begin(dev) == ATECC_OK)
            atecc_window_end(dev);
    }
    atecc_buslock_close(&dev->lock);
    atecc_tp_close(&dev->tp);
    explicit_bzero(dev->config, sizeof(dev->config));
    pthread_mutex_unlock(&dev->mutex);
    pthread_mutex_destroy(&dev->mutex);
    free(dev);
}

enum atecc_sign_policy atecc_sign_policy_of(const struct atecc_device *dev)
{
    return dev != NULL ? dev->sign_policy : ATECC_SIGN_POLICY_TUNED;
}

const char *atecc_sign_policy_name(enum atecc_sign_policy policy)
{
    switch (policy) {
    case ATECC_SIGN_POLICY_NAIVE:
        return "naive";
    case ATECC_SIGN_POLICY_TUNED:
        return "tuned";
    case ATECC_SIGN_POLICY_DEFAULT:
    default:
        return "default";
    }
}

unsigned atecc_sign_linger_us(const struct atecc_device *dev)
{
    return dev != NULL ? dev->linger_us : 0;
}

enum atecc_chip_model atecc_model(const struct atecc_device *dev)
{
    return dev != NULL ? dev->model : ATECC_MODEL_UNKNOWN;
}

const char *atecc_interface(const struct atecc_device *dev)
{
    return dev != NULL ? dev->interface : "";
}

uint8_t atecc_address(const struct atecc_device *dev)
{
    return dev != NULL ? dev->iface.addr7 : 0;
}

enum atecc_wake_state atecc_wake_state(struct atecc_device *dev, uint64_t *awake_us)
{
    enum atecc_wake_state state;

    if (awake_us != NULL)
        *awake_us = 0;
    if (dev == NULL)
        return ATECC_ASLEEP;
    pthread_mutex_lock(&dev->mutex);
    state = dev->state;
    if (state == ATECC_AWAKE && awake_us != NULL)
        *awake_us = atecc_now(dev) - dev->wake_us;
    pthread_mutex_unlock(&dev->mutex);
    return state;
}

atecc_err atecc_idle(struct atecc_device *dev)
{
    atecc_err rc;

    if (dev == NULL)
        return ATECC_E_ARGUMENT;
    pthread_mutex_lock(&dev->mutex);
    rc = atecc_window_begin(dev);
    if (rc == ATECC_OK && dev->state == ATECC_AWAKE)
        rc = atecc_do_idle(dev);
    atecc_window_end(dev);
    pthread_mutex_unlock(&dev->mutex);
    return rc;
}

atecc_err atecc_sleep(struct atecc_device *dev)
{
    atecc_err rc;

    if (dev == NULL)
        return ATECC_E_ARGUMENT;
    pthread_mutex_lock(&dev->mutex);
    rc = atecc_window_begin(dev);
    /* An idle chip does not listen: wake it so it hears the sleep. */
    if (rc == ATECC_OK)
        rc = atecc_exec_reserve(dev, 0);
    if (rc == ATECC_OK)
        rc = atecc_do_sleep(dev);
    atecc_window_end(dev);
    pthread_mutex_unlock(&dev->mutex);
    return rc;
}

void atecc_stats_get(struct atecc_device *dev, struct atecc_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (dev == NULL)
        return;
    pthread_mutex_lock(&dev->mutex);
    *out = dev->stats;
    pthread_mutex_unlock(&dev->mutex);
}
