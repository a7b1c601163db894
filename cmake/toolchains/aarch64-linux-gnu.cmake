# SPDX-License-Identifier: Apache-2.0
# 64-bit ARM (Debian arm64): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# Needs crossbuild-essential-arm64, the -dev libraries :arm64 and qemu-user
# (scripts/cross installs them).
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(TRUSTLINK_CROSS_TRIPLET aarch64-linux-gnu)
set(TRUSTLINK_CROSS_QEMU qemu-aarch64)
set(TRUSTLINK_CROSS_LOADER /lib/ld-linux-aarch64.so.1)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
