#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# pkcs11-tool (OpenSC) against libtrustlink-pkcs11.so on atecc608-emu.
# Usage: pkcs11_tool.sh CASE   (CASE: see the case statement at the end)
. "$(dirname "$0")/p11lib.sh"

case_list_slots_tokens_mechanisms() {
    local out
    out=$(p11_tool "-L" -L)
    tl_expect_match "-L on a blank token" 'token state: +uninitialized' "$out"
    p11_init_token
    out=$(p11_tool "-L" -L)
    tl_expect_match "-L token label" "token label +: $P11_LABEL" "$out"
    tl_expect_match "-L manufacturer" 'token manufacturer +: Microchip' "$out"
    tl_expect_match "-L serial" 'serial num +: [0-9A-F]{16}' "$out"
    out=$(p11_tool "-T" -T)
    tl_expect_match "-T model" 'token model +: ATECC608B' "$out"
    tl_expect_match "-T flags" 'token flags +: login required, rng, token initialized, PIN initialized' "$out"
    out=$(p11_tool "-M" -M)
    local mech
    for mech in 'ECDSA-KEY-PAIR-GEN, keySize=\{256,256\}, hw, generate_key_pair' \
                'ECDSA, keySize=\{256,256\}, hw, sign, verify' \
                'ECDSA-SHA256, keySize=\{256,256\}, hw, sign, verify' \
                'SHA256, digest' \
                'ECDH1-DERIVE, keySize=\{256,256\}, hw, derive'; do
        tl_expect_match "-M" "$mech" "$out"
    done
}

case_objects_after_login() {
    local out
    p11_init_token
    out=$(p11_tool "-O without login" -O)
    if grep -q 'Private Key Object' <<<"$out"; then
        tl_fail "-O without login lists a private key:
$out"
    fi
    tl_expect_match "-O without login" 'Public Key Object; EC +EC_POINT 256 bits' "$out"
    out=$(p11_tool "-O after login" -O --login --pin "$P11_PIN")
    tl_expect_match "-O private key" 'Private Key Object; EC' "$out"
    tl_expect_match "-O private key access" 'Access: +sensitive, always sensitive, never extractable' "$out"
    tl_expect_match "-O label" 'label: +device' "$out"
    tl_expect_match "-O EC params" 'EC_PARAMS: +06082a8648ce3d030107' "$out"
}

case_keypairgen_ec_p256() {
    local out
    p11_init_token
    out=$(p11_tool "--keypairgen" --login --pin "$P11_PIN" --keypairgen --key-type EC:prime256v1 \
          --label gen --id 42)
    tl_expect_match "--keypairgen" 'Key pair generated' "$out"
    tl_expect_match "--keypairgen private key" 'Access: +sensitive, always sensitive, never extractable, local' "$out"
    out=$(p11_tool "-O" -O --login --pin "$P11_PIN" --type privkey --id 42)
    tl_expect_match "generated key listed" 'label: +gen' "$out"
    # The new key signs, and OpenSSL verifies under the generated public key.
    printf 'new key message\n' >"$TL_DIR/msg"
    p11_tool "sign with gen" --login --pin "$P11_PIN" --sign -m ECDSA-SHA256 --id 42 \
        --signature-format openssl -i "$TL_DIR/msg" -o "$TL_DIR/sig.der" >/dev/null
    p11_pubkey_pem gen "$TL_DIR/gen.pem"
    out=$(openssl dgst -sha256 -verify "$TL_DIR/gen.pem" -signature "$TL_DIR/sig.der" "$TL_DIR/msg" 2>&1) ||
        tl_fail "openssl rejected the generated key's signature: $out"
}

case_sign_ecdsa_sha256() {
    local out
    p11_init_token
    printf 'hello trustlink\n' >"$TL_DIR/msg"
    p11_tool "sign ECDSA-SHA256" --login --pin "$P11_PIN" --sign -m ECDSA-SHA256 --label device \
        --signature-format openssl -i "$TL_DIR/msg" -o "$TL_DIR/sig.der" >/dev/null
    p11_pubkey_pem device "$TL_DIR/device.pem"
    out=$(openssl dgst -sha256 -verify "$TL_DIR/device.pem" -signature "$TL_DIR/sig.der" "$TL_DIR/msg" 2>&1) ||
        tl_fail "openssl dgst -verify rejected the token's ECDSA-SHA256 signature: $out"
    tl_expect_eq "openssl dgst -verify" "Verified OK" "$out"
    printf 'hello trustlinK\n' >"$TL_DIR/other"
    if openssl dgst -sha256 -verify "$TL_DIR/device.pem" -signature "$TL_DIR/sig.der" "$TL_DIR/other" >/dev/null 2>&1; then
        tl_fail "the signature also verified over a different message"
    fi
}

case_sign_ecdsa_raw() {
    local out
    p11_init_token
    printf 'raw ecdsa over a host digest\n' >"$TL_DIR/msg"
    openssl dgst -sha256 -binary "$TL_DIR/msg" >"$TL_DIR/digest"
    # Default output format: raw R || S (64 bytes).
    p11_tool "sign ECDSA" --login --pin "$P11_PIN" --sign -m ECDSA --label device \
        -i "$TL_DIR/digest" -o "$TL_DIR/sig.raw" >/dev/null
    tl_expect_eq "raw signature size" 64 "$(stat -c %s "$TL_DIR/sig.raw")"
    p11_rs_to_der "$TL_DIR/sig.raw" "$TL_DIR/sig.der"
    p11_pubkey_pem device "$TL_DIR/device.pem"
    out=$(openssl pkeyutl -verify -pubin -inkey "$TL_DIR/device.pem" -in "$TL_DIR/digest" \
          -sigfile "$TL_DIR/sig.der" 2>&1) ||
        tl_fail "openssl pkeyutl -verify rejected the token's ECDSA signature: $out"
    tl_expect_match "openssl pkeyutl -verify" 'Signature Verified Successfully' "$out"
}

case_certificate_write_read_delete() {
    local out
    p11_init_token
    p11_self_signed_der certtest "$TL_DIR/cert.der"
    p11_tool "--write-object" --login --pin "$P11_PIN" --write-object "$TL_DIR/cert.der" --type cert \
        --id 77 --label certtest >/dev/null
    out=$(p11_tool "-O --type cert" -O --type cert)
    tl_expect_match "certificate listed" 'Certificate Object; type = X.509 cert' "$out"
    tl_expect_match "certificate subject" 'subject: +DN: CN ?= ?certtest' "$out"
    p11_tool "--read-object" --read-object --type cert --label certtest -o "$TL_DIR/back.der" >/dev/null
    cmp -s "$TL_DIR/cert.der" "$TL_DIR/back.der" || tl_fail "the certificate read back differs from the one written"
    p11_tool "--delete-object" --login --pin "$P11_PIN" --delete-object --type cert --label certtest >/dev/null
    out=$(p11_tool "-O --type cert after delete" -O --type cert)
    if grep -q certtest <<<"$out"; then
        tl_fail "the certificate is still listed after --delete-object:
$out"
    fi
}

case_self_test() {
    local out
    p11_init_token
    out=$(p11_tool "--test" --test --login --pin "$P11_PIN")
    tl_expect_match "--test" 'No errors' "$out"
}

p11_init
case "${1:-}" in
    list) case_list_slots_tokens_mechanisms ;;
    objects) case_objects_after_login ;;
    keypairgen) case_keypairgen_ec_p256 ;;
    sign_ecdsa_sha256) case_sign_ecdsa_sha256 ;;
    sign_ecdsa) case_sign_ecdsa_raw ;;
    certificate) case_certificate_write_read_delete ;;
    self_test) case_self_test ;;
    *) tl_fail "unknown case '${1:-}'" ;;
esac
tl_note "ok"
