#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The emulator keeps its chip in --state: after a stop and a start with
# the same state file, slot 0's public key and the genkey'd slot 2 key are
# unchanged.
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)

tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.before.pem"
tl_ok "genkey 2" --interface "$iface" genkey 2 >"$TL_DIR/slot2.before.pem"
tl_stop_emu
[ -s "$TL_STATE" ] || tl_fail "the daemon left no state file at $TL_STATE"

tl_start_emu
tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.after.pem"
tl_pubkey_pem "$iface" 2 "$TL_DIR/slot2.after.pem"
tl_expect_eq "slot 0 public key across a restart" \
    "$(cat "$TL_DIR/slot0.before.pem")" "$(cat "$TL_DIR/slot0.after.pem")"
tl_expect_eq "slot 2 public key across a restart" \
    "$(cat "$TL_DIR/slot2.before.pem")" "$(cat "$TL_DIR/slot2.after.pem")"
