# SPDX-License-Identifier: Apache-2.0
# 32-bit ARM hard-float (Debian armhf, ARMv7; Raspberry Pi OS 32-bit):
# cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
# Here long, CK_ULONG, size_t and time_t are 32 bits.
# Needs crossbuild-essential-armhf, the -dev libraries :armhf and qemu-user
# (scripts/cross installs them).
set(CMAKE_SYSTEM_PROCESSOR arm)
set(TRUSTLINK_CROSS_TRIPLET arm-linux-gnueabihf)
set(TRUSTLINK_CROSS_QEMU qemu-arm)
set(TRUSTLINK_CROSS_LOADER /lib/ld-linux-armhf.so.3)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
