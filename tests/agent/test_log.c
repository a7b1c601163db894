/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/log.c: every log line is one line, with control bytes escaped, so
 * text from the network cannot forge a line (journald reads "<0>" at the
 * start of each line) or drive a terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Logs one message with stderr sent to a temp file; returns what came out. */
static void capture(const char *forged, char *out, size_t out_len)
{
    char path[] = "/tmp/trustlink-log-XXXXXX";
    int fd = mkstemp(path), saved;
    ssize_t n;

    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    agent_err("rotation: the CA rejected the request: %s", forged);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, out, out_len - 1, 0);
    assert_true(n > 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
}

static void test_network_text_cannot_forge_lines_or_escapes(void **state)
{
    char out[4096];

    (void)state;
    capture("nope\n<0>trustlinkd: EMERGENCY forged\r\x1b[31mred\x7f\x01", out, sizeof(out));
    /* Exactly one line, ending in the one newline the logger adds. */
    assert_non_null(strchr(out, '\n'));
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x7f'));
    assert_null(strchr(out, '\x01'));
    assert_non_null(strstr(out, "nope\\x0a<0>trustlinkd"));
    assert_non_null(strstr(out, "\\x1b[31mred\\x7f\\x01"));
    assert_int_equal(strncmp(out, "<3>", 3), 0);
}

static void test_escape_truncates_whole_escapes(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(agent_escape_controls("ab\ncd", out, sizeof(out)), 7);
    assert_string_equal(out, "ab\\x0ac");
    assert_int_equal(agent_escape_controls("abcde\n", out, sizeof(out)), 5);
    assert_string_equal(out, "abcde");
    assert_int_equal(agent_escape_controls("caf\xc3\xa9", out, sizeof(out)), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_text_cannot_forge_lines_or_escapes),
        cmocka_unit_test(test_escape_truncates_whole_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
