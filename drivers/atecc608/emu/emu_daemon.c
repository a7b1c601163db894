/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-emu: the ATECC608 emulator as a daemon on a unix socket.
 *
 * Owns the command line, the listening socket's life (parent directory,
 * stale-socket check, unlink at exit) and signal setup; the event loop is
 * in emu_server.c, the chip in the emu library. Must never remove a socket
 * another process is listening on, nor a file that is not a socket.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime error (state file,
 * socket), 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "atecc608/protocol.h"
#include "emu.h"
#include "emu_server.h"
#include "emu_stats_wire.h"

#ifndef EMU_VERSION_STRING
#define EMU_VERSION_STRING "unknown"
#endif

enum {
    EMU_DAEMON_FAULTS_MAX = 32,
    EMU_EXIT_RUNTIME = 1,
    EMU_EXIT_USAGE = 2,
};

static const char emu_default_socket[] = "/run/trustlink/atecc608.sock";

struct emu_daemon_args {
    const char *socket_path;
    const char *state_path;
    const char *profile_name;
    enum emu_profile profile;
    uint32_t bus_hz;
    double time_scale;
    double typical_factor;
    uint8_t revision;
    uint64_t seed;
    bool long_watchdog;
    const char *faults[EMU_DAEMON_FAULTS_MAX];
    size_t fault_count;
    const char *stats_socket;  /* --stats: ask a running emulator, then exit */
    bool chip_options;         /* an option that shapes a chip was given */
};

static volatile sig_atomic_t emu_stop_requested;

static void emu_on_signal(int signo)
{
    (void)signo;
    emu_stop_requested = 1;
}

static void emu_usage(FILE *out)
{
    fprintf(out,
"Usage: atecc608-emu [OPTION]...\n"
"       atecc608-emu --stats SOCKET\n"
"\n"
"A software Microchip ATECC608 secure element that speaks the chip's byte\n"
"protocol (wake, word addresses, count/CRC packets, status codes, timing)\n"
"over a simulated I2C bus on a unix stream socket (framing: emu_wire.h).\n"
"It models the config, OTP and data zones, lock bits, SlotConfig/KeyConfig\n"
"policy, TempKey, the watchdog, sleep/idle, and real P-256 through OpenSSL.\n"
"\n"
"Options:\n"
"  --socket PATH        listen on PATH (default %s); the parent\n"
"                       directory is created if missing; a stale socket\n"
"                       file is removed only if nothing listens on it\n"
"  --state FILE         persistent chip state (keys, zones, locks). Loaded\n"
"                       if it exists, else created from the profile; saved\n"
"                       atomically after every change. A corrupt file or one\n"
"                       of another format version is an error, never\n"
"                       replaced. Without --state the chip lives in memory.\n"
"  --profile NAME       factory profile when no state exists:\n"
"                         trustandgo  Trust&GO TNGTLS: locked, address 0x35,\n"
"                                     P-256 keys in slots 0 and 1, slots 2-4\n"
"                                     free for GenKey (default)\n"
"                         blank       unlocked, address 0x60, no keys, for\n"
"                                     provisioning\n"
"  --bus-hz N           simulated I2C speed in Hz, 1..1000000 (default\n"
"                       100000). Decides whether a wake pulse is long enough\n"
"                       (SDA low >= 60 us) and how long transfers take.\n"
"  --time-scale S       multiply every chip and bus duration by S: 1 = real\n"
"                       time (default), 0 = instant (the watchdog then never\n"
"                       fires by itself). Waits end at absolute deadlines: a\n"
"                       transfer ends at its start + its bus time, a command\n"
"                       is ready its execution time after its last byte;\n"
"                       the emulator sleeps to 200 us before a deadline and\n"
"                       spins the rest, so host oversleep is not added.\n"
"  --typical-factor F   execution time as a fraction of the datasheet\n"
"                       maximum, 0 < F <= 1 (default 0.6)\n"
"  --revision REV       608a or 608b: Info revision byte 0x02 or 0x03\n"
"                       (default 608b)\n"
"  --long-watchdog      a new chip from the trustandgo profile gets ChipMode\n"
"                       0x05 instead of 0x01: bit 2 selects the ~13 s\n"
"                       watchdog instead of 1.3 s. Real Trust&GO parts ship\n"
"                       with the short watchdog; this models a part\n"
"                       custom-provisioned with the Trust&GO slot layout and\n"
"                       the long one, to measure how much work fits in one\n"
"                       wake. With --state FILE it acts only when FILE is\n"
"                       created: if FILE exists and its ChipMode lacks bit\n"
"                       2, atecc608-emu refuses to start (exit status 1) and\n"
"                       leaves FILE unchanged; a FILE created with the\n"
"                       option keeps the long watchdog when started without\n"
"                       it. Not valid with --profile blank (exit status 2).\n"
"  --fault SPEC         inject faults (repeatable); see FAULTS\n"
"  --seed N             seed for probabilistic faults (default: random)\n"
"  --stats SOCKET       do not emulate: ask the emulator listening on SOCKET\n"
"                       for the chip's counters since it started and print\n"
"                       them, one \"name value\" line each (see STATS);\n"
"                       exit status 1 if it cannot (no emulator there, or\n"
"                       one without the stats request)\n"
"  --help               show this help and exit\n"
"  --version            show the version and exit\n"
"\n"
"FAULTS\n"
"  SPEC is \"clear\" or a comma-separated list of rules:\n"
"    KIND@N     fire once, on the Nth event of that kind from now (N >= 1)\n"
"    KIND:p=P   fire on every event with probability P (0 <= P <= 1)\n"
"  KIND is one of:\n"
"    crc        corrupt the CRC of the command's response (command ran)\n"
"    nak        do not acknowledge the command write (nothing executed)\n"
"    ecc        answer status 0x05 (ECC fault) instead of executing\n"
"    watchdog   the watchdog expires: the chip sleeps, TempKey is lost,\n"
"               and the command write is not acknowledged\n"
"    nowake     ignore a wake pulse (no wake response)\n"
"    flip       invert one bit of a response's data and compute the CRC\n"
"               over the changed bytes (corruption the CRC cannot see)\n"
"  Events are commands for crc, nak, ecc and watchdog, wake pulses for\n"
"  nowake, responses with data (signatures, reads) for flip. \"clear\" removes every rule. A client can add rules at run time\n"
"  with the FAULT request. Example: --fault crc@3 --fault nak:p=0.05\n"
"\n"
"STATS\n"
"  What the chip saw, whatever the host stack: wake_pulses (writes to\n"
"  address 0x00 long enough to wake), wakes (those that woke it),\n"
"  ignored_wakes, transactions (I2C writes and reads), bytes_to_chip\n"
"  (address bytes and written data; a write whose address was NAKed costs\n"
"  its address byte only), bytes_from_chip (read data), naks (transactions\n"
"  whose address was NAKed), commands (complete packets), idles, sleeps,\n"
"  watchdog_expiries, busy_us (execution time), faults_injected, then\n"
"  command.NAME for each opcode seen with a good CRC (command.sign ...).\n"
"  Counters run from the start and are never reset: take differences.\n"
"\n"
"EXAMPLES\n"
"  atecc608-emu --socket /tmp/emu.sock --state /tmp/chip.state --time-scale 0\n"
"      an instant chip whose keys survive restarts, for tests\n"
"  atecc608-emu --profile blank --bus-hz 400000 --fault nowake@1\n"
"      an unprovisioned part on a fast bus that misses its first wake\n"
"  atecc608-emu --stats /tmp/emu.sock\n"
"      the counters of the emulator listening on /tmp/emu.sock\n"
"  atecc608-emu --state /tmp/long.state --long-watchdog\n"
"      the Trust&GO slot layout with the 13 s watchdog, to measure many\n"
"      signatures in one wake\n"
"\n"
"Once ready it prints one line to stderr:\n"
"  atecc608-emu: listening on PATH (profile P, address 0xNN, bus N Hz, time scale S,\n"
"  watchdog W s)\n"
"where W is the unscaled period the chip's ChipMode selects (1.3 or 13).\n"
"SIGTERM or SIGINT stops it cleanly (exit 0) and removes the socket.\n"
"\n"
"Exit status: 0 stopped by a signal, 1 runtime error (state file, socket),\n"
"2 usage error.\n",
            emu_default_socket);
}

static int emu_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoull(text, &end, 0);
    if (errno != 0 || *end != '\0' || value > max)
        return -1;
    *out = value;
    return 0;
}

static int emu_parse_double(const char *text, double *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtod(text, &end);
    return (errno != 0 || end == text || *end != '\0') ? -1 : 0;
}

/* 0 ok, 1 --help/--version handled, -1 usage error (message printed). */
static int emu_parse_args(int argc, char **argv, struct emu_daemon_args *args)
{
    enum { OPT_SOCKET = 256, OPT_STATE, OPT_PROFILE, OPT_BUS_HZ, OPT_TIME_SCALE, OPT_TYPICAL,
           OPT_REVISION, OPT_LONG_WATCHDOG, OPT_FAULT, OPT_SEED, OPT_STATS, OPT_HELP,
           OPT_VERSION };
    static const struct option options[] = {
        { "socket", required_argument, NULL, OPT_SOCKET },
        { "state", required_argument, NULL, OPT_STATE },
        { "profile", required_argument, NULL, OPT_PROFILE },
        { "bus-hz", required_argument, NULL, OPT_BUS_HZ },
        { "time-scale", required_argument, NULL, OPT_TIME_SCALE },
        { "typical-factor", required_argument, NULL, OPT_TYPICAL },
        { "revision", required_argument, NULL, OPT_REVISION },
        { "long-watchdog", no_argument, NULL, OPT_LONG_WATCHDOG },
        { "fault", required_argument, NULL, OPT_FAULT },
        { "seed", required_argument, NULL, OPT_SEED },
        { "stats", required_argument, NULL, OPT_STATS },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    uint64_t value;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt != OPT_STATS && opt != OPT_HELP && opt != OPT_VERSION && opt != '?')
            args->chip_options = true;
        switch (opt) {
        case OPT_SOCKET:
            args->socket_path = optarg;
            break;
        case OPT_STATE:
            args->state_path = optarg;
            break;
        case OPT_PROFILE:
            if (strcmp(optarg, "trustandgo") == 0)
                args->profile = EMU_PROFILE_TRUSTANDGO;
            else if (strcmp(optarg, "blank") == 0)
                args->profile = EMU_PROFILE_BLANK;
            else {
                fprintf(stderr, "atecc608-emu: --profile must be trustandgo or blank, not '%s'\n", optarg);
                return -1;
            }
            args->profile_name = optarg;
            break;
        case OPT_BUS_HZ:
            if (emu_parse_u64(optarg, 1000000, &value) != 0 || value == 0) {
                fprintf(stderr, "atecc608-emu: --bus-hz must be 1..1000000, not '%s'\n", optarg);
                return -1;
            }
            args->bus_hz = (uint32_t)value;
            break;
        case OPT_TIME_SCALE:
            if (emu_parse_double(optarg, &args->time_scale) != 0 || !(args->time_scale >= 0.0) ||
                args->time_scale > 1000.0) {
                fprintf(stderr, "atecc608-emu: --time-scale must be a number from 0 to 1000, not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_TYPICAL:
            if (emu_parse_double(optarg, &args->typical_factor) != 0 || !(args->typical_factor > 0.0) ||
                args->typical_factor > 1.0) {
                fprintf(stderr, "atecc608-emu: --typical-factor must be in (0, 1], not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_REVISION:
            if (strcmp(optarg, "608a") == 0)
                args->revision = ATECC_REVISION_608A;
            else if (strcmp(optarg, "608b") == 0)
                args->revision = ATECC_REVISION_608B;
            else {
                fprintf(stderr, "atecc608-emu: --revision must be 608a or 608b, not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_LONG_WATCHDOG:
            args->long_watchdog = true;
            break;
        case OPT_FAULT:
            if (args->fault_count == EMU_DAEMON_FAULTS_MAX) {
                fprintf(stderr, "atecc608-emu: at most %d --fault options\n", EMU_DAEMON_FAULTS_MAX);
                return -1;
            }
            args->faults[args->fault_count++] = optarg;
            break;
        case OPT_SEED:
            if (emu_parse_u64(optarg, UINT64_MAX, &args->seed) != 0) {
                fprintf(stderr, "atecc608-emu: --seed must be an unsigned integer, not '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_STATS:
            args->stats_socket = optarg;
            break;
        case OPT_HELP:
            emu_usage(stdout);
            return 1;
        case OPT_VERSION:
            printf("atecc608-emu %s (emu_wire version %d)\n", EMU_VERSION_STRING, 1);
            return 1;
        default:
            fprintf(stderr, "Try 'atecc608-emu --help'.\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "atecc608-emu: unexpected argument '%s'; try --help\n", argv[optind]);
        return -1;
    }
    if (args->stats_socket != NULL && args->chip_options) {
        fprintf(stderr, "atecc608-emu: --stats SOCKET takes no other option: it asks a running "
                        "emulator, it does not start one\n");
        return -1;
    }
    if (args->long_watchdog && args->profile != EMU_PROFILE_TRUSTANDGO) {
        fprintf(stderr, "atecc608-emu: --long-watchdog applies to --profile trustandgo only; "
                        "a blank part gets its ChipMode from provisioning\n");
        return -1;
    }
    return 0;
}

/* mkdir -p of PATH's parent directory. */
static int emu_make_parent_dirs(const char *path)
{
    char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "atecc608-emu: cannot create directory %s: %s\n", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Removes PATH if it is a socket nobody listens on. 0 when PATH is free. */
static int emu_clear_stale_socket(const char *path, const struct sockaddr_un *addr)
{
    struct stat st;
    int fd;
    int rc = -1;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "atecc608-emu: %s exists and is not a socket; remove it or choose another --socket\n", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
        fprintf(stderr, "atecc608-emu: %s is in use: another emulator is listening on it\n", path);
    } else if (errno == ECONNREFUSED) {
        rc = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "atecc608-emu: cannot remove stale socket %s: %s\n", path, strerror(errno));
    } else {
        fprintf(stderr, "atecc608-emu: cannot check %s: %s\n", path, strerror(errno));
    }
    close(fd);
    return rc;
}

static int emu_listen(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = -1;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "atecc608-emu: socket path too long (at most %zu bytes): %s\n",
                sizeof(addr.sun_path) - 1, path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (emu_make_parent_dirs(path) != 0 || emu_clear_stale_socket(path, &addr) != 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "atecc608-emu: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* --stats SOCKET: one STATS request to a running emulator. */
static int emu_print_stats(const char *socket_path)
{
    struct emu_stats stats;
    char err[512];

    if (emu_wire_stats_fetch(socket_path, 0, &stats, err, sizeof(err)) != 0) {
        fprintf(stderr, "atecc608-emu: %s\n", err);
        return EMU_EXIT_RUNTIME;
    }
    emu_stats_print(stdout, &stats);
    return fflush(stdout) == 0 ? 0 : EMU_EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
    struct emu_daemon_args args = {
        .socket_path = emu_default_socket,
        .profile_name = "trustandgo",
        .profile = EMU_PROFILE_TRUSTANDGO,
        .bus_hz = 100000,
        .time_scale = 1.0,
        .revision = ATECC_REVISION_608B,
    };
    struct emu_options options;
    struct emu_chip *chip = NULL;
    struct sigaction action;
    sigset_t block_mask;
    sigset_t wait_mask;
    char err[512];
    int listen_fd = -1;
    int rc = EMU_EXIT_RUNTIME;
    int parsed;

    parsed = emu_parse_args(argc, argv, &args);
    if (parsed != 0)
        return parsed > 0 ? 0 : EMU_EXIT_USAGE;
    if (args.stats_socket != NULL)
        return emu_print_stats(args.stats_socket);

    /* Signals stay blocked except inside ppoll: no lost stop request. */
    sigemptyset(&block_mask);
    sigaddset(&block_mask, SIGTERM);
    sigaddset(&block_mask, SIGINT);
    sigprocmask(SIG_BLOCK, &block_mask, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    memset(&action, 0, sizeof(action));
    action.sa_handler = emu_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&options, 0, sizeof(options));
    options.profile = args.profile;
    options.state_path = args.state_path;
    options.bus_hz = args.bus_hz;
    options.time_scale = args.time_scale;
    options.typical_factor = args.typical_factor;
    options.revision = args.revision;
    options.seed = args.seed;
    options.long_watchdog = args.long_watchdog;
    chip = emu_chip_open(&options, err, sizeof(err));
    if (chip == NULL) {
        fprintf(stderr, "atecc608-emu: %s\n", err);
        goto cleanup;
    }
    for (size_t i = 0; i < args.fault_count; i++) {
        if (emu_fault_add(chip, args.faults[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "atecc608-emu: --fault %s: %s\n", args.faults[i], err);
            rc = EMU_EXIT_USAGE;
            goto cleanup;
        }
    }
    listen_fd = emu_listen(args.socket_path);
    if (listen_fd < 0)
        goto cleanup;
    fprintf(stderr,
            "atecc608-emu: listening on %s (profile %s, address 0x%02X, bus %u Hz, time scale %g, watchdog %g s)\n",
            args.socket_path, args.profile_name, emu_chip_address(chip), emu_chip_bus_hz(chip),
            emu_chip_time_scale(chip), emu_chip_watchdog_ms(chip) / 1000.0);
    fflush(stderr);
    if (emu_server_run(chip, listen_fd, &emu_stop_requested, &wait_mask) == 0)
        rc = 0;
    unlink(args.socket_path);
cleanup:
    if (listen_fd >= 0)
        close(listen_fd);
    emu_chip_close(chip);
    return rc;
}
