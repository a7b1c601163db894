/* SPDX-License-Identifier: Apache-2.0 */
/*
 * control_fake_agent: the real control server (agent/control.c) with canned
 * handlers, standing in for trustlinkd in trustlinkctl's tests.
 *
 *   control_fake_agent --socket PATH [--record FILE] [--wedge]
 *
 * Prints "ready" on stdout once listening; runs until SIGTERM/SIGINT.
 * publish appends "topic=T qos=Q retain=R len=N payload=P" to FILE; a topic
 * of "fail" is refused. --wedge listens but never accepts, to test the
 * client's timeout.
 * Must never: be installed (test-only).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* The shape agent/report.c gives, with fixed values. */
static int fake_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    struct json_object *identity = json_object_new_object();
    struct json_object *cert = json_object_new_object();
    struct json_object *counters = json_object_new_object();
    struct json_object *last_error = json_object_new_object();

    (void)ctx;
    (void)err;
    (void)err_len;
    json_object_object_add(out, "state", json_object_new_string("waiting"));
    json_object_object_add(out, "device_id", json_object_new_string("dev-0123"));
    json_object_object_add(out, "broker", json_object_new_string("broker.example:8883"));
    json_object_object_add(out, "client_id", json_object_new_string("dev-0123"));
    json_object_object_add(out, "status_topic", json_object_new_string("devices/dev-0123/status"));
    json_object_object_add(out, "uptime_s", json_object_new_uint64(93784));
    json_object_object_add(out, "next_retry_in_ms", json_object_new_uint64(12000));
    json_object_object_add(out, "next_retry_at", json_object_new_uint64(1767225600));
    json_object_object_add(out, "backoff_failures", json_object_new_uint64(4));
    json_object_object_add(identity, "module", json_object_new_string("/usr/lib/pkcs11/x.so"));
    json_object_object_add(identity, "uri",
                           json_object_new_string("pkcs11:token=trustlink;object=device"));
    json_object_object_add(out, "identity", identity);
    json_object_object_add(cert, "subject", json_object_new_string("CN=dev-0123"));
    json_object_object_add(cert, "issuer", json_object_new_string("CN=Test CA"));
    json_object_object_add(cert, "serial", json_object_new_string("01A2"));
    json_object_object_add(cert, "not_before", json_object_new_string("2025-01-01T00:00:00Z"));
    json_object_object_add(cert, "not_after", json_object_new_string("2027-01-01T00:00:00Z"));
    json_object_object_add(cert, "sha256", json_object_new_string("AB:CD:EF"));
    json_object_object_add(cert, "days_left", json_object_new_int64(400));
    json_object_object_add(out, "certificate", cert);
    json_object_object_add(counters, "connects", json_object_new_uint64(3));
    json_object_object_add(counters, "signatures", json_object_new_uint64(2));
    json_object_object_add(out, "counters", counters);
    json_object_object_add(last_error, "class", json_object_new_string("tls"));
    json_object_object_add(last_error, "message",
                           json_object_new_string("certificate verify failed"));
    json_object_object_add(last_error, "age_s", json_object_new_uint64(5));
    json_object_object_add(out, "last_error", last_error);
    return 0;
}

static int fake_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                        int qos, bool retain, char *err, size_t err_len)
{
    const char *record = ctx;
    FILE *f = NULL;

    if (strcmp(topic, "fail") == 0) {
        snprintf(err, err_len, "offline queue full");
        return -1;
    }
    if (record == NULL)
        return 0;
    f = fopen(record, "a");
    if (f == NULL) {
        snprintf(err, err_len, "cannot record: %s", strerror(errno));
        return -1;
    }
    fprintf(f, "topic=%s qos=%d retain=%d len=%zu payload=", topic, qos, retain ? 1 : 0,
            payload_len);
    fwrite(payload, 1, payload_len, f);
    fputc('\n', f);
    fclose(f);
    return 0;
}

static int fake_reconnect(void *ctx, char *err, size_t err_len)
{
    (void)ctx;
    (void)err;
    (void)err_len;
    return 0;
}

static int wedge(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 8) < 0) {
        perror("wedge");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (!stop_requested)
        pause();
    close(fd);
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    struct agent_control_handlers handlers = { .status = fake_status,
                                               .publish = fake_publish,
                                               .reconnect = fake_reconnect };
    struct agent_control_config config = { .mode = 0666 };
    struct agent_control *control = NULL;
    struct sigaction sa;
    char err[256];
    bool wedged = false;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            config.path = argv[++i];
        else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc)
            handlers.ctx = argv[++i];
        else if (strcmp(argv[i], "--wedge") == 0)
            wedged = true;
        else {
            fprintf(stderr, "usage: control_fake_agent --socket PATH [--record FILE] [--wedge]\n");
            return 2;
        }
    }
    if (config.path == NULL) {
        fprintf(stderr, "control_fake_agent: --socket is required\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (wedged)
        return wedge(config.path);

    control = agent_control_open(&config, &handlers, err, sizeof(err));
    if (control == NULL) {
        fprintf(stderr, "control_fake_agent: %s\n", err);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (!stop_requested) {
        struct pollfd fds[32];
        size_t n = agent_control_pollfds(control, fds, 32);
        int timeout = agent_control_next_timeout_ms(control);

        if (timeout < 0 || timeout > 100)
            timeout = 100;
        if (poll(fds, n, timeout) < 0 && errno != EINTR)
            break;
        agent_control_dispatch(control, fds, n);
    }
    agent_control_close(control);
    return 0;
}
