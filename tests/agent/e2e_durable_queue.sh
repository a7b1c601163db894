#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The durable delivery queue survives SIGKILL: with the broker down, N
# numbered QoS 1 messages are published through the control socket in the
# default "fsync" mode (each answered ok), the agent is killed with
# SIGKILL and started again (as systemd would), the broker comes up, and a
# subscriber must receive all N, in order, before anything published
# later. Then the same scenario in "memory" mode shows the difference
# (reported, not asserted: losing them is what that mode documents).
. "$(dirname "$0")/lib.sh"

ag_init
N=${DURABLE_N:-20}
AG_KEEPALIVE=5
AG_MAX_BACKOFF=1
AG_HEARTBEAT=0
ag_make_ca ca
ag_make_broker_cert
ag_setup_token softhsm
AG_PORT=$(python3 "$AG_TOOLS" freeport)

publish_numbered() {   # publish_numbered FIRST LAST: each must be answered ok
    local i reply
    for ((i = $1; i <= $2; i++)); do
        reply=$(ag_control "{\"cmd\":\"publish\",\"topic\":\"seq\",\"payload\":\"$i\",\"qos\":1}")
        grep -q '"ok": *true' <<<"$reply" || ag_fail "publish $i refused: $reply"
    done
}

kill_agent_hard() {
    kill -KILL "$AG_AGENT_PID"
    wait "$AG_AGENT_PID" 2>/dev/null || true
    AG_AGENT_PID=
    rm -f "$AG_DIR/control.sock"
}

# run_scenario MODE: prints the payloads the subscriber received.
run_scenario() {
    local mode=$1 sub_pid
    rm -rf "$AG_DIR/state"
    : >"$AG_DIR/sub-$mode.log"
    AG_TELEMETRY_EXTRA="\"queue_durability\": \"$mode\", "
    ag_write_config
    ag_start_agent
    ag_wait_status 20 "agent up, broker down" 's["state"] in ("waiting", "connecting")'
    publish_numbered 1 "$N"
    if [ "$mode" = fsync ]; then
        # Every ok came after a sync: at least one, at most one per message.
        ag_status_true "s['queue']['stored'] == $N and 1 <= s['queue']['fsyncs'] <= $N" ||
            ag_fail "fsync: status queue: $(ag_status_field 's["queue"]')"
    fi
    ag_note "$mode: $N messages accepted with the broker down; SIGKILL"
    kill_agent_hard
    ag_start_agent
    ag_note "$mode: restarted; status queue: $(ag_status_field 's["queue"]')"
    # Freeze the agent while the broker and the subscriber come up, so
    # that the subscriber is there before the first delivery.
    kill -STOP "$AG_AGENT_PID"
    ag_start_broker
    stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
        --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -q 1 \
        -t trustlink/device-001/seq -F '%p' >"$AG_DIR/sub-$mode.log" 2>"$AG_DIR/sub.err" &
    sub_pid=$!
    AG_PIDS+=($sub_pid)
    ag_wait_for 10 "subscriber subscribed" grep -q "Sending SUBACK to" "$AG_DIR/broker.log"
    kill -CONT "$AG_AGENT_PID"
    ag_wait_state connected 30
    # One more message after the reconnect: it must come after the old ones.
    publish_numbered $((N + 1)) $((N + 1))
    if [ "$mode" = memory ]; then
        ag_wait_for 20 "the new message" grep -qx "$((N + 1))" "$AG_DIR/sub-$mode.log"
    else
        ag_wait_for 30 "all $((N + 1)) messages" \
            bash -c "[ \$(sort -un '$AG_DIR/sub-$mode.log' | wc -l) -ge $((N + 1)) ]"
    fi
    ag_wait_status 20 "queue drained" 's["queue"]["messages"] == 0'
    ag_kill "$sub_pid"
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
    ag_stop_broker
    rm -f "$AG_DIR/control.sock"
    : >"$AG_DIR/broker.log"
}

run_scenario fsync
python3 - "$AG_DIR/sub-fsync.log" "$N" <<'PY' || ag_fail "fsync mode: messages lost or out of order"
import sys
got = [int(x) for x in open(sys.argv[1]) if x.strip().isdigit()]
n = int(sys.argv[2])
first_seen = []
for x in got:
    if x not in first_seen:
        first_seen.append(x)
print("fsync: received %d message(s), %d distinct: %s" % (len(got), len(first_seen), got),
      file=sys.stderr)
ok = first_seen == list(range(1, n + 2)) and got == sorted(got)
sys.exit(0 if ok else 1)
PY

run_scenario memory
memory_old=$(python3 -c "import sys; print(sum(1 for x in open(sys.argv[1]) if x.strip().isdigit() and int(x) <= int(sys.argv[2])))" \
    "$AG_DIR/sub-memory.log" "$N")
ag_note "memory mode: $memory_old of $N messages accepted before the SIGKILL were delivered" \
    "(the mode keeps them in memory only)"
ag_note "PASS"
