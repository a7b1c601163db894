/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service manager notifications (systemd's sd_notify protocol, which
 * sd_notify(3) documents as a stable interface meant to be reimplemented):
 * one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET,
 * and the watchdog period from $WATCHDOG_USEC / $WATCHDOG_PID.
 *
 * trustlinkd speaks it itself instead of linking libsystemd: libsystemd
 * and the six libraries it pulls in (gcrypt, gpg-error, zstd, lzma, lz4,
 * cap) cost the daemon ~400 kB of its PSS for these two calls.
 */
#ifndef TRUSTLINK_AGENT_NOTIFY_H
#define TRUSTLINK_AGENT_NOTIFY_H

#include <stdint.h>

/* Sends message ("READY=1", "STATUS=...", "WATCHDOG=1") to $NOTIFY_SOCKET.
 * Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset (not started by a
 * service manager that listens), or a negative errno (-EINVAL for a socket
 * name that is neither an absolute path nor "@abstract", or too long). */
int agent_notify(const char *message);

/* The watchdog period the service manager expects pings within:
 * $WATCHDOG_USEC when it is a positive decimal and $WATCHDOG_PID is unset
 * or names this process. Returns 1 and sets *usec when enabled, 0 when
 * not, -EINVAL when a variable is set but malformed. */
int agent_watchdog_usec(uint64_t *usec);

#endif
