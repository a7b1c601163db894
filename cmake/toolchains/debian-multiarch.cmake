# SPDX-License-Identifier: Apache-2.0
# Shared part of the cross toolchain files: Debian's multiarch cross
# compiler for TRUSTLINK_CROSS_TRIPLET, the target's -dev libraries from
# /usr/lib/<triplet> (installed as pkg:<arch>), and qemu-user as the
# emulator CTest puts in front of every target executable.
#
# Set by the including file: TRUSTLINK_CROSS_TRIPLET, CMAKE_SYSTEM_PROCESSOR,
# TRUSTLINK_CROSS_QEMU (qemu-user binary name without -static),
# TRUSTLINK_CROSS_LOADER (the target's dynamic loader, from libc6:<arch>).
#
# Packages that are not Multi-Arch: same (libp11-dev) cannot be installed
# for a second architecture next to the host's; scripts/cross unpacks them
# into an overlay, TRUSTLINK_CROSS_OVERLAY (default
# /opt/trustlink-cross/<triplet>), whose pkg-config files come first.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${TRUSTLINK_CROSS_TRIPLET}-gcc)

if(NOT DEFINED TRUSTLINK_CROSS_OVERLAY)
    if(DEFINED ENV{TRUSTLINK_CROSS_OVERLAY})
        set(TRUSTLINK_CROSS_OVERLAY "$ENV{TRUSTLINK_CROSS_OVERLAY}")
    else()
        set(TRUSTLINK_CROSS_OVERLAY "/opt/trustlink-cross/${TRUSTLINK_CROSS_TRIPLET}")
    endif()
endif()
set(TRUSTLINK_CROSS_OVERLAY "${TRUSTLINK_CROSS_OVERLAY}" CACHE PATH
    "Unpacked target packages that cannot be co-installed (libp11-dev)")

# pkg-config must see the target's .pc files only, never the host's.
set(ENV{PKG_CONFIG_LIBDIR}
    "${TRUSTLINK_CROSS_OVERLAY}/usr/lib/${TRUSTLINK_CROSS_TRIPLET}/pkgconfig:/usr/lib/${TRUSTLINK_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

set(CMAKE_FIND_ROOT_PATH /usr/${TRUSTLINK_CROSS_TRIPLET} ${TRUSTLINK_CROSS_OVERLAY})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_LIBRARY_ARCHITECTURE ${TRUSTLINK_CROSS_TRIPLET})

# CTest runs target executables through qemu-user, with the target's own
# dynamic loader and libc from libc6:<arch> (/lib/<loader>,
# /lib/<triplet>/libc.so.6; installed with the -dev libraries), so that
# loader and libc come from the same glibc build. "-L /usr/<triplet>" must
# not be used: it takes the loader from the cross toolchain's
# libc6-<arch>-cross (Debian 12: glibc 2.36-8) while libc.so.6 and every
# other library still come from /lib/<triplet> (2.36-9+debXuY), and a
# loader of another glibc build than libc breaks fork() (SIGSEGV in the
# child on armhf, a hang on arm64) and threads: every threaded and forking
# unit test crashed or hung that way. "-L /" keeps QEMU_LD_PREFIX or a
# compiled-in prefix from reintroducing it.
# Shell-based tests read the same command from TRUSTLINK_TEST_EMULATOR.
find_program(TRUSTLINK_CROSS_QEMU_PROGRAM
    NAMES ${TRUSTLINK_CROSS_QEMU}-static ${TRUSTLINK_CROSS_QEMU})
if(TRUSTLINK_CROSS_QEMU_PROGRAM)
    if(NOT EXISTS "${TRUSTLINK_CROSS_LOADER}")
        message(WARNING "${TRUSTLINK_CROSS_LOADER} missing (libc6:<arch> not installed?): "
                        "emulated tests cannot start; scripts/cross installs it")
    endif()
    set(CMAKE_CROSSCOMPILING_EMULATOR "${TRUSTLINK_CROSS_QEMU_PROGRAM};-L;/")
endif()
