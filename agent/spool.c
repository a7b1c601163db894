/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The message spool (see spool.h for the file format and the promises).
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "write_all.h"

static const unsigned char file_magic[8] = {'T', 'L', 'S', 'P', 'O', 'O', 'L', 1};
static const unsigned char record_magic[4] = {'T', 'L', 'S', 'R'};

enum { HEADER_LEN = 12, KIND_MESSAGE = 1, KIND_RETIRE = 2 };
enum { RETIRE_BODY_LEN = 1 + 8, MESSAGE_FIXED_LEN = 1 + 8 + 8 + 1 + 1 + 2 + 4 };

/* Compact when the file holds this much more than its live records. */
#define COMPACT_SLACK_BYTES (64u * 1024u)

struct agent_spool {
    int fd;
    char *path;
    struct agent_spool_limits limits;
    struct agent_spool_msg *head;
    struct agent_spool_msg *tail;
    size_t pending;
    size_t pending_bytes;  /* topic + payload, as the limits count */
    uint64_t live_file_bytes; /* bytes the live MESSAGE records take */
    uint64_t file_bytes;
    uint64_t next_seq;
    bool dirty;            /* appended since the last sync */
    uint64_t appends;
    uint64_t syncs;
    uint64_t compactions;
};

uint32_t agent_spool_crc32c(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static size_t message_record_len(size_t topic_len, size_t payload_len)
{
    return HEADER_LEN + MESSAGE_FIXED_LEN + topic_len + payload_len;
}

static void free_msg(struct agent_spool_msg *m)
{
    if (m == NULL)
        return;
    free(m->topic);
    free(m->payload);
    free(m);
}

static void unlink_msg(struct agent_spool *sp, struct agent_spool_msg *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        sp->head = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    else
        sp->tail = m->prev;
    sp->pending--;
    sp->pending_bytes -= strlen(m->topic) + m->payload_len;
    sp->live_file_bytes -= message_record_len(strlen(m->topic), m->payload_len);
}

/* Keeps seq order even for records replayed out of order. */
static void insert_msg(struct agent_spool *sp, struct agent_spool_msg *m)
{
    struct agent_spool_msg *after = sp->tail;
    while (after != NULL && after->seq > m->seq)
        after = after->prev;
    m->prev = after;
    m->next = after != NULL ? after->next : sp->head;
    if (m->next != NULL)
        m->next->prev = m;
    else
        sp->tail = m;
    if (after != NULL)
        after->next = m;
    else
        sp->head = m;
    sp->pending++;
    sp->pending_bytes += strlen(m->topic) + m->payload_len;
    sp->live_file_bytes += message_record_len(strlen(m->topic), m->payload_len);
}

const struct agent_spool_msg *agent_spool_first(const struct agent_spool *sp)
{
    return sp->head;
}

const struct agent_spool_msg *agent_spool_next(const struct agent_spool_msg *msg)
{
    return msg->next;
}

const struct agent_spool_msg *agent_spool_find(const struct agent_spool *sp, uint64_t seq)
{
    for (struct agent_spool_msg *m = sp->head; m != NULL; m = m->next)
        if (m->seq == seq)
            return m;
    return NULL;
}

/* Builds one record (header + body) in a new buffer. */
static unsigned char *encode_record(int kind, const struct agent_spool_msg *m, size_t *len_out)
{
    size_t topic_len = kind == KIND_MESSAGE ? strlen(m->topic) : 0;
    size_t body_len = kind == KIND_MESSAGE ? MESSAGE_FIXED_LEN + topic_len + m->payload_len
                                           : RETIRE_BODY_LEN;
    unsigned char *rec = malloc(HEADER_LEN + body_len);
    if (rec == NULL)
        return NULL;
    unsigned char *body = rec + HEADER_LEN;
    body[0] = (unsigned char)kind;
    put_u64(body + 1, m->seq);
    if (kind == KIND_MESSAGE) {
        put_u64(body + 9, m->accepted_unix_ms);
        body[17] = (unsigned char)m->qos;
        body[18] = m->retain ? 1 : 0;
        put_u16(body + 19, (uint16_t)topic_len);
        put_u32(body + 21, (uint32_t)m->payload_len);
        memcpy(body + MESSAGE_FIXED_LEN, m->topic, topic_len);
        if (m->payload_len > 0)
            memcpy(body + MESSAGE_FIXED_LEN + topic_len, m->payload, m->payload_len);
    }
    memcpy(rec, record_magic, 4);
    put_u32(rec + 4, (uint32_t)body_len);
    put_u32(rec + 8, agent_spool_crc32c(body, body_len));
    *len_out = HEADER_LEN + body_len;
    return rec;
}

/* Appends a record; on a short or failed write the file is cut back to
 * where it was, so no half record stays behind a later good one. */
static int append_record(struct agent_spool *sp, const unsigned char *rec, size_t len,
                         char *err, size_t err_len)
{
    if (tl_pwrite_all(sp->fd, rec, len, (off_t)sp->file_bytes) != 0) {
        int saved = errno;
        if (ftruncate(sp->fd, (off_t)sp->file_bytes) != 0) {
            /* The torn record is found and cut at the next open. */
        }
        snprintf(err, err_len, "cannot write the spool %s: %s", sp->path, strerror(saved));
        return -1;
    }
    sp->file_bytes += len;
    sp->dirty = true;
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return -1;
    int rc = fsync(dfd);
    close(dfd);
    return rc;
}

static int open_regular(const char *path, int flags, char *err, size_t err_len)
{
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open the spool %s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symbolic link is refused)" : "");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "the spool %s is not a regular file", path);
        close(fd);
        return -1;
    }
    /* Writes to a regular file never block; clear the flag all the same. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* Rewrites the file with the live records only (temp file, fsync,
 * rename, fsync of the directory) and reopens it for appending. */
static int compact(struct agent_spool *sp, char *err, size_t err_len)
{
    int rc = -1;
    int fd = -1;
    char *tmp = NULL;
    size_t plen = strlen(sp->path) + 5;
    uint64_t written = sizeof(file_magic);

    tmp = malloc(plen);
    if (tmp == NULL) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    snprintf(tmp, plen, "%s.tmp", sp->path);
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || tl_write_all(fd, file_magic, sizeof(file_magic)) != 0) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    for (const struct agent_spool_msg *m = sp->head; m != NULL; m = m->next) {
        size_t len;
        unsigned char *rec = encode_record(KIND_MESSAGE, m, &len);
        if (rec == NULL) {
            snprintf(err, err_len, "out of memory");
            goto cleanup;
        }
        int w = tl_write_all(fd, rec, len);
        free(rec);
        if (w != 0) {
            snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
            goto cleanup;
        }
        written += len;
    }
    if (fsync(fd) != 0 || rename(tmp, sp->path) != 0) {
        snprintf(err, err_len, "cannot replace the spool %s: %s", sp->path, strerror(errno));
        goto cleanup;
    }
    /* From the rename on, the new file is the spool: append to it even if
     * syncing the directory fails (the old file is gone from the name). */
    close(sp->fd);
    sp->fd = fd;
    fd = -1;
    sp->file_bytes = written;
    sp->dirty = false;
    sp->compactions++;
    if (fsync_dir_of(sp->path) != 0) {
        snprintf(err, err_len, "cannot sync the directory of %s: %s", sp->path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0) {
        close(fd);
        (void)unlink(tmp);
    }
    free(tmp);
    return rc;
}

static bool wants_compaction(const struct agent_spool *sp)
{
    uint64_t live = sizeof(file_magic) + sp->live_file_bytes;
    return sp->file_bytes > 2 * live + COMPACT_SLACK_BYTES;
}

/* Decodes the record at buf[0..avail) if it is complete and valid;
 * returns its total length, or 0. */
static size_t decode_record(const unsigned char *buf, size_t avail, int *kind, uint64_t *seq,
                            struct agent_spool_msg **msg_out)
{
    *msg_out = NULL;
    if (avail < HEADER_LEN || memcmp(buf, record_magic, 4) != 0)
        return 0;
    uint32_t body_len = get_u32(buf + 4);
    if (body_len < RETIRE_BODY_LEN || body_len > avail - HEADER_LEN ||
        body_len > MESSAGE_FIXED_LEN + AGENT_SPOOL_MAX_TOPIC + AGENT_SPOOL_MAX_PAYLOAD)
        return 0;
    const unsigned char *body = buf + HEADER_LEN;
    if (agent_spool_crc32c(body, body_len) != get_u32(buf + 8))
        return 0;
    *kind = body[0];
    *seq = get_u64(body + 1);
    if (*kind == KIND_RETIRE)
        return body_len == RETIRE_BODY_LEN ? HEADER_LEN + body_len : 0;
    if (*kind != KIND_MESSAGE || body_len < MESSAGE_FIXED_LEN)
        return 0;
    size_t topic_len = get_u16(body + 19);
    size_t payload_len = get_u32(body + 21);
    if ((size_t)body_len != MESSAGE_FIXED_LEN + topic_len + payload_len || topic_len == 0 ||
        body[17] > 2 || body[18] > 1 || memchr(body + MESSAGE_FIXED_LEN, 0, topic_len) != NULL)
        return 0;
    struct agent_spool_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return 0;
    m->seq = *seq;
    m->accepted_unix_ms = get_u64(body + 9);
    m->qos = body[17];
    m->retain = body[18] != 0;
    m->topic = strndup((const char *)body + MESSAGE_FIXED_LEN, topic_len);
    m->payload_len = payload_len;
    m->payload = malloc(payload_len > 0 ? payload_len : 1);
    if (m->topic == NULL || m->payload == NULL) {
        free_msg(m);
        return 0;
    }
    if (payload_len > 0)
        memcpy(m->payload, body + MESSAGE_FIXED_LEN + topic_len, payload_len);
    *msg_out = m;
    return HEADER_LEN + body_len;
}

static struct agent_spool_msg *find_mutable(struct agent_spool *sp, uint64_t seq)
{
    for (struct agent_spool_msg *m = sp->head; m != NULL; m = m->next)
        if (m->seq == seq)
            return m;
    return NULL;
}

static void apply_record(struct agent_spool *sp, int kind, uint64_t seq, struct agent_spool_msg *m)
{
    if (seq >= sp->next_seq)
        sp->next_seq = seq + 1;
    if (kind == KIND_RETIRE) {
        struct agent_spool_msg *old = find_mutable(sp, seq);
        if (old != NULL) {
            unlink_msg(sp, old);
            free_msg(old);
        }
        return;
    }
    if (find_mutable(sp, seq) != NULL) {
        free_msg(m); /* a record written twice: keep the first */
        return;
    }
    insert_msg(sp, m);
}

static int read_file(int fd, unsigned char **buf_out, size_t *len_out, char *err, size_t err_len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "cannot stat the spool: %s", strerror(errno));
        return -1;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        snprintf(err, err_len, "out of memory reading the spool (%zu bytes)", size);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    *buf_out = buf;
    *len_out = got;
    return 0;
}

/* Replays the records; returns the length of the valid prefix to keep. */
static size_t replay(struct agent_spool *sp, const unsigned char *buf, size_t len,
                     struct agent_spool_report *rep)
{
    size_t pos = sizeof(file_magic);
    size_t keep = pos;
    while (pos < len) {
        int kind = 0;
        uint64_t seq = 0;
        struct agent_spool_msg *m = NULL;
        size_t n = decode_record(buf + pos, len - pos, &kind, &seq, &m);
        if (n > 0) {
            apply_record(sp, kind, seq, m);
            rep->records_read++;
            pos += n;
            keep = pos;
            continue;
        }
        /* Not a valid record here: look for the next one. If there is
         * none, the rest is a torn tail; otherwise a corrupt region. */
        size_t next = pos + 1;
        size_t found = 0;
        while (next + HEADER_LEN <= len) {
            if (memcmp(buf + next, record_magic, 4) != 0) {
                next++;
                continue;
            }
            n = decode_record(buf + next, len - next, &kind, &seq, &m);
            if (n > 0) {
                free_msg(m);
                found = next;
                break;
            }
            next++;
        }
        if (found == 0)
            break;
        rep->corrupt_skipped++;
        pos = found;
    }
    rep->torn_bytes = len - keep;
    return keep;
}

int agent_spool_open(const char *path, const struct agent_spool_limits *limits,
                     struct agent_spool **out, struct agent_spool_report *report,
                     char *err, size_t err_len)
{
    struct agent_spool_report local_report;
    struct agent_spool *sp = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = -1;

    *out = NULL;
    if (report == NULL)
        report = &local_report;
    memset(report, 0, sizeof(*report));
    sp = calloc(1, sizeof(*sp));
    if (sp == NULL || (sp->path = strdup(path)) == NULL) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    sp->fd = -1;
    sp->next_seq = 1;
    if (limits != NULL)
        sp->limits = *limits;

    struct stat st;
    report->created = lstat(path, &st) != 0 && errno == ENOENT;
    sp->fd = open_regular(path, O_RDWR | O_CREAT, err, err_len);
    if (sp->fd < 0)
        goto cleanup;
    if (read_file(sp->fd, &buf, &len, err, err_len) != 0)
        goto cleanup;

    size_t keep;
    if (len < sizeof(file_magic)) {
        /* New, or cut before its magic was complete: nothing to replay. */
        if (len > 0 && memcmp(buf, file_magic, len) != 0) {
            snprintf(err, err_len, "%s is not a trustlink spool", path);
            goto cleanup;
        }
        report->torn_bytes = len;
        if (ftruncate(sp->fd, 0) != 0 || pwrite(sp->fd, file_magic, sizeof(file_magic), 0) !=
            (ssize_t)sizeof(file_magic) || fsync(sp->fd) != 0 ||
            (report->created && fsync_dir_of(path) != 0)) {
            snprintf(err, err_len, "cannot initialise the spool %s: %s", path, strerror(errno));
            goto cleanup;
        }
        keep = sizeof(file_magic);
    } else {
        if (memcmp(buf, file_magic, sizeof(file_magic)) != 0) {
            snprintf(err, err_len, "%s is not a trustlink spool (or another version)", path);
            goto cleanup;
        }
        keep = replay(sp, buf, len, report);
        if (keep < len && (ftruncate(sp->fd, (off_t)keep) != 0 || fsync(sp->fd) != 0)) {
            snprintf(err, err_len, "cannot cut the torn tail of %s: %s", path, strerror(errno));
            goto cleanup;
        }
    }
    sp->file_bytes = keep;
    if (report->corrupt_skipped > 0 || wants_compaction(sp)) {
        if (compact(sp, err, err_len) != 0)
            goto cleanup;
        report->compacted = true;
    }
    report->messages_restored = sp->pending;
    *out = sp;
    sp = NULL;
    rc = 0;
cleanup:
    free(buf);
    agent_spool_close(sp);
    return rc;
}

void agent_spool_close(struct agent_spool *sp)
{
    if (sp == NULL)
        return;
    struct agent_spool_msg *m = sp->head;
    while (m != NULL) {
        struct agent_spool_msg *next = m->next;
        free_msg(m);
        m = next;
    }
    if (sp->fd >= 0)
        close(sp->fd);
    free(sp->path);
    free(sp);
}

void agent_spool_set_limits(struct agent_spool *sp, const struct agent_spool_limits *limits)
{
    sp->limits = *limits;
}

int agent_spool_append(struct agent_spool *sp, const char *topic, const void *payload,
                       size_t payload_len, int qos, bool retain, uint64_t accepted_unix_ms,
                       uint64_t *seq_out, char *err, size_t err_len)
{
    size_t topic_len = topic != NULL ? strlen(topic) : 0;
    if (topic_len == 0 || topic_len > AGENT_SPOOL_MAX_TOPIC ||
        payload_len > AGENT_SPOOL_MAX_PAYLOAD || qos < 0 || qos > 2 ||
        (payload_len > 0 && payload == NULL)) {
        snprintf(err, err_len, "message not spooled: topic of 1-%u bytes, payload up to %u bytes,"
                 " qos 0-2", AGENT_SPOOL_MAX_TOPIC, AGENT_SPOOL_MAX_PAYLOAD);
        return -1;
    }
    if ((sp->limits.max_messages != 0 && sp->pending >= sp->limits.max_messages) ||
        (sp->limits.max_bytes != 0 &&
         sp->pending_bytes + topic_len + payload_len > sp->limits.max_bytes)) {
        snprintf(err, err_len, "spool full (%zu messages, %zu bytes pending; limits %zu, %zu)",
                 sp->pending, sp->pending_bytes, sp->limits.max_messages, sp->limits.max_bytes);
        return -1;
    }
    struct agent_spool_msg *m = calloc(1, sizeof(*m));
    if (m == NULL)
        goto oom;
    m->topic = strdup(topic);
    m->payload = malloc(payload_len > 0 ? payload_len : 1);
    if (m->topic == NULL || m->payload == NULL)
        goto oom;
    if (payload_len > 0)
        memcpy(m->payload, payload, payload_len);
    m->payload_len = payload_len;
    m->qos = qos;
    m->retain = retain;
    m->accepted_unix_ms = accepted_unix_ms;
    m->seq = sp->next_seq;

    size_t len;
    unsigned char *rec = encode_record(KIND_MESSAGE, m, &len);
    if (rec == NULL)
        goto oom;
    int w = append_record(sp, rec, len, err, err_len);
    free(rec);
    if (w != 0) {
        free_msg(m);
        return -1;
    }
    sp->next_seq++;
    sp->appends++;
    insert_msg(sp, m);
    if (seq_out != NULL)
        *seq_out = m->seq;
    return 0;
oom:
    free_msg(m);
    snprintf(err, err_len, "out of memory");
    return -1;
}

int agent_spool_sync(struct agent_spool *sp, char *err, size_t err_len)
{
    if (!sp->dirty)
        return 0;
    if (fdatasync(sp->fd) != 0) {
        snprintf(err, err_len, "cannot sync the spool %s: %s", sp->path, strerror(errno));
        return -1;
    }
    sp->dirty = false;
    sp->syncs++;
    return 0;
}

int agent_spool_retire(struct agent_spool *sp, uint64_t seq, char *err, size_t err_len)
{
    struct agent_spool_msg *m = find_mutable(sp, seq);
    if (m == NULL)
        return 0;
    /* The RETIRE record goes to the file before the message leaves memory:
     * if it cannot be written the message stays pending (a duplicate later,
     * never a loss). */
    size_t len;
    unsigned char *rec = encode_record(KIND_RETIRE, m, &len);
    if (rec == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int w = append_record(sp, rec, len, err, err_len);
    free(rec);
    if (w != 0)
        return -1;
    unlink_msg(sp, m);
    free_msg(m);
    return 0;
}

int agent_spool_compact_if_needed(struct agent_spool *sp, char *err, size_t err_len)
{
    if (!wants_compaction(sp))
        return 0;
    return compact(sp, err, err_len) == 0 ? 1 : -1;
}

void agent_spool_stats(const struct agent_spool *sp, struct agent_spool_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->pending = sp->pending;
    out->pending_bytes = sp->pending_bytes;
    out->oldest_accepted_unix_ms = sp->head != NULL ? sp->head->accepted_unix_ms : 0;
    out->file_bytes = sp->file_bytes;
    out->appends = sp->appends;
    out->syncs = sp->syncs;
    out->compactions = sp->compactions;
    out->next_seq = sp->next_seq;
}

int agent_spool_fd(const struct agent_spool *sp)
{
    return sp->fd;
}
