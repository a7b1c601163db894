/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: control replies as trustlinkctl reads and presents them
 * (agent/ctl/client.c ctl_reply_parse, agent/ctl/status_format.c). The
 * input is what the agent sent; like the client, only the bytes before the
 * first '\n' are the reply line. Checks: a reply is accepted only as a JSON
 * object with a boolean "ok" and then keeps the raw line; a refused one
 * leaves the reply empty and says why; rendering any accepted reply as
 * `trustlinkctl status` output never fails on its shape.
 * Corpus: tests/fuzz/ctl_reply/.
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

#include "client.h"
#include "fuzz_target.h"
#include "status_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *line = malloc(len + 1);
    struct ctl_reply reply;
    struct json_object *ok = NULL;
    char err[512];
    char *rendered = NULL;
    size_t rendered_len = 0;
    FILE *out;

    if (line == NULL)
        fail_msg("out of memory");
    memcpy(line, data, len);
    line[len] = '\0';
    err[0] = '\0';
    if (ctl_reply_parse(line, "fuzz", &reply, err, sizeof(err)) != 0) {
        if (reply.obj != NULL || reply.raw != NULL || err[0] == '\0')
            fail_msg("a refused reply left data or gave no reason");
        return 0;
    }
    if (reply.raw != line || reply.obj == NULL ||
        !json_object_is_type(reply.obj, json_type_object) ||
        !json_object_object_get_ex(reply.obj, "ok", &ok) ||
        !json_object_is_type(ok, json_type_boolean))
        fail_msg("accepted a reply that is not an object with a boolean ok");
    out = open_memstream(&rendered, &rendered_len);
    if (out == NULL)
        fail_msg("open_memstream failed");
    ctl_print_status(out, reply.obj);
    if (fclose(out) != 0)
        fail_msg("rendering the status failed");
    free(rendered);
    ctl_reply_free(&reply);
    return 0;
}
