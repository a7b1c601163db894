#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TLS handshake benchmark (second mode of the issue-6 benchmark), one command:
#   tests/bench/tls.sh [BUILD_DIR] [--bus 100000,400000] [--threads 1,4]
#                      [--handshakes H] [--naive-handshakes H] [--resume-handshakes H]
# BUILD_DIR defaults to build-bench next to the sources (configured and built
# if needed). For each bus speed: an atecc608-emu daemon (time scale 1,
# ATECC608B, typical factor 0.6, Trust&GO profile, in memory), a token on it
# through libtrustlink-pkcs11.so, a test CA (openssl) issuing a server cert
# and a client cert for the chip's slot-0 public key (read with pkcs11-tool),
# one `openssl s_server -rev` per concurrent caller on a free 127.0.0.1 port,
# then trustlink-tls-bench once per phase, each a fresh process: tuned and
# naive policy x each caller count with full handshakes, and tuned with the
# most callers resuming sessions. Everything started here is stopped on exit.
# Prints a table; appends the rows as "tls_handshakes" to
# BUILD_DIR/bench-results.json (the sign benchmark's file; created if absent).
# Takes ~35 s with the defaults. Not a CTest test: it measures real time.
set -euo pipefail

usage() {
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build-bench
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    BUILD=$(realpath -m "$1")
    shift
fi
BUSES=100000,400000
THREADS=1,4
HS=10
NAIVE_HS=5
RESUME_HS=10
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage 0 ;;
    --bus) BUSES=${2:?}; shift 2 ;;
    --threads) THREADS=${2:?}; shift 2 ;;
    --handshakes) HS=${2:?}; shift 2 ;;
    --naive-handshakes) NAIVE_HS=${2:?}; shift 2 ;;
    --resume-handshakes) RESUME_HS=${2:?}; shift 2 ;;
    *) echo "tls.sh: unknown option $1" >&2; usage ;;
    esac
done
for tool in openssl pkcs11-tool jq; do
    command -v "$tool" >/dev/null || { echo "tls.sh: needs $tool" >&2; exit 1; }
done

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j2 --target trustlink-tls-bench trustlink-pkcs11 atecc608-emu >/dev/null
MODULE=$BUILD/pkcs11/libtrustlink-pkcs11.so
EMU=$BUILD/drivers/atecc608/emu/atecc608-emu
CLIENT=$BUILD/tests/bench/trustlink-tls-bench
OUT=$BUILD/bench-results.json

WORK=$(mktemp -d /tmp/trustlink-tls-bench.XXXXXX)
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
SO_PIN=bench-so-pin
PIN=bench-user-pin
MAXT=$(tr ',' '\n' <<<"$THREADS" | sort -n | tail -1)

# The test CA and the server's certificate (software key) for 127.0.0.1.
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=trustlink-bench-ca -days 1 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -subj /CN=127.0.0.1 -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
    -extfile server.ext -out server.pem 2>/dev/null
printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >client.ext

quiet() { # run a setup command; show its output only if it fails
    "$@" >"$WORK/cmd.log" 2>&1 ||
        { echo "tls.sh: failed: $*" >&2; cat "$WORK/cmd.log" >&2; exit 1; }
}
# An ASan build of the module (-DTRUSTLINK_SANITIZE=ON) needs the ASan
# runtime preloaded into the uninstrumented pkcs11-tool; its own leaks at
# exit are not ours. trustlink-tls-bench is instrumented itself.
ASAN_RT=$(ldd "$MODULE" | awk '/libasan/ {print $3}')
if [ -n "$ASAN_RT" ]; then
    # libp11 0.4.12 leaks ~0.5 KB per context (its PIN copy and two
    # internal blocks), even after PKCS11_release_all_slots + CTX_unload +
    # CTX_free. Suppress leaks whose stack passes through libp11 only; the
    # full unwinder is needed to see libp11 frames under libcrypto.
    printf 'leak:libp11.so\n' >"$WORK/lsan.supp"
    export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$WORK/lsan.supp
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0
fi
run_pkcs11_tool() {
    if [ -n "$ASAN_RT" ]; then
        LD_PRELOAD=$ASAN_RT ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
            timeout -k 5 60 pkcs11-tool "$@"
    else
        timeout -k 5 60 pkcs11-tool "$@"
    fi
}

wait_for() { # FILE PATTERN: bounded wait (20 s) for a line in a log, or -e: a path
    local i
    for i in $(seq 400); do
        if [ "$2" = -e ]; then [ -e "$1" ] && return 0
        else grep -q "$2" "$1" 2>/dev/null && return 0; fi
        sleep 0.05
    done
    return 1
}

: >phases.jsonl
header=--header
for HZ in ${BUSES//,/ }; do
    SOCK=$WORK/emu-$HZ.sock
    "$EMU" --socket "$SOCK" --time-scale 1 --bus-hz "$HZ" --revision 608b \
        --typical-factor 0.6 2>"emu-$HZ.log" &
    PIDS+=($!)
    wait_for "$SOCK" -e || { echo "tls.sh: atecc608-emu did not start" >&2; exit 1; }
    export TRUSTLINK_PKCS11_CONF=$WORK/pkcs11-$HZ.json
    printf '{"tokens":[{"label":"bench","interface":"emu:%s@0x35","key_slots":[0],"free_slots":[2,3],"store":"%s/token-%s"}],"log_level":"error","pin_kdf_iterations":1000,"lock_dir":"%s"}\n' \
        "$SOCK" "$WORK" "$HZ" "$WORK" >"$TRUSTLINK_PKCS11_CONF"
    # A fresh token, and a client certificate for this chip's slot-0 key.
    quiet run_pkcs11_tool --module "$MODULE" --init-token --label bench --so-pin $SO_PIN
    quiet run_pkcs11_tool --module "$MODULE" --login --login-type so --so-pin $SO_PIN --init-pin \
        --pin $PIN
    # The slot-0 public key via libp11 (pkcs11-tool --read-object --type
    # pubkey reads freed memory in OpenSC 0.23; ASan aborts it).
    quiet timeout -k 5 60 "$CLIENT" --module "$MODULE" --token bench --pin $PIN \
        --export-pubkey "device-$HZ.pub.pem"
    openssl x509 -new -force_pubkey "device-$HZ.pub.pem" -subj /CN=device-bench \
        -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile client.ext \
        -out "client-$HZ.pem" 2>/dev/null

    # One s_server per concurrent caller: s_server serves one connection
    # at a time. -rev echoes a line reversed; -Verify 1 requires a client
    # certificate, -verify_return_error refuses a bad one.
    PORTS=()
    for i in $(seq "$MAXT"); do
        openssl s_server -accept 127.0.0.1:0 -tls1_3 -rev -Verify 1 -verify_return_error \
            -CAfile ca.pem -cert server.pem -key server.key </dev/null >"srv-$HZ-$i.log" 2>&1 &
        PIDS+=($!)
        wait_for "srv-$HZ-$i.log" '^ACCEPT' || { echo "tls.sh: s_server did not start" >&2; exit 1; }
        PORTS+=("$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "srv-$HZ-$i.log")")
    done

    run_phase() { # POLICY THREADS HANDSHAKES [--resume]
        local ports
        ports=$(IFS=,; echo "${PORTS[*]:0:$2}")
        # shellcheck disable=SC2086 # $header and $4 vanish when empty
        TRUSTLINK_SIGN_POLICY=$1 TRUSTLINK_ATECC_STATS=$WORK/stats.jsonl \
            timeout -k 5 120 "$CLIENT" --module "$MODULE" --token bench --pin $PIN \
            --cert "client-$HZ.pem" --ca ca.pem --ports "$ports" --threads "$2" \
            --handshakes "$3" --bus-hz "$HZ" --json phases.jsonl $header ${4:-}
        header=
    }
    for t in ${THREADS//,/ }; do run_phase tuned "$t" "$HS"; done
    for t in ${THREADS//,/ }; do run_phase naive "$t" "$NAIVE_HS"; done
    run_phase tuned "$MAXT" "$RESUME_HS" --resume
    stop_all
done

# Append to the JSON the sign benchmark writes (or start it).
jq -s '{setup: "TLS 1.3, client auth, ECDSA P-256 client key on the token via libp11, one openssl s_server -rev per caller on 127.0.0.1; a handshake = connect + SSL_connect + one echoed line + close_notify; chip limit = one signature per full handshake", phases: .}' \
    phases.jsonl >tls.json
if [ -s "$OUT" ] && jq -e . "$OUT" >/dev/null 2>&1; then
    jq --slurpfile t tls.json '. + {tls_handshakes: $t[0]}' "$OUT" >merged.json
else
    jq '{tls_handshakes: .}' tls.json >merged.json
fi
cp merged.json "$OUT"
echo "results: $OUT (tls_handshakes)"
