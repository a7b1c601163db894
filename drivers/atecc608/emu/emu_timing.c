/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator timing: command execution times, bus transfer times, the
 * watchdog period, all multiplied by the time scale, and waiting for a
 * deadline on the chip's clock (the real clock is in emu_clock.c).
 *
 * CHOICE (typical times are not published, shared/atecc608.md): a command
 * takes its datasheet maximum (emu_exec_max_ms in emu_datasheet.c, the
 * emulator's own table, at the clock divider selected by ChipMode) times the typical factor, default
 * EMU_TYPICAL_FACTOR_DEFAULT = 0.6. A driver that always waits the maximum
 * therefore wastes 40 %, and one that polls sees the chip busy (NAK) for
 * 60 % of the maximum.
 *
 * Owns no chip state; never sleeps except through the chip's clock.
 */
#include <math.h>

#include "emu_datasheet.h"
#include "emu_internal.h"

uint64_t emu_now_us(struct emu_chip *chip)
{
    return chip->clock.now_us(chip->clock.ctx);
}

void emu_wait_until(struct emu_chip *chip, uint64_t deadline_us)
{
    uint64_t now;

    if (chip->clock.wait_until_us != NULL) {
        chip->clock.wait_until_us(chip->clock.ctx, deadline_us);
        return;
    }
    now = emu_now_us(chip);
    if (deadline_us > now)
        chip->clock.sleep_us(chip->clock.ctx, deadline_us - now);
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
    unsigned divider = emu_clock_divider(chip->zones.config[ATECC_CFG_CHIP_MODE]);
    double typical_us = (double)emu_exec_max_ms(opcode, divider) * 1000.0 * chip->typical_factor;

    return emu_scaled_us(chip, (uint64_t)llround(typical_us));
}

/* (bytes + 1 address byte) x 9 bit times at the bus speed. */
uint64_t emu_bus_us(const struct emu_chip *chip, size_t bytes)
{
    uint64_t bits = ((uint64_t)bytes + 1u) * 9u;

    return emu_scaled_us(chip, (bits * 1000000u + chip->bus_hz - 1u) / chip->bus_hz);
}

/* CHOICE (shared/atecc608.md): 1.3 s, or 13 s with ChipMode bit 2. */
uint32_t emu_chip_watchdog_ms(const struct emu_chip *chip)
{
    bool long_wd = (chip->zones.config[ATECC_CFG_CHIP_MODE] & ATECC_CHIPMODE_LONG_WATCHDOG) != 0;

    return long_wd ? ATECC_WATCHDOG_LONG_MS : ATECC_WATCHDOG_TYP_MS;
}

uint64_t emu_watchdog_us(const struct emu_chip *chip)
{
    return emu_scaled_us(chip, (uint64_t)emu_chip_watchdog_ms(chip) * 1000u);
}
