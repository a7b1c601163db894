#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# trustlinkd configured with the wrong broker CA (SoftHSM token): it
# refuses the broker, says so clearly (class broker-untrusted), keeps
# retrying, and never signs with the token for the untrusted broker.
. "$(dirname "$0")/lib.sh"

ag_init
ag_make_ca ca
ag_make_ca otherca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm
ag_write_config "$AG_DIR/otherca.pem"
ag_start_agent
ag_wait_for "$AG_WAIT" "a classified failure" bash -c \
    "python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' | grep -q broker-untrusted"
status=$(ag_control '{"cmd":"status"}')
ag_note "status: $status"
grep -Eq 'is not trusted: (unable to get local issuer certificate|self-signed certificate in certificate chain)' <<<"$status" || ag_fail "message does not say why: $status"
grep -q 'broker.ca_file' <<<"$status" || ag_fail "message does not say what to check: $status"
f1=$(ag_status_field 's["counters"]["connect_failures"]')
ag_wait_for "$AG_WAIT" "more attempts" bash -c \
    "[ \"\$(python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counters\"][\"connect_failures\"])')\" -gt $f1 ]"
[ "$(ag_status_field 's["counters"]["signatures"]')" = 0 ] || ag_fail "signed for an untrusted broker"
kill -0 "$AG_AGENT_PID" || ag_fail "agent died"
grep -q "<3>broker 127.0.0.1:$AG_PORT is not trusted" "$AG_DIR/agent.log" || ag_fail "no error-level log line"
ag_note "PASS"
