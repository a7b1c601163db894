/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlinkd: command line, then the agent and its loop.
 *
 * Owns: argument parsing, --help/--version/--check-config, library
 * initialisation (libmosquitto) and the process exit status.
 * Must never: take a PIN or any secret from argv.
 *
 * Exit status: 0 stopped cleanly (SIGTERM/SIGINT) or --check-config ok;
 * 1 runtime failure (the unit may restart); 2 usage error;
 * 78 configuration or identity error that a restart cannot fix
 * (RestartPreventExitStatus=78 in the unit).
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "agent.h"
#include "config.h"
#include "config_check.h"
#include "failure.h"
#include "log.h"
#include "loop.h"

#ifndef TRUSTLINK_VERSION
#define TRUSTLINK_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
"Usage: trustlinkd [--config PATH] [--check-config [--syntax-only]]\n"
"       trustlinkd --version | --help\n"
"\n"
"trustlinkd holds a mutual-TLS MQTT connection for this device. Its private\n"
"key never leaves the secure element: it is used through a PKCS#11 module\n"
"(libp11), so the only key operation the agent performs is asking the token\n"
"to sign a TLS handshake. It runs in the foreground under systemd\n"
"(Type=notify) and logs to stderr with syslog priority prefixes.\n"
"\n"
"Options:\n"
"  -c, --config PATH   configuration file (JSON; default %s)\n"
"      --check-config  validate the configuration file and what it names\n"
"                      (files, PIN source, URIs, topics; not the token or the\n"
"                      broker: trustlinkctl check), print the first error with\n"
"                      its JSON path, and exit (0 valid, 78 not)\n"
"      --syntax-only   with --check-config: the file alone, not what it names\n"
"                      (e.g. an example config for another machine)\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          print this help and exit\n"
"\n"
"Runtime:\n"
"  On start the agent loads the identity (module, token, key, certificate),\n"
"  connects to the broker, publishes \"online\" (retained) on its status\n"
"  topic with \"offline\" as its last will, and then a heartbeat JSON every\n"
"  telemetry.heartbeat_interval seconds. Lost connections are retried with\n"
"  exponential backoff and full jitter; TLS sessions are resumed so a\n"
"  reconnect normally needs no new signature from the chip.\n"
"\n"
"Signals:\n"
"  SIGTERM, SIGINT  publish \"offline\" (retained), disconnect, exit 0\n"
"  SIGHUP           reload the configuration; reconnect only when identity,\n"
"                   broker or client settings changed. The new identity, TLS\n"
"                   context and client are built and verified first; if any\n"
"                   check fails the error is logged, shown by status\n"
"                   (last_reload_error) and the running configuration kept\n"
"\n"
"Control socket (control.path, default /run/trustlink/control.sock): one\n"
"JSON object per line, e.g. {\"cmd\":\"status\"}; use trustlinkctl(1).\n"
"\n"
"PIN: from identity.pin_file, the systemd credential identity.pin_credential\n"
"($CREDENTIALS_DIRECTORY), or pin-source=file: in the key URI; never argv.\n"
"\n"
"Exit status:\n"
"  0   stopped cleanly, or --check-config found the file valid\n"
"  1   runtime failure (systemd may restart the service)\n"
"  2   usage error\n"
"  78  configuration or identity error (bad file, wrong or locked PIN,\n"
"      key not found or unsafe, certificate not matching the key): fix the\n"
"      configuration; the unit does not restart on it\n",
            AGENT_CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"syntax-only", no_argument, NULL, 'S'},
        /* Internal: how a reload verifies a new identity (agent_reload.c). */
        {"verify-identity", no_argument, NULL, 'I'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = AGENT_CONFIG_DEFAULT_PATH;
    bool check_only = false;
    bool verify_identity = false;
    bool syntax_only = false;
    struct agent agent;
    int status;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'k':
            check_only = true;
            break;
        case 'I':
            verify_identity = true;
            break;
        case 'S':
            syntax_only = true;
            break;
        case 'V':
            printf("trustlinkd %s\n", TRUSTLINK_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trustlinkd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (check_only) {
        struct agent_config cfg;
        char err[1024];

        if (agent_config_load(config_path, &cfg, err, sizeof(err)) != 0) {
            fprintf(stderr, "trustlinkd: %s\n", err);
            return AGENT_EXIT_CONFIG;
        }
        /* Everything start-up checks short of the token and the broker
         * (`trustlinkctl check` does those). */
        if (!syntax_only && agent_config_check_system(&cfg, err, sizeof(err)) != 0) {
            fprintf(stderr, "trustlinkd: %s: %s\n", config_path, err);
            agent_config_free(&cfg);
            return AGENT_EXIT_CONFIG;
        }
        agent_config_free(&cfg);
        printf("%s: valid\n", config_path);
        return 0;
    }
    if (verify_identity)
        return agent_reload_verify_identity(config_path, stdout);

    if (agent_loop_block_signals() != 0) {
        perror("trustlinkd: sigprocmask");
        return 1;
    }
    /* One malloc arena: the control thread and the module's sign worker
     * allocate little, and a per-thread arena costs ~50 kB of resident
     * memory for them. */
    mallopt(M_ARENA_MAX, 1);
    mosquitto_lib_init();
    status = agent_init(&agent, config_path);
    if (status == 0)
        status = agent_loop_run(&agent);
    agent_destroy(&agent);
    mosquitto_lib_cleanup();
    if (status == 0)
        agent_notice("stopped");
    return status;
}
