#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): the durable delivery queue's cost. One
# trustlinkd (SoftHSMv2 token) connected to a mosquitto on 127.0.0.1;
# local publishers send MESSAGES numbered QoS 1 messages in all through
# the control socket, each publisher on its own connection, one request at
# a time (each waits for its reply, as an application would), in each of
# the three telemetry.queue_durability modes in turn, with 1 and with 8
# concurrent publishers (CLIENTS), in one run. Prints per mode and
# publisher count:
#   - publish rate (replies per second, all publishers together) and its
#     ratio to the memory mode with as many publishers;
#   - fsyncs per message (status queue.fsyncs): below 1 with several
#     publishers when one sync covers the publishes of several clients;
#   - bytes the agent caused to be written to storage per message
#     (/proc/PID/io write_bytes: page-cache write-back included, so the
#     file system's own metadata and journal are counted);
#   - the delivery queue file's record bytes per message (MESSAGE record
#     plus its RETIRE record, from the file format).
# TRUSTLINKD_BEFORE (optional) names a second trustlinkd (e.g. a build of
# an earlier commit): the fsync rows are then measured with it too, in the
# same run, and printed beside ("before").
# Usage: TRUSTLINKD=build/agent/trustlinkd tests/bench/durable.sh
#        [MESSAGES=1000] [PAYLOAD=64] [BATCH_MS=200] [CLIENTS="1 8"]
#        [TRUSTLINKD_BEFORE=...] [BENCH_RESULTS=FILE: key=value lines appended]
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

clients=${CLIENTS:-1 8}
cat >"$AG_DIR/pub.py" <<'PY'
import json, socket, sys, threading, time
path, count, size, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
body = "x" * max(0, size - 12)
failures = []
def publisher(k, first, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rb")
    for i in range(first, first + n):
        req = {"cmd": "publish", "topic": "bench", "payload": "%02d%08d%s" % (k, i, body), "qos": 1}
        s.sendall(json.dumps(req).encode() + b"\n")
        reply = json.loads(f.readline())
        if reply.get("ok") is not True:
            failures.append("publish %d refused: %s" % (i, reply))
            return
    s.close()
share = [count // clients + (1 if k < count % clients else 0) for k in range(clients)]
threads = [threading.Thread(target=publisher, args=(k, sum(share[:k]) + 1, share[k]))
           for k in range(clients)]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(failures[0])
print("%.6f" % (time.monotonic() - start))
PY

write_bytes() {
    awk '/^write_bytes:/ {print $2}' "/proc/$1/io"
}

after_bin=$TRUSTLINKD
runs=()   # "label mode clients"
for n in $clients; do
    for mode in memory fsync batch; do
        runs+=("after $mode $n")
    done
    [ -z "${TRUSTLINKD_BEFORE:-}" ] || runs+=("before fsync $n")
done

declare -A rate fsyncs disk
for run in "${runs[@]}"; do
    read -r label mode n <<<"$run"
    TRUSTLINKD=$after_bin
    [ "$label" = before ] && TRUSTLINKD=$TRUSTLINKD_BEFORE
    rm -rf "$AG_DIR/state"
    AG_TELEMETRY_EXTRA="\"queue_durability\": \"$mode\", \"queue_batch_ms\": $batch_ms, \"queue_max_messages\": 100000, \"queue_max_bytes\": 67108864, "
    ag_write_config
    ag_start_agent
    ag_wait_state connected
    f0=$(ag_status_field 's["queue"].get("fsyncs", 0)')
    sync
    w0=$(write_bytes "$AG_AGENT_PID")
    secs=$(python3 "$AG_DIR/pub.py" "$AG_DIR/control.sock" "$messages" "$payload" "$n") ||
        ag_fail "$run: publisher failed"
    ag_wait_status 60 "queue drained" 's["queue"]["messages"] == 0'
    sync
    w1=$(write_bytes "$AG_AGENT_PID")
    f1=$(ag_status_field 's["queue"].get("fsyncs", 0)')
    rate[$run]=$(python3 -c "print('%.0f' % ($messages / $secs))")
    fsyncs[$run]=$(python3 -c "print('%.3f' % (($f1 - $f0) / $messages))")
    disk[$run]=$(python3 -c "print('%.0f' % (($w1 - $w0) / $messages))")
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
    rm -f "$AG_DIR/control.sock"
done
TRUSTLINKD=$after_bin

topic=trustlink/device-001/bench
# MESSAGE record: 12-byte header + 25-byte fixed body + topic + payload;
# RETIRE record: 12-byte header + 9-byte body (agent/spool.h).
record=$((12 + 25 + ${#topic} + payload + 12 + 9))
echo "durable publish benchmark: $messages QoS 1 messages of $payload bytes per row," \
     "broker connected, state dir on $(df -T "$AG_DIR" | awk 'NR == 2 {print $2}') ($AG_DIR)," \
     "load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-8s %-7s %8s %10s %10s %11s %15s %15s\n' mode build clients "msgs/s" "vs memory" \
    "fsyncs/msg" "disk bytes/msg" "file bytes/msg"
for run in "${runs[@]}"; do
    read -r label mode n <<<"$run"
    ratio=$(python3 -c "print('%.2f' % (${rate[$run]} / ${rate[after memory $n]}))")
    fb=$record
    [ "$mode" = memory ] && fb=0
    printf '%-8s %-7s %8s %10s %10s %11s %15s %15s\n' "$mode" "$label" "$n" "${rate[$run]}" \
        "$ratio" "${fsyncs[$run]}" "${disk[$run]}" "$fb"
    if [ -n "${BENCH_RESULTS:-}" ]; then
        printf 'durable_%s_%s_%s_rate=%s\ndurable_%s_%s_%s_fsyncs=%s\n' "$label" "$mode" "$n" \
            "${rate[$run]}" "$label" "$mode" "$n" "${fsyncs[$run]}" >>"$BENCH_RESULTS"
    fi
done
echo "(batch: telemetry.queue_batch_ms = $batch_ms; vs memory: against the memory row with as" \
     "many publishers)"
