/* SPDX-License-Identifier: Apache-2.0 */
/*
 * See target_exec.h. TEST_EMULATOR_ARGV is set by tests/common/CMakeLists.txt:
 * the emulator's argv as C string literals, each followed by a comma
 * ("/usr/bin/qemu-arm-static", "-L", "/",), empty in a native build.
 */
#include "target_exec.h"

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#ifndef TEST_EMULATOR_ARGV
#error "TEST_EMULATOR_ARGV must be defined (empty in a native build)"
#endif

enum { TARGET_EXEC_MAX_ARGS = 64 };

int target_execv(const char *path, char *const argv[])
{
    static const char *const emulator[] = { TEST_EMULATOR_ARGV NULL };
    char *args[TARGET_EXEC_MAX_ARGS];
    size_t n = 0;

    for (size_t i = 0; emulator[i] != NULL; i++) {
        if (n + 1 >= TARGET_EXEC_MAX_ARGS)
            goto too_long;
        args[n++] = (char *)emulator[i];
    }
    if (emulator[0] != NULL) {
        /* qemu-user: the program, then its arguments after argv[0]. */
        if (n + 1 >= TARGET_EXEC_MAX_ARGS)
            goto too_long;
        args[n++] = (char *)path;
        argv = argv[0] != NULL ? argv + 1 : argv;
    }
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (n + 1 >= TARGET_EXEC_MAX_ARGS)
            goto too_long;
        args[n++] = argv[i];
    }
    args[n] = NULL;
    return execv(emulator[0] != NULL ? emulator[0] : path, args);

too_long:
    errno = E2BIG;
    return -1;
}
