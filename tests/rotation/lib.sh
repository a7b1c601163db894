# SPDX-License-Identifier: Apache-2.0
# Helpers for the rotation shell tests: sourced, never run. A temp dir with
# a test CA, a mosquitto broker on 127.0.0.1 (integration-facts.md 4), and a
# trap that stops every process started here and removes the dir.
set -euo pipefail

RT_NAME=$(basename "$0" .sh)${1:+-$1}
RT_PIDS=()

rt_fail() { echo "FAIL [$RT_NAME]: $*" >&2; exit 1; }
rt_note() { echo "[$RT_NAME] $*" >&2; }

# Tools that dlopen our (possibly ASan-built) module need the runtime first.
rt_tool() {
    if [ -n "${ROT_ASAN_RUNTIME:-}" ]; then
        LD_PRELOAD=$ROT_ASAN_RUNTIME ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$@"
    else
        "$@"
    fi
}

rt_kill() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

rt_cleanup() {
    local rc=$? pid
    for pid in "${RT_PIDS[@]}"; do rt_kill "$pid"; done
    if [ "$rc" -ne 0 ]; then
        for f in "$RT_DIR"/*.log; do
            [ -s "$f" ] || continue
            echo "---- $(basename "$f") (tail) ----" >&2
            tail -n 30 "$f" >&2 || true
        done
    fi
    rm -rf -- "$RT_DIR"
    exit "$rc"
}

rt_init() {
    RT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/trustlink-rotation-XXXXXX")
    trap rt_cleanup EXIT
    trap 'exit 130' INT TERM
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}

rt_wait_for() {   # rt_wait_for SECONDS WHAT CMD...
    local s=$1 what=$2 i
    shift 2
    for ((i = 0; i < s * 10; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    rt_fail "timed out after ${s}s waiting for: $what"
}

rt_make_ca() {    # rt_make_ca NAME
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$RT_DIR/$1.key" -out "$RT_DIR/$1.pem" -subj "/CN=$1" -days 2 2>/dev/null
}

rt_make_client() {   # rt_make_client CA NAME: NAME.key NAME.pem signed by CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RT_DIR/$2.key" \
        -out "$RT_DIR/$2.csr" -subj "/CN=$2" 2>/dev/null
    openssl x509 -req -in "$RT_DIR/$2.csr" -CA "$RT_DIR/$1.pem" -CAkey "$RT_DIR/$1.key" \
        -CAcreateserial -out "$RT_DIR/$2.pem" -days 2 ${3:+-extfile "$3"} 2>/dev/null
}

rt_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

rt_start_broker() {   # broker with CA "ca"
    local tries i
    printf 'subjectAltName=IP:127.0.0.1\n' >"$RT_DIR/broker.ext"
    rt_make_client ca broker "$RT_DIR/broker.ext"
    for tries in 1 2 3 4 5; do
        RT_PORT=$(rt_free_port)
        cat >"$RT_DIR/mosquitto.conf" <<CONF
user root
listener $RT_PORT 127.0.0.1
cafile $RT_DIR/ca.pem
certfile $RT_DIR/broker.pem
keyfile $RT_DIR/broker.key
require_certificate true
use_identity_as_username true
CONF
        : >"$RT_DIR/broker.log"
        mosquitto -v -c "$RT_DIR/mosquitto.conf" >>"$RT_DIR/broker.log" 2>&1 &
        RT_BROKER_PID=$!
        RT_PIDS+=("$RT_BROKER_PID")
        for ((i = 0; i < 100; i++)); do
            grep -q "running" "$RT_DIR/broker.log" && return 0
            kill -0 "$RT_BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        rt_kill "$RT_BROKER_PID"
        rt_note "broker did not start on port $RT_PORT (try $tries)"
    done
    rt_fail "mosquitto did not start"
}
