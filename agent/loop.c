/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop of trustlinkd: the one place that says what wakes the
 * process and why.
 *
 * Threading model: ONE thread (this loop) owns all agent state and does
 * all MQTT, TLS and PKCS#11 work. It polls
 *   - a signalfd (SIGTERM/SIGINT: graceful stop; SIGHUP: reload),
 *   - the MQTT socket (POLLIN always; POLLOUT when libmosquitto has
 *     output pending), driven with mosquitto_loop_read/write/misc, and
 *     the rotation's probe connection while one exists,
 *   - the control thread's mailbox eventfd (agent/control_thread.c),
 * and wakes for timers (reconnect, heartbeat, keepalive, watchdog,
 * rotation, shutdown grace) computed before each poll. Before each poll it
 * also publishes the status snapshot the control thread answers `status`
 * from: the control socket lives on a second thread, so status is
 * answered while this thread is inside a chip operation; publish,
 * reconnect and rotate come back here through the mailbox.
 * libmosquitto's own thread is never started; its callbacks run inside
 * mosquitto_loop_* on this thread and only record events. libp11 and the
 * PKCS#11 module are called on this thread only (TLS handshakes sign
 * inside mosquitto_loop_*). A chip operation therefore blocks this loop
 * for its duration (a few tens of ms per signature; none at all on a
 * resumed handshake; a key generation during rotation); a hung token
 * (libp11 0.4.12 can hang) stops the WATCHDOG=1 pings and systemd
 * restarts the service.
 * Must never: sleep, busy-loop, or call blocking I/O other than the
 * above (host name resolution in mosquitto_connect_async is the known
 * exception: configure an IP address to avoid it).
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>


#include "control.h"
#include "control_thread.h"
#include "handlers.h"
#include "log.h"
#include "mqtt.h"
#include "notify.h"
#include "publish.h"

#define MAX_POLLFDS 64

int agent_loop_block_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    return sigprocmask(SIG_BLOCK, &set, NULL);
}

static int open_signalfd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void handle_signals(struct agent *a, int fd)
{
    struct signalfd_siginfo info;

    while (read(fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
            agent_reload(a);
        } else {
            agent_notice("received %s", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            agent_shutdown(a);
        }
    }
}

static struct agent_control_thread *open_control(struct agent *a,
                                                 struct agent_control_handlers *h)
{
    struct agent_control_config cc;
    char err[512];
    struct agent_control_thread *control;

    memset(&cc, 0, sizeof(cc));
    cc.path = a->config.control.path;
    cc.mode = a->config.control.mode;
    cc.admin_uids = a->config.control.admin_uids;
    cc.n_admin_uids = a->config.control.n_admin_uids;
    cc.admin_gids = a->config.control.admin_gids;
    cc.n_admin_gids = a->config.control.n_admin_gids;
    cc.publish_uids = a->config.control.publish_uids;
    cc.n_publish_uids = a->config.control.n_publish_uids;
    cc.publish_gids = a->config.control.publish_gids;
    cc.n_publish_gids = a->config.control.n_publish_gids;
    control = agent_control_thread_start(&cc, h, err, sizeof(err));
    if (!control)
        agent_err("control socket %s: %s", cc.path, err);
    return control;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int agent_loop_run(struct agent *a)
{
    struct agent_control_handlers handlers;
    struct pollfd fds[MAX_POLLFDS];
    uint64_t watchdog_usec = 0;
    uint64_t watchdog_interval_ms = 0, next_watchdog_ms = 0;
    int sig_fd = -1;
    int status = 1;
    int rc;

    sig_fd = open_signalfd();
    if (sig_fd < 0) {
        agent_err("signalfd: %s", strerror(errno));
        goto cleanup;
    }
    agent_handlers_bind(&handlers, a);
    a->control = open_control(a, &handlers);
    if (!a->control)
        goto cleanup;
    /* fsync mode: a publisher's "ok" waits for the group commit on the
     * control thread, never here (agent/publish_commit.h). */
    agent_control_thread_set_commit(a->control, agent_outbox_commit(a));
    /* "starting" until agent_start returns; status answers meanwhile. */
    agent_control_thread_refresh(a->control);
    rc = agent_watchdog_usec(&watchdog_usec);
    if (rc < 0)
        agent_warn("systemd watchdog: WATCHDOG_USEC/WATCHDOG_PID malformed, not pinging");
    if (rc > 0) {
        watchdog_interval_ms = watchdog_usec / 2000u;
        if (watchdog_interval_ms == 0)
            watchdog_interval_ms = 1;
        agent_info("systemd watchdog: pinging every %llu ms",
                   (unsigned long long)watchdog_interval_ms);
    }
    rc = agent_start(a);
    if (rc != 0) {
        status = rc;
        goto cleanup;
    }
    agent_notify("READY=1");

    while (!a->exit_requested) {
        uint64_t now = agent_monotonic_ms();
        struct agent_mqtt *polled_mqtt, *polled_probe;
        size_t n = 0, mqtt_index = SIZE_MAX, probe_index = SIZE_MAX, control_index;
        int timeout, mqtt_fd, probe_fd;

        timeout = agent_run_timers(a, now);
        if (a->exit_requested)
            break;
        if (watchdog_interval_ms) {
            if (now >= next_watchdog_ms) {
                agent_notify("WATCHDOG=1");
                next_watchdog_ms = now + watchdog_interval_ms;
            }
            timeout = min_timeout(timeout, (int)(next_watchdog_ms - now));
        }
        agent_control_thread_refresh(a->control);

        fds[n].fd = sig_fd;
        fds[n].events = POLLIN;
        fds[n++].revents = 0;
        polled_mqtt = a->mqtt;
        mqtt_fd = polled_mqtt ? agent_mqtt_fd(polled_mqtt) : -1;
        if (mqtt_fd >= 0) {
            mqtt_index = n;
            fds[n].fd = mqtt_fd;
            fds[n].events = POLLIN | (agent_mqtt_want_write(polled_mqtt) ? POLLOUT : 0);
            fds[n++].revents = 0;
        }
        polled_probe = agent_rotation_probe(a);
        probe_fd = polled_probe ? agent_mqtt_fd(polled_probe) : -1;
        if (probe_fd >= 0) {
            probe_index = n;
            fds[n].fd = probe_fd;
            fds[n].events = POLLIN | (agent_mqtt_want_write(polled_probe) ? POLLOUT : 0);
            fds[n++].revents = 0;
        }
        control_index = n;
        fds[n].fd = agent_control_thread_fd(a->control);
        fds[n].events = POLLIN;
        fds[n++].revents = 0;

        if (poll(fds, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            agent_err("poll: %s", strerror(errno));
            goto cleanup;
        }
        a->counters.loop_wakeups++;
        if (fds[0].revents & POLLIN)
            handle_signals(a, sig_fd);
        if (mqtt_index != SIZE_MAX && a->mqtt == polled_mqtt &&
            agent_mqtt_fd(polled_mqtt) == mqtt_fd) {
            short re = fds[mqtt_index].revents;

            if ((re & (POLLHUP | POLLERR)) && agent_mqtt_hangup(a)) {
                re = 0;   /* connect failed and classed; the client is gone */
            } else if (re & (POLLIN | POLLHUP | POLLERR)) {
                agent_mqtt_io_done(a, agent_mqtt_read(polled_mqtt));
                if ((re & (POLLHUP | POLLERR)) && a->mqtt == polled_mqtt)
                    agent_mqtt_hangup_read_done(a);
            }
            if ((re & POLLOUT) && a->mqtt == polled_mqtt && agent_mqtt_fd(polled_mqtt) >= 0) {
                agent_mqtt_io_done(a, agent_mqtt_write(polled_mqtt));
            }
        }
        if (probe_index != SIZE_MAX && agent_rotation_probe(a) == polled_probe &&
            agent_mqtt_fd(polled_probe) == probe_fd) {
            short re = fds[probe_index].revents;

            if (re & (POLLIN | POLLHUP | POLLERR))
                agent_rotation_probe_io_done(a, agent_mqtt_read(polled_probe));
            if ((re & POLLOUT) && agent_rotation_probe(a) == polled_probe &&
                agent_mqtt_fd(polled_probe) >= 0)
                agent_rotation_probe_io_done(a, agent_mqtt_write(polled_probe));
        }
        if (fds[control_index].revents & POLLIN)
            agent_control_thread_run_pending(a->control);
    }
    status = a->exit_status;
cleanup:
    agent_notify("STOPPING=1");
    if (a->control) {
        agent_control_thread_stop(a->control);
        a->control = NULL;
    }
    if (sig_fd >= 0)
        close(sig_fd);
    return status;
}
