/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection: rules that make the chip misbehave the way real buses
 * and chips do, on a chosen event or at random with a reproducible seed.
 *
 * Grammar (also printed by atecc608-emu --help):
 *
 *   spec  := "clear" | rule { "," rule }
 *   rule  := kind "@" N          fire once, on the Nth event from now (N >= 1)
 *          | kind ":p=" P        fire on each event with probability P (0..1)
 *   kind  := "crc"       the response's CRC is corrupted (the command ran)
 *          | "nak"       the command write is not acknowledged (NAK at the
 *                        address phase); nothing is executed
 *          | "ecc"       status 0x05 (ECC fault) instead of executing
 *          | "watchdog"  the watchdog expires now: the chip falls asleep,
 *                        loses TempKey, and NAKs the command
 *          | "nowake"    a wake pulse is ignored (no wake response)
 *          | "flip"      one bit of the response's data is inverted and the
 *                        CRC computed over the changed bytes: corruption
 *                        the CRC cannot reveal (a bus proxy, a bad level
 *                        shifter upstream of the checksum)
 *
 * Events: a command (a write with word address 0x03) for crc, nak, ecc and
 * watchdog; a wake pulse that would wake the chip for nowake; a response
 * that carries data beyond a status byte (a signature, a read, a public
 * key) for flip. "clear"
 * removes every rule. Probabilities draw from xorshift64* seeded with
 * emu_options.seed, so a run repeats exactly for a fixed seed.
 *
 * Owns the rule table and its PRNG; never touches the chip itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

static const char *const emu_fault_names[EMU_FAULT_KIND_COUNT] = {
    [EMU_FAULT_CRC] = "crc",
    [EMU_FAULT_NAK] = "nak",
    [EMU_FAULT_NOWAKE] = "nowake",
    [EMU_FAULT_ECC] = "ecc",
    [EMU_FAULT_WATCHDOG] = "watchdog",
    [EMU_FAULT_FLIP] = "flip",
};

void emu_faults_init(struct emu_faults *faults, uint64_t seed)
{
    memset(faults, 0, sizeof(*faults));
    if (seed == 0) {
        if (emu_random_bytes((uint8_t *)&seed, sizeof(seed)) != 0 || seed == 0)
            seed = 0x9E3779B97F4A7C15u;
    }
    faults->rng = seed;
}

/* xorshift64*: uniform double in [0, 1). */
static double emu_faults_uniform(struct emu_faults *faults)
{
    uint64_t x = faults->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    faults->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0; /* 2^53 */
}

/* Counts one event for every rule of the kinds in `kinds`; returns fired kinds. */
static unsigned emu_faults_event(struct emu_faults *faults, unsigned kinds)
{
    unsigned fired = 0;
    size_t i = 0;

    while (i < faults->count) {
        struct emu_fault_rule *rule = &faults->rules[i];

        if ((kinds & (1u << rule->kind)) == 0) {
            i++;
            continue;
        }
        if (rule->nth) {
            if (--rule->countdown == 0) {
                fired |= 1u << rule->kind;
                /* One-shot: drop the rule, keep the order of the rest. */
                memmove(rule, rule + 1, (faults->count - i - 1) * sizeof(*rule));
                faults->count--;
                continue;
            }
        } else if (emu_faults_uniform(faults) < rule->probability) {
            fired |= 1u << rule->kind;
        }
        i++;
    }
    return fired;
}

unsigned emu_faults_on_command(struct emu_faults *faults)
{
    return emu_faults_event(faults, (1u << EMU_FAULT_CRC) | (1u << EMU_FAULT_NAK) |
                                        (1u << EMU_FAULT_ECC) | (1u << EMU_FAULT_WATCHDOG));
}

bool emu_faults_on_wake(struct emu_faults *faults)
{
    return emu_faults_event(faults, 1u << EMU_FAULT_NOWAKE) != 0;
}

bool emu_faults_on_data_response(struct emu_faults *faults)
{
    return emu_faults_event(faults, 1u << EMU_FAULT_FLIP) != 0;
}

static int emu_fault_parse_rule(const char *text, size_t len, struct emu_fault_rule *rule,
                                char *err, size_t err_len)
{
    char buf[64];
    char *sep;
    char *end = NULL;
    int kind = -1;

    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, err_len, "fault rule '%.*s' is empty or too long", (int)(len > 40 ? 40 : len), text);
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    sep = strpbrk(buf, "@:");
    if (sep == NULL) {
        snprintf(err, err_len, "fault rule '%s': expected KIND@N or KIND:p=P", buf);
        return -1;
    }
    for (int k = 0; k < EMU_FAULT_KIND_COUNT; k++) {
        size_t name_len = strlen(emu_fault_names[k]);
        if ((size_t)(sep - buf) == name_len && strncmp(buf, emu_fault_names[k], name_len) == 0)
            kind = k;
    }
    if (kind < 0) {
        snprintf(err, err_len, "fault rule '%s': unknown kind (crc, nak, nowake, ecc, watchdog, flip)", buf);
        return -1;
    }
    memset(rule, 0, sizeof(*rule));
    rule->kind = (enum emu_fault_kind)kind;
    errno = 0;
    if (*sep == '@') {
        unsigned long long n;
        if (sep[1] < '0' || sep[1] > '9')
            goto bad_number;
        n = strtoull(sep + 1, &end, 10);
        if (errno != 0 || *end != '\0' || n == 0)
            goto bad_number;
        rule->nth = true;
        rule->countdown = n;
        return 0;
    }
    if (strncmp(sep, ":p=", 3) != 0)
        goto bad_number;
    rule->probability = strtod(sep + 3, &end);
    if (errno != 0 || end == sep + 3 || *end != '\0' || !(rule->probability >= 0.0) ||
        rule->probability > 1.0)
        goto bad_number;
    return 0;
bad_number:
    snprintf(err, err_len, "fault rule '%s': expected @N with N >= 1 or :p=P with 0 <= P <= 1", buf);
    return -1;
}

int emu_fault_add(struct emu_chip *chip, const char *spec, char *err, size_t err_len)
{
    struct emu_fault_rule parsed[EMU_FAULT_RULES_MAX];
    size_t parsed_count = 0;
    const char *cursor = spec;

    if (chip == NULL || spec == NULL) {
        snprintf(err, err_len, "no chip or no fault specification");
        return -1;
    }
    if (strcmp(spec, "clear") == 0) {
        chip->faults.count = 0;
        return 0;
    }
    for (;;) {
        const char *comma = strchr(cursor, ',');
        size_t len = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);

        if (parsed_count == EMU_FAULT_RULES_MAX) {
            snprintf(err, err_len, "too many fault rules (at most %d)", EMU_FAULT_RULES_MAX);
            return -1;
        }
        if (emu_fault_parse_rule(cursor, len, &parsed[parsed_count], err, err_len) != 0)
            return -1;
        parsed_count++;
        if (comma == NULL)
            break;
        cursor = comma + 1;
    }
    /* All or nothing: a bad rule anywhere adds none. */
    if (chip->faults.count + parsed_count > EMU_FAULT_RULES_MAX) {
        snprintf(err, err_len, "too many fault rules (at most %d; use 'clear')", EMU_FAULT_RULES_MAX);
        return -1;
    }
    memcpy(&chip->faults.rules[chip->faults.count], parsed, parsed_count * sizeof(parsed[0]));
    chip->faults.count += parsed_count;
    return 0;
}
