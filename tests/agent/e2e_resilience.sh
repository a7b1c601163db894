#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# trustlinkd against a broker that goes away (argument: softhsm or emu):
#   - a reconnect to the same broker resumes TLS: no new token signature;
#   - broker stopped: the agent reports the failure and keeps retrying;
#     a publish while offline is queued;
#   - broker restarted: the agent reconnects within its backoff bound and
#     the queued message is delivered (checked with mosquitto_sub).
. "$(dirname "$0")/lib.sh"
kind=${1:?usage: e2e_resilience.sh softhsm|emu}

ag_init
AG_MAX_BACKOFF=2
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token "$kind"
ag_write_config
ag_start_agent
ag_wait_state connected

# 1. Resumption: a requested reconnect costs no signature.
sigs=$(ag_status_field 's["counters"]["signatures"]')
resumed=$(ag_status_field 's["counters"]["resumed_handshakes"]')
connects=$(ag_status_field 's["counters"]["connects"]')
reply=$(ag_control '{"cmd":"reconnect"}')
grep -q '"ok": *true' <<<"$reply" || ag_fail "reconnect refused: $reply"
ag_wait_for "$AG_WAIT" "second connect" \
    bash -c "[ \"\$(python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' |
             python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[\"counters\"][\"connects\"] if s[\"state\"]==\"connected\" else 0)')\" -gt $connects ]"
[ "$(ag_status_field 's["counters"]["signatures"]')" = "$sigs" ] ||
    ag_fail "reconnect made a new signature (TLS not resumed): $(ag_control '{"cmd":"status"}')"
[ "$(ag_status_field 's["counters"]["resumed_handshakes"]')" -gt "$resumed" ] ||
    ag_fail "no resumed handshake counted: $(ag_control '{"cmd":"status"}')"

# 2. Broker gone: failure reported, retries continue, publish is queued.
ag_stop_broker
ag_wait_for "$AG_WAIT" "agent notices the broker is gone" bash -c \
    "python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' | grep -q '\"state\":\"waiting\"'"
reply=$(ag_control '{"cmd":"publish","topic":"events","payload":"while-offline","qos":1,"retain":true}')
grep -q '"ok": *true' <<<"$reply" || ag_fail "offline publish refused: $reply"
[ "$(ag_status_field 's["counters"]["queue_length"]')" = 1 ] || ag_fail "message not queued"
[ "$(ag_status_field 's["last_error"]["class"]')" = network ] ||
    ag_fail "failure class: $(ag_control '{"cmd":"status"}')"
f1=$(ag_status_field 's["counters"]["connect_failures"]')
ag_wait_for "$AG_WAIT" "more connection attempts" bash -c \
    "[ \"\$(python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)[\"counters\"][\"connect_failures\"])')\" -gt $f1 ]"
ag_wait_for "$AG_WAIT" "a status with the next retry time" bash -c \
    "python3 '$AG_TOOLS' control '$AG_DIR/control.sock' '{\"cmd\":\"status\"}' | grep -q '\"next_retry_in_ms\":'"

# 3. Broker back: reconnect within the backoff bound (maximum 2 s, plus
# connect time), queued message delivered.
ag_start_broker
ag_wait_state connected $((AG_MAX_BACKOFF + 8))
[ "$(ag_status_field 's["counters"]["queue_length"]')" = 0 ] || ag_fail "queue not flushed"
out=""
for _ in 1 2 3 4 5; do
    out=$(ag_sub_retained trustlink/device-001/events || true)
    [ -z "$out" ] || break
    sleep 0.5
done
[ "$out" = "trustlink/device-001/events while-offline" ] || ag_fail "offline message not delivered: '$out'"
ag_note "PASS"
