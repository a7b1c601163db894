/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz-style test of the control socket's line parser: many random and
 * mutated request lines through a real server with fake handlers. Every
 * non-blank line must get exactly one reply, a JSON object with a boolean
 * "ok"; the server must never crash (the ASan/UBSan build runs this too).
 * TRUSTLINK_FUZZ_SEED and TRUSTLINK_FUZZ_ITERATIONS override the defaults;
 * the seed is printed so a failure can be replayed.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_mutator.h"
#include "control_test_util.h"

enum { BATCH = 32, MAX_FUZZ_LINE = 2048 };

static const char *const seeds[] = {
    "{\"cmd\":\"status\"}",
    "{\"cmd\":\"status\",\"id\":1}",
    "{\"cmd\":\"publish\",\"topic\":\"a/b\",\"payload\":\"hello\",\"qos\":1,\"retain\":true}",
    "{\"cmd\":\"publish\",\"topic\":\"a\",\"payload\":\"\\u0000\\ud83d\\ude00\\\\\"}",
    "{\"cmd\":\"reconnect\",\"id\":\"x\"}",
    "{\"cmd\":\"rotate\"}",
    "{\"cmd\":[1,{\"a\":null}],\"topic\":1e400,\"qos\":-9223372036854775809}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]",
    "{\"a\":\"\\ud800\",\"b\":\"\\u12\"}",
    "\"just a string\"",
    "nul\x01l",
    "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\",\"qos\":2.5}",
};

static const char *const tokens[] = {
    "{", "}", "[", "]", ":", ",", "\"", "\\", "\"cmd\"", "\"status\"", "\"publish\"",
    "\"topic\"", "\"payload\"", "\"qos\"", "\"retain\"", "\"id\"", "true", "false", "null",
    "0", "-1", "1e999", "2147483648", "\\u0000", "\\ud800", "\xff", "\xc3\x28", " ", "\r",
};

static size_t mutate(struct rng *r, char *buf, size_t len, size_t cap)
{
    size_t rounds = 1 + rng_below(r, 6);

    while (rounds-- > 0) {
        size_t pos = rng_below(r, len + 1);

        switch (rng_below(r, 6)) {
        case 0: /* flip a bit */
            if (len > 0)
                buf[rng_below(r, len)] ^= (char)(1u << rng_below(r, 8));
            break;
        case 1: /* delete a run */
            if (len > 0) {
                size_t n = 1 + rng_below(r, len - pos + 1 > 8 ? 8 : len - pos + 1);

                if (pos + n > len)
                    n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
            }
            break;
        case 2: { /* insert a token */
            const char *t = tokens[rng_below(r, sizeof(tokens) / sizeof(tokens[0]))];
            size_t n = strlen(t);

            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                memcpy(buf + pos, t, n);
                len += n;
            }
            break;
        }
        case 3: /* random byte */
            if (len + 1 < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (char)rng_below(r, 256);
                len++;
            }
            break;
        case 4: /* truncate */
            len = pos;
            break;
        default: { /* duplicate a slice (the memmove leaves both copies) */
            size_t n = rng_below(r, len - pos + 1);

            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                len += n;
            }
            break;
        }
        }
    }
    return len;
}

static bool blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static void check_reply(const char *reply, const char *line)
{
    struct json_object *obj = json_tokener_parse(reply);
    struct json_object *ok = NULL;

    if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
        fail_msg("bad reply \"%s\" to line \"%s\"", reply, line);
    json_object_put(obj);
}

static void test_random_and_mutated_lines_never_break_the_server(void **state)
{
    struct ctl_fixture *fx = *state;
    const char *env_seed = getenv("TRUSTLINK_FUZZ_SEED");
    const char *env_iter = getenv("TRUSTLINK_FUZZ_ITERATIONS");
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 0) : 0x7275737470ull;
    long iterations = env_iter ? strtol(env_iter, NULL, 0) : 20000;
    struct rng r = { .s = seed ? seed : 1 };
    char (*lines)[MAX_FUZZ_LINE + 2] = calloc(BATCH, sizeof(*lines));
    char *batch = malloc(BATCH * (MAX_FUZZ_LINE + 2));
    char reply[8192];
    int fd;
    long done = 0;

    assert_non_null(lines);
    assert_non_null(batch);
    printf("fuzz seed 0x%llx, %ld lines\n", (unsigned long long)seed, iterations);
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    while (done < iterations) {
        size_t blen = 0;
        int expect = 0;
        int i;

        for (i = 0; i < BATCH; i++) {
            char *l = lines[i];
            size_t len;
            size_t k;

            if (rng_below(&r, 8) == 0) {
                len = rng_below(&r, 200);
                for (k = 0; k < len; k++)
                    l[k] = (char)rng_below(&r, 256);
            } else {
                const char *s = seeds[rng_below(&r, sizeof(seeds) / sizeof(seeds[0]))];

                len = strlen(s);
                memcpy(l, s, len);
                len = mutate(&r, l, len, MAX_FUZZ_LINE);
            }
            for (k = 0; k < len; k++)
                if (l[k] == '\n')
                    l[k] = ' ';
            l[len] = '\0';
            if (!blank(l, len))
                expect++;
            memcpy(batch + blen, l, len);
            batch[blen + len] = '\n';
            blen += len + 1;
        }
        batch[blen] = '\0';
        {
            size_t off = 0;

            while (off < blen) {
                ssize_t n = send(fd, batch + off, blen - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                    continue;
                assert_true(n > 0);
                off += (size_t)n;
            }
        }
        for (i = 0; i < expect; i++) {
            if (ctlt_read_line(fx->control, fd, reply, sizeof(reply), 5000) <= 0)
                fail_msg("no reply %d of %d in batch ending %ld", i + 1, expect, done + BATCH);
            check_reply(reply, "(batch)");
        }
        done += BATCH;
    }
    /* The connection and the server are still fine. */
    assert_non_null(strstr(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"), "\"ok\":true"));
    close(fd);
    free(batch);
    free(lines);
}

/* Raw bytes, newlines included, in random chunks over several clients;
 * afterwards a fresh client still gets service. */
static void test_random_byte_streams_never_break_the_server(void **state)
{
    struct ctl_fixture *fx = *state;
    struct rng r = { .s = 0x5eedull };
    char chunk[1024];
    int round;

    fx->config.max_line = 512;
    ctlt_open(fx);
    for (round = 0; round < 200; round++) {
        int fd = ctlt_connect(fx->path);
        int sends = 1 + (int)rng_below(&r, 8);

        while (sends-- > 0) {
            size_t len = 1 + rng_below(&r, sizeof(chunk));
            size_t k;

            for (k = 0; k < len; k++)
                chunk[k] = rng_below(&r, 10) == 0 ? '\n' : (char)rng_below(&r, 256);
            if (send(fd, chunk, len, MSG_NOSIGNAL) < 0)
                break; /* closed for an over-long line: fine */
            ctlt_pump(fx->control, 1);
        }
        close(fd);
        ctlt_pump(fx->control, 1);
    }
    {
        int fd = ctlt_connect(fx->path);

        assert_non_null(strstr(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"), "\"ok\":true"));
        close(fd);
    }
}

static int setup(void **state)
{
    struct ctl_fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    ctlt_fixture_init(fx, true);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    ctlt_fixture_free(*state);
    free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_and_mutated_lines_never_break_the_server,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_byte_streams_never_break_the_server, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
