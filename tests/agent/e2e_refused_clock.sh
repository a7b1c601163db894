#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Failures the broker or the clock cause (SoftHSM token, certificate as a
# PEM file beside the token key):
#   - our certificate is from another CA: the broker refuses the handshake;
#     class broker-refused, the agent keeps retrying; `trustlinkctl check`
#     fails its broker line (exit 4);
#   - our certificate's notBefore is in the future (as after a clock that
#     is behind): the refusal is reported as a clock problem (class clock),
#     not as a network or broker one.
. "$(dirname "$0")/lib.sh"

ag_init
AG_MAX_BACKOFF=1
ag_make_ca ca
ag_make_ca otherca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm     # leaves the token key's CSR in device.csr

# expect_class NAME CLASS REGEX: the agent, started with the current
# agent.json, fails with CLASS and keeps retrying; then it is stopped.
expect_class() {
    local name=$1 class=$2 regex=$3 f1 status
    ag_start_agent
    ag_wait_status "$AG_WAIT" "$name: failure class $class" \
        "s['last_error'] is not None and s['last_error']['class'] == '$class'"
    status=$(ag_control '{"cmd":"status"}')
    ag_note "$name: $status"
    grep -Eq "$regex" <<<"$status" || ag_fail "$name: message does not match '$regex': $status"
    f1=$(ag_status_field 's["counters"]["connect_failures"]')
    ag_wait_status "$AG_WAIT" "$name: more attempts" "s['counters']['connect_failures'] > $f1"
    [ "$(ag_status_field 's["last_error"]["class"]')" = "$class" ] ||
        ag_fail "$name: class changed: $(ag_control '{"cmd":"status"}')"
    grep -q "(network)$" "$AG_DIR/agent.log" && ag_fail "$name: a refusal was logged as a network failure"
    [ "$(ag_status_field 's["counters"]["connects"]')" = 0 ] || ag_fail "$name: connected anyway"
    grep -q "<3>.*($class)$" "$AG_DIR/agent.log" || ag_fail "$name: no error-level log line"
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
}

# 1. A certificate from a CA the broker does not trust.
ag_sign_csr otherca "$AG_DIR/device.csr" "$AG_DIR/other-ca-device.pem"
AG_CERT_URI=$AG_DIR/other-ca-device.pem
ag_write_config
expect_class other-ca broker-refused \
    'broker 127.0.0.1:[0-9]+ refused the TLS handshake \(alert \\"unknown CA\\"\): check that it trusts the CA of our certificate|TLS handshake with 127.0.0.1:[0-9]+ failed: the broker closed the connection during the handshake \(did it refuse our certificate\? check that it trusts the CA of our certificate\)'
rc=0
"$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/other.check" 2>&1 || rc=$?
[ "$rc" -eq 4 ] && grep -q '^FAIL broker: broker refused' "$AG_DIR/other.check" ||
    ag_fail "check against a refusing broker (exit $rc): $(cat "$AG_DIR/other.check")"
grep -q '^PASS signature: ' "$AG_DIR/other.check" || ag_fail "check: signature line: $(cat "$AG_DIR/other.check")"

# 2. A certificate that is not valid yet (notBefore in 2099).
ag_ca_issue "$AG_DIR/device.csr" "$AG_DIR/future.pem" \
    -startdate 20990101000000Z -enddate 20991231000000Z
AG_CERT_URI=$AG_DIR/future.pem
ag_write_config
expect_class future-cert clock \
    'clock problem: our certificate is not valid yet \(notBefore is in the future\)'
ag_note "PASS"
