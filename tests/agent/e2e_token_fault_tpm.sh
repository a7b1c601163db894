#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A TPM that goes away recovers without a human (tpm2-pkcs11 on swtpm):
#   - connected; then the simulator is stopped (the TPM stops answering:
#     its TCTI connection is refused);
#   - the broker is restarted, which breaks TLS resumption, so the next
#     connect needs a full handshake and a TPM signature; the signature
#     fails and the agent classes it as a token error (not network, not
#     broker), drops the identity and schedules a module re-initialisation;
#   - the simulator comes back on the same port with the same state; the
#     agent reloads the module, signs a full handshake and is connected.
. "$(dirname "$0")/lib.sh"

ag_init
AG_MAX_BACKOFF=1
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token tpm
ag_write_config
ag_start_agent
ag_wait_state connected
sigs=$(ag_status_field 's["counters"]["signatures"]')
[ "$sigs" -ge 1 ] || ag_fail "first connect counted no signature"

ag_stop_tpm
ag_stop_broker
ag_start_broker   # same port; a new broker process cannot resume old sessions

ag_wait_status 60 "a token-class failure" \
    's["last_error"] and s["last_error"]["class"] == "token"'
status=$(ag_control '{"cmd":"status"}')
ag_note "status while the TPM is away: $status"
[ "$(ag_status_field 's["identity"]["loaded"]')" = False ] || ag_fail "identity still loaded: $status"
# The handshake's token error, or already the first module reload's
# "token faulty: ..." (it comes 1 s later; a loaded machine gets there
# before this status read).
grep -Eq "token error during the TLS handshake|token faulty" <<<"$status" ||
    ag_fail "message does not name the token: $status"
kill -0 "$AG_AGENT_PID" || ag_fail "agent died when the TPM went away"

ag_start_tpm same-port
ag_wait_state connected 90
status=$(ag_control '{"cmd":"status"}')
ag_note "status after recovery: $status"
[ "$(ag_status_field 's["counters"]["token_reinits"]')" -ge 1 ] || ag_fail "no module re-initialisation: $status"
[ "$(ag_status_field 's["counters"]["signatures"]')" -gt "$sigs" ] || ag_fail "no new signature after recovery: $status"
[ "$(ag_status_field 's["identity"]["token"]')" = agent ] || ag_fail "identity not reloaded: $status"
ag_note "PASS"
