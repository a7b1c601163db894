#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# From a blank chip to a connected agent, with no cloud API: a blank
# emulated ATECC608 (address 0x60) -> atecc608-tool provision -> config
# lock (refused without --yes-lock-permanently) -> key in slot 0 -> our
# PKCS#11 module lists it -> trustlinkctl csr -> a test CA (root + one
# intermediate) signs with openssl -> trustlinkctl install-cert (refusals
# first: a certificate for another key, a chain out of order, a config
# naming no such key) -> trustlinkd connects to a local mosquitto, sending
# the installed intermediate (the broker trusts only the root).
. "$(dirname "$0")/lib.sh"

ag_init
[ -x "${ATECC608_TOOL:-}" ] || ag_fail "ATECC608_TOOL must name atecc608-tool"
[ -x "${ATECC608_EMU:-}" ] || ag_fail "ATECC608_EMU must name atecc608-emu"
[ -x "${TRUSTLINKCTL:-}" ] || ag_fail "TRUSTLINKCTL must name trustlinkctl"
[ -f "${TRUSTLINK_PKCS11:-}" ] || ag_fail "TRUSTLINK_PKCS11 must name libtrustlink-pkcs11.so"

ag_make_ca ca
ag_make_broker_cert
ag_start_broker

# 1. A blank part, provisioned with the default layout.
"$ATECC608_EMU" --socket "$AG_DIR/emu.sock" --state "$AG_DIR/chip.state" --profile blank \
    --time-scale 0 2>"$AG_DIR/emu.log" &
AG_EMU_PID=$!
ag_wait_for 10 "atecc608-emu listening" grep -q "atecc608-emu: listening on" "$AG_DIR/emu.log"
iface="emu:$AG_DIR/emu.sock@0x60"
tool() { "$ATECC608_TOOL" --lock-dir "$AG_DIR" --interface "$iface" "$@"; }
tool provision --layout trustlink-default >"$AG_DIR/prov1.log" 2>&1 ||
    ag_fail "provision (write) failed: $(cat "$AG_DIR/prov1.log")"
rc=0
tool provision --layout trustlink-default --lock-config >"$AG_DIR/prov2.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || ag_fail "--lock-config without --yes-lock-permanently exited $rc, expected 2"
tool info | grep -q "^config zone *unlocked" || ag_fail "config zone locked without confirmation"
tool provision --layout trustlink-default --lock-config --yes-lock-permanently >"$AG_DIR/prov3.log" 2>&1 ||
    ag_fail "provision --lock-config failed: $(cat "$AG_DIR/prov3.log")"
tool provision --layout trustlink-default --lock-data --yes-lock-permanently >"$AG_DIR/prov4.log" 2>&1 ||
    ag_fail "provision --lock-data failed: $(cat "$AG_DIR/prov4.log")"
tool pubkey 0 >"$AG_DIR/slot0.pem" || ag_fail "no key in slot 0 after provisioning"

# 2. The module lists the key.
mkdir -p "$AG_DIR/store" "$AG_DIR/state"
cat >"$AG_DIR/pkcs11.json" <<CONF
{"tokens":[{"label":"trustlink","interface":"$iface","key_slots":[0],
            "free_slots":[2,3,4],"store":"$AG_DIR/store"}],
 "lock_dir": "$AG_DIR", "pin_kdf_iterations": 1000}
CONF
export TRUSTLINK_PKCS11_CONF=$AG_DIR/pkcs11.json
AG_TOKEN=trustlink
AG_MODULE=$TRUSTLINK_PKCS11
ag_tool pkcs11-tool --module "$AG_MODULE" --init-token --label "$AG_TOKEN" --so-pin "$AG_SO_PIN" \
    >"$AG_DIR/init.log" 2>&1 || ag_fail "init-token failed: $(cat "$AG_DIR/init.log")"
ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --init-pin --so-pin "$AG_SO_PIN" \
    --pin "$AG_PIN" >>"$AG_DIR/init.log" 2>&1 || ag_fail "init-pin failed: $(cat "$AG_DIR/init.log")"
ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" -O \
    >"$AG_DIR/objects.log" 2>&1 || ag_fail "listing objects failed: $(cat "$AG_DIR/objects.log")"
grep -q "label: *device" "$AG_DIR/objects.log" || ag_fail "the module does not list the key 'device':
$(cat "$AG_DIR/objects.log")"

AG_CONFIG_EXTRA="
  \"rotation\": { \"enabled\": false, \"state_dir\": \"$AG_DIR/state\" },"
ag_write_config
cfg=$AG_DIR/agent.json
# trustlinkctl is ours: run as built (under ASan with leak checks).
ctl() { "$TRUSTLINKCTL" --config "$cfg" "$@"; }

# 3. CSR from the token key; its public key is the chip's slot 0.
ctl csr --subject /CN=device-001 --out "$AG_DIR/device.csr" 2>"$AG_DIR/csr.log" ||
    ag_fail "trustlinkctl csr failed: $(cat "$AG_DIR/csr.log")"
openssl req -in "$AG_DIR/device.csr" -verify -noout 2>/dev/null || ag_fail "the CSR's signature does not verify"
openssl req -in "$AG_DIR/device.csr" -pubkey -noout >"$AG_DIR/csr-pub.pem"
cmp -s <(openssl pkey -pubin -in "$AG_DIR/csr-pub.pem" -outform der) \
       <(openssl pkey -pubin -in "$AG_DIR/slot0.pem" -outform der) ||
    ag_fail "the CSR's public key is not the chip's slot 0 key"

# 4. A test CA: root "ca" (the broker's trust anchor) -> intermediate "int".
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/int.key" \
    -out "$AG_DIR/int.csr" -subj /CN=int 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$AG_DIR/int.ext"
ag_sign_csr ca "$AG_DIR/int.csr" "$AG_DIR/int.pem" "$AG_DIR/int.ext"
openssl x509 -req -in "$AG_DIR/device.csr" -CA "$AG_DIR/int.pem" -CAkey "$AG_DIR/int.key" \
    -CAcreateserial -out "$AG_DIR/device.pem" -days 2 2>/dev/null
# A certificate for another key, from the same CA.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/other.key" \
    -out "$AG_DIR/other.csr" -subj /CN=device-001 2>/dev/null
openssl x509 -req -in "$AG_DIR/other.csr" -CA "$AG_DIR/int.pem" -CAkey "$AG_DIR/int.key" \
    -CAcreateserial -out "$AG_DIR/other.pem" -days 2 2>/dev/null

no_certificate_on_token() {
    ! ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        -O --type cert 2>/dev/null | grep -q "Certificate Object"
}
expect_install_refused() {   # expect_install_refused WHAT RC REGEX ARGS...
    local what=$1 want=$2 regex=$3 rc=0
    shift 3
    ctl install-cert "$@" >"$AG_DIR/install.out" 2>"$AG_DIR/install.err" || rc=$?
    [ "$rc" -eq "$want" ] || ag_fail "install-cert ($what) exited $rc, expected $want: $(cat "$AG_DIR/install.err")"
    grep -Eq "$regex" "$AG_DIR/install.err" || ag_fail "install-cert ($what): no /$regex/ in: $(cat "$AG_DIR/install.err")"
    no_certificate_on_token || ag_fail "install-cert ($what) left a certificate on the token"
    [ -z "$(ls -A "$AG_DIR/state")" ] || ag_fail "install-cert ($what) wrote into the state directory"
}

# 5. Refusals leave the token and the state directory unchanged.
expect_install_refused "another key's certificate" 6 'not the new key|another key' \
    "$AG_DIR/other.pem" --chain "$AG_DIR/int.pem"
printf '%s\n' "$(cat "$AG_DIR/ca.pem")" >"$AG_DIR/root-only.pem"
expect_install_refused "chain out of order" 6 'did not issue' "$AG_DIR/device.pem" --chain "$AG_DIR/root-only.pem"
sed 's/object=device;type=private/object=no-such-key;type=private/' "$cfg" >"$AG_DIR/wrong-key.json"
rc=0
"$TRUSTLINKCTL" --config "$AG_DIR/wrong-key.json" install-cert "$AG_DIR/device.pem" \
    >"$AG_DIR/install.out" 2>"$AG_DIR/install.err" || rc=$?
[ "$rc" -eq 5 ] || ag_fail "install-cert with a config naming no key exited $rc, expected 5"
grep -q "no-such-key" "$AG_DIR/install.err" || ag_fail "wrong key: message does not name the URI: $(cat "$AG_DIR/install.err")"
rc=0
"$TRUSTLINKCTL" --config "$AG_DIR/wrong-key.json" csr --subject /CN=x >/dev/null 2>"$AG_DIR/csr.err" || rc=$?
[ "$rc" -eq 5 ] || ag_fail "csr with a config naming no key exited $rc, expected 5"
no_certificate_on_token || ag_fail "a refused install left a certificate"

# 6. The real install, then a second one is refused.
ctl install-cert "$AG_DIR/device.pem" --chain "$AG_DIR/int.pem" >"$AG_DIR/install.out" 2>"$AG_DIR/install.err" ||
    ag_fail "install-cert failed: $(cat "$AG_DIR/install.err")"
grep -q 'installed the certificate on token "trustlink" as "device"' "$AG_DIR/install.out" ||
    ag_fail "install-cert output: $(cat "$AG_DIR/install.out")"
ls "$AG_DIR"/state/chain-*.pem >/dev/null 2>&1 || ag_fail "no chain saved in the state directory"
rc=0
ctl install-cert "$AG_DIR/device.pem" >/dev/null 2>"$AG_DIR/install.err" || rc=$?
[ "$rc" -eq 5 ] || ag_fail "a second install-cert exited $rc, expected 5"
grep -q "already holds a certificate" "$AG_DIR/install.err" || ag_fail "second install: $(cat "$AG_DIR/install.err")"

# 7. The agent connects with the chip key, the installed certificate and chain.
ag_start_agent
ag_wait_state connected
grep -q "device-001" "$AG_DIR/broker.log" || ag_fail "the broker did not see device-001"
ag_note "first enrollment: blank chip -> provisioned -> CSR -> certificate -> connected"
