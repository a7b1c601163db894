/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process ATECC608 emulator: a chip model behind a simulated I2C bus.
 *
 * The model owns the chip's zones, lock bits, slot rules, volatile state
 * (TempKey, message digest buffer, wake state, watchdog), RNG, P-256 keys
 * and timing. Masters reach it only through emu_bus_write/emu_bus_read,
 * i.e. through the chip's byte protocol, exactly as the atecc608-emu daemon
 * exposes it on its socket (atecc608/emu_wire.h). It shares nothing with
 * the driver but atecc608/protocol.h and atecc608/crc.h.
 *
 * Thread safety: one emu_chip is not thread-safe; its owner serialises
 * calls (the daemon is single-threaded).
 */
#ifndef ATECC608_EMU_H
#define ATECC608_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The emulator's time source. now_us returns a monotonic microsecond count.
 * Every wait is an absolute deadline on that count (a transaction ends at
 * its start + its bus time), reached with wait_until_us, or, when that is
 * NULL, with sleep_us(deadline - now_us()). Either may return late; the
 * chip still acts at the deadline, so a late return never delays it.
 * NULL in emu_options means CLOCK_MONOTONIC with waits that sleep to just
 * before the deadline and spin the rest (emu_clock.c). Tests pass a
 * virtual clock shared with the driver, so timing and the watchdog run
 * deterministically and instantly.
 */
struct emu_clock {
    uint64_t (*now_us)(void *ctx);
    void (*sleep_us)(void *ctx, uint64_t us);
    void *ctx;
    void (*wait_until_us)(void *ctx, uint64_t deadline_us); /* optional */
};

enum emu_profile {
    EMU_PROFILE_TRUSTANDGO, /* config and data locked, I2C 0x35, device key in slot 0 */
    EMU_PROFILE_BLANK,      /* nothing locked, I2C 0x60, for provisioning */
};

struct emu_options {
    enum emu_profile profile;
    /* State file, read at open if it exists, written atomically after every
     * change of persistent state. NULL: the chip lives in memory only. */
    const char *state_path;
    uint32_t bus_hz;        /* 0 = 100000 */
    /* Multiplies every chip and bus duration: 1 = real time, 0 = instant.
     * At 0 the watchdog never fires on its own (fault injection can still
     * expire it). */
    double time_scale;
    /* Typical execution time as a fraction of the datasheet maximum
     * (0 = the emulator's documented default, 0.6: see emu_timing.c). */
    double typical_factor;
    uint8_t revision;       /* Info revision byte: 0x02 (608A) or 0x03 (608B); 0 = 0x03 */
    uint64_t seed;          /* seeds probabilistic faults; 0 = from the RNG */
    const struct emu_clock *clock; /* NULL = real time */
    /*
     * Trust&GO profile only: a chip created from the profile gets ChipMode
     * 0x05 (bit 2: the ~13 s watchdog) instead of the shipped 0x01, i.e. a
     * custom-provisioned part with the Trust&GO slot layout. A chip loaded
     * from state_path is never changed: open fails if its ChipMode lacks
     * bit 2. Without the option a loaded chip keeps whatever it has.
     */
    bool long_watchdog;
};

struct emu_chip;

/* NULL on failure with a message in err. */
struct emu_chip *emu_chip_open(const struct emu_options *options, char *err, size_t err_len);
void emu_chip_close(struct emu_chip *chip);

enum emu_bus_result {
    EMU_BUS_ACK = 0,
    EMU_BUS_NAK_ADDR = 1,
    EMU_BUS_NAK_DATA = 2,
};

enum {
    EMU_BUS_IGNORE_NAK = 0x01, /* same meaning as EMU_WIRE_IGNORE_NAK */
};

/* One I2C write transaction of len bytes (after the address) to addr7. */
enum emu_bus_result emu_bus_write(struct emu_chip *chip, uint8_t addr7,
                                  const uint8_t *data, size_t len, unsigned flags);
/* One I2C read transaction of len bytes from addr7. */
enum emu_bus_result emu_bus_read(struct emu_chip *chip, uint8_t addr7, uint8_t *buf, size_t len);

/*
 * Adds a fault rule from text, e.g. "crc@3" (corrupt the CRC of the 3rd
 * response from now), "nak:p=0.01", "nowake@1", "ecc@2", "watchdog@1",
 * "clear". Grammar documented in emu_fault.c and by atecc608-emu --help.
 * Returns 0, or -1 with a message in err.
 */
int emu_fault_add(struct emu_chip *chip, const char *spec, char *err, size_t err_len);

/*
 * Counters for tests and benchmarks: what the chip saw, whatever the host
 * stack. The daemon serves them with the STATS request (emu_wire.h).
 */
struct emu_stats {
    uint64_t wake_pulses;    /* writes to 0x00 that held SDA low >= tWLO
                                (woke the chip, found it awake, or were
                                swallowed by a nowake fault) */
    uint64_t wakes;          /* wake pulses that woke the chip */
    uint64_t ignored_wakes;  /* wake pulses sent to an awake chip */
    uint64_t transactions;   /* I2C transactions: writes and reads, any address */
    uint64_t commands;       /* complete command packets (any CRC, any status) */
    uint64_t idles;
    uint64_t sleeps;
    uint64_t watchdog_expiries;
    uint64_t bus_bytes;      /* bytes_to_chip + bytes_from_chip */
    /* Bytes clocked each way. To the chip: every address byte, and the
     * data bytes of a write unless its address was NAKed (a master that
     * ignores NAKs clocks them anyway). From the chip: the data bytes of
     * acknowledged reads. */
    uint64_t bytes_to_chip;
    uint64_t bytes_from_chip;
    uint64_t naks;           /* transactions whose address byte was NAKed */
    uint64_t busy_us;        /* time spent executing commands */
    uint64_t faults_injected;
    /* Commands with a good count and CRC, by opcode byte, whatever the
     * chip answered (an unknown opcode, 0xEE before the watchdog...). */
    uint64_t by_opcode[256];
};
void emu_stats_get(const struct emu_chip *chip, struct emu_stats *out);

/* The 7-bit address the chip answers on now. */
uint8_t emu_chip_address(const struct emu_chip *chip);
uint32_t emu_chip_bus_hz(const struct emu_chip *chip);
double emu_chip_time_scale(const struct emu_chip *chip);
/* The watchdog period ChipMode selects, in chip milliseconds (unscaled). */
uint32_t emu_chip_watchdog_ms(const struct emu_chip *chip);

/*
 * Added by the emulator: NULL while every change of persistent state has
 * reached the state file, else why the last save failed (the command that
 * caused it was answered with status 0x0F, the change kept in memory).
 */
const char *emu_chip_last_error(const struct emu_chip *chip);

#endif
