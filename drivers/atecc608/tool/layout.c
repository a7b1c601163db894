/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provisioning layouts (see layout.h): the built-in "trustlink-default",
 * the JSON file format, and applying/comparing a layout against a config
 * image. Word meanings are the facts of shared/atecc608.md ("Zones").
 */
#include "layout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/*
 * trustlink-default mirrors the Trust&GO (TNGTLS) slot map the PKCS#11
 * module's default configuration expects (key_slots [0], free_slots
 * [2,3,4]): slot 0 the permanent device key, slot 1 an internal-sign key,
 * slots 2-4 keys GenKey may renew (key rotation), the data slots as on
 * TNGTLS. ChipOptions as TNGTLS (0x600E). The I2C address stays 0x60 (a
 * blank part's): the layout does not move the part on its bus, so the
 * interface string used for provisioning stays valid afterwards.
 */
static const struct layout layout_trustlink_default = {
    .name = "trustlink-default",
    .i2c_address = ATECC_ADDR_DEFAULT,
    .chip_mode = 0x00,
    .chip_options = 0x600E,
    .slots = {
        { 0x0085, 0x0053, true, "device key: permanent once the data zone is locked" },
        { 0x0082, 0x0053, true, "internal-sign (attestation) key: permanent" },
        { 0x2085, 0x0073, false, "rotation key: GenKey may renew it; lockable" },
        { 0x2085, 0x0073, false, "rotation key: GenKey may renew it; lockable" },
        { 0x2085, 0x0073, false, "rotation key: GenKey may renew it; lockable" },
        { 0x8F0F, 0x001C, false, "data: MAC address" },
        { 0x0F8F, 0x007C, false, "IO protection key: never readable; lockable" },
        { 0x8F8F, 0x001C, false, "reserved" },
        { 0x0F0F, 0x003C, false, "general data, 416 bytes; lockable" },
        { 0x0F8F, 0x001A, false, "AES key: never readable" },
        { 0x8F0F, 0x001C, false, "data: device certificate (compressed; unused here)" },
        { 0x8F0F, 0x0010, false, "signer public key" },
        { 0x8F0F, 0x001C, false, "data: signer certificate (compressed; unused here)" },
        { 0x8F8F, 0x001C, false, "reserved" },
        { 0x8F8F, 0x001C, false, "reserved" },
        { 0x8F8F, 0x001C, false, "reserved" },
    },
};

static const struct layout *const layout_builtins[] = { &layout_trustlink_default };

const char *layout_builtin_names(void)
{
    return "trustlink-default";
}

static int layout_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int layout_error(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_p256_private(uint16_t key_config)
{
    return (key_config & ATECC_KEYCFG_PRIVATE) != 0 &&
           ((key_config & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT) == ATECC_KEYTYPE_P256;
}

/* A 16-bit word given as an integer or a "0x..." string. */
static int parse_word(json_object *v, unsigned max, const char *path, unsigned *out, char *err,
                      size_t err_len)
{
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < 0 || (uint64_t)n > max)
            return layout_error(err, err_len, "%s: expected 0-0x%x, got %lld", path, max, (long long)n);
        *out = (unsigned)n;
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        unsigned long n;

        errno = 0;
        n = strtoul(s, &end, 0);
        if (s[0] == '\0' || s[0] == '-' || errno != 0 || *end != '\0' || n > max)
            return layout_error(err, err_len, "%s: expected a number 0-0x%x (e.g. \"0x%04x\"), got \"%s\"",
                                path, max, max, s);
        *out = (unsigned)n;
        return 0;
    }
    return layout_error(err, err_len, "%s: expected a number or a \"0x...\" string", path);
}

static int parse_slot(json_object *o, unsigned index, struct layout_slot *slot, char *err,
                      size_t err_len)
{
    char path[48];
    unsigned v = 0;
    bool have_slot_config = false, have_key_config = false, have_index = false;

    if (!json_object_is_type(o, json_type_object))
        return layout_error(err, err_len, "slots[%u]: expected an object", index);
    json_object_object_foreach(o, key, val) {
        snprintf(path, sizeof(path), "slots[%u].%s", index, key);
        if (strcmp(key, "slot") == 0) {
            if (parse_word(val, 15, path, &v, err, err_len) != 0)
                return -1;
            if (v != index)
                return layout_error(err, err_len, "%s: expected %u (slots are listed 0 to 15 in order), got %u",
                                    path, index, v);
            have_index = true;
        } else if (strcmp(key, "slot_config") == 0) {
            if (parse_word(val, 0xFFFF, path, &v, err, err_len) != 0)
                return -1;
            slot->slot_config = (uint16_t)v;
            have_slot_config = true;
        } else if (strcmp(key, "key_config") == 0) {
            if (parse_word(val, 0xFFFF, path, &v, err, err_len) != 0)
                return -1;
            slot->key_config = (uint16_t)v;
            have_key_config = true;
        } else if (strcmp(key, "genkey") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                return layout_error(err, err_len, "%s: expected true or false", path);
            slot->genkey = json_object_get_boolean(val);
        } else if (strcmp(key, "use") == 0) {
            if (!json_object_is_type(val, json_type_string))
                return layout_error(err, err_len, "%s: expected a string", path);
            snprintf(slot->use, sizeof(slot->use), "%s", json_object_get_string(val));
        } else {
            return layout_error(err, err_len, "%s: unknown member (expected slot, slot_config, "
                                "key_config, genkey, use)", path);
        }
    }
    if (!have_index || !have_slot_config || !have_key_config)
        return layout_error(err, err_len, "slots[%u]: \"slot\", \"slot_config\" and \"key_config\" are required",
                            index);
    if (slot->genkey && !is_p256_private(slot->key_config))
        return layout_error(err, err_len, "slots[%u].genkey: key_config 0x%04x is not a P-256 private key "
                            "(Private bit 0 and KeyType 4 needed)", index, slot->key_config);
    if (slot->genkey && (slot->key_config & ATECC_KEYCFG_PUBINFO) == 0)
        return layout_error(err, err_len, "slots[%u].genkey: key_config 0x%04x lacks PubInfo (bit 1): its "
                            "public key could never be read back", index, slot->key_config);
    return 0;
}

static int layout_check(const struct layout *l, char *err, size_t err_len)
{
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++)
        if (l->slots[s].genkey)
            return 0;
    return layout_error(err, err_len, "slots: no slot has \"genkey\": true; a part locked with this "
                        "layout would hold no key");
}

int layout_parse(const char *text, struct layout *out, char *err, size_t err_len)
{
    struct layout l;
    json_tokener *tok = NULL;
    json_object *root = NULL;
    unsigned v = 0;
    bool have_slots = false, have_address = false;
    int rc = -1;

    memset(&l, 0, sizeof(l));
    snprintf(l.name, sizeof(l.name), "unnamed");
    tok = json_tokener_new();
    if (tok == NULL)
        return layout_error(err, err_len, "out of memory");
    root = json_tokener_parse_ex(tok, text, (int)strlen(text));
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        layout_error(err, err_len, "not valid JSON: %s",
                     json_tokener_error_desc(json_tokener_get_error(tok)));
        goto cleanup;
    }
    if (!json_object_is_type(root, json_type_object)) {
        layout_error(err, err_len, "(top level): expected an object");
        goto cleanup;
    }
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, "name") == 0) {
            if (!json_object_is_type(val, json_type_string)) {
                layout_error(err, err_len, "name: expected a string");
                goto cleanup;
            }
            snprintf(l.name, sizeof(l.name), "%s", json_object_get_string(val));
        } else if (strcmp(key, "i2c_address") == 0) {
            if (parse_word(val, 0x77, key, &v, err, err_len) != 0)
                goto cleanup;
            if (v < 0x08) {
                layout_error(err, err_len, "i2c_address: 7-bit addresses run 0x08-0x77, got 0x%02x", v);
                goto cleanup;
            }
            l.i2c_address = (uint8_t)v;
            have_address = true;
        } else if (strcmp(key, "chip_mode") == 0) {
            if (parse_word(val, 0xFF, key, &v, err, err_len) != 0)
                goto cleanup;
            l.chip_mode = (uint8_t)v;
        } else if (strcmp(key, "chip_options") == 0) {
            if (parse_word(val, 0xFFFF, key, &v, err, err_len) != 0)
                goto cleanup;
            l.chip_options = (uint16_t)v;
        } else if (strcmp(key, "slots") == 0) {
            if (!json_object_is_type(val, json_type_array) ||
                json_object_array_length(val) != ATECC_SLOT_COUNT) {
                layout_error(err, err_len, "slots: expected an array of 16 slot objects (slots 0-15)");
                goto cleanup;
            }
            for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++)
                if (parse_slot(json_object_array_get_idx(val, s), s, &l.slots[s], err, err_len) != 0)
                    goto cleanup;
            have_slots = true;
        } else {
            layout_error(err, err_len, "%s: unknown member (expected name, i2c_address, chip_mode, "
                         "chip_options, slots)", key);
            goto cleanup;
        }
    }
    if (!have_slots || !have_address) {
        layout_error(err, err_len, "\"i2c_address\" and \"slots\" are required");
        goto cleanup;
    }
    if (layout_check(&l, err, err_len) != 0)
        goto cleanup;
    *out = l;
    rc = 0;
cleanup:
    json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

int layout_load(const char *name_or_path, struct layout *out, char *err, size_t err_len)
{
    char text[16384];
    size_t n;
    FILE *f;
    char perr[300];

    for (size_t i = 0; i < sizeof(layout_builtins) / sizeof(layout_builtins[0]); i++) {
        if (strcmp(name_or_path, layout_builtins[i]->name) == 0) {
            *out = *layout_builtins[i];
            return 0;
        }
    }
    f = fopen(name_or_path, "r");
    if (f == NULL)
        return layout_error(err, err_len, "layout '%s' is neither a built-in layout (%s) nor a readable "
                            "file: %s", name_or_path, layout_builtin_names(), strerror(errno));
    n = fread(text, 1, sizeof(text) - 1, f);
    if (ferror(f) || !feof(f)) {
        fclose(f);
        return layout_error(err, err_len, "layout file %s: unreadable or larger than %zu bytes",
                            name_or_path, sizeof(text) - 1);
    }
    fclose(f);
    text[n] = '\0';
    if (memchr(text, '\0', n) != NULL)
        return layout_error(err, err_len, "layout file %s: contains a NUL byte", name_or_path);
    if (layout_parse(text, out, perr, sizeof(perr)) != 0)
        return layout_error(err, err_len, "layout file %s: %s", name_or_path, perr);
    return 0;
}

void layout_print_json(FILE *out, const struct layout *l)
{
    fprintf(out, "{\n  \"name\": \"%s\",\n  \"i2c_address\": \"0x%02x\",\n  \"chip_mode\": \"0x%02x\",\n"
                 "  \"chip_options\": \"0x%04x\",\n  \"slots\": [\n",
            l->name, l->i2c_address, l->chip_mode, l->chip_options);
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        json_object *use = json_object_new_string(l->slots[s].use);
        fprintf(out, "    { \"slot\": %u, \"slot_config\": \"0x%04x\", \"key_config\": \"0x%04x\", "
                     "\"genkey\": %s, \"use\": %s }%s\n",
                s, l->slots[s].slot_config, l->slots[s].key_config, l->slots[s].genkey ? "true" : "false",
                use != NULL ? json_object_to_json_string_ext(use, JSON_C_TO_STRING_NOSLASHESCAPE) : "\"\"",
                s + 1 < ATECC_SLOT_COUNT ? "," : "");
        json_object_put(use);
    }
    fprintf(out, "  ]\n}\n");
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)(v >> 8);
}

void layout_apply(const struct layout *l, uint8_t config[ATECC_CONFIG_SIZE])
{
    config[ATECC_CFG_I2C_ADDRESS] = (uint8_t)(l->i2c_address << 1);
    config[ATECC_CFG_CHIP_MODE] = l->chip_mode;
    put16(&config[ATECC_CFG_CHIP_OPTIONS], l->chip_options);
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        put16(&config[ATECC_CFG_SLOT_CONFIG + 2 * s], l->slots[s].slot_config);
        put16(&config[ATECC_CFG_KEY_CONFIG + 2 * s], l->slots[s].key_config);
    }
}

/* Calls report(field, now, want) for every layout field of a and b that differ. */
static unsigned compare_fields(const uint8_t a[ATECC_CONFIG_SIZE], const uint8_t b[ATECC_CONFIG_SIZE],
                               FILE *out, const char *arrow)
{
    unsigned n = 0;

    if (a[ATECC_CFG_I2C_ADDRESS] != b[ATECC_CFG_I2C_ADDRESS]) {
        n++;
        if (out != NULL)
            fprintf(out, "  I2C address (byte 16)  0x%02x %s 0x%02x\n", a[ATECC_CFG_I2C_ADDRESS], arrow,
                    b[ATECC_CFG_I2C_ADDRESS]);
    }
    if (a[ATECC_CFG_CHIP_MODE] != b[ATECC_CFG_CHIP_MODE]) {
        n++;
        if (out != NULL)
            fprintf(out, "  ChipMode               0x%02x %s 0x%02x\n", a[ATECC_CFG_CHIP_MODE], arrow,
                    b[ATECC_CFG_CHIP_MODE]);
    }
    if (get16(&a[ATECC_CFG_CHIP_OPTIONS]) != get16(&b[ATECC_CFG_CHIP_OPTIONS])) {
        n++;
        if (out != NULL)
            fprintf(out, "  ChipOptions            0x%04x %s 0x%04x\n", get16(&a[ATECC_CFG_CHIP_OPTIONS]),
                    arrow, get16(&b[ATECC_CFG_CHIP_OPTIONS]));
    }
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        unsigned at = ATECC_CFG_SLOT_CONFIG + 2 * s, kt = ATECC_CFG_KEY_CONFIG + 2 * s;
        if (get16(&a[at]) != get16(&b[at])) {
            n++;
            if (out != NULL)
                fprintf(out, "  slot %2u SlotConfig     0x%04x %s 0x%04x\n", s, get16(&a[at]), arrow,
                        get16(&b[at]));
        }
        if (get16(&a[kt]) != get16(&b[kt])) {
            n++;
            if (out != NULL)
                fprintf(out, "  slot %2u KeyConfig      0x%04x %s 0x%04x\n", s, get16(&a[kt]), arrow,
                        get16(&b[kt]));
        }
    }
    return n;
}

unsigned layout_diff(const struct layout *l, const uint8_t config[ATECC_CONFIG_SIZE], FILE *out)
{
    uint8_t want[ATECC_CONFIG_SIZE];

    memcpy(want, config, sizeof(want));
    layout_apply(l, want);
    return compare_fields(config, want, out, "on the chip, layout wants");
}

void layout_show_change(const uint8_t before[ATECC_CONFIG_SIZE], const uint8_t after[ATECC_CONFIG_SIZE],
                        FILE *out)
{
    if (compare_fields(before, after, out, "->") == 0)
        fprintf(out, "  (no change: the chip already held these values)\n");
}

void layout_describe(const struct layout *l, FILE *out)
{
    fprintf(out, "  layout %s: I2C address 0x%02x, ChipMode 0x%02x, ChipOptions 0x%04x\n", l->name,
            l->i2c_address, l->chip_mode, l->chip_options);
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++)
        fprintf(out, "  slot %2u SlotConfig 0x%04x KeyConfig 0x%04x%s  %s\n", s, l->slots[s].slot_config,
                l->slots[s].key_config, l->slots[s].genkey ? " [key]" : "      ", l->slots[s].use);
}
