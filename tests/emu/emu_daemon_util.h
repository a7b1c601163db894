/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon tests' helpers: atecc608-emu (EMU_DAEMON_PATH) started as a
 * child on a temporary socket at time scale 0, and a bus master speaking
 * the emu_wire framing to it, as the driver's transport would. Timeouts
 * (GUARD_MS) only keep a broken daemon from hanging the run; nothing here
 * asserts how long anything takes.
 */
#ifndef EMU_DAEMON_UTIL_H
#define EMU_DAEMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "emu_test_util.h"

enum { GUARD_MS = 10000 };

struct daemon {
    pid_t pid;
    int err_fd;
    char dir[256];
    char sock[300];
    char state[300];
    char log[16384]; /* all of --help fits */
    size_t log_len;
};

void sleep_ms(unsigned ms);
/* Reads the daemon's stderr until `needle` appears or it closes. */
bool daemon_wait_log(struct daemon *d, const char *needle);
/* Starts the daemon with extra arguments (NULL-terminated list). */
void daemon_spawn(struct daemon *d, const char *const *extra);
/* Waits for the daemon to exit; returns its exit status (or -1). */
int daemon_reap(struct daemon *d);
void spawn_and_wait(struct daemon *d, const char *const *extra);
void stop_daemon(struct daemon *d);

/* cmocka fixtures: a temp directory, with or without a running daemon. */
int daemon_setup(void **state);
int daemon_setup_running(void **state);
int daemon_teardown(void **state);

void set_sun_path(struct sockaddr_un *addr, const char *path);
int wire_connect(const struct daemon *d);
void send_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes; returns false on EOF. */
bool recv_all(int fd, uint8_t *buf, size_t len);
/* One request; returns the reply result and fills reply. */
uint8_t wire_call(int fd, uint8_t op, uint8_t addr, uint8_t flags, uint16_t length,
                  const uint8_t *payload, size_t payload_len, uint8_t *reply, size_t cap,
                  size_t *reply_len);
uint8_t wire_write(int fd, uint8_t addr, uint8_t flags, const uint8_t *data, size_t len);
uint8_t wire_read(int fd, uint8_t addr, uint8_t *buf, size_t len);
uint32_t get32(const uint8_t *p);
/* Retries a NAKed write with 1 ms pauses (busy, or before tWHI). */
uint8_t wire_write_when_ready(int fd, const uint8_t *data, size_t len);
void wire_wake(int fd);
/* Command write, then the response as a host reads it; checks the CRC
 * and returns the count. */
size_t wire_command(int fd, uint8_t opcode, uint8_t param1, uint16_t param2, uint8_t *rsp,
                    size_t cap);

#endif
