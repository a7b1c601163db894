/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chip's counters on the emu_wire socket: the STATS reply's encoding
 * (daemon side), its checked decoding and a one-shot client (tools,
 * benchmarks), and their text form ("name value" lines, atecc608-emu
 * --stats). Layout: atecc608/emu_wire.h.
 */
#ifndef ATECC608_EMU_STATS_WIRE_H
#define ATECC608_EMU_STATS_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emu.h"

/* Writes the STATS payload for st into buf; returns its length, or 0 when
 * cap is too small. */
size_t emu_wire_stats_encode(const struct emu_stats *st, uint8_t *buf, size_t cap);

/* Checks and decodes a STATS payload (from the socket: untrusted). Fields
 * a newer daemon appends are ignored. 0, or -1 with a message in err. */
int emu_wire_stats_decode(const uint8_t *payload, size_t len, struct emu_stats *out, char *err,
                          size_t err_len);

/* Connects to the daemon at socket_path, asks STATS once, closes. Waits
 * at most timeout_ms for the reply (0 = 10 s). 0, or -1 with a message
 * in err (no daemon, a daemon without the request, a malformed reply). */
int emu_wire_stats_fetch(const char *socket_path, unsigned timeout_ms, struct emu_stats *out,
                         char *err, size_t err_len);

/* The counters as "name value" lines; commands by opcode as
 * "command.NAME value" (NAME from the datasheet table, else 0xNN), only
 * opcodes seen. */
void emu_stats_print(FILE *out, const struct emu_stats *st);

#endif
