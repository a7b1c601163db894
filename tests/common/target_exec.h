/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting another of our executables from a test. In a cross build the
 * test itself runs under qemu-user and the kernel cannot start a target
 * binary (no binfmt_misc), so the program is started through the same
 * emulator command CTest uses (CMAKE_CROSSCOMPILING_EMULATOR), named
 * explicitly; natively it is started as is. Never through /proc/self/exe:
 * under qemu-user that is qemu itself.
 */
#ifndef TRUSTLINK_TESTS_TARGET_EXEC_H
#define TRUSTLINK_TESTS_TARGET_EXEC_H

/* execv(path, argv), through the emulator in cross builds. argv[0] is
 * passed on as the program's own argv[0]. Returns only on failure (-1,
 * errno set: E2BIG when the arguments do not fit). Safe after fork(): no
 * allocation. */
int target_execv(const char *path, char *const argv[]);

#endif
