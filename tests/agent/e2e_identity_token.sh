#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Token operations for key rotation (agent/token.h) end to end on a
# real token: generate, key by id (+ sign), store certificate, relabel,
# destroy, adopt, repeated rotations through the chip's free slots, and a
# fresh process resolving the rotated key from the unchanged URIs (the
# factory key must not come back on our module).
# Usage: e2e_identity_token.sh softhsm|emu   (CTest sets IDENTITY_TOKEN_DRIVER)
. "$(dirname "$0")/lib.sh"

kind=${1:?usage: e2e_identity_token.sh softhsm|emu}
ag_init
[ -x "${IDENTITY_TOKEN_DRIVER:-}" ] || ag_fail "IDENTITY_TOKEN_DRIVER must name identity_token_driver"
ag_make_ca ca
ag_setup_token "$kind"

printf '%s\n' "$AG_PIN" >"$AG_DIR/pin"
chmod 600 "$AG_DIR/pin"
export TL_MODULE=$AG_MODULE TL_PIN_FILE=$AG_DIR/pin TL_TOKEN_KIND=$kind
export TL_KEY_URI="pkcs11:token=$AG_TOKEN;object=device;type=private"
export TL_CERT_URI="pkcs11:token=$AG_TOKEN;object=device;type=cert"

# Run directly, not through ag_tool: in sanitizer builds the driver is an
# ASan program itself and keeps its leak checks.
driver() {
    "$IDENTITY_TOKEN_DRIVER" "$@"
}

# Five rotations: on our module (free slots 2, 3, 4) that only fits if
# destroyed keys give their slot back.
out=$(driver rotate 5 2>"$AG_DIR/driver.log") ||
    ag_fail "rotation driver failed: $(tail -n 20 "$AG_DIR/driver.log")"
final=$(printf '%s\n' "$out" | awk '/^final-id / {print $2}')
[ -n "$final" ] || ag_fail "driver printed no final id: $out"
ag_note "final key id $final"

# A new process (a new module instance: our module re-checks its
# provisioned keys at C_Initialize) resolves the same key.
driver verify "$final" 2>>"$AG_DIR/driver.log" ||
    ag_fail "fresh process: $(tail -n 5 "$AG_DIR/driver.log")"

# Exactly one private key is left on the token, and it is labelled device.
listing=$(ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login \
    --pin "$AG_PIN" --list-objects --type privkey 2>/dev/null)
n_priv=$(printf '%s\n' "$listing" | grep -c 'Private Key Object' || true)
[ "$n_priv" -eq 1 ] || ag_fail "expected 1 private key on the token, found $n_priv: $listing"
printf '%s\n' "$listing" | grep -q "ID: *$final" || ag_fail "the private key left is not $final: $listing"

if [ "$kind" = emu ]; then
    # The factory key's destruction persisted in token.json.
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("released_key_slots")==[0] else 1)' \
        "$AG_DIR/store/token.json" || ag_fail "token.json does not record slot 0 as released"
fi

if [ "$kind" = softhsm ]; then
    # key_by_id refuses a key that is not CKA_SENSITIVE.
    [ -x "${AGENT_GEN_INSECURE_KEY:-}" ] || ag_fail "AGENT_GEN_INSECURE_KEY must name gen_insecure_key"
    ag_tool "$AGENT_GEN_INSECURE_KEY" "$AG_MODULE" "$AG_TOKEN" "$AG_PIN" readable 0bad \
        >>"$AG_DIR/driver.log" 2>&1 || ag_fail "gen_insecure_key failed"
    driver unsafe 0bad 2>>"$AG_DIR/driver.log" ||
        ag_fail "unsafe key: $(tail -n 5 "$AG_DIR/driver.log")"
fi
sed "s/^/  /" "$AG_DIR/driver.log" >&2
echo "PASS [$AG_NAME]"
