#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module and the chip driver linked into it are loaded into
# other programs, setuid ones included: every environment read in pkcs11/
# and drivers/atecc608/ must be secure_getenv (ignored when AT_SECURE is
# set), never getenv. The chip statistics dump ($TRUSTLINK_ATECC_STATS,
# which appends to a file at any path) exists only in the benchmark build:
# when the shipped module's path is given, it must not even name it.
# Usage: secure_getenv.sh [path-to-libtrustlink-pkcs11.so]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
status=0
found=$(grep -nE '(^|[^_a-z])getenv[[:space:]]*\(' "$root"/pkcs11/*.c "$root"/pkcs11/*.h \
    "$root"/drivers/atecc608/*.c "$root"/drivers/atecc608/*.h || true)
if [ -n "$found" ]; then
    echo "plain getenv in pkcs11/ or drivers/atecc608/ (use secure_getenv):"
    echo "$found"
    status=1
else
    echo "pkcs11/, drivers/atecc608/: every environment read uses secure_getenv"
fi
if [ $# -ge 1 ]; then
    if grep -q -a 'TRUSTLINK_ATECC_STATS' "$1"; then
        echo "$1 names TRUSTLINK_ATECC_STATS: the stats dump belongs to the benchmark build only"
        status=1
    else
        echo "$(basename "$1"): no chip statistics dump in the shipped module"
    fi
fi
exit $status
