/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket server of trustlinkd.
 *
 * Owns: the listening unix stream socket, client connections, line
 * framing (one JSON object per line each way), request parsing, limits
 * (line length, client count, idle clients), SO_PEERCRED checks for
 * privileged commands, and error replies.
 * Must never: block, touch MQTT, TLS or PKCS#11 itself, or wait on the
 * chip. It answers from the agent's state through the handlers below,
 * which the event loop (agent/loop.c) supplies; it runs only on the loop
 * thread.
 *
 * Protocol (documented for users in the README):
 *   request:  {"cmd":"status"}
 *             {"cmd":"publish","topic":"t","payload":"p","qos":1}
 *             {"cmd":"reconnect"}
 *             {"cmd":"rotate"}                     (issue 5)
 *   reply:    {"ok":true, ...command fields...}
 *             {"ok":false,"error":"what went wrong"}
 * A malformed line or unknown command gets an error reply; the connection
 * stays usable. A line longer than the limit gets an error reply and the
 * connection is closed.
 *
 * Details (control.c):
 *   - Any request may carry "id" (an integer or a string of <= 128 bytes);
 *     the reply echoes it, so pipelined replies can be matched. Replies
 *     come in request order anyway.
 *   - Fields other than the ones listed above are rejected (a typo such
 *     as "retian" must not silently publish unretained). publish: qos
 *     defaults to 0, retain to false; payload is a JSON string (any
 *     bytes, \u0000 included, reach the handler with their length).
 *   - Blank lines are ignored; a trailing '\r' is tolerated.
 *   - Privileges: status for anyone who can connect; publish for peer
 *     uid 0, the agent's euid, a uid in admin_uids or publish_uids, or a
 *     *primary* gid in admin_gids or publish_gids; reconnect and rotate
 *     for uid 0, the agent's euid, admin_uids or a primary gid in
 *     admin_gids (control_request_run decides from struct control_peer).
 *     SO_PEERCRED carries no supplementary groups.
 *   - A client over max_clients gets one error line and is closed;
 *     reserved_clients of the slots are kept for root and the agent's
 *     user, so other users cannot lock the administrator out. A request
 *     line must be complete within line_timeout_ms of its first byte (the
 *     first one within line_timeout_ms of connect()): trickling bytes
 *     does not keep a slot. A client silent between requests for
 *     idle_timeout_ms is closed. Backpressure: while
 *     64 KiB of replies wait for a client to read, its further requests
 *     stay unread; a client that never reads makes no progress and is
 *     closed at its idle deadline (a reply that would push the buffer
 *     past 256 KiB closes it at once). The loop never blocks on it.
 *   - status fields come from the agent (agent/report.c); trustlinkctl
 *     prints any field, with friendly labels for the known ones.
 */
#ifndef TRUSTLINK_AGENT_CONTROL_H
#define TRUSTLINK_AGENT_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

/* Handler results: 0 success, -1 failure with a message in err. */
struct agent_control_handlers {
    /* Adds the status fields to out (an object). Never blocks. */
    int (*status)(void *ctx, struct json_object *out, char *err, size_t err_len);
    /* Publishes, or queues while offline. topic is relative to the
     * device's prefix; validation of topic and qos is the handler's. */
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t payload_len,
                   int qos, bool retain, char *err, size_t err_len);
    int (*reconnect)(void *ctx, char *err, size_t err_len);
    /* May be NULL until rotation exists: the command is then "not supported". */
    int (*rotate)(void *ctx, char *err, size_t err_len);
    void *ctx;
    /* Optional, both or neither: replies that wait for work the agent
     * finishes elsewhere (fsync mode: the publish's record on disk).
     * After a request succeeded, reply_ticket names what its reply waits
     * for (0: nothing, it goes at once). The reply is held, and every
     * later reply to the same client behind it (each client reads its
     * replies in request order), while the server goes on serving the
     * other clients. agent_control_settle asks ticket_state: 0 done (the
     * reply goes), 1 not yet, -1 failed (the client gets err instead). */
    uint64_t (*reply_ticket)(void *ctx);
    int (*ticket_state)(void *ctx, uint64_t ticket, char *err, size_t err_len);
    /* Optional (may be NULL): client-level events worth a journal line,
     * e.g. refused or closed clients. priority is a syslog LOG_* value. */
    void (*log)(void *ctx, int priority, const char *msg);
};

/* Who is at the other end of a client connection, as the kernel recorded
 * it at connect() (SO_PEERCRED). */
struct agent_control_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

struct agent_control_config {
    const char *path;          /* socket path */
    mode_t mode;               /* socket file mode, e.g. 0660 */
    /* Peers allowed to run the admin commands (reconnect, rotate, and
     * publish) besides root and the agent's own uid. */
    const uid_t *admin_uids;
    size_t n_admin_uids;
    const gid_t *admin_gids;
    size_t n_admin_gids;
    /* Peers allowed to publish only. status is open to anyone who can
     * connect. */
    const uid_t *publish_uids;
    size_t n_publish_uids;
    const gid_t *publish_gids;
    size_t n_publish_gids;
    size_t max_clients;        /* 0 = default 16 */
    /* Slots of max_clients that only root and the agent's user may take.
     * 0 = default: a quarter of max_clients (4 of 16). Must leave at
     * least one slot for everyone else. */
    size_t reserved_clients;
    size_t max_line;           /* 0 = default 65536 bytes */
    unsigned idle_timeout_ms;  /* 0 = default 30000: clients silent between requests are closed */
    /* 0 = default 5000: a request line must be complete within this long
     * of its first byte (the first line: of the connection). */
    unsigned line_timeout_ms;
    /* Test seam, NULL in the agent (SO_PEERCRED is read): returns the
     * peer of a new connection, or -1 for an unknown peer (status only,
     * no reserved slot). */
    int (*peer_cred)(void *ctx, int fd, struct agent_control_cred *out);
    void *peer_cred_ctx;
};

struct agent_control;

/* Creates and listens (replacing a stale socket file). NULL with err set. */
struct agent_control *agent_control_open(const struct agent_control_config *config,
                                         const struct agent_control_handlers *handlers,
                                         char *err, size_t err_len);
void agent_control_close(struct agent_control *control);

/* Fills up to max pollfds for the event loop; returns how many. */
size_t agent_control_pollfds(const struct agent_control *control, struct pollfd *fds, size_t max);
/* Handles whatever the poll reported on those fds; never blocks. Also
 * closes clients whose line or idle deadline has passed, so call it after every
 * poll() return, a timeout included (fds may then be NULL with n 0). */
void agent_control_dispatch(struct agent_control *control, const struct pollfd *fds, size_t n);
/* Sends the held replies whose tickets are now done (or failed), each
 * client's in order, and resumes clients that were held back by them.
 * Call it whenever a ticket may have moved (and after a dispatch). */
void agent_control_settle(struct agent_control *control);
/* Milliseconds until the next client deadline, or -1 for none. */
int agent_control_next_timeout_ms(const struct agent_control *control);

#endif
