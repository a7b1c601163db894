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
#include <sys/types.h>

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

#endif
