#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# atecc608-tool --help exits 0, names --interface and every command.
source "$(dirname "$0")/lib.sh"
tl_need ATECC608_TOOL
out=$(timeout 10 "$ATECC608_TOOL" --help 2>&1) || tl_fail "atecc608-tool --help exited $?: $out"
tl_expect_match "--help mentions --interface" '--interface' "$out"
for cmd in info serial random config genkey pubkey sign verify lock selftest provision check-cert; do
    grep -Eq "(^|[^a-z-])$cmd([^a-z-]|$)" <<<"$out" || tl_fail "--help does not mention the command '$cmd':
$out"
done
out=$(timeout 10 "$ATECC608_TOOL" --version 2>&1) || tl_fail "atecc608-tool --version exited $?: $out"
tl_expect_match "--version" '^atecc608-tool [0-9]+\.[0-9]+' "$out"
