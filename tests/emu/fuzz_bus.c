/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic fuzz test of the emulator's chip model through its bus API
 * only (emu_bus_write/emu_bus_read, in-process, time scale 0, no state
 * file): valid command packets (Info, Random, Read, Nonce, Sign, GenKey,
 * SHA, Verify, Counter, Write, Lock, ...) mutated in opcode, params, data
 * length and count byte, sent with a correct or a broken CRC, mixed with
 * random word addresses, random bytes to random bus addresses, reads of
 * random lengths, wake pulses, sleep and idle. The chip must never crash,
 * and every command written with word address 0x03 and acknowledged must
 * be answered by a well-formed response (count 4..67, right CRC) or a NAK.
 * Runs on both profiles (Trust&GO and blank: the blank one can be
 * reconfigured and locked by the fuzzer). TRUSTLINK_FUZZ_SEED and
 * TRUSTLINK_FUZZ_ITERATIONS override the defaults; the seed is printed so
 * a failure can be replayed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    /* xorshift64*: deterministic per seed, no global state. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static size_t rng_below(struct rng *r, size_t n)
{
    return n == 0 ? 0 : (size_t)(rng_next(r) % n);
}

static uint64_t fuzz_seed(uint64_t dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_SEED");

    return env ? strtoull(env, NULL, 0) : dflt;
}

static long fuzz_iterations(long dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_ITERATIONS");

    return env ? strtol(env, NULL, 0) : dflt;
}

/* Valid command shapes: opcode, param1, param2, data length. */
struct cmd_seed {
    uint8_t opcode, p1;
    uint16_t p2;
    size_t len;
};

static const struct cmd_seed cmd_seeds[] = {
    { ATECC_OP_INFO, 0x00, 0x0000, 0 },        /* revision */
    { ATECC_OP_INFO, 0x02, 0x0000, 0 },        /* state */
    { ATECC_OP_RANDOM, 0x00, 0x0000, 0 },
    { ATECC_OP_READ, 0x00, 0x0000, 0 },        /* config word 0 */
    { ATECC_OP_READ, 0x80, 0x0000, 0 },        /* config block 0, 32 bytes */
    { ATECC_OP_READ, 0x82, 0x0008, 0 },        /* data slot 1 */
    { ATECC_OP_READ, 0x01, 0x0000, 0 },        /* OTP */
    { ATECC_OP_NONCE, 0x03, 0x0000, 32 },      /* pass-through */
    { ATECC_OP_NONCE, 0x00, 0x0000, 20 },      /* random */
    { ATECC_OP_SIGN, 0x80, 0x0000, 0 },        /* external, slot 0 */
    { ATECC_OP_GENKEY, 0x00, 0x0000, 0 },      /* public key of slot 0 */
    { ATECC_OP_GENKEY, 0x04, 0x0002, 0 },      /* new key in slot 2 */
    { ATECC_OP_SHA, 0x00, 0x0000, 0 },         /* start */
    { ATECC_OP_SHA, 0x01, 0x0040, 64 },        /* update */
    { ATECC_OP_SHA, 0x02, 0x0000, 0 },         /* end */
    { ATECC_OP_VERIFY, 0x02, 0x0004, 128 },    /* external P-256 */
    { ATECC_OP_ECDH, 0x0C, 0x0000, 64 },
    { ATECC_OP_COUNTER, 0x00, 0x0000, 0 },
    { ATECC_OP_COUNTER, 0x01, 0x0001, 0 },
    { ATECC_OP_WRITE, 0x00, 0x0004, 4 },       /* config word */
    { ATECC_OP_WRITE, 0x82, 0x0010, 32 },
    { ATECC_OP_LOCK, 0x80, 0x0000, 0 },        /* config, no CRC */
    { ATECC_OP_LOCK, 0x81, 0x0000, 0 },        /* data, no CRC */
    { ATECC_OP_LOCK, 0x02, 0x0002, 0 },        /* slot 0 */
    { ATECC_OP_UPDATEEXTRA, 0x00, 0x0000, 0 },
    { ATECC_OP_SELFTEST, 0x00, 0x0000, 0 },
    { ATECC_OP_MAC, 0x00, 0x0000, 32 },
    { ATECC_OP_GENDIG, 0x02, 0x0000, 0 },
    { ATECC_OP_CHECKMAC, 0x00, 0x0000, 77 },
    { ATECC_OP_DERIVEKEY, 0x00, 0x0000, 0 },
    { ATECC_OP_PRIVWRITE, 0x00, 0x0000, 36 },
    { ATECC_OP_AES, 0x00, 0x0000, 16 },
    { ATECC_OP_KDF, 0x00, 0x0000, 0 },
    { ATECC_OP_SECUREBOOT, 0x00, 0x0000, 64 },
};

struct fuzz_counts {
    long commands, answered, nak, bad_crc_sent;
};

static void wake(struct t_chip *t)
{
    t->addr = emu_chip_address(t->chip);
    (void)t_wake(t);
}

/* Reads an answer as a host would; fails the test on a malformed one.
 * Returns true when a response was read, false on a NAK. */
static bool read_answer(struct t_chip *t, const char *what)
{
    uint8_t rsp[256];
    uint8_t word = ATECC_WORD_RESET;
    int tries = 0;

    while (emu_bus_write(t->chip, t->addr, &word, 1, 0) != EMU_BUS_ACK) {
        if (++tries > 50)
            return false; /* asleep, or NAKing: a NAK is an answer */
        t_advance(t, 1000);
    }
    if (emu_bus_read(t->chip, t->addr, rsp, 1) != EMU_BUS_ACK)
        return false;
    if (rsp[0] < ATECC_RSP_MIN || rsp[0] > ATECC_RSP_MAX)
        fail_msg("%s: response count %u", what, rsp[0]);
    if (emu_bus_read(t->chip, t->addr, rsp + 1, (size_t)rsp[0] - 1) != EMU_BUS_ACK)
        fail_msg("%s: count %u read but the rest NAKed", what, rsp[0]);
    if (!atecc_crc16_check(rsp, rsp[0]))
        fail_msg("%s: response of count %u with a bad CRC", what, rsp[0]);
    return true;
}

static void fuzz_command(struct t_chip *t, struct rng *r, struct fuzz_counts *c)
{
    const struct cmd_seed *s = &cmd_seeds[rng_below(r, sizeof(cmd_seeds) / sizeof(cmd_seeds[0]))];
    uint8_t pkt[1 + 255 + 16];
    size_t data_len = s->len, count, len, k;
    uint8_t opcode = s->opcode, p1 = s->p1;
    uint16_t p2 = s->p2;
    bool good_crc = rng_below(r, 5) != 0;
    char what[96];

    switch (rng_below(r, 6)) {
    case 0:
        break; /* as seeded */
    case 1:
        opcode = (uint8_t)rng_below(r, 256);
        break;
    case 2:
        p1 = (uint8_t)rng_below(r, 256);
        break;
    case 3:
        p2 = (uint16_t)rng_next(r);
        break;
    case 4:
        data_len = rng_below(r, ATECC_CMD_DATA_MAX + 1);
        break;
    default:
        p1 ^= (uint8_t)(1u << rng_below(r, 8));
        p2 ^= (uint16_t)(1u << rng_below(r, 16));
        break;
    }
    count = ATECC_PKT_OVERHEAD + data_len;
    pkt[0] = ATECC_WORD_COMMAND;
    pkt[1] = (uint8_t)count;
    pkt[2] = opcode;
    pkt[3] = p1;
    pkt[4] = (uint8_t)(p2 & 0xFF);
    pkt[5] = (uint8_t)(p2 >> 8);
    for (k = 0; k < data_len; k++)
        pkt[6 + k] = (uint8_t)rng_below(r, 256);
    atecc_crc16_put(&pkt[1], count - 2, &pkt[1 + count - 2]);
    len = 1 + count;
    if (!good_crc) {
        pkt[1 + count - 1 - rng_below(r, 2)] ^= (uint8_t)(1 + rng_below(r, 255));
        c->bad_crc_sent++;
    }
    switch (rng_below(r, 8)) { /* framing damage */
    case 0:
        pkt[1] = (uint8_t)rng_below(r, 256); /* count disagrees with length */
        break;
    case 1:
        len = 1 + rng_below(r, len); /* truncated */
        break;
    case 2: { /* extended past the count */
        size_t add = 1 + rng_below(r, 16);

        for (k = 0; k < add; k++)
            pkt[len + k] = (uint8_t)rng_below(r, 256);
        len += add;
        break;
    }
    default:
        break;
    }
    snprintf(what, sizeof(what), "command %02x %02x %04x, %zu data bytes, %zu on the bus, crc %s",
             opcode, p1, p2, data_len, len, good_crc ? "good" : "broken");
    c->commands++;
    if (emu_bus_write(t->chip, t->addr, pkt, len, 0) != EMU_BUS_ACK) {
        c->nak++;
        return;
    }
    if (rng_below(r, 10) == 0)
        return; /* never read: the next transaction must cope */
    if (read_answer(t, what))
        c->answered++;
    else
        c->nak++;
}

static void fuzz_other(struct t_chip *t, struct rng *r)
{
    uint8_t buf[320];
    size_t len, k;

    switch (rng_below(r, 8)) {
    case 0: /* random word address and bytes */
        len = rng_below(r, 200);
        for (k = 0; k < len; k++)
            buf[k] = (uint8_t)rng_below(r, 256);
        if (len > 0 && rng_below(r, 2))
            buf[0] = (uint8_t)rng_below(r, 8);
        (void)emu_bus_write(t->chip, t->addr, buf, len, rng_below(r, 2) ? EMU_BUS_IGNORE_NAK : 0);
        break;
    case 1: /* read of a random length */
        len = rng_below(r, sizeof(buf) + 1);
        (void)emu_bus_read(t->chip, t->addr, buf, len);
        break;
    case 2: /* random bus address */
        len = rng_below(r, 40);
        for (k = 0; k < len; k++)
            buf[k] = (uint8_t)rng_below(r, 256);
        if (rng_below(r, 2))
            (void)emu_bus_write(t->chip, (uint8_t)rng_below(r, 128), buf, len,
                                rng_below(r, 2) ? EMU_BUS_IGNORE_NAK : 0);
        else
            (void)emu_bus_read(t->chip, (uint8_t)rng_below(r, 128), buf, len);
        break;
    case 3: /* sleep or idle */
        buf[0] = rng_below(r, 2) ? ATECC_WORD_SLEEP : ATECC_WORD_IDLE;
        (void)emu_bus_write(t->chip, t->addr, buf, 1, 0);
        break;
    case 4:
        t_advance(t, rng_below(r, 3000000));
        break;
    case 5: /* word reset then a read */
        buf[0] = ATECC_WORD_RESET;
        (void)emu_bus_write(t->chip, t->addr, buf, 1, 0);
        (void)emu_bus_read(t->chip, t->addr, buf, 1 + rng_below(r, 80));
        break;
    default:
        wake(t);
        break;
    }
}

static void run_profile(enum emu_profile profile, uint64_t default_seed)
{
    uint64_t seed = fuzz_seed(default_seed);
    long iterations = fuzz_iterations(20000);
    struct rng r = { .s = seed ? seed : 1 };
    struct t_open_args args = { .profile = profile, .time_scale = 0, .seed = 1 };
    struct fuzz_counts c = { 0 };
    struct t_chip t;
    long i;

    printf("fuzz seed 0x%llx, %ld operations, profile %d\n", (unsigned long long)seed, iterations,
           (int)profile);
    t_open(&t, &args);
    wake(&t);
    for (i = 0; i < iterations; i++) {
        t.addr = emu_chip_address(t.chip);
        if (rng_below(&r, 3) != 0)
            fuzz_command(&t, &r, &c);
        else
            fuzz_other(&t, &r);
        if (rng_below(&r, 16) == 0)
            wake(&t);
    }
    /* The chip still works: wake and Info answer a well-formed response. */
    wake(&t);
    {
        uint8_t rsp[ATECC_RSP_MAX];
        int n;

        assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_ACK);
        n = t_receive(&t, rsp, sizeof(rsp));
        assert_int_equal(n, 7);
        assert_true(atecc_crc16_check(rsp, (size_t)n));
    }
    printf("%ld commands: %ld answered, %ld NAKed (%ld with a broken CRC)\n", c.commands,
           c.answered, c.nak, c.bad_crc_sent);
    assert_true(c.answered > c.commands / 4);
    t_close(&t);
}

static void test_trustandgo_chip_survives_fuzzed_bus_traffic(void **state)
{
    (void)state;
    run_profile(EMU_PROFILE_TRUSTANDGO, 0x656d7566757aull);
}

static void test_blank_chip_survives_fuzzed_bus_traffic(void **state)
{
    (void)state;
    run_profile(EMU_PROFILE_BLANK, 0x626c616e6bull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trustandgo_chip_survives_fuzzed_bus_traffic),
        cmocka_unit_test(test_blank_chip_survives_fuzzed_bus_traffic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
