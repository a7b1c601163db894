#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Identity errors, each with its own message: trustlinkd --config exits 78
# (config/identity error: the unit does not restart on it) and
# `trustlinkctl check` prints "FAIL key: ... (<status>)" and exits 4.
#   softhsm:        wrong PIN, URI matching nothing, ambiguous URI (the
#                   candidates named), extractable key refused, key not
#                   CKA_SENSITIVE refused (made by gen_insecure_key), a token
#                   certificate with bytes after its DER refused, two private
#                   keys sharing the identity key's CKA_ID refused, module not
#                   loadable; token not found keeps the agent waiting
#                   (a token may appear later) instead of exiting.
#   emu-locked-pin: our module on atecc608-emu after 10 wrong PINs: locked.
. "$(dirname "$0")/lib.sh"
kind=${1:?usage: e2e_identity_errors.sh softhsm|emu-locked-pin}

ag_init
AG_PORT=$(python3 "$AG_TOOLS" freeport)   # no broker: identity fails first
ag_make_ca ca

# expect_identity_error NAME STATUS REGEX [CHECK]: both front ends report it
# (trustlinkctl check on its line CHECK, default "key", which ends in the
# status).
expect_identity_error() {
    local name=$1 status=$2 regex=$3 check=${4:-key} rc=0
    ag_write_config
    timeout 30 "$TRUSTLINKD" --config "$AG_DIR/agent.json" >"$AG_DIR/$name.agent" 2>&1 || rc=$?
    [ "$rc" -eq 78 ] || ag_fail "$name: trustlinkd exited $rc, want 78: $(cat "$AG_DIR/$name.agent")"
    grep -Eq "<3>identity \($status\): $regex" "$AG_DIR/$name.agent" ||
        ag_fail "$name: trustlinkd did not log '$status: $regex': $(cat "$AG_DIR/$name.agent")"
    grep -q "$AG_PIN\|9999" "$AG_DIR/$name.agent" && ag_fail "$name: a PIN was logged"
    [ -x "${TRUSTLINKCTL:-}" ] || ag_fail "TRUSTLINKCTL must name trustlinkctl"
    rc=0
    "$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/$name.check" 2>&1 || rc=$?
    [ "$rc" -eq 4 ] || ag_fail "$name: trustlinkctl check exited $rc, want 4: $(cat "$AG_DIR/$name.check")"
    # The key line ends in the identity status; other lines do not carry one.
    local tail="\\($status\\)\$"
    [ "$check" = key ] || tail=
    grep -Eq "^FAIL $check: $regex.*$tail" "$AG_DIR/$name.check" ||
        ag_fail "$name: check did not print 'FAIL $check: $regex ($status)': $(cat "$AG_DIR/$name.check")"
    grep -q "^SKIP broker: " "$AG_DIR/$name.check" || ag_fail "$name: broker check not skipped"
    ag_note "$name: exit 78 / check 4: $(grep "^FAIL $check" "$AG_DIR/$name.check")"
}

case "$kind" in
softhsm)
    ag_setup_token softhsm
    # A second key on the same token, generated extractable.
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --keypairgen --key-type EC:prime256v1 --label exportable --id 02 --sensitive --extractable \
        >"$AG_DIR/keygen2.log" 2>&1 || ag_fail "second keypairgen failed: $(cat "$AG_DIR/keygen2.log")"

    # Baseline: the configuration as written passes the key check.
    ag_write_config
    rc=0
    "$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/good.check" 2>&1 || rc=$?
    grep -q "^PASS key: " "$AG_DIR/good.check" || ag_fail "baseline key check failed: $(cat "$AG_DIR/good.check")"

    # The PIN from the unit's credential (pin_credential), checked outside
    # the service: without $CREDENTIALS_DIRECTORY the check says how to
    # give the PIN; --pin-file FILE (or a pipe on /dev/stdin) gives it.
    sed 's|"pin_file": "[^"]*"|"pin_credential": "pin"|' "$AG_DIR/agent.json" >"$AG_DIR/cred.json"
    rc=0
    env -u CREDENTIALS_DIRECTORY "$TRUSTLINKCTL" check --config "$AG_DIR/cred.json" \
        >"$AG_DIR/cred-none.check" 2>&1 || rc=$?
    [ "$rc" -eq 4 ] && grep -q '^FAIL key: .*CREDENTIALS_DIRECTORY is not set.*--pin-file FILE' \
        "$AG_DIR/cred-none.check" ||
        ag_fail "check of a pin_credential config without a PIN source (exit $rc): $(cat "$AG_DIR/cred-none.check")"
    rc=0
    env -u CREDENTIALS_DIRECTORY "$TRUSTLINKCTL" check --config "$AG_DIR/cred.json" \
        --pin-file "$AG_DIR/pin" >"$AG_DIR/cred-file.check" 2>&1 || rc=$?
    grep -q "^PASS key: " "$AG_DIR/cred-file.check" ||
        ag_fail "check --pin-file: key check failed (exit $rc): $(cat "$AG_DIR/cred-file.check")"
    rc=0
    env -u CREDENTIALS_DIRECTORY "$TRUSTLINKCTL" check --config "$AG_DIR/cred.json" \
        --pin-file /dev/stdin <"$AG_DIR/pin" >"$AG_DIR/cred-stdin.check" 2>&1 || rc=$?
    grep -q "^PASS key: " "$AG_DIR/cred-stdin.check" ||
        ag_fail "check --pin-file /dev/stdin: key check failed (exit $rc): $(cat "$AG_DIR/cred-stdin.check")"
    rc=0
    "$TRUSTLINKCTL" status --pin-file "$AG_DIR/pin" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || ag_fail "--pin-file with status: exit $rc, want 2 (usage)"
    ag_note "check: pin_credential outside the service needs --pin-file; --pin-file FILE and /dev/stdin pass"

    AG_KEY_URI="pkcs11:token=$AG_TOKEN;object=nosuch;type=private" \
        expect_identity_error object-not-found object-not-found \
        'object not found: no private key on token "agent" matches identity.key .*object=nosuch.*\(private keys there: .*(object=device;id=01.*object=exportable;id=02|object=exportable;id=02.*object=device;id=01)'
    AG_KEY_URI="pkcs11:token=$AG_TOKEN;type=private" \
        expect_identity_error ambiguous ambiguous-uri \
        'identity.key .* matches 2 private keys on token "agent" \(.*(object=device;id=01.*object=exportable;id=02|object=exportable;id=02.*object=device;id=01).*\): add object= or id='
    AG_KEY_URI="pkcs11:token=$AG_TOKEN;object=exportable;type=private" \
        expect_identity_error unsafe unsafe-key \
        'refusing key .*exportable.* on token "agent": it is CKA_EXTRACTABLE'
    # A key that is not CKA_SENSITIVE (but not extractable either): made by
    # gen_insecure_key, as pkcs11-tool cannot ask for it. After the
    # ambiguous case, which counts the private keys on the token.
    [ -x "${AGENT_GEN_INSECURE_KEY:-}" ] || ag_fail "AGENT_GEN_INSECURE_KEY must name gen_insecure_key"
    ag_tool "$AGENT_GEN_INSECURE_KEY" "$AG_MODULE" "$AG_TOKEN" "$AG_PIN" readable 03 \
        >"$AG_DIR/keygen3.log" 2>&1 || ag_fail "not-sensitive keypairgen failed: $(cat "$AG_DIR/keygen3.log")"
    AG_KEY_URI="pkcs11:token=$AG_TOKEN;object=readable;type=private" \
        expect_identity_error not-sensitive unsafe-key \
        'refusing key .*readable.* on token "agent": it is not CKA_SENSITIVE'
    # A certificate object whose value has bytes after the DER certificate:
    # refused, not parsed around (pkcs11-tool stores the file as it is).
    { cat "$AG_DIR/device.der"; printf 'trailing'; } >"$AG_DIR/trailing.der"
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --write-object "$AG_DIR/trailing.der" --type cert --label trailing --id 01 \
        >"$AG_DIR/write-trailing.log" 2>&1 || ag_fail "writing the padded certificate failed: $(cat "$AG_DIR/write-trailing.log")"
    AG_CERT_URI="pkcs11:token=$AG_TOKEN;object=trailing;type=cert" \
        expect_identity_error trailing-bytes certificate \
        'certificate .*object=trailing.* on token "agent" is not valid DER X\.509 \(bytes follow the certificate\)' certificate
    # Two private keys with the identity key's CKA_ID: libp11 picks keys by
    # id, so TLS could sign with the other one. Refused, both named.
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --keypairgen --key-type EC:prime256v1 --label twin --id 01 \
        >"$AG_DIR/keygen-twin.log" 2>&1 || ag_fail "twin keypairgen failed: $(cat "$AG_DIR/keygen-twin.log")"
    expect_identity_error duplicate-id ambiguous-uri \
        'refusing key object=device;id=01: 2 private keys on token "agent" carry its CKA_ID \((object=device;id=01, object=twin;id=01|object=twin;id=01, object=device;id=01)\), so TLS could sign with another key than the one checked'
    printf 'not a shared object\n' >"$AG_DIR/not-a-module.so"
    AG_CONFIG_MODULE="$AG_DIR/not-a-module.so" \
        expect_identity_error module module-not-loadable \
        "PKCS#11 module $AG_DIR/not-a-module.so is not loadable"
    # Wrong PIN last (SoftHSM counts failures but does not lock).
    AG_PIN_IN_FILE=9999 expect_identity_error wrong-pin pin-incorrect \
        "wrong PIN for token \"agent\" \(from .*$AG_DIR/pin\): trustlinkd will not retry it"

    # Token not found: not an exit; the agent waits for the token.
    AG_KEY_URI="pkcs11:token=nosuch;object=device;type=private"
    ag_write_config
    ag_start_agent
    ag_wait_state identity-unavailable
    status=$(ag_control '{"cmd":"status"}')
    grep -q 'token not found' <<<"$status" || ag_fail "token-not-found message: $status"
    [ "$(ag_status_field 's["last_error"]["class"]')" = token ] || ag_fail "token-not-found class: $status"
    [ "$(ag_status_field 's["identity"]["loaded"]')" = False ] || ag_fail "identity loaded: $status"
    rc=0
    "$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/notoken.check" 2>&1 || rc=$?
    [ "$rc" -eq 4 ] && grep -q '^FAIL key: token not found.*(token-not-found)$' "$AG_DIR/notoken.check" ||
        ag_fail "check for a missing token (exit $rc): $(cat "$AG_DIR/notoken.check")"
    ;;
emu-locked-pin)
    ag_setup_token emu
    for _ in $(seq 10); do
        ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin 9999 -O \
            >/dev/null 2>&1 || true
    done
    ag_tool pkcs11-tool --module "$AG_MODULE" -L 2>/dev/null | grep -q "user PIN locked" ||
        ag_fail "the PIN did not lock after 10 wrong tries: $(ag_tool pkcs11-tool --module "$AG_MODULE" -L 2>&1)"
    expect_identity_error locked pin-locked \
        'the user PIN of token "trustlink" is locked \(too many wrong PINs\): unlock it with the SO PIN'
    ;;
*) ag_fail "unknown kind $kind" ;;
esac
ag_note "PASS"
