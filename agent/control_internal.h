/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the control socket server shared by its files:
 *   control.c         clients: buffers, line framing, deadlines, slots
 *   control_listen.c  the listening socket file (stale-safe create, remove)
 *   control_peer.c    who a peer is (SO_PEERCRED) and what it may do
 * Nothing outside agent/control*.c includes this header.
 */
#ifndef TRUSTLINK_AGENT_CONTROL_INTERNAL_H
#define TRUSTLINK_AGENT_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control.h"
#include "control_request.h"

/* ---- control_listen.c ---------------------------------------------- */

struct control_listener {
    int fd;        /* -1: not listening */
    char *path;
    dev_t dev;     /* the socket file we bound, so that close removes */
    ino_t ino;     /* it only if no newer agent has replaced it */
};

/* Binds and listens on path (replacing a stale socket file, refusing a
 * live one or a non-socket), mode applied. 0, or -1 with err set; l is
 * then closed. */
int control_listener_open(struct control_listener *l, const char *path, mode_t mode,
                          int backlog, char *err, size_t err_len);
/* Closes the socket and removes the file if it is still ours. */
void control_listener_close(struct control_listener *l);

/* ---- control_peer.c ------------------------------------------------- */

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
