#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The driver's real Linux i2c-dev transport, run through the test-only
# i2c_emu_shim (LD_PRELOAD) against the daemon: /dev/i2c-1 is mapped to
# the daemon's socket and never touched. Argument:
#   info                  info over i2c:/dev/i2c-1@0x35
#   sign_verifies         a signature over i2c-dev verifies with OpenSSL
#   addr_nak_eremoteio    the driver copes with adapters that report an
#                         address NAK as EREMOTEIO instead of ENXIO
#   fast_bus_wakes        at 400 kHz the wake (zero bytes, I2C_M_IGNORE_NAK)
#                         works on an adapter with protocol mangling
#   fast_bus_no_mangling  ... and fails with a clear message without it
#   fast_bus_plain_wake   a bus really at 400 kHz that the driver is told is
#                         at 100 kHz: the short wake fails, "no ATECC608 answered"
source "$(dirname "$0")/lib.sh"
tl_init
tl_need I2C_EMU_SHIM

# shim ARGS...: the tool with the shim preloaded; /dev/i2c-1 -> the daemon.
shim_run() {
    local out=$1 err=$2
    shift 2
    TL_RC=0
    # Preloaded into the tool only (env sets it for its child), after any
    # runtime already preloaded (an ASan runtime must stay first).
    timeout --kill-after=5 "$TL_TOOL_TIMEOUT" env \
        LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD }$I2C_EMU_SHIM" TRUSTLINK_I2C_SHIM="/dev/i2c-1=$TL_SOCK" \
        "$ATECC608_TOOL" --lock-dir "$TL_DIR" "$@" >"$out" 2>"$err" || TL_RC=$?
}

shim_ok() {
    local what=$1
    shift
    shim_run "$TL_DIR/shim.out" "$TL_DIR/shim.err" "$@"
    if [ "$TL_RC" -ne 0 ]; then
        tl_fail "$what: atecc608-tool $* (through the shim) exited $TL_RC; stderr:
$(cat "$TL_DIR/shim.err")"
    fi
    cat "$TL_DIR/shim.out"
}

i2c=i2c:/dev/i2c-1@0x35
case ${1:?usage: tool_i2c_shim.sh CASE} in
info)
    tl_start_emu
    out=$(TRUSTLINK_I2C_SHIM_TRACE=1 shim_ok "info over i2c-dev" --interface "$i2c" info)
    tl_expect_match "info over i2c-dev names the chip" 'model +ATECC608B' "$out"
    tl_expect_match "info over i2c-dev names the interface" "interface +i2c:/dev/i2c-1@0x35" "$out"
    # The 100 kHz wake: a one-byte write to address 0x00, NAKed.
    tl_expect_match "the shim saw the 100 kHz wake" 'W 0x00 len 1 -> NAK_ADDR' "$(cat "$TL_DIR/shim.err")"
    ;;
sign_verifies)
    tl_start_emu
    printf 'signed over i2c-dev\n' >"$TL_DIR/msg"
    digest=$(tl_sha256_hex "$TL_DIR/msg")
    shim_ok "pubkey 0 over i2c-dev" --interface "$i2c" pubkey 0 >"$TL_DIR/pub.pem"
    shim_ok "sign 0 over i2c-dev" --interface "$i2c" sign 0 "$digest" --out "$TL_DIR/sig.der" >/dev/null
    tl_verify_openssl "$TL_DIR/pub.pem" "$TL_DIR/sig.der" "$TL_DIR/msg"
    # The same key over the emu transport: both transports reach one chip.
    tl_pubkey_pem "$(tl_emu_iface)" 0 "$TL_DIR/pub.emu.pem"
    tl_expect_eq "slot 0 key over i2c-dev and emu" "$(cat "$TL_DIR/pub.emu.pem")" "$(cat "$TL_DIR/pub.pem")"
    ;;
addr_nak_eremoteio)
    tl_start_emu
    out=$(TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO=EREMOTEIO shim_ok "info with EREMOTEIO NAKs" --interface "$i2c" info)
    tl_expect_match "info over i2c-dev (EREMOTEIO NAKs)" 'model +ATECC608B' "$out"
    ;;
fast_bus_wakes)
    tl_start_emu --bus-hz 400000
    out=$(TRUSTLINK_I2C_SHIM_TRACE=1 shim_ok "info at 400 kHz" --interface "$i2c?bus_hz=400000" info)
    tl_expect_match "info at 400 kHz names the chip" 'model +ATECC608B' "$out"
    # The long wake: zero bytes to address 0x00 with I2C_M_IGNORE_NAK.
    tl_expect_match "the shim saw the I2C_M_IGNORE_NAK wake" 'W 0x00 len [0-9]+ ignore_nak -> ACK' \
        "$(cat "$TL_DIR/shim.err")"
    ;;
fast_bus_no_mangling)
    tl_start_emu --bus-hz 400000
    TRUSTLINK_I2C_SHIM_NO_MANGLING=1 shim_run "$TL_DIR/out" "$TL_DIR/err" --interface "$i2c?bus_hz=400000" info
    [ "$TL_RC" -ne 0 ] || tl_fail "info at 400 kHz without I2C_FUNC_PROTOCOL_MANGLING exited 0; expected a refusal"
    [ "$TL_RC" -lt 124 ] || tl_fail "info at 400 kHz without mangling timed out or was killed (status $TL_RC)"
    err=$(cat "$TL_DIR/err")
    tl_expect_match "the refusal names the missing capability" 'IGNORE_NAK|MANGLING' "$err"
    tl_expect_match "the refusal names the device" '/dev/i2c-1' "$err"
    tl_expect_match "the refusal says what to do" '100 ?kHz|100000' "$err"
    ;;
fast_bus_plain_wake)
    tl_start_emu --bus-hz 400000
    shim_run "$TL_DIR/out" "$TL_DIR/err" --interface "$i2c" info
    [ "$TL_RC" -ne 0 ] || tl_fail "info with a 100 kHz wake on a 400 kHz bus exited 0; the chip cannot have woken"
    [ "$TL_RC" -lt 124 ] || tl_fail "info with a too-short wake did not give up in time (status $TL_RC)"
    tl_expect_match "the error says nothing answered" 'no ATECC608 answered' "$(cat "$TL_DIR/err")"
    tl_expect_match "the error names the bus" '/dev/i2c-1' "$(cat "$TL_DIR/err")"
    ;;
*)
    tl_fail "unknown case '$1'"
    ;;
esac
