#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sign slot 0 a SHA-256 digest; OpenSSL checks the DER signature against
# pubkey 0. Argument:
#   verifies_with_openssl   openssl dgst -verify and pkeyutl -verify accept it
#   tampered_digest_fails   the signature does not verify for another message
#   genkey_slot_signs       a key made by genkey 2 signs verifiably too
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)

printf 'trustlink integration test message\n' >"$TL_DIR/msg"
digest=$(tl_sha256_hex "$TL_DIR/msg")

case ${1:?usage: tool_sign.sh verifies_with_openssl|tampered_digest_fails|genkey_slot_signs} in
verifies_with_openssl)
    tl_pubkey_pem "$iface" 0 "$TL_DIR/pub.pem"
    tl_sign "$iface" 0 "$digest" "$TL_DIR/sig.der"
    tl_verify_openssl "$TL_DIR/pub.pem" "$TL_DIR/sig.der" "$TL_DIR/msg"
    ;;
tampered_digest_fails)
    tl_pubkey_pem "$iface" 0 "$TL_DIR/pub.pem"
    tl_sign "$iface" 0 "$digest" "$TL_DIR/sig.der"
    printf 'trustlink integration test messagE\n' >"$TL_DIR/other"
    if out=$(openssl dgst -sha256 -verify "$TL_DIR/pub.pem" -signature "$TL_DIR/sig.der" "$TL_DIR/other" 2>&1); then
        tl_fail "a signature over one message verified for another: $out"
    fi
    tl_expect_match "openssl dgst on the tampered message" 'Verification failure' "$out"
    openssl dgst -sha256 -binary "$TL_DIR/other" >"$TL_DIR/other.digest"
    if out=$(openssl pkeyutl -verify -pubin -inkey "$TL_DIR/pub.pem" -in "$TL_DIR/other.digest" \
        -sigfile "$TL_DIR/sig.der" 2>&1); then
        tl_fail "pkeyutl accepted the signature for a tampered digest: $out"
    fi
    ;;
genkey_slot_signs)
    tl_ok "genkey 2" --interface "$iface" genkey 2 >/dev/null
    tl_pubkey_pem "$iface" 2 "$TL_DIR/pub2.pem"
    tl_sign "$iface" 2 "$digest" "$TL_DIR/sig2.der"
    tl_verify_openssl "$TL_DIR/pub2.pem" "$TL_DIR/sig2.der" "$TL_DIR/msg"
    ;;
*)
    tl_fail "unknown case '$1'"
    ;;
esac
