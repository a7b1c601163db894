/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface strings: a table of good and bad strings, the wake-pulse
 * length for each bus speed, and the lock-file name per interface.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buslock.h"
#include "interface.h"
#include "transport.h"

static void test_good_interface_strings_parse(void **state)
{
    static const struct {
        const char *text;
        enum atecc_scheme scheme;
        const char *path;
        uint8_t addr;
        uint32_t hz;
    } good[] = {
        { "i2c:/dev/i2c-1@0x35", ATECC_SCHEME_I2C, "/dev/i2c-1", 0x35, 100000 },
        { "i2c:/dev/i2c-1@0x60?bus_hz=400000", ATECC_SCHEME_I2C, "/dev/i2c-1", 0x60, 400000 },
        { "i2c:/dev/i2c-10@54", ATECC_SCHEME_I2C, "/dev/i2c-10", 54, 100000 },
        { "i2c:/dev/i2c-0@0x08", ATECC_SCHEME_I2C, "/dev/i2c-0", 0x08, 100000 },
        { "i2c:/dev/i2c-0@0x77?bus_hz=1000000", ATECC_SCHEME_I2C, "/dev/i2c-0", 0x77, 1000000 },
        { "emu:/run/trustlink/atecc608.sock", ATECC_SCHEME_EMU, "/run/trustlink/atecc608.sock", 0x35, 0 },
        { "emu:/tmp/a@b.sock@0x60", ATECC_SCHEME_EMU, "/tmp/a@b.sock", 0x60, 0 },
        { "inproc:", ATECC_SCHEME_INPROC, "", 0x35, 0 },
        { "inproc:@0x60", ATECC_SCHEME_INPROC, "", 0x60, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct atecc_iface iface;
        char detail[256] = "";

        assert_int_equal(atecc_iface_parse(good[i].text, &iface, detail, sizeof(detail)), ATECC_OK);
        assert_int_equal(iface.scheme, good[i].scheme);
        assert_string_equal(iface.path, good[i].path);
        assert_int_equal(iface.addr7, good[i].addr);
        assert_int_equal(iface.bus_hz, good[i].hz);
    }
}

static void test_bad_interface_strings_say_why(void **state)
{
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        { "i2c:/dev/i2c-1", "has no '@ADDRESS'" },
        { "i2c:/dev/i2c-1@0xc0", "not a 7-bit I2C address from 0x08 to 0x77" },
        { "i2c:/dev/i2c-1@0x07", "from 0x08 to 0x77" },
        { "i2c:/dev/i2c-1@", "is not a 7-bit I2C address" },
        { "i2c:/dev/i2c-1@0xZZ", "is not a 7-bit I2C address" },
        { "i2c:/dev/i2c-1@-1", "is not a 7-bit I2C address" },
        { "i2c:@0x35", "has no path" },
        { "i2c:/dev/i2c-1@0x35?bus_hz=fast", "bus_hz 'fast' is not a number" },
        { "i2c:/dev/i2c-1@0x35?bus_hz=2000000", "is not a number from 1000 to 1000000" },
        { "i2c:/dev/i2c-1@0x35?speed=1", "unknown option 'speed=1'" },
        { "emu:", "has no path" },
        { "emu:/x.sock?bus_hz=100000", "apply to i2c: only" },
        { "inproc:/x", "takes no path" },
        { "spi:/dev/spidev0.0", "unknown scheme; valid forms are i2c:" },
        { "", "unknown scheme" },
        { "/dev/i2c-1@0x35", "unknown scheme" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct atecc_iface iface;
        char detail[512] = "";

        if (atecc_iface_parse(bad[i].text, &iface, detail, sizeof(detail)) != ATECC_E_INTERFACE)
            fail_msg("'%s' was accepted", bad[i].text);
        if (strstr(detail, bad[i].says) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, detail, bad[i].says);
    }
}

static void test_wake_pulse_long_enough_at_each_bus_speed(void **state)
{
    (void)state;
    /* <= 100 kHz: the plain one-byte write to address 0x00 suffices. */
    assert_int_equal(atecc_tp_wake_zero_bytes(100000), 0);
    assert_int_equal(atecc_tp_wake_zero_bytes(50000), 0);
    /* Above: (8 + 9 n) bit times >= 60 us, plus one spare byte. */
    for (uint32_t hz = 100001; hz <= 1000000; hz += 50000) {
        size_t n = atecc_tp_wake_zero_bytes(hz) - 1;

        assert_true((8.0 + 9.0 * (double)n) * 1e6 / hz >= 60.0);
    }
    assert_int_equal(atecc_tp_wake_zero_bytes(400000), 3);
}

static void test_lock_file_named_after_bus_and_address(void **state)
{
    struct atecc_iface iface;
    char name[160];
    char detail[256];
    char name2[160];

    (void)state;
    assert_int_equal(atecc_iface_parse("i2c:/dev/i2c-1@0x35", &iface, detail, sizeof(detail)), ATECC_OK);
    atecc_buslock_name(&iface, NULL, name, sizeof(name));
    assert_string_equal(name, "trustlink-atecc608-i2c-1-0x35.lock");
    assert_int_equal(atecc_iface_parse("emu:/run/x.sock", &iface, detail, sizeof(detail)), ATECC_OK);
    atecc_buslock_name(&iface, NULL, name, sizeof(name));
    assert_non_null(strstr(name, "trustlink-atecc608-emu-"));
    assert_null(strchr(name, '/'));
    assert_int_equal(atecc_iface_parse("emu:/run/y.sock", &iface, detail, sizeof(detail)), ATECC_OK);
    atecc_buslock_name(&iface, NULL, name2, sizeof(name2));
    assert_string_not_equal(name, name2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_interface_strings_parse),
        cmocka_unit_test(test_bad_interface_strings_say_why),
        cmocka_unit_test(test_wake_pulse_long_enough_at_each_bus_speed),
        cmocka_unit_test(test_lock_file_named_after_bus_and_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
