/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlinkctl's human status output (agent/ctl/status_format.c): strings
 * from the reply (a CA's rejection text can reach rotation.last_error)
 * never put control bytes on the terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "status_format.h"

static void test_control_bytes_are_escaped(void **state)
{
    const char *reply_text =
        "{\"ok\":true,\"state\":\"connected\",\"rotation\":{\"state\":\"idle\","
        "\"last_error\":\"rejected: \\u001b[2J\\u001b[31mpwned\\r\\nfake: line\\u0007\"},"
        "\"x\\u001b[1m\":\"y\"}";
    struct json_object *reply = json_tokener_parse(reply_text);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(reply);
    assert_non_null(out);
    ctl_print_status(out, reply);
    fclose(out);
    assert_non_null(text);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            fail_msg("control byte 0x%02x at %zu in:\n%s", c, i, text);
    }
    assert_non_null(strstr(text, "rejected: \\x1b[2J\\x1b[31mpwned\\x0d\\x0afake: line\\x07"));
    free(text);
    json_object_put(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_bytes_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
