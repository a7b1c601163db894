#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CSR through PKCS#11: agent_csr_build with a libp11 key on SoftHSMv2
# (softhsm) or on our module over atecc608-emu (emu). The key pair is
# generated on the token; the CSR must verify (openssl req -verify) and
# carry the token's public key. No private key bytes ever reach the host.
# CTest passes TOKEN_CSR, and TRUSTLINK_PKCS11 / ATECC608_EMU for emu.
source "$(dirname "$0")/lib.sh"
[ -x "${TOKEN_CSR:-}" ] || rt_fail "TOKEN_CSR must name rotation_token_csr"
KIND=${1:?softhsm or emu}
PIN=4321
SO_PIN=87654321
rt_init

case "$KIND" in
softhsm)
    MODULE=/usr/lib/softhsm/libsofthsm2.so
    TOKEN=rotation
    mkdir -p "$RT_DIR/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$RT_DIR" >"$RT_DIR/softhsm2.conf"
    export SOFTHSM2_CONF=$RT_DIR/softhsm2.conf
    softhsm2-util --init-token --free --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
    ;;
emu)
    [ -x "${ATECC608_EMU:-}" ] || rt_fail "ATECC608_EMU must name atecc608-emu"
    [ -f "${TRUSTLINK_PKCS11:-}" ] || rt_fail "TRUSTLINK_PKCS11 must name our module"
    MODULE=$TRUSTLINK_PKCS11
    TOKEN=trustlink
    "$ATECC608_EMU" --socket "$RT_DIR/emu.sock" --state "$RT_DIR/chip.state" \
        --profile trustandgo --time-scale 0 2>"$RT_DIR/emu.log" &
    RT_PIDS+=($!)
    rt_wait_for 10 "atecc608-emu listening" grep -q "atecc608-emu: listening on" "$RT_DIR/emu.log"
    mkdir -p "$RT_DIR/store"
    cat >"$RT_DIR/pkcs11.json" <<CONF
{"tokens":[{"label":"$TOKEN","interface":"emu:$RT_DIR/emu.sock","key_slots":[0],
            "free_slots":[2,3,4],"store":"$RT_DIR/store"}],
 "lock_dir": "$RT_DIR",
 "pin_kdf_iterations": 1000}
CONF
    export TRUSTLINK_PKCS11_CONF=$RT_DIR/pkcs11.json
    rt_tool pkcs11-tool --module "$MODULE" --init-token --label "$TOKEN" --so-pin "$SO_PIN" \
        >"$RT_DIR/init.log" 2>&1 || rt_fail "init-token: $(cat "$RT_DIR/init.log")"
    rt_tool pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --init-pin --so-pin "$SO_PIN" \
        --pin "$PIN" >>"$RT_DIR/init.log" 2>&1 || rt_fail "init-pin: $(cat "$RT_DIR/init.log")"
    ;;
*) rt_fail "unknown token kind $KIND" ;;
esac

# The new pair, generated on the token, as rotation will do it.
rt_tool pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type EC:prime256v1 --label device.rotating --id 5a01 \
    >"$RT_DIR/keygen.log" 2>&1 || rt_fail "keypairgen: $(cat "$RT_DIR/keygen.log")"
# The token's public point, from the object listing (pkcs11-tool's
# --read-object --type pubkey trips ASan inside pkcs11-tool itself).
TOKEN_POINT=$(rt_tool pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    -O --type pubkey --id 5a01 2>"$RT_DIR/read.log" | awk '/EC_POINT:/ {p = $2} /ID:/ && $2 == "5a01" {print p; exit}')
TOKEN_POINT=${TOKEN_POINT#0441}   # DER OCTET STRING header of a 65-byte point
[ ${#TOKEN_POINT} -eq 130 ] || rt_fail "no EC point for id 5a01 on the token: $(cat "$RT_DIR/read.log")"

rt_tool "$TOKEN_CSR" "$MODULE" "$TOKEN" 5a01 "$PIN" "/CN=device-001/O=trustlink test" \
    "$RT_DIR/new.csr" 2>"$RT_DIR/csr.log" || rt_fail "CSR through the token: $(cat "$RT_DIR/csr.log")"

openssl req -in "$RT_DIR/new.csr" -verify -noout 2>&1 | grep -q "verify OK" ||
    rt_fail "openssl req -verify rejects the CSR"
CSR_POINT=$(openssl req -in "$RT_DIR/new.csr" -noout -pubkey | openssl pkey -pubin -outform der |
    tail -c 65 | od -An -tx1 -v | tr -d ' \n')
[ "$CSR_POINT" = "$TOKEN_POINT" ] || rt_fail "the CSR's public key is not the token key's"
openssl req -in "$RT_DIR/new.csr" -noout -subject | grep -q "CN *= *device-001, *O *= *trustlink test" ||
    rt_fail "subject not as requested: $(openssl req -in "$RT_DIR/new.csr" -noout -subject)"
# A wrong key id must fail with a clear message, not produce a CSR.
if rt_tool "$TOKEN_CSR" "$MODULE" "$TOKEN" 5aff "$PIN" /CN=x "$RT_DIR/none.csr" 2>"$RT_DIR/none.log"; then
    rt_fail "a CSR was made for a key that does not exist"
fi
grep -q "no private key with id 5aff" "$RT_DIR/none.log" || rt_fail "unclear error: $(cat "$RT_DIR/none.log")"
rt_note "CSR signed on the $KIND token verifies and carries the token key"
