#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the Trust&GO chip's configuration forbids, the tool refuses with
# exit status 5 ("refused by the chip's configuration") and a message that
# names what was refused. Argument:
#   read_private_slot     read data 0 (slot 0 holds the device private key)
#   lock_locked_config    lock config --yes-lock-permanently on a config zone already locked
#   lock_locked_data      lock data --yes-lock-permanently on data/OTP zones already locked
#   genkey_permanent_slot genkey 0 (slot 0's key is permanent)
#   genkey_locked_slot    genkey 2 after lock slot 2 --yes-lock-permanently
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu
iface=$(tl_emu_iface)
refused=5

# expect_refused WHAT PATTERN ARGS...: the tool exits 5 and its stderr
# matches PATTERN; nothing goes to stdout.
expect_refused() {
    local what=$1 pattern=$2 err
    shift 2
    tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" "$@"
    err=$(cat "$TL_DIR/err")
    if [ "$TL_RC" -ne "$refused" ]; then
        tl_fail "$what: atecc608-tool $* exited $TL_RC, expected $refused (refused); stderr: $err"
    fi
    tl_expect_match "$what: the message" "$pattern" "$err"
    [ ! -s "$TL_DIR/out" ] || tl_fail "$what: a refused command printed to stdout: $(cat "$TL_DIR/out")"
}

case ${1:?usage: tool_refusals.sh CASE} in
read_private_slot)
    expect_refused "read data 0" 'slot 0' read data 0
    tl_expect_match "read data 0: why" 'secret|not readable|private' "$(cat "$TL_DIR/err")"
    ;;
lock_locked_config)
    expect_refused "lock config" 'config' lock config --yes-lock-permanently
    tl_expect_match "lock config: why" 'already locked|locked' "$(cat "$TL_DIR/err")"
    ;;
lock_locked_data)
    expect_refused "lock data" 'data' lock data --yes-lock-permanently
    tl_expect_match "lock data: why" 'already locked|locked' "$(cat "$TL_DIR/err")"
    ;;
genkey_permanent_slot)
    tl_pubkey_pem "$iface" 0 "$TL_DIR/before.pem"
    expect_refused "genkey 0" 'slot 0' genkey 0
    tl_pubkey_pem "$iface" 0 "$TL_DIR/after.pem"
    tl_expect_eq "slot 0 key after a refused genkey" "$(cat "$TL_DIR/before.pem")" "$(cat "$TL_DIR/after.pem")"
    ;;
genkey_locked_slot)
    tl_ok "genkey 2" --interface "$iface" genkey 2 >"$TL_DIR/before.pem"
    tl_ok "lock slot 2" --interface "$iface" lock slot 2 --yes-lock-permanently >/dev/null
    expect_refused "genkey 2 after lock slot 2" 'slot 2' genkey 2
    tl_expect_match "genkey 2 after lock slot 2: why" 'locked' "$(cat "$TL_DIR/err")"
    tl_pubkey_pem "$iface" 2 "$TL_DIR/after.pem"
    tl_expect_eq "slot 2 key after a refused genkey" "$(cat "$TL_DIR/before.pem")" "$(cat "$TL_DIR/after.pem")"
    ;;
*)
    tl_fail "unknown case '$1'"
    ;;
esac
