#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Sign benchmark from one command: builds what it needs, then runs
# trustlink-bench (tuned and naive policies, 1 and 4 callers, 100 kHz and
# 400 kHz buses) against atecc608-emu at time scale 1, ATECC608B timing,
# then the tuned policy once more against an emulator started with
# --long-watchdog (a custom-provisioned part; --long-watchdog off skips it),
# plus, at the first bus speed, fairness between two processes and the
# verify-after-sign cost (tests/bench/README.md).
# Usage: tests/bench/run.sh [BUILD_DIR] [trustlink-bench options...]
#   BUILD_DIR defaults to build-bench next to this repository's sources.
#   Results: printed table, and JSON in $BUILD_DIR/bench-results.json
#   (override with --out FILE).
# Takes ~2.5 min. Not a CTest test: it measures real time.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build-bench
# The build directory is the first argument only when it is not an option.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    BUILD=$1
    shift
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j2 --target trustlink-bench trustlink-pkcs11-bench atecc608-emu >/dev/null
exec "$BUILD/tests/bench/trustlink-bench" \
    --module "$BUILD/tests/bench/libtrustlink-pkcs11-bench.so" \
    --emu "$BUILD/drivers/atecc608/emu/atecc608-emu" \
    --out "$BUILD/bench-results.json" "$@"
