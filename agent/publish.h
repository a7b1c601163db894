/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox: where an accepted message lives until the broker has it.
 *
 * Every accepted message goes into the agent's bounded queue
 * (agent/queue.h), then into the in-flight ledger (agent/inflight.h)
 * while the broker has not acknowledged it. In the durable modes
 * (telemetry.queue_durability "fsync", the default, and "batch") a QoS 1/2
 * message is also written to the delivery queue file, STATE_DIR/outbox.spool
 * (agent/spool.h), before it is queued, and retired from it on PUBACK (or
 * when the MQTT client refuses it for good). At start the file's pending
 * messages are put in the queue, in their order, before any new publish is
 * accepted. QoS 0 messages and the agent's own messages (status,
 * heartbeat, rotation) are never written.
 *
 * Bounds: telemetry.queue_max_messages / queue_max_bytes bound both the
 * queue and the file's pending messages (those in flight included); a
 * publish over them is refused ("queue full ..."), nothing is dropped.
 *
 * "ok" in fsync mode waits for the group commit (agent/publish_commit.h:
 * the control thread waits, the loop thread does not). A compaction of
 * the file (when retired records take more than half of it plus 64 KiB)
 * runs on the loop thread after a PUBACK and syncs there: its cost is
 * bounded by the pending messages, and it is rare. A state directory
 * that cannot hold the file (missing and not creatable, a FIFO or a link
 * in its place, another trustlinkd using it) does not stop the agent: it
 * stays connected and refuses QoS 1/2 publishes with the reason, which
 * status shows too; it never silently falls back to memory.
 *
 * Owns: the spool, its lock file and the commit thread.
 * Threads: loop thread only, except agent_outbox_commit's object.
 * Must never: drop an accepted message without a log line and a count;
 * answer ok in fsync mode before the record is synced.
 */
#ifndef TRUSTLINK_AGENT_PUBLISH_H
#define TRUSTLINK_AGENT_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct agent_commit;
struct agent_config;

#define AGENT_OUTBOX_FILE "outbox.spool"
#define AGENT_OUTBOX_LOCK "outbox.lock"

/* At agent_init, after the queue exists: opens the file (durable modes)
 * and queues what it holds. Never fails the agent: a problem is logged,
 * kept for status and given to each durable publish. */
void agent_outbox_open(struct agent *a);
/* Syncs (batch mode), closes, frees. */
void agent_outbox_close(struct agent *a);

/* Stores (durable modes, QoS > 0) and queues a validated message whose
 * topic is complete. 0, or -1 with err set and nothing kept. */
int agent_outbox_accept(struct agent *a, const char *topic, const void *payload, size_t len,
                        int qos, bool retain, char *err, size_t err_len);
/* PUBACK for mid: the message leaves the ledger and the file. True if
 * mid was one of ours. */
bool agent_outbox_acked(struct agent *a, int mid);
/* A queued message the MQTT client refuses for good leaves the file. */
void agent_outbox_dropped(struct agent *a, uint64_t spool_seq);
/* A reload: new bounds apply at once; a changed mode or state directory
 * after a restart (logged). */
void agent_outbox_reload(struct agent *a, const struct agent_config *fresh);

/* The group-commit object for the control thread (NULL: nothing to wait for). */
struct agent_commit *agent_outbox_commit(const struct agent *a);

/* What status shows as "queue" (agent/report.c). */
struct agent_outbox_status {
    const char *durability;       /* "fsync", "batch", "memory" */
    uint64_t messages;            /* held: queued + in flight */
    uint64_t bytes;               /* their topic + payload bytes */
    uint64_t oldest_age_ms;       /* 0 when none */
    const char *file;             /* NULL: no queue file */
    uint64_t stored;              /* messages in the file */
    uint64_t file_bytes;
    uint64_t fsyncs;
    uint64_t fsync_failures;
    uint64_t compactions;
    uint64_t restored_at_start;
    uint64_t corrupt_skipped_at_start;
    uint64_t torn_bytes_at_start;
    uint64_t retire_failures;
    const char *error;            /* why a durable mode has no file; NULL */
};
/* Pointers stay valid until the outbox changes (loop thread). */
void agent_outbox_get_status(const struct agent *a, struct agent_outbox_status *out);

#endif
