#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Nothing acknowledged is lost when the broker hangs: a publisher sends
# numbered QoS 1 messages through the control socket at a steady rate and
# records every one answered {"ok":true}; the broker is frozen (SIGSTOP)
# past twice the keepalive, and meanwhile a SIGHUP with changed connection
# settings makes the agent replace its MQTT client (which discards what
# libmosquitto holds unacknowledged); then the broker resumes and a
# subscriber records deliveries.
# Every acknowledged number must reach the subscriber; duplicates are
# allowed (QoS 1: messages in flight when the link died are sent again).
. "$(dirname "$0")/lib.sh"

ag_init
AG_KEEPALIVE=5
AG_MAX_BACKOFF=2
AG_HEARTBEAT=1
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm
ag_write_config
ag_start_agent
ag_wait_state connected

stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
    --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -q 1 -t trustlink/device-001/seq \
    -F '%p' >"$AG_DIR/sub.log" 2>"$AG_DIR/sub.err" &
AG_PIDS+=($!)
ag_wait_for 10 "subscriber subscribed" grep -q "Sending SUBACK to" "$AG_DIR/broker.log"

cat >"$AG_DIR/pub.py" <<'PY'
import json, os, socket, sys, time
sock, acked, stop = sys.argv[1:4]
n = 0
with open(acked, "w", buffering=1) as out:
    while not os.path.exists(stop):
        n += 1
        req = json.dumps({"cmd": "publish", "topic": "seq", "payload": str(n), "qos": 1})
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(sock)
            s.sendall(req.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            s.close()
            if json.loads(buf.decode()).get("ok") is True:
                out.write("%d\n" % n)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
PY
python3 "$AG_DIR/pub.py" "$AG_DIR/control.sock" "$AG_DIR/acked.log" "$AG_DIR/stop" &
pub_pid=$!
AG_PIDS+=($pub_pid)

sleep 2
ag_note "freezing the broker (SIGSTOP) for 25 s, reload after 3 s"
kill -STOP "$AG_BROKER_PID"
sleep 3
AG_KEEPALIVE=6
ag_write_config
kill -HUP "$AG_AGENT_PID"
sleep 22
kill -CONT "$AG_BROKER_PID"
ag_note "broker resumed"
ag_wait_state connected 30
sleep 2
touch "$AG_DIR/stop"
wait "$pub_pid" || true
ag_wait_status 30 "queue and in-flight window drained" \
    's["counters"]["queue_length"] == 0 and s["counters"].get("inflight", 0) == 0'
sleep 2
ag_note "status counters: $(ag_control '{"cmd":"status"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"])')"

python3 - "$AG_DIR/acked.log" "$AG_DIR/sub.log" <<'PY' || ag_fail "acknowledged messages lost"
import collections, sys
acked = [int(x) for x in open(sys.argv[1]) if x.strip()]
got = collections.Counter(int(x) for x in open(sys.argv[2]) if x.strip().isdigit())
lost = [n for n in acked if n not in got]
dups = sum(c - 1 for c in got.values() if c > 1)
print("acknowledged %d, delivered %d distinct, duplicates %d, lost %d%s" %
      (len(acked), len(got), dups, len(lost), (": first lost %s" % lost[:10]) if lost else ""),
      file=sys.stderr)
sys.exit(1 if lost or not acked else 0)
PY
ag_note "PASS"
