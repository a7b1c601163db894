#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# atecc608-tool check-cert on a Trust&GO part: a certificate issued for the
# factory key in slot 0 matches (exit 0); one for another key, or for the
# key in slot 1, is refused (exit 1, "another key"); a file holding no
# certificate is a local error (exit 7). provision refuses the part.
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TL_DIR/ca.key" \
    -out "$TL_DIR/ca.pem" -subj /CN=ca -days 2 2>/dev/null
tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.pem"
# A CSR from a throwaway key gives the subject; -force_pubkey puts the chip key in.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TL_DIR/other.key" \
    -out "$TL_DIR/other.csr" -subj /CN=device-001 2>/dev/null
openssl x509 -req -in "$TL_DIR/other.csr" -CA "$TL_DIR/ca.pem" -CAkey "$TL_DIR/ca.key" -CAcreateserial \
    -force_pubkey "$TL_DIR/slot0.pem" -out "$TL_DIR/chip.pem" -days 2 2>/dev/null
openssl x509 -req -in "$TL_DIR/other.csr" -CA "$TL_DIR/ca.pem" -CAkey "$TL_DIR/ca.key" -CAcreateserial \
    -out "$TL_DIR/other.pem" -days 2 2>/dev/null

tl_ok "check-cert of the slot 0 certificate" --interface "$iface" check-cert 0 "$TL_DIR/chip.pem" >/dev/null
tl_expect_match "match message" 'matches the key in slot 0' "$(cat "$TL_DIR/ok.out")"
tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" check-cert 0 "$TL_DIR/other.pem"
tl_expect_eq "another key's certificate: exit" 1 "$TL_RC"
tl_expect_match "refusal" 'REFUSED.*another key' "$(cat "$TL_DIR/err")"
tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" check-cert 1 "$TL_DIR/chip.pem"
tl_expect_eq "slot 0's certificate against slot 1: exit" 1 "$TL_RC"
tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" check-cert 0 "$TL_DIR/slot0.pem"
tl_expect_eq "a public key, not a certificate: exit" 7 "$TL_RC"
# provision refuses a Trust&GO part and says what it is.
tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" provision --layout trustlink-default
tl_expect_eq "provision on a Trust&GO part: exit" 5 "$TL_RC"
tl_expect_match "names Trust&GO" 'Trust&GO part' "$(cat "$TL_DIR/err")"
