/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The atecc608-emu event loop: serves the emu_wire protocol on a listening
 * unix socket to several clients, one request at a time, like one bus.
 */
#ifndef ATECC608_EMU_SERVER_H
#define ATECC608_EMU_SERVER_H

#include <signal.h>

#include "emu.h"

/*
 * Runs until *stop becomes non-zero (set by a signal handler; the signals
 * are blocked outside ppoll and unblocked inside it with wait_mask).
 * Returns 0 on a requested stop, -1 on a fatal error (message on stderr).
 */
int emu_server_run(struct emu_chip *chip, int listen_fd, const volatile sig_atomic_t *stop,
                   const sigset_t *wait_mask);

#endif
