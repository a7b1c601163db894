#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# p11-kit: the module registered by a module config file is listed by
# `p11-kit list-modules`, and remoted by `p11-kit server` to
# p11-kit-client.so.
# Usage: p11kit.sh list_modules|server
. "$(dirname "$0")/p11lib.sh"

# p11-kit reads module configs from /etc/pkcs11/modules, the package dir
# and ~/.config/pkcs11/modules. It ignores the user dir for root
# ("skipping user config in program running as root"), and has no
# environment variable for another dir, so a test that must not touch
# /etc runs list-modules as an unprivileged user with HOME in the test dir.
case_list_modules() {
    local home=$TL_DIR/home out module=$P11_MODULE
    p11_need_cmd p11-kit
    mkdir -p "$home/.config/pkcs11/modules"
    if [ "$(id -u)" -eq 0 ]; then
        # "nobody" must be able to reach the module: a build tree under
        # /root (mode 0700) is not, so list a copy in the test dir.
        module=$TL_DIR/libtrustlink-pkcs11.so
        cp "$P11_MODULE" "$module"
    fi
    # The shipped registration, pointed at the module under test.
    sed "s|^module:.*|module: $module|" "$P11_HERE/../../config/trustlink.module" \
        >"$home/.config/pkcs11/modules/trustlink.module"
    if [ "$(id -u)" -eq 0 ]; then
        p11_need_cmd setpriv
        chown -R nobody "$TL_DIR"
        setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$module" ||
            tl_fail "$module is not readable by nobody"
        p11_run "$TL_DIR/list.out" "$TL_DIR/list.err" setpriv --reuid=nobody --regid=nogroup --clear-groups \
            env HOME="$home" p11-kit list-modules
    else
        p11_run "$TL_DIR/list.out" "$TL_DIR/list.err" env HOME="$home" p11-kit list-modules
    fi
    out=$(cat "$TL_DIR/list.out")
    [ "$P11_RC" -eq 0 ] || tl_fail "p11-kit list-modules exited $P11_RC: $(cat "$TL_DIR/list.err")"
    tl_expect_match "list-modules names our module" "^trustlink: $module\$" "$out"
    tl_expect_match "list-modules library" 'library-description: trustlink ATECC608 PKCS#11' "$out"
    tl_expect_match "list-modules token" "token: $P11_LABEL" "$out"
    tl_expect_match "list-modules model" 'model: ATECC608B' "$out"
}

KIT_PID=
stop_kit() {
    if [ -n "$KIT_PID" ]; then
        kill -TERM "$KIT_PID" 2>/dev/null || true
        wait "$KIT_PID" 2>/dev/null || true
        KIT_PID=
    fi
}

case_server() {
    local sock=$TL_DIR/kit.sock out waited=0
    local client=${P11_KIT_CLIENT:-/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so}
    p11_need_cmd p11-kit
    [ -f "$client" ] || tl_fail "p11-kit-client.so not found at $client (package p11-kit-modules)"
    p11_init_token
    trap 'rc=$?; stop_kit; set +e; (exit $rc); tl_cleanup' EXIT
    if [ -n "${P11_ASAN_RUNTIME:-}" ]; then
        LD_PRELOAD="$P11_ASAN_RUNTIME" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            p11-kit server -f --provider "$P11_MODULE" -n "$sock" "pkcs11:token=$P11_LABEL" \
            >"$TL_DIR/kit.out" 2>"$TL_DIR/kit.err" &
    else
        p11-kit server -f --provider "$P11_MODULE" -n "$sock" "pkcs11:token=$P11_LABEL" \
            >"$TL_DIR/kit.out" 2>"$TL_DIR/kit.err" &
    fi
    KIT_PID=$!
    while [ ! -S "$sock" ] && [ "$waited" -lt 100 ]; do
        kill -0 "$KIT_PID" 2>/dev/null || tl_fail "p11-kit server exited: $(cat "$TL_DIR/kit.err")"
        sleep 0.1
        waited=$((waited + 1))
    done
    [ -S "$sock" ] || tl_fail "p11-kit server made no socket at $sock within 10 s: $(cat "$TL_DIR/kit.err")"
    export P11_KIT_SERVER_ADDRESS="unix:path=$sock"
    out=$(p11_ok "pkcs11-tool -L over p11-kit-client" pkcs11-tool --module "$client" -L)
    tl_expect_match "remote token label" "token label +: $P11_LABEL" "$out"
    tl_expect_match "remote token model" 'token model +: ATECC608B' "$out"
    # The remoted token signs, too (CKM_ECDSA: p11-kit 0.24's RPC does not
    # pass CKM_ECDSA_SHA256, it answers CKR_MECHANISM_INVALID itself).
    printf 'remoted\n' >"$TL_DIR/msg"
    openssl dgst -sha256 -binary "$TL_DIR/msg" >"$TL_DIR/digest"
    p11_ok "remote sign" pkcs11-tool --module "$client" --login --pin "$P11_PIN" --sign -m ECDSA \
        --label device -i "$TL_DIR/digest" -o "$TL_DIR/sig.raw" >/dev/null
    unset P11_KIT_SERVER_ADDRESS
    stop_kit
    p11_rs_to_der "$TL_DIR/sig.raw" "$TL_DIR/sig.der"
    p11_pubkey_pem device "$TL_DIR/device.pem"
    out=$(openssl dgst -sha256 -verify "$TL_DIR/device.pem" -signature "$TL_DIR/sig.der" "$TL_DIR/msg" 2>&1) ||
        tl_fail "the signature made through p11-kit server does not verify: $out"
}

p11_skip_p11kit_under_asan
p11_init
case "${1:-}" in
    list_modules) case_list_modules ;;
    server) case_server ;;
    *) tl_fail "unknown case '${1:-}'" ;;
esac
tl_note "ok"
