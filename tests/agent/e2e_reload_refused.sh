#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGHUP with a configuration that parses but cannot be used never costs
# the running connection (one agent on a SoftHSM token, or with "emu" on
# our module and atecc608-emu). For each variant:
# missing CA file, missing chain file, missing PIN file, wrong PIN, bad
# module path, a key URI p11-kit rejects, a key URI naming no key, a
# topic that is not valid UTF-8:
#   - `trustlinkd --check-config` refuses the file when the problem can be
#     seen without the token (everything but the wrong PIN and the key
#     that is not there);
#   - after SIGHUP the agent is alive, still connected on the same
#     connection with the old configuration, the refusal is logged and
#     status shows it (last_reload_error, counters.reload_failures).
# Then good configurations apply: a new PIN file (a new identity, verified
# out of process first) and a new keepalive (same identity, new client):
# each reconnects, counters.reloads grows and last_reload_error is null.
. "$(dirname "$0")/lib.sh"

ag_init
AG_HEARTBEAT=3600
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token "${1:-softhsm}"
ag_write_config
cp "$AG_DIR/agent.json" "$AG_DIR/good.json"
ag_start_agent
ag_wait_state connected

counter() { ag_status_field "s[\"counters\"][\"$1\"]"; }

# variant NAME EXPECT_CHECK_CONFIG EXPECT_IN_ERROR PYTHON: writes agent.json
# from good.json changed by PYTHON (over the dict "c"; the placeholder
# @BADUTF8@ in any string becomes the byte 0xff), then checks
# --check-config and a SIGHUP.
variant() {
    local name=$1 check=$2 expect=$3 change=$4 failures connects out rc=0
    python3 - "$AG_DIR/good.json" "$AG_DIR/agent.json" "$change" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
data = json.dumps(c, indent=1).encode().replace(b"@BADUTF8@", b"\xff")
open(sys.argv[2], "wb").write(data)
PY
    out=$("$TRUSTLINKD" --check-config --config "$AG_DIR/agent.json" 2>&1) || rc=$?
    if [ "$check" = refused ]; then
        [ "$rc" = 78 ] || ag_fail "$name: --check-config accepted it (exit $rc): $out"
    else
        [ "$rc" = 0 ] || ag_fail "$name: --check-config refused it (exit $rc): $out"
    fi
    failures=$(counter reload_failures)
    connects=$(counter connects)
    kill -HUP "$AG_AGENT_PID"
    ag_wait_status 30 "$name: reload refused" "s['counters']['reload_failures'] > $failures"
    kill -0 "$AG_AGENT_PID" 2>/dev/null || ag_fail "$name: the agent exited on the reload"
    status=$(ag_control '{"cmd":"status"}')
    ag_state_is connected || ag_fail "$name: not connected after the refused reload: $status"
    [ "$(counter connects)" = "$connects" ] || ag_fail "$name: the refused reload reconnected"
    [ "$(ag_status_field 's["broker"]')" = "127.0.0.1:$AG_PORT" ] || ag_fail "$name: broker changed"
    msg=$(ag_status_field 's["last_reload_error"]["message"]')
    grep -q -- "$expect" <<<"$msg" || ag_fail "$name: last_reload_error does not say '$expect': $msg"
    grep -q "<3>reload: .*; keeping the running configuration" "$AG_DIR/agent.log" ||
        ag_fail "$name: refusal not logged"
    ag_note "$name: refused ($msg)"
}

printf 'wrong-pin\n' >"$AG_DIR/wrong-pin"
chmod 600 "$AG_DIR/wrong-pin"

variant missing-ca refused "broker.ca_file" \
    'c["broker"]["ca_file"] = c["broker"]["ca_file"] + ".missing"; c["broker"]["keepalive"] = 7'
variant missing-chain refused "identity.chain_file" \
    'c["identity"]["chain_file"] = "'"$AG_DIR"'/chain.missing"'
variant missing-pin-file refused "PIN" \
    'c["identity"]["pin_file"] = "'"$AG_DIR"'/pin.missing"'
variant bad-module refused "identity.module" \
    'c["identity"]["module"] = "'"$AG_DIR"'/no-such-module.so"'
variant bad-uri refused "identity.key" \
    'c["identity"]["key"] = "pkcs11:token='"$AG_TOKEN"';object=%zz"'
variant bad-utf8-topic refused "UTF-8" \
    'c["telemetry"]["topic_prefix"] = "trustlink/@BADUTF8@/{device_id}"'
variant wrong-pin accepted "wrong PIN" \
    'c["identity"]["pin_file"] = "'"$AG_DIR"'/wrong-pin"'
variant no-such-key accepted "object-not-found" \
    'c["identity"]["key"] = "pkcs11:token='"$AG_TOKEN"';object=no-such-key;type=private"'

# Still publishing on the old connection.
reply=$(ag_control '{"cmd":"publish","topic":"after/refusals","payload":"still here","qos":1,"retain":true}')
grep -q '"ok": *true' <<<"$reply" || ag_fail "publish after the refused reloads: $reply"
ag_wait_for 10 "message published on the old connection" bash -c "$(declare -f ag_sub_retained); AG_PORT=$AG_PORT AG_DIR=$AG_DIR; ag_sub_retained trustlink/device-001/after/refusals | grep -qx 'trustlink/device-001/after/refusals still here'"

# A good change of identity (another PIN file, same PIN): verified, applied.
cp "$AG_DIR/pin" "$AG_DIR/pin2"
chmod 600 "$AG_DIR/pin2"
reloads=$(counter reloads)
connects=$(counter connects)
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['identity']['pin_file']=sys.argv[3]; json.dump(c, open(sys.argv[2],'w'))" \
    "$AG_DIR/good.json" "$AG_DIR/agent.json" "$AG_DIR/pin2"
"$TRUSTLINKD" --check-config --config "$AG_DIR/agent.json" >/dev/null || ag_fail "good config refused by --check-config"
kill -HUP "$AG_AGENT_PID"
ag_wait_status 30 "the new identity applied and connected" \
    "s['counters']['reloads'] > $reloads and s['state'] == 'connected' and s['counters']['connects'] > $connects"
[ "$(ag_status_field 's["last_reload_error"]')" = None ] || ag_fail "last_reload_error kept after a good reload"
grep -q "reload: connection settings changed; reconnecting with the new identity" "$AG_DIR/agent.log" ||
    ag_fail "the identity change was not logged"

# A good change of client settings only: same identity, new client.
cp "$AG_DIR/agent.json" "$AG_DIR/good.json"
reloads=$(counter reloads)
connects=$(counter connects)
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['broker']['keepalive']=9; json.dump(c, open(sys.argv[2],'w'))" \
    "$AG_DIR/good.json" "$AG_DIR/agent.json"
kill -HUP "$AG_AGENT_PID"
ag_wait_status 30 "the new client settings applied and connected" \
    "s['counters']['reloads'] > $reloads and s['state'] == 'connected' and s['counters']['connects'] > $connects"
grep -q "reconnecting with the new broker settings (same identity)" "$AG_DIR/agent.log" ||
    ag_fail "the client change was not logged"
grep -q "as device-001 (p[0-9], c[0-9], k9," "$AG_DIR/broker.log" ||
    ag_fail "the broker did not see the new keepalive: $(grep 'New client' "$AG_DIR/broker.log" | tail -n 2)"
ag_note "PASS"
