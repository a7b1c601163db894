#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A wedged token recovers without a human, paced by its own backoff (our
# module on atecc608-emu):
#   - connected; then every chip command answers 0x05 (emulator FAULT
#     "ecc:p=1", injected at run time over its socket);
#   - the broker is restarted, which breaks TLS resumption, so the next
#     connect needs a full handshake and a chip signature; the signature
#     fails (CKR_DEVICE_ERROR) and the agent classes it as a token error
#     (not network, not broker), drops the identity and reloads the module
#     after 1 s, then 2 s, then every 4 s while the fault lasts (a fault
#     of any length is noticed within 4 s of clearing: one reload costs
#     ~7 chip commands and ~20 ms of CPU);
#   - status says the token is faulty, never "token not found ... check the
#     token= attribute";
#   - the fault is cleared; the next reload (a few seconds away at most)
#     signs a full handshake and the agent is connected again;
#   - a second fault starts the backoff again at 1 s (reset on success).
# Counts reloads and reads the delays the agent logs; no timing asserts
# beyond generous bounds.
. "$(dirname "$0")/lib.sh"

ag_init
AG_MAX_BACKOFF=1
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token emu
ag_write_config
ag_start_agent
ag_wait_state connected
sigs=$(ag_status_field 's["counters"]["signatures"]')
[ "$sigs" -ge 1 ] || ag_fail "first connect counted no signature"

# The delays the agent announced for its module reloads, in order.
reload_delays() {
    grep -o "reloading the PKCS#11 module in [0-9.]* s" "$AG_DIR/agent.log" |
        awk '{print $(NF-1)}' | tr '\n' ' '
}

# The chip goes bad: every command answers status 0x05.
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" "ecc:p=1" || ag_fail "cannot inject the fault"
ag_stop_broker
ag_start_broker   # same port; a new broker process cannot resume old sessions

ag_wait_status 40 "a token-class failure" \
    's["last_error"] and s["last_error"]["class"] == "token" and s["identity"]["token_faulty"]'
grep -q "<3>token error during the TLS handshake with 127.0.0.1:$AG_PORT" "$AG_DIR/agent.log" ||
    ag_fail "no error-level log line for the token fault"
# The fault lasts: reloads keep coming, spaced by the backoff (1 s, 2 s,
# then 4 s at most). With the old fixed 30 s interval there would be no
# second reload within this wait; with a 30 s ceiling the fifth reload
# would be 8 s after the fourth.
ag_wait_status 30 "two module reloads while the chip is faulty" 's["counters"]["token_reinits"] >= 2'
ag_wait_status 40 "five module reloads while the chip is faulty" 's["counters"]["token_reinits"] >= 5'
status=$(ag_control '{"cmd":"status"}')
ag_note "status while the chip is faulty: $status"
kill -0 "$AG_AGENT_PID" || ag_fail "agent died on a token fault"
[ "$(ag_status_field 's["identity"]["token_faulty"]')" = True ] || ag_fail "status does not say the token is faulty: $status"
[ "$(ag_status_field 's["last_error"]["class"]')" = token ] || ag_fail "last error not classed token: $status"
grep -q "token= attribute" <<<"$status" && ag_fail "a faulty token reported as a wrong token= attribute: $status"
grep -Eq "token faulty|token error during the TLS handshake" <<<"$status" ||
    ag_fail "message does not name the token: $status"
delays=$(reload_delays)
ag_note "reload delays while faulty: $delays"
reinits=$(ag_status_field 's["counters"]["token_reinits"]')
# Doubling from 1 s up to 4 s: no reload storm (a fixed short retry would
# have made one reload a second), and no step longer than 4 s, so a fault
# that clears is noticed within 4 s whatever its length.
read -r -a d <<<"$delays"
[ "${#d[@]}" -ge 2 ] || ag_fail "fewer than two reload delays logged: $delays"
[ "${d[0]}" = 1.0 ] || ag_fail "the first reload is not 1 s after the fault: $delays"
for ((k = 1; k < ${#d[@]}; k++)); do
    want=$(awk -v p="${d[k - 1]}" 'BEGIN { v = p * 2; if (v > 4) v = 4; printf "%.1f", v }')
    [ "${d[k]}" = "$want" ] || ag_fail "reload delays do not double from 1 s up to 4 s: $delays"
done
[ "${#d[@]}" -ge 4 ] && [ "${d[3]}" = 4.0 ] || ag_fail "the reloads did not settle at every 4 s: $delays"
[ "$reinits" -le 8 ] || ag_fail "$reinits module reloads in a ~15 s fault: the backoff does not grow"

# The chip recovers: one of the next reloads signs a full handshake.
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" clear || ag_fail "cannot clear the fault"
ag_wait_state connected 40
status=$(ag_control '{"cmd":"status"}')
ag_note "status after recovery: $status"
after=$(ag_status_field 's["counters"]["token_reinits"]')
[ "$after" -le $((reinits + 2)) ] ||
    ag_fail "recovery took $((after - reinits)) more reloads (expected the next one or two)"
[ "$(ag_status_field 's["counters"]["signatures"]')" -gt "$sigs" ] || ag_fail "no new signature after recovery: $status"
[ "$(ag_status_field 's["identity"]["token"]')" = trustlink ] || ag_fail "identity not reloaded: $status"
[ "$(ag_status_field 's["identity"]["token_faulty"]')" = False ] || ag_fail "still faulty once connected: $status"
ag_wait_for 10 "retained online after recovery" bash -c "$(declare -f ag_sub_retained); AG_PORT=$AG_PORT AG_DIR=$AG_DIR; ag_sub_retained trustlink/device-001/status | grep -qx 'trustlink/device-001/status online'"

# A second fault: the backoff was reset by the connection, so the first
# reload is 1 s away again.
n_before=$(reload_delays | wc -w)
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" "ecc:p=1" || ag_fail "cannot inject the second fault"
ag_stop_broker
ag_start_broker
ag_wait_for 40 "a reload after the second fault" bash -c "[ \$(grep -o 'reloading the PKCS#11 module in [0-9.]* s' '$AG_DIR/agent.log' | wc -l) -gt $n_before ]"
read -r -a d <<<"$(reload_delays)"
[ "${d[$n_before]}" = 1.0 ] || ag_fail "backoff not reset by the recovery: delays $(reload_delays)"
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" clear || ag_fail "cannot clear the second fault"
ag_wait_state connected 40
ag_note "PASS"
