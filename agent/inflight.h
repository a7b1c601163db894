/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-flight ledger: the agent's own copy of every QoS 1/2 message it
 * handed to the MQTT client and the broker has not acknowledged yet.
 *
 * libmosquitto 2.0.11 discards its unacknowledged messages when a client
 * is destroyed (integration-facts.md 7), so the agent keeps each one,
 * keyed by message id, until its PUBACK, and puts the open ones back at
 * the head of the queue, in order, whenever the client goes away
 * (QoS 1 = at least once: a duplicate is possible, a loss is not).
 * QoS 0 messages are never recorded (libmosquitto acknowledges them
 * inside mosquitto_publish, before the id is even known).
 *
 * Owns: the items it holds (taken from agent/queue.h).
 * Must never: hold more than its window; forget an item without an
 * acknowledgement or a requeue.
 */
#ifndef TRUSTLINK_AGENT_INFLIGHT_H
#define TRUSTLINK_AGENT_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "queue.h"

/* Messages the agent lets the client hold unacknowledged at once. The
 * client's own limit (MOSQ_OPT_SEND_MAXIMUM) is set a little higher, so
 * the agent's own status and rotation messages never push one of these
 * into libmosquitto's unbounded backlog. */
#define AGENT_INFLIGHT_WINDOW 20u

struct agent_inflight {
    struct agent_queue_item *head;   /* oldest first */
    struct agent_queue_item *tail;
    size_t count;
    size_t window;
};

void agent_inflight_init(struct agent_inflight *l, size_t window);
bool agent_inflight_has_room(const struct agent_inflight *l);
/* Records item (ownership taken) as sent with message id mid. */
void agent_inflight_add(struct agent_inflight *l, struct agent_queue_item *item, int mid);
/* PUBACK for mid: frees its record. False if mid is not recorded (a QoS 0
 * message, or an id of a client already replaced). */
bool agent_inflight_ack(struct agent_inflight *l, int mid);
/* PUBACK for mid: detaches its record for the caller (who retires its
 * copy on disk, then frees it); NULL if mid is not recorded. */
struct agent_queue_item *agent_inflight_take(struct agent_inflight *l, int mid);
/* Every open message back to the head of q, oldest first; returns how many. */
size_t agent_inflight_requeue(struct agent_inflight *l, struct agent_queue *q);
void agent_inflight_clear(struct agent_inflight *l);

#endif
