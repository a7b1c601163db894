#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# trustlinkd connects with mutual TLS to a real mosquitto using a key on a
# PKCS#11 token (argument: softhsm or emu), reports it over the control
# socket and to systemd (NOTIFY_SOCKET), publishes its retained "online"
# status, and on SIGTERM leaves "offline" retained and exits 0.
. "$(dirname "$0")/lib.sh"
kind=${1:?usage: e2e_connect.sh softhsm|emu}

ag_init
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token "$kind"
ag_write_config

# Preflight (trustlinkctl check, agent/preflight.c) passes every line.
if [ -x "${TRUSTLINKCTL:-}" ]; then
    rc=0
    "$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/check.out" 2>&1 || rc=$?
    ag_note "preflight: $(cat "$AG_DIR/check.out")"
    [ "$rc" -eq 0 ] || ag_fail "trustlinkctl check exited $rc: $(cat "$AG_DIR/check.out")"
    for c in config key certificate mechanism signature broker; do
        grep -q "^PASS $c: " "$AG_DIR/check.out" || ag_fail "preflight has no PASS $c line"
    done
    grep -q "$AG_PIN" "$AG_DIR/check.out" && ag_fail "preflight printed the PIN"
fi
ag_start_notify_listener
ag_start_agent
ag_wait_state connected

status=$(ag_control '{"cmd":"status"}')
ag_note "status: $status"
grep -q '"ok": *true' <<<"$status" || ag_fail "status reply is not ok: $status"
[ "$(ag_status_field 's["client_id"]')" = device-001 ] || ag_fail "client id: $status"
[ "$(ag_status_field 's["broker"]')" = "127.0.0.1:$AG_PORT" ] || ag_fail "broker: $status"
[ "$(ag_status_field 's["certificate"]["subject"]')" = "/CN=device-001" ] || ag_fail "cert subject: $status"
fp=$(openssl x509 -in "$AG_DIR/device.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[ "$(ag_status_field 's["certificate"]["sha256"]')" = "$fp" ] || ag_fail "fingerprint: want $fp: $status"
[ "$(ag_status_field 's["counters"]["signatures"]')" -ge 1 ] || ag_fail "no signature counted: $status"
grep -q "pin-value\|$AG_PIN" <<<"$status" && ag_fail "status shows a PIN: $status"

# The broker saw the certificate identity, the retained status says online.
ag_wait_for 10 "retained online" bash -c "$(declare -f ag_sub_retained); AG_PORT=$AG_PORT AG_DIR=$AG_DIR; ag_sub_retained trustlink/device-001/status | grep -qx 'trustlink/device-001/status online'"
grep -q "as device-001 (p2, c1, k5, u'device-001')" "$AG_DIR/broker.log" ||
    grep -q "u'device-001'" "$AG_DIR/broker.log" || ag_fail "broker log shows no client identity device-001"

# systemd notifications: READY=1 and a STATUS= with the connection.
ag_wait_for 10 "READY=1 on NOTIFY_SOCKET" grep -qx "READY=1" "$AG_DIR/notify.log"
ag_wait_for 10 "STATUS=connected" grep -q "^STATUS=connected to 127.0.0.1:$AG_PORT" "$AG_DIR/notify.log"

# SIGTERM: offline retained, exit 0.
kill -TERM "$AG_AGENT_PID"
rc=0
for _ in $(seq 100); do kill -0 "$AG_AGENT_PID" 2>/dev/null || break; sleep 0.1; done
wait "$AG_AGENT_PID" || rc=$?
AG_AGENT_PID=
[ "$rc" -eq 0 ] || ag_fail "trustlinkd exited $rc after SIGTERM"
out=$(ag_sub_retained trustlink/device-001/status || true)
[ "$out" = "trustlink/device-001/status offline" ] || ag_fail "retained status after SIGTERM: '$out'"
grep -q "STOPPING=1" "$AG_DIR/notify.log" || ag_fail "no STOPPING=1 sent"
ag_note "PASS"
