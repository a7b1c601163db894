#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The PKCS#11 module is loaded into other programs, setuid ones included:
# every environment read in pkcs11/ must be secure_getenv (ignored when
# AT_SECURE is set), never getenv.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
found=$(grep -nE '(^|[^_a-z])getenv[[:space:]]*\(' "$root"/pkcs11/*.c "$root"/pkcs11/*.h || true)
if [ -n "$found" ]; then
    echo "plain getenv in pkcs11/ (use secure_getenv):"
    echo "$found"
    exit 1
fi
echo "pkcs11/: every environment read uses secure_getenv"
