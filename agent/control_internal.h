/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the control socket server shared by its files:
 *   control.c         clients: input, line framing, deadlines, slots
 *   control_reply.c   clients' replies: output buffers, replies held
 *                     until what they wait for is done (fsync mode)
 *   control_listen.c  the listening socket file (stale-safe create, remove)
 *   control_peer.c    who a peer is (SO_PEERCRED) and what it may do
 * Nothing outside agent/control*.c includes this header.
 */
#ifndef TRUSTLINK_AGENT_CONTROL_INTERNAL_H
#define TRUSTLINK_AGENT_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"
#include "control_request.h"

struct json_object;

enum {
    /* Backpressure: above OUTPUT_HIGH bytes of unsent replies the client's
     * further requests wait (unread) until it reads; a client that never
     * reads makes no progress and meets its idle deadline. MAX_OUTPUT is
     * the hard bound (a single huge reply): over it the client is closed.
     * Held replies count toward it. */
    CONTROL_OUTPUT_HIGH = 64 * 1024,
    CONTROL_MAX_OUTPUT = 256 * 1024,
    /* Replies a client may have waiting for their ticket (and those
     * queued behind them); at the bound its further requests wait unread,
     * as under output backpressure. */
    CONTROL_MAX_HELD = 32,
    /* Output buffers above this are given back once drained. */
    CONTROL_IN_KEEP = 16 * 1024,
    CONTROL_ERR_LEN = 256,
};

/* One reply line that may not be sent yet: it waits for its ticket
 * (ticket != 0), or only for the held replies before it (ticket 0). */
struct control_held_reply {
    uint64_t ticket;
    struct json_object *id;     /* the request's id, for a failure reply */
    char *text;                 /* the line, '\n' included */
    size_t len;
};

struct control_client {
    int fd;                     /* -1: free entry */
    struct agent_control_cred cred;
    bool cred_ok;
    bool closing;               /* flush output, read nothing more, close */
    char *in;                   /* grows up to max_line bytes */
    size_t in_len;
    size_t in_cap;
    char *out;                  /* grows up to CONTROL_MAX_OUTPUT */
    size_t out_len;
    size_t out_cap;
    struct control_held_reply held[CONTROL_MAX_HELD]; /* a ring, oldest first */
    size_t held_first;
    size_t held_count;
    size_t held_bytes;
    uint64_t idle_deadline_ms;  /* monotonic; reset by a request or output progress */
    uint64_t line_deadline_ms;  /* the partial line must be complete by then; 0: none */
};

struct control_listener {
    int fd;        /* -1: not listening */
    char *path;
    dev_t dev;     /* the socket file we bound, so that close removes */
    ino_t ino;     /* it only if no newer agent has replaced it */
};

/* The peers the config names, privately copied. */
struct control_acl {
    uid_t self_uid;                /* the agent's euid */
    uid_t *admin_uids;
    size_t n_admin_uids;
    gid_t *admin_gids;
    size_t n_admin_gids;
    uid_t *publish_uids;
    size_t n_publish_uids;
    gid_t *publish_gids;
    size_t n_publish_gids;
};

struct agent_control {
    struct control_listener listener;
    struct control_acl acl;
    int (*peer_cred)(void *ctx, int fd, struct agent_control_cred *out);
    void *peer_cred_ctx;
    size_t max_clients;
    size_t reserved_clients;
    size_t max_line;
    unsigned idle_timeout_ms;
    unsigned line_timeout_ms;
    uint64_t accept_resume_ms;  /* 0: accepting */
    struct agent_control_handlers handlers;
    struct control_client *clients; /* max_clients entries */
};

/* ---- control_reply.c ------------------------------------------------ */

void control_log(const struct agent_control *control, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees the client's buffers and held replies, closes its fd; the entry
 * is free again. */
void control_client_free(struct control_client *c);
/* Logs why (NULL: quietly) and frees the client. */
void control_client_close(struct agent_control *control, struct control_client *c,
                          const char *why);
/* Writes what the socket takes now; closes a closing client once all its
 * replies are out. -1 when the client is gone. */
int control_client_flush(struct agent_control *control, struct control_client *c);
/* Queues one reply line, behind the client's held replies if it has any.
 * -1 when the client had to be closed (it does not read its replies). */
int control_client_queue(struct agent_control *control, struct control_client *c,
                         struct json_object *reply);
/* Holds reply until ticket is done (handlers.ticket_state); id is the
 * request's (for the error reply of a failed ticket). -1 when closed. */
int control_client_hold(struct agent_control *control, struct control_client *c,
                        struct json_object *reply, struct json_object *id, uint64_t ticket);
/* Moves the client's held replies whose ticket is done (or failed: its
 * error reply instead) to its output, in order, and flushes. -1 when the
 * client was closed. */
int control_client_settle(struct agent_control *control, struct control_client *c);
/* {"ok":ok[,"id":id]}, or NULL out of memory. */
struct json_object *control_make_reply(bool ok, struct json_object *id);
/* Queues {"ok":false,"id":..,"error":msg}. -1 when the client was closed. */
int control_reply_error(struct agent_control *control, struct control_client *c,
                        struct json_object *id, const char *msg);
/* Output waiting or a reply held: the client is not being read for a
 * request line, so only its idle deadline counts. */
bool control_client_has_replies(const struct control_client *c);
bool control_client_backpressured(const struct control_client *c);

/* ---- control_listen.c ---------------------------------------------- */

/* Binds and listens on path (replacing a stale socket file, refusing a
 * live one or a non-socket), mode applied. 0, or -1 with err set; l is
 * then closed. */
int control_listener_open(struct control_listener *l, const char *path, mode_t mode,
                          int backlog, char *err, size_t err_len);
/* Closes the socket and removes the file if it is still ours. */
void control_listener_close(struct control_listener *l);

/* ---- control_peer.c ------------------------------------------------- */

/* 0, or -1 out of memory (acl is then freed). */
int control_acl_init(struct control_acl *acl, const struct agent_control_config *config);
void control_acl_free(struct control_acl *acl);

/* The peer's credentials as the kernel recorded them at connect(). */
int control_peer_cred_read(int fd, struct agent_control_cred *out);

/* What this peer may do (control_request_run enforces it); cred NULL:
 * unknown peer, status only. */
struct control_peer control_acl_rights(const struct control_acl *acl,
                                       const struct agent_control_cred *cred);

/* Root and the agent's own user may take the reserved client slots, so
 * that a flood of other local users never locks the administrator out. */
bool control_acl_may_take_reserved_slot(const struct control_acl *acl,
                                        const struct agent_control_cred *cred);

#endif
