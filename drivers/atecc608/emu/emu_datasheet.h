/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated chip's own datasheet facts: execution times, data-zone slot
 * sizes and the clock divider ChipMode selects. Written for the emulator
 * from the protocol facts (shared/atecc608.md, "Execution times", "Zones",
 * ChipMode), independently of the driver's tables: the driver's deadlines
 * and the chip's timing must not come from one table, or a wrong entry
 * would pass every test on both sides. Only the protocol constants
 * (opcodes, config offsets) are shared.
 */
#ifndef TRUSTLINK_EMU_DATASHEET_H
#define TRUSTLINK_EMU_DATASHEET_H

#include <stdint.h>

/* The clock divider ChipMode bits 3-7 select: 0 = M0, 1 = M1, 2 = M2. */
unsigned emu_clock_divider(uint8_t chip_mode);

/* Maximum execution time of opcode at divider (0-2), in ms; 0 when the
 * opcode is not one the chip executes. */
unsigned emu_exec_max_ms(uint8_t opcode, unsigned divider);

/* The command's name in lower case ("sign"), NULL when the opcode is not
 * one the chip executes. */
const char *emu_opcode_name(uint8_t opcode);

/* Size of data-zone slot (0-15) in bytes; 0 for no such slot. */
unsigned emu_slot_bytes(unsigned slot);

#endif
