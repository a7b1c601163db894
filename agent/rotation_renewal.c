/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation: automatic renewal scheduling (see rotation.h): when the
 * current certificate is due, when to try again after a failure, and the
 * timer step that starts an automatic rotation. The timing rules are the
 * pure functions of rotation_journal.h.
 */
#include "rotation.h"
#include "rotation_internal.h"

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "agent.h"
#include "log.h"
#include "time64.h"

/* The config's renewal settings as the pure timing functions take them. */
static void policy_from_config(const struct agent_rotation_config *rc, struct renewal_policy *p)
{
    renewal_policy_default(p);
    p->floor = rc->renew_floor_s;
    p->jitter_cap = rc->jitter_cap_s;
    p->min_interval = rc->min_interval_s;
    p->retry_base = rc->retry_base_s;
    p->retry_max = rc->retry_max_s;
}

void rotation_schedule_next_check(struct agent *a)
{
    const struct agent_rotation_config *rc = &a->config.rotation;
    struct agent_rotation *r = &a->rotation;
    struct renewal_policy p;

    if (!rc->enabled || !rc->auto_renew || r->due == 0 || a->cert.not_after_epoch == 0) {
        r->next_check = 0;
        return;
    }
    policy_from_config(rc, &p);
    r->next_check = renewal_next_attempt((int64_t)time(NULL), r->due,
                                         (int64_t)a->cert.not_after_epoch,
                                         (int64_t)r->last_attempt, r->consecutive_failures, &p);
}

int rotation_renewal_step(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    int64_t now_s = (int64_t)time(NULL);
    int wait_ms = (int)a->config.rotation.check_interval_ms;
    char err[600];

    if (r->next_check == 0)
        return wait_ms;
    if (now_s >= r->next_check && a->state == AGENT_STATE_CONNECTED) {
        agent_notice("rotation: the certificate is due for renewal (expires %s)",
                     a->cert.not_after);
        uint64_t failures_before = r->failures;

        if (agent_rotation_start(a, "auto", err, sizeof(err)) != 0) {
            agent_warn("rotation: automatic renewal not started: %s", err);
            /* A refusal before any step counts as a failed attempt too, so
             * the retry backs off instead of spinning. */
            if (r->failures == failures_before)
                r->consecutive_failures++;
            r->last_attempt = time(NULL);
            rotation_schedule_next_check(a);
        }
        return 0;
    }
    if (r->next_check > now_s && (r->next_check - now_s) * 1000 < wait_ms)
        wait_ms = (int)((r->next_check - now_s) * 1000);
    return wait_ms;
}

int64_t rotation_cert_renewal_due(const void *cert, const struct renewal_policy *p,
                                  uint32_t random)
{
    const X509 *x = cert;
    int64_t not_before, not_after;

    if (!x || time64_from_asn1(X509_get0_notBefore(x), &not_before) != 0 ||
        time64_from_asn1(X509_get0_notAfter(x), &not_after) != 0)
        return INT64_MIN;
    return renewal_due(not_before, not_after, p, random);
}

void agent_rotation_cert_changed(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    X509 *cert = a->identity ? agent_identity_certificate(a->identity) : NULL;
    struct renewal_policy p;
    int64_t due;

    r->due = 0;
    policy_from_config(&a->config.rotation, &p);
    due = rotation_cert_renewal_due(cert, &p, r->jitter_random);
    if (due != INT64_MIN)
        r->due = due;
    rotation_schedule_next_check(a);
}
