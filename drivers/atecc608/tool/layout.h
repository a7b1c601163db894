/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provisioning layouts: what `atecc608-tool provision` writes into a blank
 * part's configuration zone, and which slots get a key.
 *
 * Owns: the layout file format (JSON, see docs/provisioning.md), the
 * built-in layouts, and the pure functions that apply a layout to a
 * 128-byte config image, compare one against it and describe it.
 * Must never: talk to the chip (provision.c does), touch config bytes
 * 0-15 or 84-89 (serial, revision, UserExtra, lock bytes, SlotLocked:
 * set only by the chip, UpdateExtra or Lock), or accept a layout that
 * leaves no P-256 private-key slot with a key to generate.
 */
#ifndef ATECC608_TOOL_LAYOUT_H
#define ATECC608_TOOL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "atecc608/protocol.h"

#define LAYOUT_NAME_MAX 64
#define LAYOUT_USE_MAX 80

struct layout_slot {
    uint16_t slot_config;
    uint16_t key_config;
    bool genkey;                    /* create a P-256 key here after config lock */
    char use[LAYOUT_USE_MAX];       /* free text, shown to the user */
};

struct layout {
    char name[LAYOUT_NAME_MAX];
    uint8_t i2c_address;            /* 7-bit; byte 16 holds it shifted left */
    uint8_t chip_mode;
    uint16_t chip_options;
    struct layout_slot slots[ATECC_SLOT_COUNT];
};

/* Loads a built-in layout by NAME, or else the JSON file at that path.
 * 0, or -1 with err saying what is wrong (JSON path and what was expected). */
int layout_load(const char *name_or_path, struct layout *out, char *err, size_t err_len);
/* Parses layout JSON text (the file format). */
int layout_parse(const char *text, struct layout *out, char *err, size_t err_len);
/* Names of the built-in layouts, space separated. */
const char *layout_builtin_names(void);
/* Writes the layout as JSON in the file format (for --print-layout). */
void layout_print_json(FILE *out, const struct layout *layout);

/* Copies the layout's fields into a config image (other bytes kept). */
void layout_apply(const struct layout *layout, uint8_t config[ATECC_CONFIG_SIZE]);
/* Number of layout fields in which config differs from the layout; with
 * out non-NULL, one line per difference ("slot 3 KeyConfig 0x001c, layout
 * 0x0073"). */
unsigned layout_diff(const struct layout *layout, const uint8_t config[ATECC_CONFIG_SIZE],
                     FILE *out);
/* One line per layout field, "now -> layout" where they differ: the diff
 * between two config images restricted to the layout's fields. */
void layout_show_change(const uint8_t before[ATECC_CONFIG_SIZE],
                        const uint8_t after[ATECC_CONFIG_SIZE], FILE *out);
/* Prints the layout's fields in words (slot use, config words). */
void layout_describe(const struct layout *layout, FILE *out);

#endif
