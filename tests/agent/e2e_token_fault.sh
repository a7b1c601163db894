#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A wedged token recovers without a human (our module on atecc608-emu):
#   - connected; then every chip command answers 0x05 (emulator FAULT
#     "ecc:p=1", injected at run time over its socket);
#   - the broker is restarted, which breaks TLS resumption, so the next
#     connect needs a full handshake and a chip signature; the signature
#     fails (CKR_DEVICE_ERROR) and the agent classes it as a token error
#     (not network, not broker), drops the identity and schedules one
#     module re-initialisation no sooner than 30 s after the last load;
#   - the fault is cleared; the agent reloads the module once, signs a
#     full handshake and is connected again.
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

# The chip goes bad: every command answers status 0x05.
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" "ecc:p=1" || ag_fail "cannot inject the fault"
ag_stop_broker
ag_start_broker   # same port; a new broker process cannot resume old sessions

ag_wait_status 40 "a token-class failure" \
    's["last_error"] and s["last_error"]["class"] == "token" and s["counters"]["token_reinits"] >= 1'
status=$(ag_control '{"cmd":"status"}')
ag_note "status while the chip is faulty: $status"
[ "$(ag_status_field 's["state"]')" = identity-unavailable ] || ag_fail "state is not identity-unavailable: $status"
[ "$(ag_status_field 's["identity"]["loaded"]')" = False ] || ag_fail "identity still loaded: $status"
grep -q "token error during the TLS handshake" <<<"$status" || ag_fail "message does not name the token: $status"
grep -q "re-initialised" <<<"$status" || ag_fail "message does not say what happens next: $status"
# The reload is rate-limited to once per 30 s after the last load.
[ "$(ag_status_field 's["next_retry_in_ms"]')" -le 30000 ] || ag_fail "retry beyond 30 s: $status"
grep -q "<3>token error during the TLS handshake with 127.0.0.1:$AG_PORT" "$AG_DIR/agent.log" ||
    ag_fail "no error-level log line for the token fault"
kill -0 "$AG_AGENT_PID" || ag_fail "agent died on a token fault"

# The chip recovers: the agent re-initialises the module and reconnects
# with a fresh full handshake (one more signature).
python3 "$AG_TOOLS" emu-fault "$AG_DIR/emu.sock" clear || ag_fail "cannot clear the fault"
ag_wait_state connected 45
status=$(ag_control '{"cmd":"status"}')
ag_note "status after recovery: $status"
[ "$(ag_status_field 's["counters"]["token_reinits"]')" = 1 ] || ag_fail "expected exactly one re-initialisation: $status"
[ "$(ag_status_field 's["counters"]["signatures"]')" -gt "$sigs" ] || ag_fail "no new signature after recovery: $status"
[ "$(ag_status_field 's["identity"]["token"]')" = trustlink ] || ag_fail "identity not reloaded: $status"
ag_wait_for 10 "retained online after recovery" bash -c "$(declare -f ag_sub_retained); AG_PORT=$AG_PORT AG_DIR=$AG_DIR; ag_sub_retained trustlink/device-001/status | grep -qx 'trustlink/device-001/status online'"
ag_note "PASS"
