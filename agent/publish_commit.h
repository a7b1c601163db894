/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit for the delivery queue's file (agent/spool.h): the thread
 * that makes appended records durable, so that neither the event loop nor
 * a publisher pays one fdatasync per message.
 *
 * How a durable publish flows ("fsync" mode):
 *   1. The control thread hands the request to the loop thread through
 *      its mailbox (agent/control_thread.c) and waits for the loop's
 *      answer (accepted or refused), not for the disk.
 *   2. The loop thread appends the record (a write into the page cache,
 *      no sync), queues the message (it may go out to the broker at once:
 *      sending before the sync is harmless, QoS 1 allows a duplicate),
 *      calls agent_commit_appended(seq) and agent_commit_set_request(seq),
 *      and answers the mailbox. It goes back to poll(): the connection,
 *      keepalive and acknowledgements never wait for the disk.
 *   3. The control thread takes the seq (agent_commit_take_request, which
 *      asks the commit thread for a sync covering it), holds the client's
 *      {"ok":true} (agent/control_reply.c) and goes on serving the other
 *      clients: their publishes are appended while the sync runs.
 *   4. The commit thread takes the highest appended seq, calls
 *      fdatasync on its own duplicate of the file descriptor, and marks
 *      every record up to that seq durable: one sync covers every record
 *      appended before it began (group commit, across clients); records
 *      appended later get the next sync. Each sync's end is announced on
 *      notify_fd.
 *   5. The control thread, woken by notify_fd, asks agent_commit_check
 *      for each held reply and sends the ones now durable (or the error
 *      of a failed sync), each client's replies in its request order.
 * "batch" mode: the commit thread syncs every batch_ms when something was
 * appended; publishers do not wait (the loss window is batch_ms plus one
 * sync). "memory" mode has no commit thread.
 *
 * The loop thread may compact the file (a new file, fsynced, renamed over
 * the old one); it then calls agent_commit_file_replaced, which makes
 * everything appended so far durable and points later syncs at the new
 * file. A sync running on the old file's duplicate at that moment is
 * harmless.
 *
 * Owns: the commit thread, a duplicate of the spool's descriptor, the
 * appended/durable watermarks and the sync counters (under one mutex),
 * and the eventfd that announces progress.
 * Must never: touch the spool's records or memory (only the loop thread
 * does), call the sync with its mutex held, or report a seq durable
 * before a sync that began after its append returned 0.
 */
#ifndef TRUSTLINK_AGENT_PUBLISH_COMMIT_H
#define TRUSTLINK_AGENT_PUBLISH_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Makes everything written to fd durable: fdatasync(fd) in the agent;
 * tests inject one they can observe and hold. 0, or -1 with err set. */
typedef int (*agent_commit_sync_fn)(void *ctx, int fd, char *err, size_t err_len);

struct agent_commit_stats {
    uint64_t syncs;
    uint64_t sync_failures;
    uint64_t appended_seq;
    uint64_t durable_seq;
};

struct agent_commit;

/* mode FSYNC or BATCH. fd is duplicated (the caller keeps its own); -1
 * is allowed with an injected sync. durable_seq: the highest seq already
 * on disk (what the spool replayed). sync NULL: fdatasync. */
struct agent_commit *agent_commit_start(enum agent_queue_durability mode, unsigned batch_ms,
                                        int fd, uint64_t durable_seq, agent_commit_sync_fn sync,
                                        void *sync_ctx, char *err, size_t err_len);
/* Syncs what was appended and not yet synced, stops the thread, frees. */
void agent_commit_stop(struct agent_commit *c);

/* Loop thread: records up to seq are written (not yet durable). */
void agent_commit_appended(struct agent_commit *c, uint64_t seq);
/* Loop thread, once per accepted publish: the seq its "ok" waits for,
 * 0 when it waits for nothing (QoS 0, batch mode). The control thread
 * takes it before it hands the loop another request, so one slot is
 * enough. */
void agent_commit_set_request(struct agent_commit *c, uint64_t seq);
/* Loop thread: the file was rewritten and synced (compaction). */
void agent_commit_file_replaced(struct agent_commit *c, int fd);

/* Control thread, after the loop answered a publish: the seq its reply
 * must wait for (0: none), taken out of the slot; a sync covering it is
 * requested. Never blocks on a sync. */
uint64_t agent_commit_take_request(struct agent_commit *c);
/* Where seq stands: 0 durable; 1 not yet (a later announcement on
 * notify_fd tells when to ask again); -1 with err set: the sync that
 * covered it failed, or the agent is stopping. Never blocks on a sync. */
int agent_commit_check(struct agent_commit *c, uint64_t seq, char *err, size_t err_len);
/* An eventfd (non-blocking) that becomes readable whenever a sync ended,
 * the file was replaced, or the commit is stopping; the reader drains it. */
int agent_commit_notify_fd(const struct agent_commit *c);
/* Waits until seq is durable (fsync mode: asks for a sync). */
int agent_commit_wait(struct agent_commit *c, uint64_t seq, char *err, size_t err_len);

void agent_commit_get_stats(struct agent_commit *c, struct agent_commit_stats *out);

#endif
