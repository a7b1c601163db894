/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox (see publish.h): the delivery queue file wired to the
 * agent's queue and in-flight ledger.
 */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "publish_commit.h"
#include "spool.h"

struct agent_outbox {
    enum agent_queue_durability mode;
    struct agent_spool *spool;          /* NULL: memory mode, or unavailable */
    struct agent_commit *commit;
    int lock_fd;
    char path[PATH_MAX];
    char unavailable[512];              /* why there is no spool in a durable mode */
    struct agent_spool_report opened;
    uint64_t retire_failures;
};

static const char *durability_name(enum agent_queue_durability mode)
{
    switch (mode) {
    case AGENT_DURABILITY_FSYNC: return "fsync";
    case AGENT_DURABILITY_BATCH: return "batch";
    case AGENT_DURABILITY_MEMORY: return "memory";
    }
    return "unknown";
}

static uint64_t unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One trustlinkd per state directory: a second one would append to the
 * same file and retire the first one's records. */
static int lock_state_dir(struct agent_outbox *ob, const char *dir, char *err, size_t err_len)
{
    char lock_path[PATH_MAX];
    struct stat st;

    if ((size_t)snprintf(lock_path, sizeof(lock_path), "%s/%s", dir, AGENT_OUTBOX_LOCK) >=
        sizeof(lock_path)) {
        snprintf(err, err_len, "state_dir %.300s: path too long", dir);
        return -1;
    }
    ob->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (ob->lock_fd < 0) {
        snprintf(err, err_len, "cannot open %.300s: %s", lock_path, strerror(errno));
        return -1;
    }
    if (fstat(ob->lock_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%.300s is not a regular file", lock_path);
        return -1;
    }
    if (flock(ob->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, err_len, "%.300s is locked: another trustlinkd uses this state directory",
                 lock_path);
        return -1;
    }
    return 0;
}

/* The file's pending messages go to the queue, oldest first, whatever
 * the bounds: they were accepted already. */
static void restore_pending(struct agent *a, struct agent_outbox *ob)
{
    struct agent_queue_item *first = NULL, *last = NULL;
    size_t lost = 0;

    for (const struct agent_spool_msg *m = agent_spool_first(ob->spool); m;
         m = agent_spool_next(m)) {
        struct agent_queue_item *item =
            agent_queue_item_new(m->topic, m->payload, m->payload_len, m->qos, m->retain);

        if (!item) {
            lost++;  /* stays in the file: sent after the next restart */
            continue;
        }
        item->spool_seq = m->seq;
        item->accepted_unix_ms = m->accepted_unix_ms;
        if (last)
            last->next = item;
        else
            first = item;
        last = item;
    }
    agent_queue_prepend(&a->queue, first);
    if (lost)
        agent_err("delivery queue: out of memory restoring %zu message(s); they stay in %s",
                  lost, ob->path);
}

static int open_spool(struct agent *a, struct agent_outbox *ob, char *err, size_t err_len)
{
    const char *dir = a->config.state_dir;
    struct agent_spool_limits limits = {a->config.telemetry.queue_max_messages,
                                        a->config.telemetry.queue_max_bytes};
    struct agent_spool_stats stats;
    struct stat st;

    if (!dir) {
        snprintf(err, err_len, "no state_dir configured");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create the state directory %.300s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "state_dir %.300s is not a directory", dir);
        return -1;
    }
    if ((size_t)snprintf(ob->path, sizeof(ob->path), "%s/%s", dir, AGENT_OUTBOX_FILE) >=
        sizeof(ob->path)) {
        snprintf(err, err_len, "state_dir %.300s: path too long", dir);
        return -1;
    }
    if (lock_state_dir(ob, dir, err, err_len) != 0)
        return -1;
    if (agent_spool_open(ob->path, &limits, &ob->spool, &ob->opened, err, err_len) != 0)
        return -1;
    agent_spool_stats(ob->spool, &stats);
    ob->commit = agent_commit_start(ob->mode, a->config.telemetry.queue_batch_ms,
                                    agent_spool_fd(ob->spool), stats.next_seq - 1, NULL, NULL,
                                    err, err_len);
    if (!ob->commit) {
        agent_spool_close(ob->spool);
        ob->spool = NULL;
        return -1;
    }
    return 0;
}

void agent_outbox_open(struct agent *a)
{
    struct agent_outbox *ob = calloc(1, sizeof(*ob));
    char err[512];

    a->outbox = ob;
    if (!ob) {
        agent_err("delivery queue: out of memory");
        return;
    }
    ob->lock_fd = -1;
    ob->mode = a->config.telemetry.queue_durability;
    if (ob->mode == AGENT_DURABILITY_MEMORY) {
        agent_info("delivery queue: memory only (telemetry.queue_durability \"memory\"): "
                   "accepted messages are lost if the agent stops before the broker has them");
        return;
    }
    if (open_spool(a, ob, err, sizeof(err)) != 0) {
        snprintf(ob->unavailable, sizeof(ob->unavailable), "%s", err);
        agent_err("delivery queue: %s; QoS 1 and 2 publishes are refused until this is fixed "
                  "and the agent restarted", err);
        if (ob->lock_fd >= 0) {
            close(ob->lock_fd);
            ob->lock_fd = -1;
        }
        return;
    }
    if (ob->opened.torn_bytes)
        agent_warn("delivery queue %s: cut %llu byte(s) of a record torn by a crash",
                   ob->path, (unsigned long long)ob->opened.torn_bytes);
    if (ob->opened.corrupt_skipped)
        agent_err("delivery queue %s: skipped %zu corrupt region(s); the messages in them are "
                  "lost", ob->path, ob->opened.corrupt_skipped);
    restore_pending(a, ob);
    agent_notice("delivery queue %s (%s): %zu message(s) from before the start, sent first",
                 ob->path, durability_name(ob->mode), ob->opened.messages_restored);
}

void agent_outbox_close(struct agent *a)
{
    struct agent_outbox *ob = a->outbox;

    if (!ob)
        return;
    agent_commit_stop(ob->commit);
    agent_spool_close(ob->spool);
    if (ob->lock_fd >= 0)
        close(ob->lock_fd);
    free(ob);
    a->outbox = NULL;
}

struct agent_commit *agent_outbox_commit(const struct agent *a)
{
    return a->outbox ? a->outbox->commit : NULL;
}

/* What a refused publisher can do about a full queue. */
static void add_full_hint(const struct agent *a, char *err, size_t err_len)
{
    size_t used = strlen(err);

    if (strncmp(err, "queue full", 10) != 0 || used + 1 >= err_len)
        return;
    snprintf(err + used, err_len - used, "%s",
             a->state == AGENT_STATE_CONNECTED
                 ? "; retry once the broker has acknowledged earlier messages"
                 : "; the agent is offline: retry after it reconnects");
}

static int store(struct agent *a, const char *topic, const void *payload, size_t len, int qos,
                 bool retain, uint64_t accepted_ms, uint64_t *seq, char *err, size_t err_len)
{
    struct agent_outbox *ob = a->outbox;
    struct agent_spool_stats st;
    size_t size = strlen(topic) + len;
    char why[512];

    if (!ob->spool) {
        snprintf(err, err_len, "the delivery queue file is unavailable (%.300s): QoS 1 and 2 "
                 "messages are refused until it is fixed; QoS 0 is accepted",
                 ob->unavailable);
        return -1;
    }
    agent_spool_stats(ob->spool, &st);
    if (st.pending >= a->config.telemetry.queue_max_messages) {
        snprintf(err, err_len, "queue full (%zu messages, the limit): message not accepted",
                 st.pending);
        return -1;
    }
    if (st.pending_bytes + size > a->config.telemetry.queue_max_bytes) {
        snprintf(err, err_len,
                 "queue full (%zu of %zu bytes used, message needs %zu): message not accepted",
                 st.pending_bytes, a->config.telemetry.queue_max_bytes, size);
        return -1;
    }
    if (agent_spool_append(ob->spool, topic, payload, len, qos, retain, accepted_ms, seq, why,
                           sizeof(why)) != 0) {
        snprintf(err, err_len, "message not accepted: the delivery queue file: %.300s", why);
        return -1;
    }
    return 0;
}

static void retire(struct agent_outbox *ob, uint64_t seq)
{
    char err[512];
    int rc;

    if (!seq || !ob || !ob->spool)
        return;
    if (agent_spool_retire(ob->spool, seq, err, sizeof(err)) != 0) {
        /* It stays pending: sent once more after a restart (QoS 1 allows it). */
        ob->retire_failures++;
        agent_warn("delivery queue: %s", err);
        return;
    }
    rc = agent_spool_compact_if_needed(ob->spool, err, sizeof(err));
    if (rc > 0)
        agent_commit_file_replaced(ob->commit, agent_spool_fd(ob->spool));
    else if (rc < 0)
        agent_warn("delivery queue: compaction failed (the file keeps growing until it "
                   "succeeds): %s", err);
}

int agent_outbox_accept(struct agent *a, const char *topic, const void *payload, size_t len,
                        int qos, bool retain, char *err, size_t err_len)
{
    struct agent_outbox *ob = a->outbox;
    bool durable = ob && ob->mode != AGENT_DURABILITY_MEMORY && qos > 0;
    uint64_t accepted_ms = unix_ms();
    uint64_t seq = 0;

    if (ob && ob->commit)
        agent_commit_set_request(ob->commit, 0);
    if (durable && store(a, topic, payload, len, qos, retain, accepted_ms, &seq, err, err_len) != 0) {
        add_full_hint(a, err, err_len);
        return -1;
    }
    if (agent_queue_push(&a->queue, topic, payload, len, qos, retain, err, err_len) != 0) {
        retire(ob, seq);
        add_full_hint(a, err, err_len);
        return -1;
    }
    a->queue.tail->spool_seq = seq;
    a->queue.tail->accepted_unix_ms = accepted_ms;
    if (durable) {
        agent_commit_appended(ob->commit, seq);
        if (ob->mode == AGENT_DURABILITY_FSYNC)
            agent_commit_set_request(ob->commit, seq);
    }
    return 0;
}

bool agent_outbox_acked(struct agent *a, int mid)
{
    struct agent_queue_item *item = agent_inflight_take(&a->inflight, mid);

    if (!item)
        return false;
    retire(a->outbox, item->spool_seq);
    agent_queue_item_free(item);
    return true;
}

void agent_outbox_dropped(struct agent *a, uint64_t spool_seq)
{
    retire(a->outbox, spool_seq);
}

void agent_outbox_reload(struct agent *a, const struct agent_config *fresh)
{
    struct agent_outbox *ob = a->outbox;
    const struct agent_telemetry_config *t = &fresh->telemetry;

    if (!ob)
        return;
    if (ob->spool) {
        struct agent_spool_limits limits = {t->queue_max_messages, t->queue_max_bytes};

        agent_spool_set_limits(ob->spool, &limits);
    }
    if (t->queue_durability != ob->mode ||
        (fresh->state_dir && a->config.state_dir && strcmp(fresh->state_dir, a->config.state_dir)))
        agent_warn("reload: telemetry.queue_durability and state_dir take effect after a restart "
                   "(running: %s in %s)", durability_name(ob->mode),
                   a->config.state_dir ? a->config.state_dir : "-");
    else if (t->queue_batch_ms != a->config.telemetry.queue_batch_ms &&
             ob->mode == AGENT_DURABILITY_BATCH)
        agent_warn("reload: telemetry.queue_batch_ms takes effect after a restart");
}

void agent_outbox_get_status(const struct agent *a, struct agent_outbox_status *out)
{
    const struct agent_outbox *ob = a->outbox;
    uint64_t oldest = 0, now = unix_ms();

    memset(out, 0, sizeof(*out));
    out->durability = durability_name(ob ? ob->mode : AGENT_DURABILITY_MEMORY);
    out->messages = a->queue.count + a->inflight.count;
    out->bytes = a->queue.bytes;
    for (const struct agent_queue_item *it = a->inflight.head; it; it = it->next) {
        out->bytes += strlen(it->topic) + it->payload_len;
        if (it->accepted_unix_ms && (!oldest || it->accepted_unix_ms < oldest))
            oldest = it->accepted_unix_ms;
    }
    if (a->queue.head && a->queue.head->accepted_unix_ms &&
        (!oldest || a->queue.head->accepted_unix_ms < oldest))
        oldest = a->queue.head->accepted_unix_ms;
    out->oldest_age_ms = oldest && now > oldest ? now - oldest : 0;
    if (ob && ob->spool) {
        struct agent_spool_stats st;
        struct agent_commit_stats cs = {0};

        agent_spool_stats(ob->spool, &st);
        if (ob->commit)
            agent_commit_get_stats(ob->commit, &cs);
        out->file = ob->path;
        out->stored = st.pending;
        out->file_bytes = st.file_bytes;
        out->fsyncs = cs.syncs;
        out->fsync_failures = cs.sync_failures;
        out->compactions = st.compactions;
        out->restored_at_start = ob->opened.messages_restored;
        out->corrupt_skipped_at_start = ob->opened.corrupt_skipped;
        out->torn_bytes_at_start = ob->opened.torn_bytes;
        out->retire_failures = ob->retire_failures;
    } else if (ob && ob->unavailable[0]) {
        out->error = ob->unavailable;
    }
}
