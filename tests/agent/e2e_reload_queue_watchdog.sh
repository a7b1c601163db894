#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SoftHSM token, one agent, in order:
#   1. MQTT 5 (broker.mqtt_version "5") connects; the broker sees protocol 5.
#   2. Started as systemd would with WatchdogSec (WATCHDOG_USEC and
#      WATCHDOG_PID = its pid): WATCHDOG=1 arrives on NOTIFY_SOCKET.
#   3. SIGHUP with only the heartbeat changed: no reconnect, new interval used.
#   4. SIGHUP with an invalid file: error logged, old configuration kept,
#      still connected.
#   5. Offline queue overflow over the control socket: a clear error reply,
#      the queued messages are still delivered after the reconnect.
#   6. SIGHUP with the broker port changed: the agent reconnects to the
#      new broker.
. "$(dirname "$0")/lib.sh"

ag_init
AG_MAX_BACKOFF=1
AG_MQTT_VERSION=5
AG_HEARTBEAT=3600
AG_TELEMETRY_EXTRA='"queue_max_messages": 2, '
AG_WATCHDOG_USEC=1000000
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm
ag_write_config
ag_start_notify_listener
ag_start_agent
ag_wait_state connected

counter() { ag_status_field "s[\"counters\"][\"$1\"]"; }

# 1. MQTT 5.
grep -q "as device-001 (p5, " "$AG_DIR/broker.log" ||
    ag_fail "broker did not see an MQTT 5 connect: $(grep 'New client' "$AG_DIR/broker.log")"

# 2. Watchdog pings (interval WATCHDOG_USEC / 2).
ag_wait_for 10 "two WATCHDOG=1 on NOTIFY_SOCKET" bash -c "[ \$(grep -cx WATCHDOG=1 '$AG_DIR/notify.log') -ge 2 ]"
grep -q "systemd watchdog: pinging every 500 ms" "$AG_DIR/agent.log" || ag_fail "watchdog interval not logged"

# 3. Reload, heartbeat only: same connection, new interval applied.
connects=$(counter connects)
disconnects=$(counter disconnects)
hb=$(counter heartbeats)
AG_HEARTBEAT=1
ag_write_config
kill -HUP "$AG_AGENT_PID"
ag_wait_for 10 "reload logged" grep -q "reload: connection settings unchanged; staying connected" "$AG_DIR/agent.log"
ag_wait_status 10 "heartbeats at the new 1 s interval" "s['counters']['heartbeats'] >= $hb + 3"
[ "$(counter connects)" = "$connects" ] && [ "$(counter disconnects)" = "$disconnects" ] ||
    ag_fail "a heartbeat-only reload reconnected: $(ag_control '{"cmd":"status"}')"
ag_state_is connected || ag_fail "not connected after the reload"

# 4. Reload, invalid file: kept running with the old configuration.
cp "$AG_DIR/agent.json" "$AG_DIR/agent.json.good"
printf '{"device_id": "device-001", "broker": {"port": "not a number"}}\n' >"$AG_DIR/agent.json"
kill -HUP "$AG_AGENT_PID"
ag_wait_for 10 "reload error logged" grep -q "<3>reload: .*; keeping the running configuration" "$AG_DIR/agent.log"
grep "<3>reload: " "$AG_DIR/agent.log" | ag_note "$(cat)"
kill -0 "$AG_AGENT_PID" || ag_fail "the agent exited on an invalid reload"
ag_state_is connected || ag_fail "not connected after an invalid reload"
[ "$(ag_status_field 's["broker"]')" = "127.0.0.1:$AG_PORT" ] || ag_fail "broker changed by an invalid file"
[ "$(counter connects)" = "$connects" ] || ag_fail "an invalid reload reconnected"
mv "$AG_DIR/agent.json.good" "$AG_DIR/agent.json"

# 5. Queue overflow over the control socket (queue_max_messages 2).
ag_stop_broker
ag_wait_state waiting
for n in 1 2; do
    reply=$(ag_control "{\"cmd\":\"publish\",\"topic\":\"q/$n\",\"payload\":\"m$n\",\"qos\":1,\"retain\":true}")
    grep -q '"ok": *true' <<<"$reply" || ag_fail "offline publish $n refused: $reply"
done
rejected=$(counter rejected)
reply=$(ag_control '{"cmd":"publish","topic":"q/3","payload":"m3","qos":1,"retain":true}')
ag_note "overflow reply: $reply"
grep -q '"ok": *false' <<<"$reply" || ag_fail "overflowing publish accepted: $reply"
grep -q 'queue full (2 messages, the limit): message not accepted' <<<"$reply" ||
    ag_fail "overflow reply does not say why: $reply"
[ "$(counter queue_length)" = 2 ] || ag_fail "queue length changed by the overflow"
[ "$(counter rejected)" = $((rejected + 1)) ] || ag_fail "rejection not counted"
ag_start_broker
ag_wait_state connected
for n in 1 2; do
    out=""
    for _ in 1 2 3 4 5; do
        out=$(ag_sub_retained "trustlink/device-001/q/$n" || true)
        [ -z "$out" ] || break
        sleep 0.5
    done
    [ "$out" = "trustlink/device-001/q/$n m$n" ] || ag_fail "queued message $n lost: '$out'"
done
out=$(ag_sub_retained trustlink/device-001/q/3 || true)
[ -z "$out" ] || ag_fail "the refused message was delivered: '$out'"

# 6. Reload with a new broker port: reconnects to the new broker.
AG_PIDS+=("$AG_BROKER_PID")      # the first broker keeps running
old_port=$AG_PORT
AG_BROKER_PID=
AG_PORT=$(python3 "$AG_TOOLS" freeport)
ag_start_broker
connects=$(counter connects)
ag_write_config
kill -HUP "$AG_AGENT_PID"
ag_wait_for 10 "reload with new connection settings" \
    grep -q "reload: connection settings changed; reconnecting" "$AG_DIR/agent.log"
ag_wait_status "$AG_WAIT" "connected to the new port" \
    "s['state'] == 'connected' and s['broker'] == '127.0.0.1:$AG_PORT' and s['counters']['connects'] > $connects"
grep -q "New connection from 127.0.0.1:[0-9]* on port $AG_PORT\." "$AG_DIR/broker.log" ||
    ag_fail "the broker on $AG_PORT saw no connection"
ag_note "moved from port $old_port to $AG_PORT"
ag_note "PASS"
