/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-flight ledger (see inflight.h): a short list in send order; the
 * window is small, so a linear search per acknowledgement is enough.
 */
#include "inflight.h"

#include <string.h>

void agent_inflight_init(struct agent_inflight *l, size_t window)
{
    memset(l, 0, sizeof(*l));
    l->window = window ? window : 1;
}

bool agent_inflight_has_room(const struct agent_inflight *l)
{
    return l->count < l->window;
}

void agent_inflight_add(struct agent_inflight *l, struct agent_queue_item *item, int mid)
{
    item->mid = mid;
    item->next = NULL;
    if (l->tail)
        l->tail->next = item;
    else
        l->head = item;
    l->tail = item;
    l->count++;
}

bool agent_inflight_ack(struct agent_inflight *l, int mid)
{
    struct agent_queue_item *item = agent_inflight_take(l, mid);

    agent_queue_item_free(item);
    return item != NULL;
}

struct agent_queue_item *agent_inflight_take(struct agent_inflight *l, int mid)
{
    struct agent_queue_item *prev = NULL;

    for (struct agent_queue_item *it = l->head; it; prev = it, it = it->next) {
        if (it->mid != mid)
            continue;
        if (prev)
            prev->next = it->next;
        else
            l->head = it->next;
        if (l->tail == it)
            l->tail = prev;
        l->count--;
        it->next = NULL;
        return it;
    }
    return NULL;
}

size_t agent_inflight_requeue(struct agent_inflight *l, struct agent_queue *q)
{
    size_t n = l->count;

    for (struct agent_queue_item *it = l->head; it; it = it->next)
        it->mid = 0;
    agent_queue_prepend(q, l->head);
    l->head = l->tail = NULL;
    l->count = 0;
    return n;
}

void agent_inflight_clear(struct agent_inflight *l)
{
    while (l->head) {
        struct agent_queue_item *it = l->head;

        l->head = it->next;
        agent_queue_item_free(it);
    }
    l->tail = NULL;
    l->count = 0;
}
