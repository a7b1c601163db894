#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# atecc608-tool provision on the blank emulator profile. One case per run:
#   flow             write -> (no flag: refused, nothing locked) -> lock config
#                    + keys -> (no flag: refused) -> lock data; every step
#                    re-run afterwards succeeds and changes nothing
#   differing_config a part locked with another configuration is refused
#                    (exit 5, the differences named), by every step
#   lock_config_warns plain `lock config` without --yes-lock-permanently (or
#                    with the old --yes) warns that the blank config has no
#                    key slot, exits 2 and leaves the zone unlocked
#   lock_data_first  --lock-data before the config lock is refused
#   bad_layout       a layout file with genkey on a data slot is refused
#                    before the chip is touched; --print-layout round-trips
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu --profile blank
iface="$(tl_emu_iface)@0x60"
layout=trustlink-default

zone_state() {   # zone_state config|data: locked/unlocked
    tl_ok "info" --interface "$iface" info >/dev/null
    grep -E "^$1 zone" "$TL_DIR/ok.out" | awk '{print $3}'
}

expect_rc() {   # expect_rc WHAT RC ARGS...
    local what=$1 rc=$2
    shift 2
    tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$iface" "$@"
    tl_expect_eq "$what: exit status" "$rc" "$TL_RC"
}

case "${1:-}" in
flow)
    tl_ok "provision" --interface "$iface" provision --layout "$layout" >"$TL_DIR/write.out"
    tl_expect_match "write shows the diff" 'slot  0 SlotConfig +0x0000 -> 0x0085' "$(cat "$TL_DIR/write.out")"
    tl_expect_match "write says nothing is permanent" 'Nothing is permanent' "$(cat "$TL_DIR/write.out")"
    tl_expect_eq "config after write" unlocked "$(zone_state config)"
    tl_ok "config" --interface "$iface" config >"$TL_DIR/config.out"
    tl_expect_match "slot 0 written" 'SlotConfig +0x0085' "$(cat "$TL_DIR/config.out")"

    expect_rc "lock-config without confirmation" 2 provision --layout "$layout" --lock-config
    tl_expect_match "lock-config prints what becomes permanent" 'PERMANENT' "$(cat "$TL_DIR/out")"
    tl_expect_match "lock-config names the flag" 'yes-lock-permanently' "$(cat "$TL_DIR/err")"
    tl_expect_eq "config after refused lock" unlocked "$(zone_state config)"

    tl_ok "lock-config" --interface "$iface" provision --layout "$layout" --lock-config \
        --yes-lock-permanently >"$TL_DIR/lock.out"
    tl_expect_eq "config after lock" locked "$(zone_state config)"
    tl_expect_match "slot 0 key generated" 'slot 0: P-256 key generated' "$(cat "$TL_DIR/lock.out")"
    tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.pem"

    expect_rc "lock-data without confirmation" 2 provision --layout "$layout" --lock-data
    tl_expect_eq "data after refused lock" unlocked "$(zone_state data)"
    # Re-running the config step before the data lock keeps the key.
    tl_ok "lock-config again" --interface "$iface" provision --layout "$layout" --lock-config \
        --yes-lock-permanently >"$TL_DIR/again.out"
    tl_expect_match "re-run keeps the key" 'slot 0: P-256 key already present' "$(cat "$TL_DIR/again.out")"
    tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.again.pem"
    cmp -s "$TL_DIR/slot0.pem" "$TL_DIR/slot0.again.pem" || tl_fail "re-running --lock-config replaced the key"

    tl_ok "lock-data" --interface "$iface" provision --layout "$layout" --lock-data --yes-lock-permanently \
        >"$TL_DIR/data.out"
    tl_expect_match "lock-data says slot 0 is permanent" 'slot +0: its current key can never be replaced' \
        "$(cat "$TL_DIR/data.out")"
    tl_expect_eq "data after lock" locked "$(zone_state data)"
    # Idempotent: every step on the finished part succeeds.
    tl_ok "write again" --interface "$iface" provision --layout "$layout" >"$TL_DIR/w2.out"
    tl_expect_match "finished part" 'fully provisioned' "$(cat "$TL_DIR/w2.out")"
    tl_ok "lock-config on finished part" --interface "$iface" provision --layout "$layout" --lock-config >/dev/null
    tl_ok "lock-data on finished part" --interface "$iface" provision --layout "$layout" --lock-data >/dev/null
    tl_pubkey_pem "$iface" 0 "$TL_DIR/slot0.final.pem"
    cmp -s "$TL_DIR/slot0.pem" "$TL_DIR/slot0.final.pem" || tl_fail "the device key changed"
    # The rotation slots accept new keys after the data lock; slot 0 does not.
    tl_ok "genkey 2" --interface "$iface" genkey 2 >/dev/null
    expect_rc "genkey 0 after data lock" 5 genkey 0
    ;;
differing_config)
    tl_ok "plain lock config" --interface "$iface" lock config --yes-lock-permanently >/dev/null
    for step in "" "--lock-config --yes-lock-permanently" "--lock-data --yes-lock-permanently"; do
        # shellcheck disable=SC2086 # step is two words or none
        expect_rc "provision $step on a differing locked part" 5 provision --layout "$layout" $step
        tl_expect_match "refusal names the difference" 'differs from layout .*slot +0 SlotConfig' \
            "$(tr '\n' ' ' <"$TL_DIR/err")"
    done
    [ "$(zone_state data)" = unlocked ] || tl_fail "a refused step locked the data zone"
    ;;
lock_config_warns)
    expect_rc "lock config without confirmation" 2 lock config
    tl_expect_match "warning: no key slot" 'NO P-256 private-key slot' "$(cat "$TL_DIR/err")"
    tl_expect_match "warning points to provision" 'provision --layout' "$(cat "$TL_DIR/err")"
    expect_rc "lock config --yes (old flag)" 2 lock config --yes
    tl_expect_match "old flag refused" 'yes-lock-permanently' "$(cat "$TL_DIR/err")"
    expect_rc "lock data without confirmation" 2 lock data
    tl_expect_eq "config after refused locks" unlocked "$(zone_state config)"
    tl_expect_eq "data after refused locks" unlocked "$(zone_state data)"
    ;;
lock_data_first)
    tl_ok "provision" --interface "$iface" provision --layout "$layout" >/dev/null
    expect_rc "lock-data before lock-config" 5 provision --layout "$layout" --lock-data --yes-lock-permanently
    tl_expect_match "says to lock the config first" 'config zone is not locked' "$(cat "$TL_DIR/err")"
    tl_expect_eq "data zone" unlocked "$(zone_state data)"
    ;;
bad_layout)
    tl_ok "print-layout" provision --print-layout "$layout" >"$TL_DIR/layout.json"
    tl_ok "provision from the printed file" --interface "$iface" provision --layout "$TL_DIR/layout.json" >/dev/null
    python3 - "$TL_DIR/layout.json" "$TL_DIR/bad.json" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
l["slots"][8]["genkey"] = True
json.dump(l, open(sys.argv[2], "w"))
PY
    expect_rc "genkey on a data slot" 2 provision --layout "$TL_DIR/bad.json"
    tl_expect_match "names the slot" 'slots\[8\]\.genkey' "$(cat "$TL_DIR/err")"
    expect_rc "unknown layout" 2 provision --layout no-such-layout
    tl_expect_match "names the built-ins" 'trustlink-default' "$(cat "$TL_DIR/err")"
    ;;
*)
    tl_fail "unknown case '${1:-}'"
    ;;
esac
