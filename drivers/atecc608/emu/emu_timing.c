/*
 * Emulator timing: the clock, command execution times, bus transfer times
 * and the watchdog period, all multiplied by the time scale.
 *
 * CHOICE (typical times are not published, shared/atecc608.md): a command
 * takes its datasheet maximum (atecc_max_exec_ms in protocol.h, at the
 * clock divider selected by ChipMode) times the typical factor, default
 * EMU_TYPICAL_FACTOR_DEFAULT = 0.6. A driver that always waits the maximum
 * therefore wastes 40 %, and one that polls sees the chip busy (NAK) for
 * 60 % of the maximum.
 *
 * Owns no chip state; never sleeps except through the chip's clock.
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "emu_internal.h"

static uint64_t emu_real_now_us(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void emu_real_sleep_us(void *ctx, uint64_t us)
{
    struct timespec ts = {
        .tv_sec = (time_t)(us / 1000000u),
        .tv_nsec = (long)(us % 1000000u) * 1000L,
    };

    (void)ctx;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const struct emu_clock *emu_real_clock(void)
{
    static const struct emu_clock real = {
        .now_us = emu_real_now_us,
        .sleep_us = emu_real_sleep_us,
        .ctx = NULL,
    };
    return &real;
}

uint64_t emu_now_us(struct emu_chip *chip)
{
    return chip->clock.now_us(chip->clock.ctx);
}

void emu_spend_us(struct emu_chip *chip, uint64_t us)
{
    if (us > 0 && chip->clock.sleep_us != NULL)
        chip->clock.sleep_us(chip->clock.ctx, us);
}

uint64_t emu_scaled_us(const struct emu_chip *chip, uint64_t real_us)
{
    double scaled = (double)real_us * chip->time_scale;

    if (!(scaled > 0.0))
        return 0;
    return (uint64_t)llround(scaled);
}

uint64_t emu_exec_us(const struct emu_chip *chip, uint8_t opcode)
{
    enum atecc_clock_divider divider =
        atecc_clock_divider_from_chipmode(chip->zones.config[ATECC_CFG_CHIP_MODE]);
    double typical_us = (double)atecc_max_exec_ms(opcode, divider) * 1000.0 * chip->typical_factor;

    return emu_scaled_us(chip, (uint64_t)llround(typical_us));
}

/* (bytes + 1 address byte) x 9 bit times at the bus speed. */
uint64_t emu_bus_us(const struct emu_chip *chip, size_t bytes)
{
    uint64_t bits = ((uint64_t)bytes + 1u) * 9u;

    return emu_scaled_us(chip, (bits * 1000000u + chip->bus_hz - 1u) / chip->bus_hz);
}

/* CHOICE (shared/atecc608.md): 1.3 s, or 13 s with ChipMode bit 2. */
uint64_t emu_watchdog_us(const struct emu_chip *chip)
{
    bool long_wd = (chip->zones.config[ATECC_CFG_CHIP_MODE] & ATECC_CHIPMODE_LONG_WATCHDOG) != 0;

    return emu_scaled_us(chip, (uint64_t)(long_wd ? ATECC_WATCHDOG_LONG_MS : ATECC_WATCHDOG_TYP_MS) * 1000u);
}
