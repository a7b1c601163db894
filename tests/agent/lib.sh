# SPDX-License-Identifier: Apache-2.0
# Helpers for trustlinkd's end-to-end tests: sourced, never run. Each test
# gets a temp dir with its own test CA, a mosquitto broker on 127.0.0.1
# (require_certificate, use_identity_as_username; integration-facts.md 4),
# a token (SoftHSMv2, our module on atecc608-emu, or tpm2-pkcs11 on the
# swtpm simulator), a trustlinkd, and a trap that stops every process it
# started and removes the dir.
#
# CTest passes: TRUSTLINKD, TRUSTLINK_PKCS11 (our module), ATECC608_EMU.
# Every wait is bounded; failures print what was expected and the logs.

set -euo pipefail

AG_NAME=$(basename "$0" .sh)${1:+-$1}
AG_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools.py
AG_WAIT=${AG_WAIT:-20}                    # seconds for any one condition
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
ENGINE_SO=$(find /usr/lib -name pkcs11.so -path '*engines-3*' 2>/dev/null | head -n1)
AG_PIN=4321
AG_SO_PIN=87654321

# Fd 3 is the test's stderr even inside ag_wait_for's silenced conditions.
exec 3>&2
ag_fail() {
    echo "FAIL [$AG_NAME]: $*" >&3
    exit 1
}

# ag_tool CMD...: runs a tool that may dlopen our (possibly ASan-built)
# module: the ASan runtime must come first in it (integration-facts.md 6).
ag_tool() {
    if [ -n "${AGENT_ASAN_RUNTIME:-}" ]; then
        # Their own leaks are not ours to report; trustlinkd keeps leak checks.
        LD_PRELOAD=$AGENT_ASAN_RUNTIME ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" "$@"
    else
        "$@"
    fi
}

ag_note() {
    echo "[$AG_NAME] $*" >&2
}

ag_init() {
    AG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/trustlink-agent-XXXXXX")
    AG_PIDS=()
    AG_BROKER_PID=
    AG_AGENT_PID=
    AG_EMU_PID=
    AG_NOTIFY_PID=
    AG_TPM_PID=
    AG_TABRMD_PID=
    AG_DBUS_PID=
    trap ag_cleanup EXIT
    trap 'exit 130' INT TERM
    # Sanitizer builds: tools that dlopen an ASan-built module, and ASan
    # programs, must not insist on the runtime coming first (facts 6).
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    [ -x "${TRUSTLINKD:-}" ] || ag_fail "TRUSTLINKD must name the trustlinkd binary"
}

ag_kill() {   # ag_kill PID: TERM, then KILL after 5 s
    local pid=$1 waited=0
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

ag_cleanup() {
    local rc=$?
    ag_kill "$AG_AGENT_PID"
    ag_kill "$AG_BROKER_PID"
    ag_kill "$AG_NOTIFY_PID"
    ag_kill "$AG_EMU_PID"
    ag_kill "$AG_TABRMD_PID"
    ag_kill "$AG_TPM_PID"
    for pid in "${AG_PIDS[@]}"; do   # extra processes a test registered
        ag_kill "$pid"
    done
    if [ "$rc" -ne 0 ]; then
        exec 2>&3
        for f in agent.log broker.log emu.log notify.log swtpm.log abrmd.log; do
            if [ -s "$AG_DIR/$f" ]; then
                echo "---- $f (tail) ----" >&2
                tail -n 40 "$AG_DIR/$f" >&2 || true
            fi
        done
    fi
    rm -rf -- "$AG_DIR"
    exit "$rc"
}

# ag_wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
ag_wait_for() {
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    ag_fail "timed out after ${seconds}s waiting for: $what"
}

# ---- certificates ---------------------------------------------------------

# ag_make_ca NAME: $AG_DIR/NAME.key, NAME.pem
ag_make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$AG_DIR/$1.key" -out "$AG_DIR/$1.pem" -subj "/CN=$1" -days 2 2>/dev/null
}

# ag_sign_csr CA CSR OUT_PEM [EXTFILE]
ag_sign_csr() {
    local ext=()
    [ -z "${4:-}" ] || ext=(-extfile "$4")
    openssl x509 -req -in "$2" -CA "$AG_DIR/$1.pem" -CAkey "$AG_DIR/$1.key" \
        -CAcreateserial -out "$3" -days 2 "${ext[@]}" 2>/dev/null
}

# ag_make_empty_crl CA OUT: an empty CRL signed by CA (a broker's crlfile).
ag_make_empty_crl() {
    mkdir -p "$AG_DIR/crl-$1"
    : >"$AG_DIR/crl-$1/index.txt"
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s\ndefault_md = sha256\ndefault_crl_days = 1\n' \
        "$AG_DIR/crl-$1/index.txt" >"$AG_DIR/crl-$1/ca.cnf"
    openssl ca -config "$AG_DIR/crl-$1/ca.cnf" -gencrl -keyfile "$AG_DIR/$1.key" \
        -cert "$AG_DIR/$1.pem" -out "$2" 2>"$AG_DIR/crl-$1/log" ||
        ag_fail "empty CRL: $(cat "$AG_DIR/crl-$1/log")"
}

# Broker key and certificate for 127.0.0.1 from CA "ca".
ag_make_broker_cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$AG_DIR/broker.key" -out "$AG_DIR/broker.csr" -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >"$AG_DIR/broker.ext"
    ag_sign_csr ca "$AG_DIR/broker.csr" "$AG_DIR/broker.pem" "$AG_DIR/broker.ext"
    # A subscriber for the checks, with a file key.
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$AG_DIR/tester.key" -out "$AG_DIR/tester.csr" -subj /CN=tester 2>/dev/null
    ag_sign_csr ca "$AG_DIR/tester.csr" "$AG_DIR/tester.pem"
}

# ag_ca_issue CSR OUT_PEM OPENSSL_CA_ARGS...: CA "ca" signs CSR with
# `openssl ca` (which, unlike `openssl x509 -req`, takes any -startdate and
# -enddate, e.g. 99991231235959Z), from a database made on first use.
ag_ca_issue() {
    local csr=$1 out=$2
    shift 2
    if [ ! -f "$AG_DIR/ca.cnf" ]; then
        mkdir -p "$AG_DIR/ca-db"
        : >"$AG_DIR/ca-db/index.txt"
        echo 1000 >"$AG_DIR/ca-db/serial"
        cat >"$AG_DIR/ca.cnf" <<CONF
[ca]
default_ca = test_ca
[test_ca]
database = $AG_DIR/ca-db/index.txt
new_certs_dir = $AG_DIR/ca-db
serial = $AG_DIR/ca-db/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
CONF
    fi
    openssl ca -batch -config "$AG_DIR/ca.cnf" -cert "$AG_DIR/ca.pem" -keyfile "$AG_DIR/ca.key" \
        -in "$csr" -out "$out" -notext "$@" >"$AG_DIR/ca.log" 2>&1 ||
        ag_fail "openssl ca failed: $(cat "$AG_DIR/ca.log")"
}

# ---- broker ----------------------------------------------------------------

# AG_BROKER_EXTRA: more mosquitto.conf lines (e.g. "crlfile FILE").
ag_start_broker() {
    local tries i before
    [ -n "${AG_PORT:-}" ] || AG_PORT=$(python3 "$AG_TOOLS" freeport)
    cat >"$AG_DIR/mosquitto.conf" <<CONF
user root
listener $AG_PORT 127.0.0.1
cafile $AG_DIR/ca.pem
certfile $AG_DIR/broker.pem
keyfile $AG_DIR/broker.key
require_certificate true
use_identity_as_username true
${AG_BROKER_EXTRA:-}
CONF
    for tries in 1 2 3 4 5; do
        before=$(grep -c "running" "$AG_DIR/broker.log" 2>/dev/null || true)
        mosquitto -v -c "$AG_DIR/mosquitto.conf" >>"$AG_DIR/broker.log" 2>&1 &
        AG_BROKER_PID=$!
        for ((i = 0; i < 100; i++)); do
            if [ "$(grep -c "running" "$AG_DIR/broker.log" || true)" -gt "${before:-0}" ]; then
                return 0
            fi
            kill -0 "$AG_BROKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        ag_kill "$AG_BROKER_PID"
        AG_BROKER_PID=
        ag_note "broker did not start on port $AG_PORT (try $tries)"
        sleep 1   # a restart on the same port may need the old socket gone
    done
    ag_fail "mosquitto did not start on 127.0.0.1:$AG_PORT"
}

ag_stop_broker() {
    ag_kill "$AG_BROKER_PID"
    AG_BROKER_PID=
}

# ag_sub_retained TOPIC: prints "topic payload" of the retained message.
ag_sub_retained() {
    timeout 10 mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
        --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -t "$1" \
        --retained-only -C 1 -W 3 -v 2>/dev/null
}

# ---- tokens ----------------------------------------------------------------

ag_engine_conf() {   # ag_engine_conf MODULE: an OpenSSL config loading libp11's engine
    cat >"$AG_DIR/engine.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $1
init = 0
CONF
}

# ag_issue_token_cert MODULE KEY_URI CN ID_HEX: CSR from the token key via the
# engine, signed by "ca", written back to the token as label "device".
ag_issue_token_cert() {
    local module=$1 key_uri=$2 cn=$3 id=$4
    ag_engine_conf "$module"
    OPENSSL_CONF=$AG_DIR/engine.cnf ag_tool openssl req -new -engine pkcs11 -keyform engine \
        -key "$key_uri;pin-value=$AG_PIN" -subj "/CN=$cn" -out "$AG_DIR/device.csr" \
        >"$AG_DIR/req.log" 2>&1 || ag_fail "CSR through the engine failed: $(cat "$AG_DIR/req.log")"
    ag_sign_csr ca "$AG_DIR/device.csr" "$AG_DIR/device.pem"
    openssl x509 -in "$AG_DIR/device.pem" -outform der -out "$AG_DIR/device.der"
    ag_tool pkcs11-tool --module "$module" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --write-object "$AG_DIR/device.der" --type cert --label device --id "$id" \
        >"$AG_DIR/write.log" 2>&1 || ag_fail "writing the certificate failed: $(cat "$AG_DIR/write.log")"
}

# SoftHSMv2 token "agent" with an EC P-256 key "device" (id 01) and its cert.
ag_setup_softhsm() {
    mkdir -p "$AG_DIR/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$AG_DIR" >"$AG_DIR/softhsm2.conf"
    export SOFTHSM2_CONF=$AG_DIR/softhsm2.conf
    AG_TOKEN=agent
    AG_MODULE=$SOFTHSM_MODULE
    softhsm2-util --init-token --free --label "$AG_TOKEN" --so-pin "$AG_SO_PIN" --pin "$AG_PIN" \
        >/dev/null
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --keypairgen --key-type EC:prime256v1 --label device --id 01 --sensitive \
        >"$AG_DIR/keygen.log" 2>&1 || ag_fail "keypairgen failed: $(cat "$AG_DIR/keygen.log")"
    ag_issue_token_cert "$AG_MODULE" "pkcs11:token=$AG_TOKEN;object=device;type=private" \
        device-001 01
}

# atecc608-emu (Trust&GO profile) on $AG_DIR/emu.sock and our module's
# configuration for a token "trustlink" on it (TRUSTLINK_PKCS11_CONF,
# AG_TOKEN, AG_MODULE); the token is not initialised yet.
ag_start_emu_token() {
    [ -x "${ATECC608_EMU:-}" ] || ag_fail "ATECC608_EMU must name atecc608-emu"
    [ -f "${TRUSTLINK_PKCS11:-}" ] || ag_fail "TRUSTLINK_PKCS11 must name libtrustlink-pkcs11.so"
    "$ATECC608_EMU" --socket "$AG_DIR/emu.sock" --state "$AG_DIR/chip.state" \
        --profile trustandgo --time-scale "${AG_EMU_TIME_SCALE:-0}" 2>"$AG_DIR/emu.log" &
    AG_EMU_PID=$!
    ag_wait_for "$AG_WAIT" "atecc608-emu listening" grep -q "atecc608-emu: listening on" "$AG_DIR/emu.log"
    mkdir -p "$AG_DIR/store"
    cat >"$AG_DIR/pkcs11.json" <<CONF
{"tokens":[{"label":"trustlink","interface":"emu:$AG_DIR/emu.sock","key_slots":[0],
            "free_slots":[2,3,4],"store":"$AG_DIR/store"}],
 "lock_dir": "$AG_DIR",
 "pin_kdf_iterations": 1000}
CONF
    export TRUSTLINK_PKCS11_CONF=$AG_DIR/pkcs11.json
    AG_TOKEN=trustlink
    AG_MODULE=$TRUSTLINK_PKCS11
}

# Our module on atecc608-emu (Trust&GO profile): token initialised, PIN
# set, certificate for the chip's slot-0 key "device" written. AG_EMU_TIME_SCALE:
# the emulator's time scale (default 0: instant; 1: real chip timing).
ag_setup_emu() {
    local id
    ag_start_emu_token
    ag_tool pkcs11-tool --module "$AG_MODULE" --init-token --label "$AG_TOKEN" --so-pin "$AG_SO_PIN" \
        >"$AG_DIR/init.log" 2>&1 || ag_fail "init-token failed: $(cat "$AG_DIR/init.log")"
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --init-pin --so-pin "$AG_SO_PIN" \
        --pin "$AG_PIN" >>"$AG_DIR/init.log" 2>&1 || ag_fail "init-pin failed: $(cat "$AG_DIR/init.log")"
    id=$(ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" -O --type pubkey 2>/dev/null |
         awk '/ID:/ {print $2; exit}')
    [ -n "$id" ] || ag_fail "no public key object on the emulated chip"
    ag_issue_token_cert "$AG_MODULE" "pkcs11:token=$AG_TOKEN;object=device;type=private" \
        device-001 "$id"
}

# ---- TPM 2.0: tpm2-pkcs11 over the swtpm simulator --------------------------

# ag_skip REASON: the test cannot run here (exit 77, reason printed).
ag_skip() {
    echo "SKIP [$AG_NAME]: $*"
    exit 77
}

# The TPM stack of a test: swtpm on 127.0.0.1:AG_TPM_PORT (its control
# channel on the next port, where the swtpm TCTI looks for it; state in
# $AG_DIR/tpmstate, kept across restarts), and tpm2-abrmd as its resource
# manager on a private D-Bus session bus ($AG_DIR/bus). The module reaches
# it through TPM2_PKCS11_TCTI=tabrmd:... as a device reaches the kernel's
# /dev/tpmrm0. Without a resource manager a TPM holds 3 transient objects
# (the simulator as the chip): tpm2-pkcs11 keeps each key it used loaded,
# so a second key generation in one process fails with "out of memory for
# object contexts" (found here: a second rotation in one agent run).
ag_start_tpm() {
    local tries
    mkdir -p "$AG_DIR/tpmstate"
    if [ -z "${AG_DBUS_PID:-}" ]; then
        dbus-daemon --session --nofork --address="unix:path=$AG_DIR/bus" \
            >>"$AG_DIR/dbus.log" 2>&1 &
        AG_DBUS_PID=$!
        AG_PIDS+=("$AG_DBUS_PID")
        export DBUS_SESSION_BUS_ADDRESS=unix:path=$AG_DIR/bus
        ag_wait_for 10 "D-Bus session bus" test -S "$AG_DIR/bus"
    fi
    for tries in 1 2 3 4 5; do
        [ -n "${AG_TPM_PORT:-}" ] || AG_TPM_PORT=$(python3 "$AG_TOOLS" freeport pair)
        swtpm socket --tpm2 --tpmstate dir="$AG_DIR/tpmstate" \
            --server type=tcp,port="$AG_TPM_PORT",bindaddr=127.0.0.1 \
            --ctrl type=tcp,port=$((AG_TPM_PORT + 1)),bindaddr=127.0.0.1 \
            --flags not-need-init,startup-clear >>"$AG_DIR/swtpm.log" 2>&1 &
        AG_TPM_PID=$!
        ag_wait_tpm_port && break
        ag_kill "$AG_TPM_PID"
        AG_TPM_PID=
        ag_note "swtpm did not start on port $AG_TPM_PORT (try $tries)"
        [ "${1:-}" = same-port ] || AG_TPM_PORT=
        sleep 1
    done
    [ -n "$AG_TPM_PID" ] || ag_fail "swtpm did not start on 127.0.0.1:${AG_TPM_PORT:-?}"
    AG_TABRMD_NAME=com.intel.tss2.Tabrmd.trustlink$$
    tpm2-abrmd --session --allow-root --dbus-name="$AG_TABRMD_NAME" \
        --tcti="swtpm:host=127.0.0.1,port=$AG_TPM_PORT" >>"$AG_DIR/abrmd.log" 2>&1 &
    AG_TABRMD_PID=$!
    ag_wait_for 10 "tpm2-abrmd on the session bus" ag_tabrmd_up
    export TPM2_PKCS11_TCTI="tabrmd:bus_type=session,bus_name=$AG_TABRMD_NAME"
    export TPM2TOOLS_TCTI=$TPM2_PKCS11_TCTI
}

ag_tabrmd_up() {
    kill -0 "$AG_TABRMD_PID" 2>/dev/null || ag_fail "tpm2-abrmd exited: $(tail -n 5 "$AG_DIR/abrmd.log")"
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner "string:$AG_TABRMD_NAME" | grep -q 'boolean true'
}

ag_wait_tpm_port() {   # true once swtpm accepts connections (5 s at most)
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$AG_TPM_PID" 2>/dev/null || return 1
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
            "$AG_TPM_PORT" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# ag_stop_tpm: the resource manager and the simulator go away (the bus stays).
ag_stop_tpm() {
    ag_kill "${AG_TABRMD_PID:-}"
    AG_TABRMD_PID=
    ag_kill "${AG_TPM_PID:-}"
    AG_TPM_PID=
}

# tpm2-pkcs11 token "agent" over swtpm, store in $AG_DIR/tpm2-store: token
# and PIN through the module itself (C_InitToken/C_InitPIN), an EC P-256 key
# "device" (id 01) generated in the TPM, its certificate written back.
# (The module initialises its own store: no tpm2_ptool, which needs a
# Python stack and one tpm2-tools process per step.)
ag_setup_tpm() {
    AG_MODULE=${TPM2_PKCS11_MODULE:-$(find /usr/lib -name libtpm2_pkcs11.so 2>/dev/null | head -n1)}
    [ -n "$AG_MODULE" ] && [ -f "$AG_MODULE" ] ||
        ag_skip "tpm2-pkcs11 is not installed (Debian package libtpm2-pkcs11-1; scripts/bootstrap installs it)"
    command -v swtpm >/dev/null ||
        ag_skip "swtpm is not installed (Debian package swtpm; scripts/bootstrap installs it)"
    command -v tpm2-abrmd >/dev/null && [ -n "$(find /usr/lib -name 'libtss2-tcti-tabrmd.so*' 2>/dev/null)" ] ||
        ag_skip "tpm2-abrmd is not installed (Debian packages tpm2-abrmd, libtss2-tcti-tabrmd0)"
    command -v dbus-daemon >/dev/null && command -v dbus-send >/dev/null ||
        ag_skip "dbus-daemon/dbus-send are not installed (Debian packages dbus-daemon, dbus-bin)"
    command -v pkcs11-tool >/dev/null || ag_skip "pkcs11-tool is not installed (Debian package opensc)"
    # pkcs11-tool runs without the ASan preload (ag_tool): this module is not
    # ours, and the preload finds a use-after-free in pkcs11-tool's own
    # public-key export (OpenSC 0.23, --read-object --type pubkey).
    mkdir -p "$AG_DIR/tpm2-store"
    export TPM2_PKCS11_STORE=$AG_DIR/tpm2-store
    # Sanitizer builds: no leak check in processes that load tpm2-pkcs11.
    # Debian's 1.9.0 leaks 66 bytes per ECDSA signature (an ASN.1 string
    # decoded in its C_Sign, seen under LeakSanitizer with full stacks); the
    # module is unloaded before the report, so it cannot be suppressed by
    # name. Our code's leaks stay checked on the other two tokens.
    [ -z "${AGENT_ASAN_RUNTIME:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
    ag_start_tpm
    AG_TOKEN=agent
    pkcs11-tool --module "$AG_MODULE" --init-token --label "$AG_TOKEN" --so-pin "$AG_SO_PIN" \
        >"$AG_DIR/init.log" 2>&1 || ag_fail "init-token failed: $(cat "$AG_DIR/init.log")"
    pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --init-pin --so-pin "$AG_SO_PIN" \
        --pin "$AG_PIN" >>"$AG_DIR/init.log" 2>&1 || ag_fail "init-pin failed: $(cat "$AG_DIR/init.log")"
    pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --keypairgen --key-type EC:prime256v1 --label device --id 01 \
        >"$AG_DIR/keygen.log" 2>&1 || ag_fail "keypairgen failed: $(cat "$AG_DIR/keygen.log")"
    # The certificate straight from the public key: an engine-signed CSR
    # would put tpm2-pkcs11 (its TSS uses libcrypto) under libp11's engine in
    # one openssl process, where the TSS's session key generation fails.
    pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --read-object \
        --type pubkey --id 01 -o "$AG_DIR/device-pub.der" >"$AG_DIR/pub.log" 2>&1 ||
        ag_fail "reading the public key failed: $(cat "$AG_DIR/pub.log")"
    openssl pkey -pubin -inform der -in "$AG_DIR/device-pub.der" -out "$AG_DIR/device-pub.pem" ||
        ag_fail "the token's public key is not a DER SubjectPublicKeyInfo"
    openssl x509 -new -subj /CN=device-001 -force_pubkey "$AG_DIR/device-pub.pem" \
        -CA "$AG_DIR/ca.pem" -CAkey "$AG_DIR/ca.key" -CAcreateserial -days 2 \
        -out "$AG_DIR/device.pem" 2>"$AG_DIR/x509.log" ||
        ag_fail "issuing the device certificate failed: $(cat "$AG_DIR/x509.log")"
    openssl x509 -in "$AG_DIR/device.pem" -outform der -out "$AG_DIR/device.der"
    pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
        --write-object "$AG_DIR/device.der" --type cert --label device --id 01 \
        >"$AG_DIR/write.log" 2>&1 || ag_fail "writing the certificate failed: $(cat "$AG_DIR/write.log")"
}

# ag_setup_token softhsm|emu|tpm
ag_setup_token() {
    case "$1" in
    softhsm) ag_setup_softhsm ;;
    emu) ag_setup_emu ;;
    tpm) ag_setup_tpm ;;
    *) ag_fail "unknown token kind $1" ;;
    esac
}

# ---- agent -----------------------------------------------------------------

# ag_write_config [CA_FILE]: $AG_DIR/agent.json for this test's token/broker.
# Optional knobs: AG_MQTT_VERSION ("5"), AG_HEARTBEAT (s, default 1),
# AG_KEEPALIVE (broker.keepalive in s, default 5),
# AG_TELEMETRY_EXTRA (JSON members ending in ","), AG_KEY_URI, AG_CERT_URI,
# AG_CONFIG_MODULE (identity.module), AG_PIN_IN_FILE (the PIN written),
# AG_CONFIG_EXTRA (top-level members, each starting with a newline and
# ending in ",": e.g. a "rotation" section).
ag_write_config() {
    local ca=${1:-$AG_DIR/ca.pem} mqtt=""
    [ -z "${AG_MQTT_VERSION:-}" ] || mqtt=" \"mqtt_version\": \"$AG_MQTT_VERSION\","
    printf '%s\n' "${AG_PIN_IN_FILE:-$AG_PIN}" >"$AG_DIR/pin"
    chmod 600 "$AG_DIR/pin"
    cat >"$AG_DIR/agent.json" <<CONF
{
  "device_id": "device-001",
  "log_level": "debug",
  "identity": {
    "module": "${AG_CONFIG_MODULE:-$AG_MODULE}",
    "key": "${AG_KEY_URI:-pkcs11:token=$AG_TOKEN;object=device;type=private}",
    "certificate": "${AG_CERT_URI:-pkcs11:token=$AG_TOKEN;object=device;type=cert}",
    "pin_file": "$AG_DIR/pin"
  },
  "broker": {
    "host": "127.0.0.1",
    "port": $AG_PORT,
    "ca_file": "$ca",$mqtt
    "keepalive": ${AG_KEEPALIVE:-5}
  },
  "reconnect": { "initial": 0.2, "maximum": ${AG_MAX_BACKOFF:-2}, "jitter": "full", "stable_reset": 30 },
  "control": { "path": "$AG_DIR/control.sock", "mode": "0660" },
  "state_dir": "${AG_STATE_DIR:-$AG_DIR/state}",${AG_CONFIG_EXTRA:-}
  "telemetry": { ${AG_TELEMETRY_EXTRA:-}"heartbeat_interval": ${AG_HEARTBEAT:-1}, "topic_prefix": "trustlink/{device_id}" }
}
CONF
}

ag_start_notify_listener() {
    python3 "$AG_TOOLS" notify-listen "$AG_DIR/notify.sock" "$AG_DIR/notify.log" &
    AG_NOTIFY_PID=$!
    ag_wait_for 10 "notify listener" grep -q LISTENING "$AG_DIR/notify.log"
}

# AG_WATCHDOG_USEC set: started as systemd would with WatchdogSec
# (WATCHDOG_USEC, and WATCHDOG_PID naming trustlinkd's own pid).
ag_start_agent() {
    local env=()
    [ -z "$AG_NOTIFY_PID" ] || env=(NOTIFY_SOCKET="$AG_DIR/notify.sock")
    if [ -n "${AG_WATCHDOG_USEC:-}" ]; then
        env "${env[@]}" WATCHDOG_USEC="$AG_WATCHDOG_USEC" \
            bash -c 'export WATCHDOG_PID=$$; exec "$@"' trustlinkd \
            "$TRUSTLINKD" --config "$AG_DIR/agent.json" >>"$AG_DIR/agent.log" 2>&1 &
    else
        env "${env[@]}" "$TRUSTLINKD" --config "$AG_DIR/agent.json" >>"$AG_DIR/agent.log" 2>&1 &
    fi
    AG_AGENT_PID=$!
    ag_wait_for "$AG_WAIT" "control socket $AG_DIR/control.sock" ag_agent_up
}

ag_agent_up() {
    kill -0 "$AG_AGENT_PID" 2>/dev/null || ag_fail "trustlinkd exited early"
    test -S "$AG_DIR/control.sock"
}

# ag_control JSON: the reply line.
ag_control() {
    python3 "$AG_TOOLS" control "$AG_DIR/control.sock" "$1"
}

# ag_status_field PYTHON_EXPR: evaluates against the status reply "s".
ag_status_field() {
    ag_control '{"cmd":"status"}' | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

ag_state_is() {
    [ "$(ag_status_field 's["state"]')" = "$1" ]
}

ag_wait_state() {   # ag_wait_state STATE [SECONDS]
    ag_wait_for "${2:-$AG_WAIT}" "agent state $1" ag_state_is "$1"
}

# ag_status_true PYTHON_EXPR: true when the expression over the status
# reply "s" holds (for ag_wait_for).
ag_status_true() {
    ag_control '{"cmd":"status"}' |
        python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}

# ag_wait_status SECONDS DESCRIPTION PYTHON_EXPR
ag_wait_status() {
    ag_wait_for "$1" "$2" ag_status_true "$3"
}

# ---- emulated targets (cross builds) ---------------------------------------

# ag_emulate_targets VAR...: when TRUSTLINK_TEST_EMULATOR is set (a cross
# build: e.g. "qemu-arm-static -L /"), each VAR that names one of our
# executables is pointed at a wrapper in $AG_DIR/bin that execs it under the
# emulator (same pid: signals reach the emulated program), so the rest of
# this library starts them as usual. The kernel cannot run them itself (no
# binfmt_misc); libraries (the PKCS#11 module) are loaded inside them.
ag_emulate_targets() {
    local var target
    [ -n "${TRUSTLINK_TEST_EMULATOR:-}" ] || return 0
    mkdir -p "$AG_DIR/bin"
    for var in "$@"; do
        target=${!var:-}
        [ -x "$target" ] || ag_fail "$var must name an executable"
        printf '#!/bin/sh\nexec %s %q "$@"\n' "$TRUSTLINK_TEST_EMULATOR" "$target" \
            >"$AG_DIR/bin/$(basename "$target")"
        chmod 755 "$AG_DIR/bin/$(basename "$target")"
        printf -v "$var" '%s' "$AG_DIR/bin/$(basename "$target")"
    done
}
