#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Broker down with the default keepalive (60 s): libmosquitto 2.0.11 keeps
# a socket whose asynchronous connect failed and reports success, so a
# loop that only acts on return codes polls it thousands of times a second
# until its own connect timeout (integration-facts.md 7). The agent must:
#   - report "Connection refused" (not "timed out"),
#   - not spin: event-loop wake-ups per failed attempt stay small (counted
#     by the loop itself, status counters.loop_wakeups; no wall clock),
#   - let its backoff grow (several attempts fail, each classed),
#   - reconnect within its backoff bound once the broker is back.
. "$(dirname "$0")/lib.sh"

ag_init
AG_KEEPALIVE=60
AG_MAX_BACKOFF=2
AG_HEARTBEAT=0
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm
ag_write_config
ag_start_agent
ag_wait_state connected

ag_stop_broker
# With the spin, the first attempt ends only after the 30 s connect timeout.
ag_wait_status "$AG_WAIT" "a connect attempt failing with 'Connection refused'" \
    '"refused" in s["last_error"]["message"] and s["counters"]["connect_failures"] >= 1'
w0=$(ag_status_field 's["counters"]["loop_wakeups"]')
f0=$(ag_status_field 's["counters"]["connect_failures"]')
ag_wait_status "$AG_WAIT" "three more failed attempts" \
    "s['counters']['connect_failures'] >= $f0 + 3"
w1=$(ag_status_field 's["counters"]["loop_wakeups"]')
f1=$(ag_status_field 's["counters"]["connect_failures"]')
per=$(( (w1 - w0) / (f1 - f0) ))
ag_note "loop wake-ups per failed attempt: $per ($((w1 - w0)) over $((f1 - f0)) attempts)"
# A few wake-ups per attempt (timer, connect, the refusal, status
# requests of this test); a spin gives thousands.
[ "$per" -lt 50 ] || ag_fail "the loop spins: $per wake-ups per failed connection attempt"
msg=$(ag_status_field 's["last_error"]["message"]')
grep -qi "connection refused" <<<"$msg" || ag_fail "failure not classed as refused: $msg"
! grep -q "timed out" "$AG_DIR/agent.log" || ag_fail "an attempt timed out instead of failing at once"

ag_start_broker
# Backoff maximum 2 s: connected well before the 30 s connect timeout.
ag_wait_state connected 10
ag_note "PASS"
