#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/getting-started.md, followed step by step so the guide cannot rot.
# Every code block marked <!-- guide-test: NAME --> is extracted and run,
# in the guide's order, on a blank emulated ATECC608 reached through the
# i2c shim (LD_PRELOAD: /dev/i2c-1 -> the emulator's socket), against a
# local mosquitto. The substitutions the guide's test note documents are
# applied to each block's text; sudo, systemctl and journalctl are shell
# functions here (build-tree binaries, a background trustlinkd, its log).
# A marked block this script does not know, or a known one the guide
# lost, fails the test.
. "$(dirname "$0")/lib.sh"

GUIDE=$(cd "$(dirname "$0")/../.." && pwd)/docs/getting-started.md
EXPECTED_BLOCKS="detect provision token config csr install start check"

ag_init
for v in ATECC608_TOOL ATECC608_EMU TRUSTLINKCTL TRUSTLINK_PKCS11 I2C_EMU_SHIM; do
    [ -e "${!v:-}" ] || ag_fail "$v must name the build's file (got '${!v:-}')"
done
[ -f "$GUIDE" ] || ag_fail "guide $GUIDE missing"

# ---- the guide's marked blocks ---------------------------------------------
mkdir -p "$AG_DIR/blocks"
python3 - "$GUIDE" "$AG_DIR/blocks" <<'PY' || ag_fail "cannot extract the guide's blocks"
import re, sys
text = open(sys.argv[1]).read()
names = []
for m in re.finditer(r'<!-- guide-test: ([a-z-]+) -->\n```sh\n(.*?)```', text, re.S):
    names.append(m.group(1))
    open(f"{sys.argv[2]}/{m.group(1)}.sh", "w").write(m.group(2))
marks = re.findall(r'<!-- guide-test: ([a-z-]+) -->', text)
if len(marks) != len(names):
    sys.exit(f"a guide-test mark is not followed by a ```sh block: {marks} vs {names}")
open(f"{sys.argv[2]}/ORDER", "w").write(" ".join(names))
PY
[ "$(cat "$AG_DIR/blocks/ORDER")" = "$EXPECTED_BLOCKS" ] ||
    ag_fail "the guide's tested blocks are '$(cat "$AG_DIR/blocks/ORDER")', this test knows '$EXPECTED_BLOCKS': update both together"

# ---- the stand-ins ---------------------------------------------------------
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
GT=$AG_DIR/root
mkdir -p "$GT/etc" "$GT/state" "$GT/run" "$GT/bin" "$GT/home"
# The bus lock directory: /run/trustlink-lock becomes $GT/run-lock (the
# /run/trustlink substitution); not world-writable, as the driver requires.
mkdir -m 0770 "$GT/run-lock"
cp "$AG_DIR/ca.pem" "$GT/etc/broker-ca.pem"
printf '#!/bin/sh\nexec "%s" --lock-dir "%s" "$@"\n' "$ATECC608_TOOL" "$GT/run-lock" >"$GT/bin/atecc608-tool"
chmod +x "$GT/bin/atecc608-tool"
ln -s "$TRUSTLINKCTL" "$GT/bin/trustlinkctl"
ln -s "$TRUSTLINKD" "$GT/bin/trustlinkd"

"$ATECC608_EMU" --socket "$AG_DIR/emu.sock" --state "$AG_DIR/chip.state" --profile blank \
    --time-scale 0 2>"$AG_DIR/emu.log" &
AG_EMU_PID=$!
ag_wait_for 10 "atecc608-emu listening" grep -q "atecc608-emu: listening on" "$AG_DIR/emu.log"

substitute() {   # the guide's documented substitutions, on a block's text
    sed -e 's#^sudo chgrp trustlink .*#: the test has no trustlink group#' \
        -e 's#sudo -u trustlink ##g' -e 's#sudo ##g' -e "s#/tmp/#$GT/home/#g" \
        -e "s#/etc/trustlink#$GT/etc#g" -e "s#/var/lib/trustlink#$GT/state#g" \
        -e "s#/run/trustlink#$GT/run#g" \
        -e "s#/usr/lib/aarch64-linux-gnu/pkcs11/libtrustlink-pkcs11.so#$TRUSTLINK_PKCS11#g" \
        -e "s#\"mqtt.example.com\"#\"127.0.0.1\"#g" -e "s#\"port\": 8883#\"port\": $AG_PORT#g" "$1"
}

# run_block NAME: the block in a bash with the stand-ins; output in NAME.log.
run_block() {
    local name=$1 rc=0
    substitute "$AG_DIR/blocks/$name.sh" >"$AG_DIR/blocks/$name.run.sh"
    ag_note "guide step '$name' ($(date +%T))"
    (
        cd "$GT/home"
        export PATH="$GT/bin:$PATH"
        export TRUSTLINK_PKCS11_CONF=$GT/etc/pkcs11.json
        export TRUSTLINK_CONFIG=$GT/etc/trustlink.json
        export TRUSTLINK_CONTROL_SOCKET=$GT/run/control.sock
        export TRUSTLINK_I2C_SHIM="/dev/i2c-1=$AG_DIR/emu.sock"
        export LD_PRELOAD="${AGENT_ASAN_RUNTIME:+$AGENT_ASAN_RUNTIME }$I2C_EMU_SHIM"
        [ -z "${AGENT_ASAN_RUNTIME:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
        systemctl() {
            [ "$*" = "enable --now trustlinkd" ] || { echo "systemctl $*: not in the test" >&2; return 1; }
            trustlinkd --config "$GT/etc/trustlink.json" >>"$AG_DIR/agent.log" 2>&1 &
            echo $! >"$AG_DIR/agent.pid"
        }
        journalctl() { cat "$AG_DIR/agent.log"; }
        export -f systemctl journalctl
        export AG_DIR GT
        bash -euo pipefail "$AG_DIR/blocks/$name.run.sh"
    ) >"$AG_DIR/$name.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || ag_fail "guide step '$name' exited $rc:
$(cat "$AG_DIR/blocks/$name.run.sh")
---- output ----
$(cat "$AG_DIR/$name.log")"
}

# ---- the guide, step by step ---------------------------------------------
run_block detect
grep -q "config zone *unlocked" "$AG_DIR/detect.log" || ag_fail "detect: not a blank part: $(cat "$AG_DIR/detect.log")"
run_block provision
grep -q "data zone locked" "$AG_DIR/provision.log" || ag_fail "provision did not finish: $(cat "$AG_DIR/provision.log")"
run_block token
grep -q "label: *device" "$AG_DIR/token.log" || ag_fail "the module does not list the key: $(cat "$AG_DIR/token.log")"
run_block config
run_block csr
# The CA's part: sign the CSR the guide made, with an intermediate.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/int.key" \
    -out "$AG_DIR/int.csr" -subj /CN=int 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$AG_DIR/int.ext"
ag_sign_csr ca "$AG_DIR/int.csr" "$GT/home/chain.pem" "$AG_DIR/int.ext"
openssl x509 -req -in "$GT/home/device.csr" -CA "$GT/home/chain.pem" -CAkey "$AG_DIR/int.key" \
    -CAcreateserial -out "$GT/home/device.pem" -days 2 2>/dev/null || ag_fail "the test CA cannot sign the guide's CSR"
run_block install
run_block start
AG_AGENT_PID=$(cat "$AG_DIR/agent.pid")
guide_connected() {
    python3 "$AG_TOOLS" control "$GT/run/control.sock" '{"cmd":"status"}' |
        python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["state"] == "connected" else 1)'
}
ag_wait_for "$AG_WAIT" "trustlinkd (started by the guide) connected" guide_connected
run_block check
grep -q "connected" "$AG_DIR/check.log" || ag_fail "status does not say connected: $(cat "$AG_DIR/check.log")"
for c in config key certificate signature broker; do
    grep -q "^PASS $c: " "$AG_DIR/check.log" || ag_fail "check has no PASS $c line: $(cat "$AG_DIR/check.log")"
done
ag_note "the guide works: blank chip -> provisioned -> enrolled -> connected -> checked"
