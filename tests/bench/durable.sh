#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): the durable delivery queue's cost. One
# trustlinkd (SoftHSMv2 token) connected to a mosquitto on 127.0.0.1; a
# local publisher sends MESSAGES numbered QoS 1 messages through the
# control socket, one request at a time on one connection (each waits for
# its reply, as an application would), in each of the three
# telemetry.queue_durability modes in turn, in one run. Prints per mode:
#   - publish rate (replies per second) and its ratio to the memory mode;
#   - fsyncs per message (status queue.fsyncs);
#   - bytes the agent caused to be written to storage per message
#     (/proc/PID/io write_bytes: page-cache write-back included, so the
#     file system's own metadata and journal are counted);
#   - the delivery queue file's record bytes per message (MESSAGE record
#     plus its RETIRE record, from the file format).
# Usage: TRUSTLINKD=build/agent/trustlinkd tests/bench/durable.sh
#        [MESSAGES=1000] [PAYLOAD=64] [BATCH_MS=200]
# The state directory is under TMPDIR (default /tmp): put it on the
# storage you want measured (tmpfs has no real fsync).
root=$(cd "$(dirname "$0")/../.." && pwd)
set -- bench
. "$root/tests/agent/lib.sh"
messages=${MESSAGES:-1000}
payload=${PAYLOAD:-64}
batch_ms=${BATCH_MS:-200}

ag_init
AG_KEEPALIVE=60
AG_HEARTBEAT=0
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm

cat >"$AG_DIR/pub.py" <<'PY'
import json, socket, sys, time
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rb")
body = "x" * max(0, size - 8)
start = time.monotonic()
for n in range(1, count + 1):
    req = {"cmd": "publish", "topic": "bench", "payload": "%08d%s" % (n, body), "qos": 1}
    s.sendall(json.dumps(req).encode() + b"\n")
    reply = json.loads(f.readline())
    if reply.get("ok") is not True:
        sys.exit("publish %d refused: %s" % (n, reply))
print("%.6f" % (time.monotonic() - start))
PY

write_bytes() {
    awk '/^write_bytes:/ {print $2}' "/proc/$1/io"
}

declare -A rate fsyncs disk
for mode in memory fsync batch; do
    rm -rf "$AG_DIR/state"
    AG_TELEMETRY_EXTRA="\"queue_durability\": \"$mode\", \"queue_batch_ms\": $batch_ms, \"queue_max_messages\": 100000, \"queue_max_bytes\": 67108864, "
    ag_write_config
    ag_start_agent
    ag_wait_state connected
    f0=$(ag_status_field 's["queue"].get("fsyncs", 0)')
    sync
    w0=$(write_bytes "$AG_AGENT_PID")
    secs=$(python3 "$AG_DIR/pub.py" "$AG_DIR/control.sock" "$messages" "$payload") ||
        ag_fail "$mode: publisher failed"
    ag_wait_status 60 "queue drained" 's["queue"]["messages"] == 0'
    sync
    w1=$(write_bytes "$AG_AGENT_PID")
    f1=$(ag_status_field 's["queue"].get("fsyncs", 0)')
    rate[$mode]=$(python3 -c "print('%.0f' % ($messages / $secs))")
    fsyncs[$mode]=$(python3 -c "print('%.3f' % (($f1 - $f0) / $messages))")
    disk[$mode]=$(python3 -c "print('%.0f' % (($w1 - $w0) / $messages))")
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
    rm -f "$AG_DIR/control.sock"
done

topic=trustlink/device-001/bench
# MESSAGE record: 12-byte header + 25-byte fixed body + topic + payload;
# RETIRE record: 12-byte header + 9-byte body (agent/spool.h).
record=$((12 + 25 + ${#topic} + payload + 12 + 9))
echo "durable publish benchmark: $messages QoS 1 messages of $payload bytes, one publisher," \
     "broker connected, state dir on $(df -T "$AG_DIR" | awk 'NR == 2 {print $2}') ($AG_DIR)"
printf '%-8s %12s %10s %14s %16s %14s\n' mode "msgs/s" "vs memory" "fsyncs/msg" \
    "disk bytes/msg" "file bytes/msg"
for mode in memory fsync batch; do
    ratio=$(python3 -c "print('%.2f' % (${rate[$mode]} / ${rate[memory]}))")
    fb=$record
    [ "$mode" = memory ] && fb=0
    printf '%-8s %12s %10s %14s %16s %14s\n' "$mode" "${rate[$mode]}" "$ratio" \
        "${fsyncs[$mode]}" "${disk[$mode]}" "$fb"
done
echo "(batch: telemetry.queue_batch_ms = $batch_ms)"
