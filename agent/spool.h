/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message spool: a durable record of the QoS 1 messages the agent has
 * accepted from local publishers and not yet seen acknowledged (PUBACK).
 *
 * One append-only file in the state directory. After an 8-byte file magic,
 * every record is
 *
 *   u32 magic "TLSR" | u32 body length | u32 CRC-32C of the body | body
 *   body: u8 kind | u64 seq | (kind MESSAGE) u64 accepted_unix_ms,
 *         u8 qos, u8 retain, u16 topic length, u32 payload length,
 *         topic bytes, payload bytes
 *
 * all integers little-endian. A MESSAGE record adds a message; a RETIRE
 * record (kind 2, no more fields) removes the message with that seq. The
 * file is rewritten (compacted) when retired records dominate it.
 *
 * Durability is the caller's choice: append writes the record to the file
 * (the page cache), sync makes every record appended so far durable with
 * one fdatasync (group commit). A message whose append and sync both
 * returned 0 survives a crash or power loss until it is retired.
 *
 * Reading back (open): records are applied in file order. A torn tail
 * (a record cut short by a crash) is truncated away; a corrupt record in
 * the middle (bad CRC or length) is skipped by searching for the next valid
 * record, and counted. Neither is fatal. A message whose RETIRE record was
 * lost comes back (a duplicate, which QoS 1 allows); a message whose own
 * record was corrupted is counted in the report.
 *
 * Owns: the file descriptor and a copy of every pending message.
 * Threads: none of its own; one owner calls it (the agent's loop). The
 * group-commit thread syncs a duplicate of its descriptor, nothing else.
 * Must never: follow a symlink, block on a FIFO, or drop a pending message
 * silently (a full spool refuses the new message and changes nothing).
 */
#ifndef TRUSTLINK_AGENT_SPOOL_H
#define TRUSTLINK_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on one record, checked on write and on read. */
#define AGENT_SPOOL_MAX_TOPIC 65535u
#define AGENT_SPOOL_MAX_PAYLOAD (256u * 1024u * 1024u)

struct agent_spool;

struct agent_spool_msg {
    uint64_t seq;              /* assigned by the spool, increasing */
    uint64_t accepted_unix_ms; /* when the publisher handed it over */
    int qos;
    bool retain;
    char *topic;               /* NUL-terminated copy */
    void *payload;
    size_t payload_len;
    struct agent_spool_msg *next; /* internal: seq order */
    struct agent_spool_msg *prev;
};

struct agent_spool_limits {
    size_t max_messages; /* pending messages; 0 = no limit */
    size_t max_bytes;    /* pending topic + payload bytes; 0 = no limit */
};

/* What open found in an existing file. */
struct agent_spool_report {
    size_t records_read;
    size_t messages_restored;  /* pending after replay */
    size_t corrupt_skipped;    /* corrupt regions skipped in the middle */
    uint64_t torn_bytes;       /* bytes of an incomplete tail, truncated */
    bool created;              /* no file was there */
    bool compacted;            /* rewritten at open */
};

struct agent_spool_stats {
    size_t pending;
    size_t pending_bytes;
    uint64_t oldest_accepted_unix_ms; /* 0 when empty */
    uint64_t file_bytes;
    uint64_t appends;
    uint64_t syncs;
    uint64_t compactions;
    uint64_t next_seq;
};

/* Opens (creating, mode 0600) the spool at path and replays it. The file
 * must be a regular file (O_NOFOLLOW, O_NONBLOCK: a FIFO or a link is
 * refused, never waited on). Returns 0, or -1 with err set and *out NULL. */
int agent_spool_open(const char *path, const struct agent_spool_limits *limits,
                     struct agent_spool **out, struct agent_spool_report *report,
                     char *err, size_t err_len);
void agent_spool_close(struct agent_spool *sp);

/* Limits may shrink below the content: nothing is dropped, appends fail
 * until it drains. */
void agent_spool_set_limits(struct agent_spool *sp, const struct agent_spool_limits *limits);

/* Writes a MESSAGE record and keeps a copy. Not durable until
 * agent_spool_sync. Returns 0 with *seq_out set, or -1 with err set and
 * the spool unchanged (full, too large, out of memory, write failed). */
int agent_spool_append(struct agent_spool *sp, const char *topic, const void *payload,
                       size_t payload_len, int qos, bool retain, uint64_t accepted_unix_ms,
                       uint64_t *seq_out, char *err, size_t err_len);

/* One fdatasync for everything appended since the last sync (a no-op when
 * nothing was). 0, or -1 with err set: then nothing appended since the last
 * successful sync may be called durable. */
int agent_spool_sync(struct agent_spool *sp, char *err, size_t err_len);

/* Removes a pending message (PUBACK seen, or refused for good) and writes
 * a RETIRE record (not synced: a RETIRE lost in a crash brings the message
 * back once, a duplicate QoS 1 allows). Unknown seq: 0, nothing written.
 * If the record cannot be written the message stays pending: -1. */
int agent_spool_retire(struct agent_spool *sp, uint64_t seq, char *err, size_t err_len);

/* Rewrites the file without retired records when they take more than half
 * of it (plus some slack). 1 compacted, 0 not needed, -1 failed with err set
 * (the spool stays usable: nothing pending is lost). Call it when idle. */
int agent_spool_compact_if_needed(struct agent_spool *sp, char *err, size_t err_len);

/* Pending messages in seq order; NULL at the end. Valid until the next
 * call that changes the spool. */
const struct agent_spool_msg *agent_spool_first(const struct agent_spool *sp);
const struct agent_spool_msg *agent_spool_next(const struct agent_spool_msg *msg);
const struct agent_spool_msg *agent_spool_find(const struct agent_spool *sp, uint64_t seq);

void agent_spool_stats(const struct agent_spool *sp, struct agent_spool_stats *out);

/* The descriptor records are appended to (it changes when the file is
 * compacted). For the group-commit thread (agent/publish_commit.h), which
 * only ever fdatasyncs its own duplicate of it. */
int agent_spool_fd(const struct agent_spool *sp);

/* CRC-32C (Castagnoli), exposed for the tests. */
uint32_t agent_spool_crc32c(const void *data, size_t len);

#endif
