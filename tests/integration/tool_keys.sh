#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GenKey and public keys. Argument:
#   genkey_matches_pubkey  genkey on slot 2 prints the key pubkey 2 reads back
#   genkey_changes_key     a second genkey on slot 2 gives a new key
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)

case ${1:?usage: tool_keys.sh genkey_matches_pubkey|genkey_changes_key} in
genkey_matches_pubkey)
    tl_ok "genkey 2" --interface "$iface" genkey 2 >"$TL_DIR/gen.pem"
    openssl pkey -pubin -in "$TL_DIR/gen.pem" -noout 2>/dev/null ||
        tl_fail "genkey 2 did not print a PEM public key: $(cat "$TL_DIR/gen.pem")"
    tl_pubkey_pem "$iface" 2 "$TL_DIR/read.pem"
    tl_expect_eq "pubkey 2 after genkey 2" "$(cat "$TL_DIR/gen.pem")" "$(cat "$TL_DIR/read.pem")"
    ;;
genkey_changes_key)
    tl_ok "genkey 2" --interface "$iface" genkey 2 >"$TL_DIR/first.pem"
    tl_ok "genkey 2 again" --interface "$iface" genkey 2 >"$TL_DIR/second.pem"
    if cmp -s "$TL_DIR/first.pem" "$TL_DIR/second.pem"; then
        tl_fail "two genkey 2 runs gave the same key: $(cat "$TL_DIR/first.pem")"
    fi
    ;;
*)
    tl_fail "unknown case '$1'"
    ;;
esac
