/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who a control socket peer is and what it may do (see control_internal.h).
 *
 * Owns: reading SO_PEERCRED, the configured admin and publish id lists,
 * the privilege rule and the reserved-slot rule.
 * Must never: trust anything the peer sends about itself; only the
 * kernel's record of the peer counts.
 *
 * SO_PEERCRED gives the peer's uid, its primary gid and pid as they were
 * at connect(); supplementary groups do not come with it, so admin_gids
 * and publish_gids match the peer's primary gid only (a user who relies
 * on a supplementary group can run the client with `sg GROUP -c ...` or
 * be listed by uid instead).
 */
#define _GNU_SOURCE /* SO_PEERCRED / struct ucred */
#include "control_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A private copy of a peer id list from the config (n may be 0). */
static int copy_ids(const void *src, size_t n, size_t size, void **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    *out = calloc(n, size);
    if (*out == NULL)
        return -1;
    memcpy(*out, src, n * size);
    *n_out = n;
    return 0;
}

int control_acl_init(struct control_acl *acl, const struct agent_control_config *config)
{
    memset(acl, 0, sizeof(*acl));
    acl->self_uid = geteuid();
    if (copy_ids(config->admin_uids, config->n_admin_uids, sizeof(uid_t),
                 (void **)&acl->admin_uids, &acl->n_admin_uids) != 0 ||
        copy_ids(config->admin_gids, config->n_admin_gids, sizeof(gid_t),
                 (void **)&acl->admin_gids, &acl->n_admin_gids) != 0 ||
        copy_ids(config->publish_uids, config->n_publish_uids, sizeof(uid_t),
                 (void **)&acl->publish_uids, &acl->n_publish_uids) != 0 ||
        copy_ids(config->publish_gids, config->n_publish_gids, sizeof(gid_t),
                 (void **)&acl->publish_gids, &acl->n_publish_gids) != 0) {
        control_acl_free(acl);
        return -1;
    }
    return 0;
}

void control_acl_free(struct control_acl *acl)
{
    free(acl->admin_uids);
    free(acl->admin_gids);
    free(acl->publish_uids);
    free(acl->publish_gids);
    memset(acl, 0, sizeof(*acl));
}

int control_peer_cred_read(int fd, struct agent_control_cred *out)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
        return -1;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

static bool id_listed(const struct agent_control_cred *cred, const uid_t *uids, size_t n_uids,
                      const gid_t *gids, size_t n_gids)
{
    size_t i;

    for (i = 0; i < n_uids; i++)
        if (uids[i] == cred->uid)
            return true;
    /* Primary gid only: see the file comment. */
    for (i = 0; i < n_gids; i++)
        if (gids[i] == cred->gid)
            return true;
    return false;
}

struct control_peer control_acl_rights(const struct control_acl *acl,
                                       const struct agent_control_cred *cred)
{
    struct control_peer peer = {.uid = -1L, .gid = -1L};

    if (cred == NULL)
        return peer;
    peer.uid = (long)cred->uid;
    peer.gid = (long)cred->gid;
    peer.may_admin = control_acl_may_take_reserved_slot(acl, cred) ||
                     id_listed(cred, acl->admin_uids, acl->n_admin_uids, acl->admin_gids,
                               acl->n_admin_gids);
    peer.may_publish = peer.may_admin || id_listed(cred, acl->publish_uids, acl->n_publish_uids,
                                                   acl->publish_gids, acl->n_publish_gids);
    return peer;
}

bool control_acl_may_take_reserved_slot(const struct control_acl *acl,
                                        const struct agent_control_cred *cred)
{
    return cred != NULL && (cred->uid == 0 || cred->uid == acl->self_uid);
}
