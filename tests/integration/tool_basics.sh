#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# atecc608-tool read-only commands against a Trust&GO emulator at time
# scale 0. Argument: info | serial | random | config (one behaviour each).
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)

case ${1:?usage: tool_basics.sh info|serial|random|config} in
info)
    out=$(tl_ok "info" --interface "$iface" info)
    # The emulator's default is a 608B (Info revision 00 00 60 03).
    tl_expect_match "info: model" 'model +ATECC608B' "$out"
    tl_expect_match "info: revision" 'revision +00006003' "$out"
    tl_expect_match "info: address" 'address +0x35' "$out"
    tl_expect_match "info: zones locked" 'data zone +locked' "$out"
    tl_expect_match "info: interface" "interface +$iface" "$out"
    ;;
serial)
    out=$(tl_ok "serial" --interface "$iface" serial)
    # 9 bytes, the first two 01 23 on every part.
    serial=$(tr -d ' :\n' <<<"$out" | tr 'A-F' 'a-f' | grep -Eo '0123[0-9a-f]{14}' | head -n 1 || true)
    [ -n "$serial" ] || tl_fail "serial: expected 18 hex digits starting 0123, got: $out"
    info=$(tl_ok "info" --interface "$iface" info)
    tl_expect_match "serial agrees with info" "serial +$serial" "$info"
    ;;
random)
    a=$(tl_ok "random" --interface "$iface" random | tr -d ' :\n' | tr 'A-F' 'a-f')
    b=$(tl_ok "random again" --interface "$iface" random | tr -d ' :\n' | tr 'A-F' 'a-f')
    grep -Eq '^[0-9a-f]{64}$' <<<"$a" || tl_fail "random: expected 32 bytes as 64 hex digits, got '$a'"
    grep -Eq '^[0-9a-f]{64}$' <<<"$b" || tl_fail "random: expected 32 bytes as 64 hex digits, got '$b'"
    [ "$a" != "$b" ] || tl_fail "random: two calls gave the same 32 bytes: $a"
    ;;
config)
    # The decoded config zone (see --help): Trust&GO values from the
    # profile, both zones locked, and all 16 slots described.
    out=$(tl_ok "config" --interface "$iface" config)
    tl_expect_match "config: I2C address" 'I2C address +0x6a \(7-bit 0x35\)' "$out"
    tl_expect_match "config: config zone lock" 'config zone +locked' "$out"
    tl_expect_match "config: data zone lock" 'data/OTP zones +locked' "$out"
    tl_expect_match "config: slot 0 SlotConfig" 'SlotConfig 0x0085' "$out"
    tl_expect_match "config: slot 0 KeyConfig" 'KeyConfig +0x0053' "$out"
    slots=$(grep -Ec '^slot +[0-9]+ ' <<<"$out" || true)
    tl_expect_eq "config: slots described" 16 "$slots"
    ;;
*)
    tl_fail "unknown case '$1'"
    ;;
esac
