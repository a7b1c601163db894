#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# trustlinkd through the network options a cloud or a site may need
# (SoftHSMv2 token, mosquitto on 127.0.0.1):
#   - broker.alpn: a TLS front that, like AWS IoT's port 443, forwards a
#     connection to the broker only when the ClientHello offers the ALPN
#     name "x-amzn-mqtt-ca": connected with it, refused without it;
#   - broker.proxy: a SOCKS5 proxy with user/password authentication
#     (credentials from broker.proxy_auth_file): connected through it;
#     a wrong password is refused by the proxy and the agent keeps
#     retrying; a world-readable credentials file is refused at start.
. "$(dirname "$0")/lib.sh"
PEERS=$(cd "$(dirname "$0")" && pwd)/net_peers.py

ag_init
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token softhsm
broker_port=$AG_PORT

# set_broker PYTHON: edits the broker section "b" of agent.json.
set_broker() {
    python3 - "$AG_DIR/agent.json" "$1" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
b = cfg["broker"]
exec(code)
json.dump(cfg, open(path, "w"), indent=1)
PY
}

start_peer() {   # start_peer NAME ARGS...: sets peer_port
    local name=$1
    shift
    rm -f "$AG_DIR/$name.port"
    python3 "$PEERS" "$@" &
    AG_PIDS+=($!)
    ag_wait_for 10 "$name listening" test -s "$AG_DIR/$name.port"
    peer_port=$(cat "$AG_DIR/$name.port")
}

stop_agent() {
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
    rm -f "$AG_DIR/control.sock"
}

# 1. ALPN: the front forwards only a ClientHello offering x-amzn-mqtt-ca.
start_peer front alpn-front "$AG_DIR/front.port" "$broker_port" x-amzn-mqtt-ca "$AG_DIR/front.log"
front_port=$peer_port
ag_write_config
set_broker "b['port'] = $front_port; b['alpn'] = ['x-amzn-mqtt-ca']"
ag_start_agent
ag_wait_state connected
grep -q "accepted \['x-amzn-mqtt-ca'\]" "$AG_DIR/front.log" ||
    ag_fail "the front did not see the ALPN name: $(cat "$AG_DIR/front.log")"
stop_agent

# Without broker.alpn the front refuses, as the real port 443 does.
: >"$AG_DIR/front.log"
ag_write_config
set_broker "b['port'] = $front_port"
ag_start_agent
ag_wait_for "$AG_WAIT" "the front refusing a ClientHello without ALPN" \
    grep -q "refused \[\]" "$AG_DIR/front.log"
sleep 1
ag_state_is connected && ag_fail "connected through the front without ALPN"
stop_agent

# Bad names are configuration errors with the JSON path.
ag_write_config
set_broker "b['alpn'] = ['has space']"
out=$("$TRUSTLINKD" --check-config --config "$AG_DIR/agent.json" 2>&1) && ag_fail "alpn with a space accepted"
grep -q "broker.alpn" <<<"$out" || ag_fail "no JSON path in: $out"

# 2. SOCKS5 proxy with user/password authentication.
start_peer socks socks5 "$AG_DIR/socks.port" fleet-user 's3cret pass' "$AG_DIR/socks.log"
socks_port=$peer_port
printf 'fleet-user\ns3cret pass\n' >"$AG_DIR/proxy-auth"
chmod 600 "$AG_DIR/proxy-auth"
ag_write_config
set_broker "b['proxy'] = 'socks5://127.0.0.1:$socks_port'; b['proxy_auth_file'] = '$AG_DIR/proxy-auth'"
ag_start_agent
ag_wait_state connected
grep -q "auth ok fleet-user" "$AG_DIR/socks.log" || ag_fail "no proxy authentication: $(cat "$AG_DIR/socks.log")"
grep -q "connect 127.0.0.1:$broker_port" "$AG_DIR/socks.log" ||
    ag_fail "the proxy was not asked for the broker: $(cat "$AG_DIR/socks.log")"
grep -q "s3cret" "$AG_DIR/agent.log" && ag_fail "the proxy password is in the agent's log"
ag_control '{"cmd":"status"}' | grep -q "s3cret" && ag_fail "the proxy password is in the status"
stop_agent

# A wrong password: the proxy refuses, the agent keeps retrying.
printf 'fleet-user\nwrong\n' >"$AG_DIR/proxy-auth"
ag_start_agent
ag_wait_for "$AG_WAIT" "the proxy refusing the password" grep -q "auth refused fleet-user" "$AG_DIR/socks.log"
sleep 1
ag_state_is connected && ag_fail "connected with a wrong proxy password"
kill -0 "$AG_AGENT_PID" || ag_fail "the agent exited on a refused proxy login"
stop_agent

# A credentials file every user can read is refused.
printf 'fleet-user\ns3cret pass\n' >"$AG_DIR/proxy-auth"
chmod 644 "$AG_DIR/proxy-auth"
"$TRUSTLINKD" --config "$AG_DIR/agent.json" >"$AG_DIR/agent-refused.log" 2>&1 && ag_fail "started with a world-readable proxy credentials file"
grep -q "readable by every user" "$AG_DIR/agent-refused.log" ||
    ag_fail "no clear error: $(cat "$AG_DIR/agent-refused.log")"
ag_note "PASS"
