#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# p11tool (GnuTLS) against libtrustlink-pkcs11.so on atecc608-emu.
# Usage: p11tool.sh list_all|test_sign
. "$(dirname "$0")/p11lib.sh"

# The device key pair plus a certificate with the same CKA_ID.
p11tool_setup() {
    local id
    p11_need_cmd p11tool
    p11_init_token
    id=$(p11_tool "-O" -O --type pubkey --label device | sed -n 's/^ *ID: *\([0-9a-f]*\)$/\1/p')
    [ -n "$id" ] || tl_fail "no CKA_ID on the device public key"
    p11_self_signed_der devcert "$TL_DIR/cert.der"
    p11_tool "--write-object cert" --login --pin "$P11_PIN" --write-object "$TL_DIR/cert.der" --type cert \
        --id "$id" --label device >/dev/null
}

case_list_all() {
    local out kind
    out=$(p11_ok "p11tool --list-all" p11tool --provider "$P11_MODULE" --list-all --login --set-pin "$P11_PIN")
    for kind in private public cert; do
        tl_expect_match "--list-all $kind URL" \
            "URL: pkcs11:model=ATECC608B;manufacturer=Microchip;serial=[0-9A-F]{16};token=$P11_LABEL;id=[%0-9A-F]+;object=device;type=$kind" \
            "$out"
    done
    tl_expect_match "--list-all private key type" 'Type: Private key \(EC/ECDSA-SECP256R1\)' "$out"
    tl_expect_match "--list-all certificate type" 'Type: X.509 Certificate \(EC/ECDSA-SECP256R1\)' "$out"
    # Without login the private key stays hidden.
    out=$(p11_ok "p11tool --list-all (no login)" p11tool --provider "$P11_MODULE" --list-all)
    if grep -q 'type=private' <<<"$out"; then
        tl_fail "p11tool lists a private key without login:
$out"
    fi
}

case_test_sign() {
    local out
    out=$(p11_ok_all "p11tool --test-sign" p11tool --provider "$P11_MODULE" --test-sign --login --set-pin "$P11_PIN" \
          "pkcs11:token=$P11_LABEL;object=device;type=private")
    tl_expect_match "--test-sign signs" 'Signing using ECDSA-SHA256\.\.\. ok' "$out"
    tl_expect_match "--test-sign verifies (private key parameters)" 'Verifying against private key parameters\.\.\. ok' "$out"
    tl_expect_match "--test-sign verifies (token public key)" 'Verifying against public key in the token\.\.\. ok' "$out"
}

p11_skip_p11kit_under_asan
p11_init
p11tool_setup
case "${1:-}" in
    list_all) case_list_all ;;
    test_sign) case_test_sign ;;
    *) tl_fail "unknown case '${1:-}'" ;;
esac
tl_note "ok"
