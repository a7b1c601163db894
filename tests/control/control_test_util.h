/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the control socket tests: a control server with fake
 * handlers that records what they were called with, a pump that runs the
 * server's side of the event loop, and blocking-with-deadline client I/O.
 * Everything is single-threaded: the test pumps the server while it waits.
 */
#ifndef TRUSTLINK_CONTROL_TEST_UTIL_H
#define TRUSTLINK_CONTROL_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "control.h"

struct fake_agent {
    int status_calls;
    int publish_calls;
    int reconnect_calls;
    int rotate_calls;
    bool fail_next;            /* the next handler call fails */
    size_t status_padding;     /* bytes of filler in the status reply */
    char topic[256];
    char payload[4096];
    size_t payload_len;
    int qos;
    bool retain;
};

struct ctl_fixture {
    char *dir;                 /* temp dir (mode 0755 so nobody can reach it) */
    char *path;                /* dir/control.sock */
    struct fake_agent fake;
    struct agent_control_handlers handlers;
    struct agent_control_config config;
    struct agent_control *control;
    char reply[65536];         /* last reply of ctlt_request */
    unsigned peers_made;       /* ctlt_connect_as: unique bind paths */
};

/* Creates the temp dir and handlers (config zeroed except path, mode
 * 0666); does not open the server. */
void ctlt_fixture_init(struct ctl_fixture *fx, bool with_rotate);
/* Opens the server with fx->config; fails the test on error. */
void ctlt_open(struct ctl_fixture *fx);
void ctlt_fixture_free(struct ctl_fixture *fx);

/* Runs one poll + dispatch round of at most ms milliseconds. */
void ctlt_pump(struct agent_control *control, int ms);

/* Connects a client (blocking fd); fails the test on error. */
int ctlt_connect(const char *path);
void ctlt_send(int fd, const char *text);
/* Reads one line (without '\n') into buf while pumping the server.
 * Returns its length, 0 on EOF before any byte, -1 on timeout. */
int ctlt_read_line(struct agent_control *control, int fd, char *buf, size_t len, int timeout_ms);
/* True if the server closed fd (EOF seen, data before EOF discarded)
 * within timeout_ms of pumping. */
bool ctlt_wait_eof(struct agent_control *control, int fd, int timeout_ms);
/* Sends one request line and returns the reply line (fx->reply). */
const char *ctlt_request(struct ctl_fixture *fx, int fd, const char *line);

/* A clock the test moves by hand (agent/clock.h), so deadlines of
 * seconds pass without sleeping. Install before ctlt_open. */
struct ctlt_clock {
    uint64_t now_ms;
    struct agent_clock_source source;
};
void ctlt_clock_install(struct ctlt_clock *clock);
void ctlt_clock_advance(struct ctlt_clock *clock, uint64_t ms);
void ctlt_clock_uninstall(void);

/* Peers of any uid without root: fx->config.peer_cred is set to read the
 * uid from the path a client bound its socket to, and ctlt_connect_as
 * binds that path. */
void ctlt_use_fake_peers(struct ctl_fixture *fx);
int ctlt_connect_as(struct ctl_fixture *fx, uid_t uid);

#endif
