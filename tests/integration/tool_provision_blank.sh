#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Provisioning a blank chip with the tool: the config zone locks with the
# CRC of a fresh read; the data zone (all zero bytes, whose CRC is 0000),
# which the chip cannot read before it
# is locked, refuses a wrong --crc (and stays unlocked), locks without one,
# and then refuses a second lock.
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu --profile blank
iface="$(tl_emu_iface)@0x60"

zone_state() {
    tl_ok "info" --interface "$iface" info >/dev/null
    grep -E "^$1 zone" "$TL_DIR/ok.out" | awk '{print $3}'
}

tl_expect_eq "data zone before provisioning" unlocked "$(zone_state data)"
tl_ok "lock config" --interface "$iface" lock config --yes-lock-permanently >/dev/null
tl_expect_eq "config zone after lock config" locked "$(zone_state config)"

tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" lock data --yes-lock-permanently --crc 1234
[ "$TL_RC" -ne 0 ] || tl_fail "lock data with a wrong --crc succeeded"
tl_expect_eq "data zone after a refused lock" unlocked "$(zone_state data)"

tl_ok "lock data" --interface "$iface" lock data --yes-lock-permanently >/dev/null
tl_expect_eq "data zone after lock data" locked "$(zone_state data)"

tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" lock data --yes-lock-permanently
tl_expect_eq "second lock data exit status (refused)" 5 "$TL_RC"
tl_expect_match "second lock data: why" 'locked' "$(cat "$TL_DIR/err")"
