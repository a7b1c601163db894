#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): one trustlinkd (SoftHSMv2 token) against a
# mosquitto on 127.0.0.1 with the default keepalive (60 s). Prints, from
# one run:
#   - agent CPU seconds (user + system) during a broker outage;
#   - time from "broker running" to "agent connected" after the outage;
#   - event-loop wake-ups and failed attempts during the outage.
# Usage: TRUSTLINKD=build/agent/trustlinkd tests/bench/outage.sh [OUTAGE_S]
# (default 30). Uses the e2e helpers; everything runs on loopback.
root=$(cd "$(dirname "$0")/../.." && pwd)
set -- bench
. "$root/tests/agent/lib.sh"
outage_s=${OUTAGE_S:-30}

cpu_s() {   # user+system CPU seconds of pid $1
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

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
c0=$(cpu_s "$AG_AGENT_PID")
w0=$(ag_status_field 's["counters"]["loop_wakeups"]' 2>/dev/null || echo 0)
f0=$(ag_status_field 's["counters"]["connect_failures"]')
sleep "$outage_s"
c1=$(cpu_s "$AG_AGENT_PID")
w1=$(ag_status_field 's["counters"]["loop_wakeups"]' 2>/dev/null || echo 0)
f1=$(ag_status_field 's["counters"]["connect_failures"]')

t0=$(date +%s.%N)
ag_start_broker
ag_wait_state connected 120
t1=$(date +%s.%N)

printf 'outage:                      %s s (reconnect.maximum %s s, keepalive %s s)\n' \
    "$outage_s" "$AG_MAX_BACKOFF" "$AG_KEEPALIVE"
printf 'agent CPU during the outage: %.3f s\n' "$(echo "$c1 - $c0" | bc -l)"
printf 'failed attempts:             %s\n' "$((f1 - f0))"
printf 'event-loop wake-ups:         %s\n' "$((w1 - w0))"
printf 'broker up -> connected:      %.2f s\n' "$(echo "$t1 - $t0" | bc -l)"
