#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# OpenSSL through libp11's engine (pkcs11.so) with libtrustlink-pkcs11.so:
# a CSR signed by the chip key, and a mutual-TLS handshake on 127.0.0.1
# with the client key on the token.
# Usage: openssl_engine.sh csr|mtls
. "$(dirname "$0")/p11lib.sh"

P11_URI_KEY=

engine_setup() {
    p11_init_token
    # Only the engine commands read this configuration; the test PKI is
    # made with plain OpenSSL.
    p11_openssl_conf "$TL_DIR/openssl.cnf"
    P11_URI_KEY="pkcs11:token=$P11_LABEL;object=device;type=private;pin-value=$P11_PIN"
}

# make_csr OUT: CSR for /CN=dev signed by the token's device key.
make_csr() {
    p11_ok "openssl req -engine pkcs11" env OPENSSL_CONF="$TL_DIR/openssl.cnf" openssl req -new -engine pkcs11 -keyform engine -key "$P11_URI_KEY" \
        -subj /CN=dev -out "$1" >/dev/null
    local out
    out=$(openssl req -verify -in "$1" -noout 2>&1) || tl_fail "the CSR's self-signature does not verify: $out"
    tl_expect_match "openssl req -verify" 'self-signature verify OK|verify OK' "$out"
}

case_csr() {
    local csr_pub tok_pub
    make_csr "$TL_DIR/dev.csr"
    # The CSR carries the chip's public key.
    p11_pubkey_pem device "$TL_DIR/device.pub.pem"
    csr_pub=$(openssl req -in "$TL_DIR/dev.csr" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -tx1 | tr -d ' \n')
    tok_pub=$(openssl pkey -pubin -in "$TL_DIR/device.pub.pem" -outform DER | od -An -tx1 | tr -d ' \n')
    tl_expect_eq "CSR public key = token public key" "$tok_pub" "$csr_pub"
}

# A test CA, a server certificate for 127.0.0.1, and the device
# certificate issued from the chip key's CSR (also stored on the token).
make_pki() {
    local id
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TL_DIR/ca.key" \
        -subj /CN=trustlink-test-ca -days 2 -out "$TL_DIR/ca.pem" 2>"$TL_DIR/pki.err" ||
        tl_fail "CA: $(cat "$TL_DIR/pki.err")"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TL_DIR/server.key" \
        -subj /CN=127.0.0.1 -out "$TL_DIR/server.csr" 2>"$TL_DIR/pki.err" || tl_fail "server CSR: $(cat "$TL_DIR/pki.err")"
    printf 'subjectAltName=IP:127.0.0.1\n' >"$TL_DIR/server.ext"
    openssl x509 -req -in "$TL_DIR/server.csr" -CA "$TL_DIR/ca.pem" -CAkey "$TL_DIR/ca.key" -CAcreateserial \
        -days 2 -extfile "$TL_DIR/server.ext" -out "$TL_DIR/server.pem" 2>"$TL_DIR/pki.err" ||
        tl_fail "server cert: $(cat "$TL_DIR/pki.err")"
    make_csr "$TL_DIR/dev.csr"
    openssl x509 -req -in "$TL_DIR/dev.csr" -CA "$TL_DIR/ca.pem" -CAkey "$TL_DIR/ca.key" -CAcreateserial \
        -days 2 -out "$TL_DIR/device.pem" 2>"$TL_DIR/pki.err" || tl_fail "device cert: $(cat "$TL_DIR/pki.err")"
    openssl x509 -in "$TL_DIR/device.pem" -outform DER -out "$TL_DIR/device.der"
    id=$(p11_tool "-O" -O --type pubkey --label device | sed -n 's/^ *ID: *\([0-9a-f]*\)$/\1/p')
    [ -n "$id" ] || tl_fail "no CKA_ID on the device public key"
    p11_tool "store device cert" --login --pin "$P11_PIN" --write-object "$TL_DIR/device.der" --type cert \
        --id "$id" --label device >/dev/null
}

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

# start_server: s_server on a free loopback port (retries on a port in
# use), requiring a client certificate from the test CA. Sets PORT.
start_server() {
    local try waited
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$((20000 + (RANDOM * 7 + try * 131) % 40000))
        # -naccept 1: one connection, then exit. Its stdin is a FIFO this
        # shell holds open, so s_server never reads end-of-file.
        : >"$TL_DIR/server.out"
        openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -cert "$TL_DIR/server.pem" \
            -key "$TL_DIR/server.key" -CAfile "$TL_DIR/ca.pem" -Verify 1 -verify_return_error \
            <&7 >"$TL_DIR/server.out" 2>&1 &
        SERVER_PID=$!
        waited=0
        while [ "$waited" -lt 100 ]; do
            if grep -q '^ACCEPT' "$TL_DIR/server.out"; then
                return 0
            fi
            if grep -qi 'in use\|bind' "$TL_DIR/server.out" || ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        stop_server
    done
    tl_fail "openssl s_server did not start on 127.0.0.1; it said:
$(cat "$TL_DIR/server.out")"
}

case_mtls() {
    local out
    make_pki
    trap 'rc=$?; stop_server; set +e; (exit $rc); tl_cleanup' EXIT
    mkfifo "$TL_DIR/server.in"
    exec 7<>"$TL_DIR/server.in"
    start_server
    out=$(p11_ok "openssl s_client -engine pkcs11" env OPENSSL_CONF="$TL_DIR/openssl.cnf" openssl s_client -connect "127.0.0.1:$PORT" \
          -engine pkcs11 -keyform engine -key "$P11_URI_KEY" -cert "$TL_DIR/device.pem" \
          -CAfile "$TL_DIR/ca.pem" -verify_return_error -verify_ip 127.0.0.1 </dev/null)
    tl_expect_match "s_client verified the server" 'Verify return code: 0 \(ok\)' "$out"
    tl_expect_match "s_client handshake" 'New, TLSv1\.3|New, TLSv1\.2' "$out"
    # The server saw and accepted the device certificate.
    local waited=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [ "$waited" -lt 100 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    stop_server
    out=$(cat "$TL_DIR/server.out")
    tl_expect_match "s_server got the client certificate" 'Client certificate' "$out"
    tl_expect_match "s_server client subject" 'subject=CN ?= ?dev' "$out"
    tl_note "s_server said: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
    if grep -qi 'error\|alert' <<<"$out"; then
        tl_fail "s_server reported an error:
$out"
    fi
}

p11_init
engine_setup
case "${1:-}" in
    csr) case_csr ;;
    mtls) case_mtls ;;
    *) tl_fail "unknown case '${1:-}'" ;;
esac
tl_note "ok"
