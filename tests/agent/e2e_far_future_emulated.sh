#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Our whole stack, built for the target, against the host's mosquitto on
# loopback, with a device certificate valid until 9999-12-31 (RFC 5280
# 4.1.2.5: no well-defined expiry; past a 32-bit time_t's 2038 limit):
# atecc608-emu (Trust&GO), our PKCS#11 module, token_init (init-token,
# init-pin), trustlinkctl csr / install-cert / publish / status and
# trustlinkd. In a cross build every one of them runs under qemu-user
# (TRUSTLINK_TEST_EMULATOR, see ag_emulate_targets); natively the same
# scenario runs as is. Checks: the agent connects, a publish through
# trustlinkctl reaches the broker, and status shows the far-future
# notAfter with a sane days_left (the days to 9999-12-31), nothing expired.
. "$(dirname "$0")/lib.sh"

ag_init
for v in ATECC608_EMU TRUSTLINKCTL AGENT_TOKEN_INIT; do
    [ -x "${!v:-}" ] || ag_fail "$v must name an executable"
done
[ -f "${TRUSTLINK_PKCS11:-}" ] || ag_fail "TRUSTLINK_PKCS11 must name libtrustlink-pkcs11.so"
ag_emulate_targets TRUSTLINKD TRUSTLINKCTL ATECC608_EMU AGENT_TOKEN_INIT
ag_note "emulator: ${TRUSTLINK_TEST_EMULATOR:-none (native)}"
# Emulated programs start and sign several times slower.
[ -z "${TRUSTLINK_TEST_EMULATOR:-}" ] || AG_WAIT=60

ag_make_ca ca
ag_make_broker_cert
ag_start_broker

# The emulated chip and the token on it.
ag_start_emu_token
mkdir -p "$AG_DIR/state"
"$AGENT_TOKEN_INIT" "$AG_MODULE" "$AG_TOKEN" "$AG_SO_PIN" "$AG_PIN" >"$AG_DIR/init.log" 2>&1 ||
    ag_fail "token_init failed: $(cat "$AG_DIR/init.log")"

AG_CONFIG_EXTRA="
  \"rotation\": { \"enabled\": false, \"state_dir\": \"$AG_DIR/state\" },"
ag_write_config
ctl() { "$TRUSTLINKCTL" --config "$AG_DIR/agent.json" "$@"; }
ctl_agent() { "$TRUSTLINKCTL" --socket "$AG_DIR/control.sock" "$@"; }

# CSR from the chip's key; the test CA issues a certificate valid to 9999.
ctl csr --subject /CN=device-001 --out "$AG_DIR/device.csr" 2>"$AG_DIR/csr.log" ||
    ag_fail "trustlinkctl csr failed: $(cat "$AG_DIR/csr.log")"
ag_ca_issue "$AG_DIR/device.csr" "$AG_DIR/device.pem" -enddate 99991231235959Z
openssl x509 -in "$AG_DIR/device.pem" -noout -enddate | grep -q "Dec 31 23:59:59 9999 GMT" ||
    ag_fail "the test certificate does not end on 9999-12-31: $(openssl x509 -in "$AG_DIR/device.pem" -noout -enddate)"
ctl install-cert "$AG_DIR/device.pem" >"$AG_DIR/install.log" 2>&1 ||
    ag_fail "trustlinkctl install-cert failed: $(cat "$AG_DIR/install.log")"

ag_start_agent
ag_wait_state connected "$AG_WAIT"

# A publish through trustlinkctl reaches the broker.
timeout 60 mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
    --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -t trustlink/device-001/e2e/far \
    -C 1 -W 50 >"$AG_DIR/sub.out" 2>"$AG_DIR/sub.err" &
sub_pid=$!
AG_PIDS+=("$sub_pid")
ag_wait_for 10 "subscriber connected" grep -q "u'tester'" "$AG_DIR/broker.log"
ctl_agent publish e2e/far '{"emulated":true}' --qos 1 >"$AG_DIR/publish.out" 2>&1 ||
    ag_fail "trustlinkctl publish failed: $(cat "$AG_DIR/publish.out")"
wait "$sub_pid" || ag_fail "the subscriber got nothing: $(cat "$AG_DIR/sub.err")"
[ "$(cat "$AG_DIR/sub.out")" = '{"emulated":true}' ] || ag_fail "received: '$(cat "$AG_DIR/sub.out")'"

# Status: the far-future date as such, days_left the days to 9999-12-31.
status=$(ag_control '{"cmd":"status"}')
ag_note "status: $status"
not_after=$(ag_status_field 's["certificate"]["not_after"]')
case $not_after in
9999-12-31*) ;;
*) ag_fail "status certificate.not_after: '$not_after', expected 9999-12-31" ;;
esac
days=$(ag_status_field 's["certificate"]["days_left"]')
want=$(python3 -c 'import datetime, time; print((datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc).timestamp() - time.time()) // 86400)' | cut -d. -f1)
[ "$days" -ge $((want - 1)) ] && [ "$days" -le $((want + 1)) ] ||
    ag_fail "days_left $days, expected $want (to 9999-12-31)"
ctl_agent status >"$AG_DIR/status.txt" 2>&1 || ag_fail "trustlinkctl status failed: $(cat "$AG_DIR/status.txt")"
grep -q "9999-12-31" "$AG_DIR/status.txt" || ag_fail "trustlinkctl status shows no 9999-12-31: $(cat "$AG_DIR/status.txt")"
grep -Eq "Days left: *$days\b" "$AG_DIR/status.txt" ||
    ag_fail "trustlinkctl status shows no 'Days left: $days': $(cat "$AG_DIR/status.txt")"
grep -qi "expired" "$AG_DIR/status.txt" && ag_fail "trustlinkctl status says expired: $(cat "$AG_DIR/status.txt")"
grep -qi "expired" "$AG_DIR/agent.log" && ag_fail "the agent logged 'expired': $(grep -i expired "$AG_DIR/agent.log")"

kill -TERM "$AG_AGENT_PID"
rc=0
for _ in $(seq 300); do kill -0 "$AG_AGENT_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$AG_AGENT_PID" 2>/dev/null && ag_fail "trustlinkd still running 30 s after SIGTERM"
wait "$AG_AGENT_PID" || rc=$?
AG_AGENT_PID=
[ "$rc" -eq 0 ] || ag_fail "trustlinkd exited $rc after SIGTERM"
ag_note "PASS (days_left $days)"
