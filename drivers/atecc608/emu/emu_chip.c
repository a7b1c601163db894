/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator bus front end: what the chip does with each I2C transaction.
 *
 * Owns the power state (asleep / idle / awake), the wake rule, the word
 * addresses, the I/O address counter, NAKs, the watchdog, busy time, the
 * framing of commands and responses (count, CRC), fault application, and
 * the chip's lifetime (open/close). Command meaning lives in
 * emu_commands.c. Must never execute a command it NAKs or one whose CRC
 * is wrong.
 *
 * Bus facts (shared/atecc608.md, emu_wire.h):
 * - Wake: a write to address 0x00 holds SDA low for 8 bit times, plus 9
 *   per zero data byte when the master ignores the NAK; at least tWLO (60
 *   us) at the bus speed wakes a sleeping or idle chip. The chip answers
 *   only after tWHI (1.5 ms, 20 ms with power-on self-test), scaled.
 * - Word address 0x00 resets the I/O counter, 0x01 sleep, 0x02 idle, 0x03
 *   command. CHOICE: reserved word addresses (0x04-0xFF) are NAKed at the
 *   data byte.
 * - Asleep, idle, before tWHI, or busy executing: the address is NAKed for
 *   writes and reads. After a partial command (fewer bytes than its count)
 *   reads NAK until the next write. CHOICE: bytes beyond the count are
 *   NAKed (NAK_DATA) and the command is answered with 0xFF.
 * - Reads return the output buffer from the I/O counter on, running on
 *   across transactions; past the end the chip returns 0xFF bytes.
 * - Watchdog: armed at wake for 1.3 s (13 s) scaled; expiry = sleep. It is
 *   checked lazily at each transaction; at time scale 0 it is never armed.
 *   A command that would finish after it gets 0xEE and is not executed.
 * - Time: the chip acts on a transaction at its modelled end, its start +
 *   (bytes + 1) x 9 bits / bus speed (scaled), not when the host's wait
 *   for that moment returns; a command is ready that much execution time
 *   after its last byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atecc608/crc.h"
#include "emu_internal.h"

static const uint8_t emu_wake_response[4] = ATECC_WAKE_RESPONSE;

static void emu_volatile_clear(struct emu_chip *chip)
{
    emu_cleanse(&chip->vol, sizeof(chip->vol));
    memset(&chip->vol, 0, sizeof(chip->vol));
}

/* Sleep (word 0x01 or watchdog): all volatile state goes; the address is
 * chosen again (UserExtraAdd applies from the next sleep on). */
static void emu_enter_sleep(struct emu_chip *chip)
{
    chip->power = EMU_POWER_ASLEEP;
    chip->watchdog_armed = false;
    chip->partial = false;
    emu_volatile_clear(chip);
    chip->addr7 = emu_chip_address_from_config(chip);
}

static void emu_check_watchdog(struct emu_chip *chip, uint64_t now)
{
    if (chip->power == EMU_POWER_AWAKE && chip->watchdog_armed && now >= chip->watchdog_at_us) {
        chip->stats.watchdog_expiries++;
        emu_enter_sleep(chip);
    }
}

static void emu_set_output(struct emu_chip *chip, const uint8_t *data, size_t len)
{
    memcpy(chip->out, data, len);
    chip->out_len = len;
    chip->io_pos = 0;
}

/* count || data || CRC into the output buffer. */
static void emu_set_response(struct emu_chip *chip, const struct emu_rsp *rsp, bool corrupt_crc)
{
    size_t count = rsp->len + 3;

    chip->out[0] = (uint8_t)count;
    memcpy(&chip->out[1], rsp->data, rsp->len);
    atecc_crc16_put(chip->out, rsp->len + 1, &chip->out[rsp->len + 1]);
    if (corrupt_crc)
        chip->out[count - 1] ^= 0x5A;
    chip->out_len = count;
    chip->io_pos = 0;
}

static void emu_set_status(struct emu_chip *chip, uint8_t status)
{
    struct emu_rsp rsp = { .data = { status }, .len = 1 };

    emu_set_response(chip, &rsp, false);
}

/* A write to address 0x00: a wake pulse if SDA stays low long enough. */
static enum emu_bus_result emu_wake_pulse(struct emu_chip *chip, const uint8_t *data, size_t len,
                                          unsigned flags, uint64_t now)
{
    uint64_t low_bits = 8;
    uint64_t t_whi_us;

    if ((flags & EMU_BUS_IGNORE_NAK) != 0) {
        for (size_t i = 0; i < len && data[i] == 0x00; i++)
            low_bits += 9;
    }
    /* low_us = bits / bus_hz >= tWLO, kept in integers. */
    if (low_bits * 1000000u < (uint64_t)ATECC_T_WLO_US * chip->bus_hz)
        goto done;
    chip->stats.wake_pulses++;
    if (chip->power == EMU_POWER_AWAKE) {
        chip->stats.ignored_wakes++;
        goto done;
    }
    if (emu_faults_on_wake(&chip->faults)) {
        chip->stats.faults_injected++;
        goto done;
    }
    chip->stats.wakes++;
    chip->power = EMU_POWER_AWAKE;
    chip->partial = false;
    t_whi_us = (chip->zones.config[ATECC_CFG_CHIP_OPTIONS] & ATECC_CHIPOPT_POWERON_SELFTEST) != 0
                   ? ATECC_T_WHI_SELFTEST_US
                   : ATECC_T_WHI_US;
    chip->ready_at_us = now + emu_scaled_us(chip, t_whi_us);
    chip->busy_until_us = 0;
    /* Time scale 0 means no time passes, so the watchdog cannot run. */
    chip->watchdog_armed = chip->time_scale > 0.0;
    chip->watchdog_at_us = now + emu_watchdog_us(chip);
    emu_set_output(chip, emu_wake_response, sizeof(emu_wake_response));
done:
    return (flags & EMU_BUS_IGNORE_NAK) != 0 ? EMU_BUS_ACK : EMU_BUS_NAK_ADDR;
}

/* Can the chip take a transaction on its address now? */
static bool emu_listening(const struct emu_chip *chip, uint64_t now)
{
    return chip->power == EMU_POWER_AWAKE && now >= chip->ready_at_us && now >= chip->busy_until_us;
}

/*
 * Spends a transaction's bus time (the address byte and len data bytes,
 * read from the chip or written to it) and returns its end on the chip's
 * clock: its start + its bus time. Everything the chip does with the
 * transaction (ready times, the watchdog) counts from this deadline, never
 * from when the wait returned, so a host that wakes late cannot delay the
 * chip.
 */
static uint64_t emu_transfer_from(struct emu_chip *chip, uint64_t start, size_t len, bool read)
{
    uint64_t bus_us = emu_bus_us(chip, len);
    uint64_t end = start + bus_us;

    chip->stats.bus_bytes += len + 1;
    chip->stats.bytes_to_chip += 1 + (read ? 0 : len);
    if (read)
        chip->stats.bytes_from_chip += len;
    if (bus_us > 0)
        emu_wait_until(chip, end);
    return end;
}

/*
 * A transaction on the chip's address: the chip answers the address byte
 * with ACK or NAK at its end. A NAK ends the transaction there (the master
 * stops), so it costs the address byte only, unless the master ignores
 * NAKs and clocks its bytes out anyway. Returns the transaction's end, or
 * 0 when the address was NAKed (the NAK has been counted and waited for).
 */
static uint64_t emu_addressed_transfer(struct emu_chip *chip, uint8_t addr7, bool is_read,
                                       size_t len, unsigned flags)
{
    uint64_t start = emu_now_us(chip);
    uint64_t address_end = start + emu_bus_us(chip, 0);

    emu_check_watchdog(chip, address_end);
    /* A read also NAKs after a partial command, until the next write. */
    if (addr7 == chip->addr7 && !(is_read && chip->partial) && emu_listening(chip, address_end))
        return emu_transfer_from(chip, start, len, is_read);
    chip->stats.naks++;
    if ((flags & EMU_BUS_IGNORE_NAK) != 0)
        emu_transfer_from(chip, start, len, is_read);
    else
        emu_transfer_from(chip, start, 0, is_read);
    return 0;
}



static enum emu_bus_result emu_command(struct emu_chip *chip, const uint8_t *pkt, size_t len,
                                       unsigned flags, uint64_t now)
{
    unsigned fired = emu_faults_on_command(&chip->faults);
    struct emu_rsp rsp = { .len = 0 };
    struct emu_cmd cmd;
    uint64_t exec_us;
    size_t count;

    if ((fired & (1u << EMU_FAULT_WATCHDOG)) != 0) {
        chip->stats.faults_injected++;
        chip->stats.watchdog_expiries++;
        emu_enter_sleep(chip);
        return EMU_BUS_NAK_ADDR;
    }
    if ((fired & (1u << EMU_FAULT_NAK)) != 0) {
        chip->stats.faults_injected++;
        return EMU_BUS_NAK_ADDR;
    }
    if (len == 0) {
        chip->partial = true;
        return EMU_BUS_ACK;
    }
    count = pkt[ATECC_PKT_COUNT];
    if (count < ATECC_PKT_OVERHEAD || count > ATECC_CMD_MAX) {
        emu_set_status(chip, ATECC_STATUS_CRC_ERROR);
        return EMU_BUS_ACK;
    }
    if (len < count) {
        chip->partial = true;
        return EMU_BUS_ACK;
    }
    if (len > count) {
        emu_set_status(chip, ATECC_STATUS_CRC_ERROR);
        return (flags & EMU_BUS_IGNORE_NAK) != 0 ? EMU_BUS_ACK : EMU_BUS_NAK_DATA;
    }
    chip->stats.commands++;
    if (!atecc_crc16_check(pkt, count)) {
        emu_set_status(chip, ATECC_STATUS_CRC_ERROR);
        return EMU_BUS_ACK;
    }
    cmd.opcode = pkt[ATECC_PKT_OPCODE];
    chip->stats.by_opcode[cmd.opcode]++;
    cmd.param1 = pkt[ATECC_PKT_PARAM1];
    cmd.param2 = (uint16_t)(pkt[ATECC_PKT_PARAM2] | (pkt[ATECC_PKT_PARAM2 + 1] << 8));
    cmd.data = &pkt[ATECC_PKT_DATA];
    cmd.data_len = count - ATECC_PKT_OVERHEAD;

    exec_us = emu_exec_us(chip, cmd.opcode);
    if (chip->watchdog_armed && now + exec_us > chip->watchdog_at_us) {
        emu_set_status(chip, ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE);
        return EMU_BUS_ACK;
    }
    if ((fired & (1u << EMU_FAULT_ECC)) != 0) {
        chip->stats.faults_injected++;
        rsp.data[0] = ATECC_STATUS_ECC_FAULT;
        rsp.len = 1;
    } else {
        emu_command_run(chip, &cmd, &rsp);
    }
    if (rsp.len > 1 && emu_faults_on_data_response(&chip->faults)) {
        /* The middle byte: inside R or S of a signature, inside any read. */
        rsp.data[rsp.len / 2] ^= 0x01;
        chip->stats.faults_injected++;
    }
    if ((fired & (1u << EMU_FAULT_CRC)) != 0)
        chip->stats.faults_injected++;
    emu_set_response(chip, &rsp, (fired & (1u << EMU_FAULT_CRC)) != 0);
    emu_cleanse(&rsp, sizeof(rsp));
    chip->busy_until_us = now + exec_us;
    chip->stats.busy_us += exec_us;
    return EMU_BUS_ACK;
}

enum emu_bus_result emu_bus_write(struct emu_chip *chip, uint8_t addr7, const uint8_t *data, size_t len,
                                  unsigned flags)
{
    enum emu_bus_result result = EMU_BUS_NAK_ADDR;
    uint64_t now;

    if (chip == NULL || (data == NULL && len > 0))
        return EMU_BUS_NAK_ADDR;
    chip->stats.transactions++;
    if (addr7 == 0x00) {
        /* Nobody acknowledges 0x00: the master stops after the address
         * byte unless it ignores NAKs and clocks its zero bytes on. */
        now = emu_transfer_from(chip, emu_now_us(chip),
                                (flags & EMU_BUS_IGNORE_NAK) != 0 ? len : 0, false);
        emu_check_watchdog(chip, now);
        return emu_wake_pulse(chip, data, len, flags, now);
    }
    now = emu_addressed_transfer(chip, addr7, false, len, flags);
    if (now == 0)
        goto done;
    emu_check_watchdog(chip, now);
    chip->partial = false;
    if (len == 0) {
        result = EMU_BUS_ACK; /* address probe */
        goto done;
    }
    switch (data[0]) {
    case ATECC_WORD_RESET:
        chip->io_pos = 0;
        result = EMU_BUS_ACK;
        break;
    case ATECC_WORD_SLEEP:
        chip->stats.sleeps++;
        emu_enter_sleep(chip);
        result = EMU_BUS_ACK;
        break;
    case ATECC_WORD_IDLE:
        /* Idle keeps TempKey and the buffers but stops the watchdog. */
        chip->stats.idles++;
        chip->power = EMU_POWER_IDLE;
        chip->watchdog_armed = false;
        result = EMU_BUS_ACK;
        break;
    case ATECC_WORD_COMMAND:
        result = emu_command(chip, data + 1, len - 1, flags, now);
        break;
    default:
        result = EMU_BUS_NAK_DATA;
        break;
    }
done:
    if (result != EMU_BUS_ACK && (flags & EMU_BUS_IGNORE_NAK) != 0)
        result = EMU_BUS_ACK;
    return result;
}

enum emu_bus_result emu_bus_read(struct emu_chip *chip, uint8_t addr7, uint8_t *buf, size_t len)
{
    uint64_t now;

    if (chip == NULL || (buf == NULL && len > 0))
        return EMU_BUS_NAK_ADDR;
    chip->stats.transactions++;
    now = emu_addressed_transfer(chip, addr7, true, len, 0);
    if (now == 0)
        return EMU_BUS_NAK_ADDR;
    emu_check_watchdog(chip, now);
    for (size_t i = 0; i < len; i++) {
        buf[i] = chip->io_pos < chip->out_len ? chip->out[chip->io_pos] : 0xFF;
        if (chip->io_pos < sizeof(chip->out))
            chip->io_pos++;
    }
    return EMU_BUS_ACK;
}

static int emu_options_check(const struct emu_options *options, char *err, size_t err_len)
{
    if (options->profile != EMU_PROFILE_TRUSTANDGO && options->profile != EMU_PROFILE_BLANK) {
        snprintf(err, err_len, "unknown emulator profile %d", (int)options->profile);
        return -1;
    }
    if (options->bus_hz > 1000000u) {
        snprintf(err, err_len, "bus speed %u Hz is above the ATECC608's 1 MHz maximum", options->bus_hz);
        return -1;
    }
    if (!(options->time_scale >= 0.0) || options->time_scale > 1000.0) {
        snprintf(err, err_len, "time scale must be between 0 and 1000");
        return -1;
    }
    if (!(options->typical_factor >= 0.0) || options->typical_factor > 1.0) {
        snprintf(err, err_len, "typical factor must be in (0, 1] (0 selects the default %.1f)",
                 EMU_TYPICAL_FACTOR_DEFAULT);
        return -1;
    }
    if (options->clock != NULL && (options->clock->now_us == NULL || options->clock->sleep_us == NULL)) {
        snprintf(err, err_len, "emulator clock needs both now_us and sleep_us");
        return -1;
    }
    if (options->long_watchdog && options->profile != EMU_PROFILE_TRUSTANDGO) {
        snprintf(err, err_len, "the long watchdog option applies to the trustandgo profile only "
                               "(a blank part gets its ChipMode from provisioning)");
        return -1;
    }
    return 0;
}

/*
 * The long watchdog option shapes a new chip only. A saved chip is the
 * chip: rewriting its locked config zone behind the user's back would make
 * measurements against it lie, so an option that disagrees is an error.
 */
static int emu_long_watchdog_check(const struct emu_chip *chip, const struct emu_options *options,
                                   char *err, size_t err_len)
{
    uint8_t chip_mode = chip->zones.config[ATECC_CFG_CHIP_MODE];

    if (!options->long_watchdog || (chip_mode & ATECC_CHIPMODE_LONG_WATCHDOG) != 0)
        return 0;
    snprintf(err, err_len,
             "the long watchdog (--long-watchdog) was asked for, but state file %s holds a chip "
             "with ChipMode 0x%02X (short watchdog), which is never changed: remove the file to "
             "create a new chip, or run without --long-watchdog",
             chip->state_path, chip_mode);
    return -1;
}

/* Power-up: state file if present, else the profile (saved at once). */
static int emu_zones_power_up(struct emu_chip *chip, const struct emu_options *options, char *err,
                              size_t err_len)
{
    if (chip->state_path != NULL) {
        int rc = emu_state_load(&chip->zones, chip->state_path, err, err_len);
        if (rc == 0)
            return emu_long_watchdog_check(chip, options, err, err_len);
        if (rc != 1)
            return -1; /* corrupt or unreadable: never silently replaced */
    }
    if (emu_profile_build(&chip->zones, options->profile, chip->revision, err, err_len) != 0)
        return -1;
    if (options->long_watchdog)
        chip->zones.config[ATECC_CFG_CHIP_MODE] |= ATECC_CHIPMODE_LONG_WATCHDOG;
    if (chip->state_path != NULL && emu_state_save(&chip->zones, chip->state_path, err, err_len) != 0)
        return -1;
    return 0;
}

struct emu_chip *emu_chip_open(const struct emu_options *options, char *err, size_t err_len)
{
    struct emu_chip *chip = NULL;
    struct emu_chip *result = NULL;

    if (options == NULL) {
        snprintf(err, err_len, "no emulator options");
        goto cleanup;
    }
    if (emu_options_check(options, err, err_len) != 0)
        goto cleanup;
    chip = calloc(1, sizeof(*chip));
    if (chip == NULL) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    chip->clock = options->clock != NULL ? *options->clock : *emu_real_clock();
    chip->profile = options->profile;
    chip->bus_hz = options->bus_hz != 0 ? options->bus_hz : 100000u;
    chip->time_scale = options->time_scale;
    chip->typical_factor = options->typical_factor > 0.0 ? options->typical_factor : EMU_TYPICAL_FACTOR_DEFAULT;
    chip->revision = options->revision != 0 ? options->revision : ATECC_REVISION_608B;
    if (options->state_path != NULL) {
        chip->state_path = strdup(options->state_path);
        if (chip->state_path == NULL) {
            snprintf(err, err_len, "out of memory");
            goto cleanup;
        }
    }
    emu_faults_init(&chip->faults, options->seed);
    if (emu_zones_power_up(chip, options, err, err_len) != 0)
        goto cleanup;
    chip->power = EMU_POWER_ASLEEP;
    chip->addr7 = emu_chip_address_from_config(chip);
    result = chip;
    chip = NULL;
cleanup:
    emu_chip_close(chip);
    return result;
}

void emu_chip_close(struct emu_chip *chip)
{
    if (chip == NULL)
        return;
    free(chip->state_path);
    /* Private keys live in the data zone; TempKey may hold secrets too. */
    emu_cleanse(chip, sizeof(*chip));
    free(chip);
}

void emu_stats_get(const struct emu_chip *chip, struct emu_stats *out)
{
    *out = chip->stats;
}

uint8_t emu_chip_address(const struct emu_chip *chip)
{
    return chip->addr7;
}

uint32_t emu_chip_bus_hz(const struct emu_chip *chip)
{
    return chip->bus_hz;
}

double emu_chip_time_scale(const struct emu_chip *chip)
{
    return chip->time_scale;
}

const char *emu_chip_last_error(const struct emu_chip *chip)
{
    return chip->persist_failed ? chip->last_error : NULL;
}
