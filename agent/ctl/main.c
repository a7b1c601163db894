/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlinkctl: command-line client of trustlinkd's control socket, and
 * the preflight check of an agent configuration.
 *
 * Owns: argument parsing, the help text, building requests, presenting
 * replies, and the exit codes (documented in the help).
 * Must never: wait on the agent without a deadline, print a PIN, or talk
 * to the token itself (only `check`, `csr` and `install-cert` do, through
 * agent_preflight() and agent/enroll.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client.h"
#include "log.h"
#include "status_format.h"
#include "enroll.h"
#include "preflight.h"

#ifndef TRUSTLINK_VERSION
#define TRUSTLINK_VERSION "unknown"
#endif

enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILED = 1,      /* the agent answered ok:false */
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_UNREACHABLE = 3, /* no agent, no answer, or not a valid answer */
    CTL_EXIT_CHECK = 4,       /* check: a check failed or the config is bad */
    CTL_EXIT_ENROLL = 5,      /* csr/install-cert: config, file or token unusable */
    CTL_EXIT_REFUSED = 6,     /* install-cert: the certificate does not fit */
};

enum {
    CTL_DEFAULT_TIMEOUT_MS = 5000,
    CTL_MAX_STDIN_PAYLOAD = 1024 * 1024,
};

static const char ctl_default_socket[] = "/run/trustlink/control.sock";
static const char ctl_default_config[] = "/etc/trustlink/trustlink.json";

static const char usage_text[] =
    "Usage: trustlinkctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
    "       trustlinkctl check [--config PATH] [--pin-file FILE]\n"
    "       trustlinkctl csr --subject SUBJECT [--out FILE] [--config PATH]\n"
    "       trustlinkctl install-cert FILE [--chain FILE] [--config PATH]\n"
    "       trustlinkctl --help | --version\n";

static const char help_text[] =
    "\n"
    "Controls trustlinkd, the mutual-TLS MQTT agent whose private key lives in a\n"
    "secure element, through its control socket, and checks an agent\n"
    "configuration before it is deployed.\n"
    "\n"
    "Commands:\n"
    "  status                show the agent's state: connection state and next\n"
    "                        retry, broker, client id, identity URI, certificate\n"
    "                        (subject, issuer, serial, notAfter, SHA-256\n"
    "                        fingerprint), uptime, counters and the last error.\n"
    "                        Answered from the agent's memory: it never waits on\n"
    "                        the chip. Open to anyone who may connect to the socket.\n"
    "  publish TOPIC PAYLOAD [--qos N] [--retain]\n"
    "                        publish PAYLOAD on TOPIC, relative to the device's\n"
    "                        topic prefix. PAYLOAD \"-\" reads it from standard\n"
    "                        input (at most 1 MiB; the agent's line limit, 64 KiB\n"
    "                        by default, bounds the request). While the agent is\n"
    "                        offline the message is queued (bounded queue) and sent\n"
    "                        after reconnecting. --qos 0, 1 or 2 (default 0).\n"
    "  reconnect             drop the broker connection and connect again now.\n"
    "  rotate                start a key rotation (new key on the chip, new\n"
    "                        certificate), if the agent supports it.\n"
    "  check [--config PATH] [--pin-file FILE]\n"
    "                        preflight a configuration without the agent: one\n"
    "                        PASS/FAIL/SKIP line each for the config file, the key\n"
    "                        URI resolving to exactly one sensitive,\n"
    "                        non-extractable key, the certificate matching it and\n"
    "                        its days to expiry, CKM_ECDSA, a test signature, and a\n"
    "                        full mutual-TLS handshake with the broker.\n"
    "                        Default config: /etc/trustlink/trustlink.json (or\n"
    "                        $TRUSTLINK_CONFIG). Needs access to the token: run it\n"
    "                        as the trustlink user or root. A config that takes\n"
    "                        the PIN from the unit's credential (pin_credential\n"
    "                        NAME) is checked with /etc/trustlink/NAME, the\n"
    "                        credential's source, when the caller can read it\n"
    "                        (root), else with --pin-file FILE.\n"
    "  csr --subject SUBJECT [--out FILE]\n"
    "                        first enrollment: a PKCS#10 certificate signing\n"
    "                        request for the key identity.key names, signed by\n"
    "                        that key on the token (the key never leaves it).\n"
    "                        SUBJECT is \"/CN=device-001/O=Example\" or\n"
    "                        \"CN=device-001,O=Example\". Writes PEM to FILE, or to\n"
    "                        standard output. No extensions: the CA decides the\n"
    "                        certificate's usages. Give the CSR to any CA.\n"
    "  install-cert FILE [--chain FILE]\n"
    "                        install the certificate the CA issued (PEM; the first\n"
    "                        certificate of FILE; any further ones, then those of\n"
    "                        --chain, are intermediates, the leaf's issuer first).\n"
    "                        Checked first: its public key must be the token key's,\n"
    "                        it must be valid now and allow TLS client use, and each\n"
    "                        intermediate must have issued the one before. Then it is\n"
    "                        stored on the token with the key's CKA_ID and the label\n"
    "                        identity.certificate names (object=...), and the\n"
    "                        intermediates in rotation.state_dir, where trustlinkd\n"
    "                        finds them. A certificate that does not fit, or a token\n"
    "                        that already holds a certificate with that label or id,\n"
    "                        is refused and nothing is changed.\n"
    "                        csr and install-cert read the config (--config) and\n"
    "                        log in to the token with its PIN: run them as the\n"
    "                        trustlink user or root, with the service stopped or\n"
    "                        running (they do not talk to the agent).\n"
    "\n"
    "status is open to anyone who can connect. publish is accepted from root,\n"
    "the agent's own user and the uids and primary gids listed in the config's\n"
    "control.publish_uids / publish_gids or admin_uids / admin_gids; reconnect\n"
    "and rotate only from root, the agent's user and admin_uids / admin_gids\n"
    "(the kernel reports only the primary group of a peer, not supplementary\n"
    "groups).\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH     the agent's control socket (default\n"
    "                        $TRUSTLINK_CONTROL_SOCKET, else\n"
    "                        /run/trustlink/control.sock)\n"
    "  -j, --json            print the agent's reply as received: one JSON object\n"
    "                        on one line ({\"ok\":true,...} or\n"
    "                        {\"ok\":false,\"error\":\"...\"})\n"
    "  -t, --timeout SECONDS give up on an agent that does not answer within\n"
    "                        SECONDS, 0.1 to 300 (default 5)\n"
    "  -q, --qos N           publish: MQTT QoS 0, 1 or 2\n"
    "  -r, --retain          publish: ask the broker to retain the message\n"
    "  -c, --config PATH     check, csr, install-cert: the agent configuration\n"
    "  -p, --pin-file FILE   check: read the token PIN from FILE (first line)\n"
    "                        instead of identity.pin_file/pin_credential;\n"
    "                        /dev/stdin reads it from a pipe\n"
    "      --subject SUBJECT csr: the subject of the request\n"
    "  -o, --out FILE        csr: write the request to FILE\n"
    "      --chain FILE      install-cert: PEM intermediates\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success (check: every check passed)\n"
    "  1  the agent refused or failed the command; its error is printed\n"
    "  2  usage error\n"
    "  3  the agent could not be reached or did not answer in time: not\n"
    "     running, socket missing or not permitted, or wedged\n"
    "  4  check: at least one check failed, or the config could not be loaded\n"
    "  5  csr, install-cert: the config, a file or the token is not usable (or\n"
    "     the token already holds the identity certificate)\n"
    "  6  install-cert: the certificate was refused: not for the token key,\n"
    "     expired or not yet valid, not for TLS clients, or a chain out of order\n"
    "\n"
    "Environment:\n"
    "  TRUSTLINK_CONTROL_SOCKET  default for --socket\n"
    "  TRUSTLINK_CONFIG          default for --config (check, csr, install-cert)\n"
    "\n"
    "Examples:\n"
    "  trustlinkctl status\n"
    "  trustlinkctl --json status | jq .certificate\n"
    "  trustlinkctl publish sensors/temp '{\"c\":21.5}' --qos 1\n"
    "  journalctl -n 20 -o cat | trustlinkctl publish logs/tail -\n"
    "  sudo trustlinkctl check\n"
    "  sudo cat /etc/trustlink/pin | sudo -u trustlink trustlinkctl check --pin-file /dev/stdin\n"
    "  sudo trustlinkctl csr --subject /CN=device-001 --out device.csr\n"
    "  sudo trustlinkctl install-cert device.pem --chain intermediates.pem\n";

struct ctl_options {
    const char *socket;
    const char *config;
    const char *pin_file;
    int timeout_ms;
    int qos;
    bool qos_set;
    bool retain;
    bool json;
    const char *subject;
    const char *out;
    const char *chain;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("trustlinkctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    fputs("Try 'trustlinkctl --help' for more information.\n", stderr);
    return CTL_EXIT_USAGE;
}

static int parse_timeout(const char *s, int *ms)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.1 && v <= 300.0))
        return -1;
    *ms = (int)(v * 1000.0 + 0.5);
    return 0;
}

/* Reads standard input into a malloc'ed buffer, at most the limit. */
static int read_stdin(char **out, size_t *out_len)
{
    size_t cap = 4096;
    size_t len = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return -1;
    for (;;) {
        size_t n;

        if (len == cap) {
            char *grown;

            if (cap >= CTL_MAX_STDIN_PAYLOAD + 1)
                break;
            grown = realloc(buf, cap * 2 > CTL_MAX_STDIN_PAYLOAD + 1 ? CTL_MAX_STDIN_PAYLOAD + 1
                                                                     : cap * 2);
            if (grown == NULL)
                goto fail;
            cap = cap * 2 > CTL_MAX_STDIN_PAYLOAD + 1 ? CTL_MAX_STDIN_PAYLOAD + 1 : cap * 2;
            buf = grown;
        }
        n = fread(buf + len, 1, cap - len, stdin);
        len += n;
        if (n == 0) {
            if (ferror(stdin))
                goto fail;
            break;
        }
    }
    if (len > CTL_MAX_STDIN_PAYLOAD) {
        free(buf);
        return -2;
    }
    *out = buf;
    *out_len = len;
    return 0;
fail:
    free(buf);
    return -1;
}

/* Sends request and presents the reply; returns the exit status. */
static int run_request(const struct ctl_options *opt, const char *cmd,
                       struct json_object *request)
{
    struct ctl_reply reply;
    struct json_object *v = NULL;
    char err[512];
    int rc;

    if (ctl_call(opt->socket, request, opt->timeout_ms, &reply, err, sizeof(err)) < 0) {
        fprintf(stderr, "trustlinkctl: %s\n", err);
        return CTL_EXIT_UNREACHABLE;
    }
    json_object_object_get_ex(reply.obj, "ok", &v);
    rc = json_object_get_boolean(v) ? CTL_EXIT_OK : CTL_EXIT_FAILED;
    if (opt->json) {
        printf("%s\n", reply.raw);
    } else if (rc != CTL_EXIT_OK) {
        const char *msg = "no error message";
        char shown[2048];

        if (json_object_object_get_ex(reply.obj, "error", &v) &&
            json_object_is_type(v, json_type_string))
            msg = json_object_get_string(v);
        /* The message may quote network input: no control bytes to the terminal. */
        agent_escape_controls(msg, shown, sizeof(shown));
        fprintf(stderr, "trustlinkctl: %s failed: %s\n", cmd, shown);
    } else if (strcmp(cmd, "status") == 0) {
        ctl_print_status(stdout, reply.obj);
    } else if (strcmp(cmd, "publish") == 0) {
        bool queued = json_object_object_get_ex(reply.obj, "queued", &v) &&
                      json_object_get_boolean(v);

        printf("publish: %s\n", queued ? "queued (the agent is offline; it is sent after "
                                         "reconnecting)"
                                       : "accepted");
    } else {
        printf("%s: requested\n", cmd);
    }
    ctl_reply_free(&reply);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "trustlinkctl: writing output: %s\n", strerror(errno));
        return rc == CTL_EXIT_OK ? CTL_EXIT_FAILED : rc;
    }
    return rc;
}

static int cmd_simple(const struct ctl_options *opt, const char *cmd)
{
    struct json_object *req = json_object_new_object();
    int rc;

    json_object_object_add(req, "cmd", json_object_new_string(cmd));
    rc = run_request(opt, cmd, req);
    json_object_put(req);
    return rc;
}

static int cmd_publish(const struct ctl_options *opt, const char *topic, const char *payload_arg)
{
    struct json_object *req = NULL;
    char *stdin_payload = NULL;
    const char *payload = payload_arg;
    size_t payload_len = strlen(payload_arg);
    int rc;

    if (strcmp(payload_arg, "-") == 0) {
        int r = read_stdin(&stdin_payload, &payload_len);

        if (r == -2) {
            fprintf(stderr, "trustlinkctl: the payload on standard input exceeds %d bytes\n",
                    CTL_MAX_STDIN_PAYLOAD);
            return CTL_EXIT_USAGE;
        }
        if (r < 0) {
            fprintf(stderr, "trustlinkctl: reading the payload from standard input: %s\n",
                    strerror(errno));
            return CTL_EXIT_USAGE;
        }
        payload = stdin_payload;
    }
    req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string("publish"));
    json_object_object_add(req, "topic", json_object_new_string(topic));
    json_object_object_add(req, "payload",
                           json_object_new_string_len(payload, (int)payload_len));
    if (opt->qos_set)
        json_object_object_add(req, "qos", json_object_new_int(opt->qos));
    if (opt->retain)
        json_object_object_add(req, "retain", json_object_new_boolean(1));
    rc = run_request(opt, "publish", req);
    json_object_put(req);
    free(stdin_payload);
    return rc;
}

static int cmd_check(const struct ctl_options *opt)
{
    enum agent_preflight_result r = agent_preflight(opt->config, opt->pin_file, stdout);

    fflush(stdout);
    switch (r) {
    case AGENT_PREFLIGHT_PASS:
        return CTL_EXIT_OK;
    case AGENT_PREFLIGHT_CONFIG:
        fprintf(stderr, "trustlinkctl: check: the configuration %s could not be loaded\n",
                opt->config);
        return CTL_EXIT_CHECK;
    default:
        fprintf(stderr, "trustlinkctl: check: at least one check failed\n");
        return CTL_EXIT_CHECK;
    }
}

static int enroll_exit(enum agent_enroll_result r, const char *cmd, const char *err)
{
    if (r == AGENT_ENROLL_OK)
        return CTL_EXIT_OK;
    fprintf(stderr, "trustlinkctl: %s: %s\n", cmd, err);
    return r == AGENT_ENROLL_REFUSED ? CTL_EXIT_REFUSED : CTL_EXIT_ENROLL;
}

static int cmd_csr(const struct ctl_options *opt)
{
    char err[2048] = "";

    if (opt->subject == NULL)
        return usage_error("csr needs --subject SUBJECT (e.g. /CN=device-001)");
    return enroll_exit(agent_enroll_csr(opt->config, opt->subject, opt->out, stdout, err, sizeof(err)),
                       "csr", err);
}

static int cmd_install_cert(const struct ctl_options *opt, const char *file)
{
    char err[2048] = "";

    return enroll_exit(agent_enroll_install(opt->config, file, opt->chain, stdout, err, sizeof(err)),
                       "install-cert", err);
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' }, { "qos", required_argument, NULL, 'q' },
        { "retain", no_argument, NULL, 'r' },        { "config", required_argument, NULL, 'c' },
        { "pin-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
        { "subject", required_argument, NULL, 'S' }, { "out", required_argument, NULL, 'o' },
        { "chain", required_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    struct ctl_options opt = { .timeout_ms = CTL_DEFAULT_TIMEOUT_MS };
    const char *env;
    const char *cmd;
    int nargs;
    int c;

    env = getenv("TRUSTLINK_CONTROL_SOCKET");
    opt.socket = env != NULL && *env != '\0' ? env : ctl_default_socket;
    env = getenv("TRUSTLINK_CONFIG");
    opt.config = env != NULL && *env != '\0' ? env : ctl_default_config;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:jt:q:rc:p:hVo:", long_opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (optarg[0] == '\0')
                return usage_error("--socket needs a non-empty path");
            opt.socket = optarg;
            break;
        case 'j':
            opt.json = true;
            break;
        case 't':
            if (parse_timeout(optarg, &opt.timeout_ms) < 0)
                return usage_error("--timeout expects seconds from 0.1 to 300, got \"%s\"",
                                   optarg);
            break;
        case 'q':
            if (strcmp(optarg, "0") != 0 && strcmp(optarg, "1") != 0 && strcmp(optarg, "2") != 0)
                return usage_error("--qos expects 0, 1 or 2, got \"%s\"", optarg);
            opt.qos = optarg[0] - '0';
            opt.qos_set = true;
            break;
        case 'r':
            opt.retain = true;
            break;
        case 'c':
            opt.config = optarg;
            break;
        case 'S':
            opt.subject = optarg;
            break;
        case 'o':
            opt.out = optarg;
            break;
        case 'C':
            opt.chain = optarg;
            break;
        case 'p':
            if (optarg[0] == '\0')
                return usage_error("--pin-file needs a non-empty path");
            opt.pin_file = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("trustlinkctl %s\n", TRUSTLINK_VERSION);
            return CTL_EXIT_OK;
        case ':':
            return usage_error("option %s needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no command given (status, publish, reconnect, rotate, check, csr or "
                           "install-cert)");
    cmd = argv[optind];
    nargs = argc - optind - 1;

    if ((opt.qos_set || opt.retain) && strcmp(cmd, "publish") != 0)
        return usage_error("--qos and --retain apply to publish only");
    if (opt.pin_file && strcmp(cmd, "check") != 0)
        return usage_error("--pin-file applies to check only");
    if ((opt.subject != NULL || opt.out != NULL) && strcmp(cmd, "csr") != 0)
        return usage_error("--subject and --out apply to csr only");
    if (opt.chain != NULL && strcmp(cmd, "install-cert") != 0)
        return usage_error("--chain applies to install-cert only");
    if (strcmp(cmd, "csr") == 0) {
        if (nargs != 0)
            return usage_error("csr takes no arguments (use --subject SUBJECT [--out FILE])");
        return cmd_csr(&opt);
    }
    if (strcmp(cmd, "install-cert") == 0) {
        if (nargs != 1)
            return usage_error("install-cert needs the certificate FILE (PEM)");
        return cmd_install_cert(&opt, argv[optind + 1]);
    }
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reconnect") == 0 ||
        strcmp(cmd, "rotate") == 0) {
        if (nargs != 0)
            return usage_error("%s takes no arguments", cmd);
        return cmd_simple(&opt, cmd);
    }
    if (strcmp(cmd, "publish") == 0) {
        if (nargs != 2)
            return usage_error("publish needs TOPIC and PAYLOAD (\"-\" for standard input)");
        return cmd_publish(&opt, argv[optind + 1], argv[optind + 2]);
    }
    if (strcmp(cmd, "check") == 0) {
        if (nargs != 0)
            return usage_error("check takes no arguments (use --config PATH)");
        return cmd_check(&opt);
    }
    return usage_error("unknown command \"%s\"", cmd);
}
