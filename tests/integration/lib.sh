# SPDX-License-Identifier: Apache-2.0
# Helpers for the integration tests: sourced, never run. Each test gets its
# own temp dir, its own atecc608-emu daemon on a socket in that dir, and a
# trap that stops the daemon and removes the dir however the test ends.
#
# CTest passes the binaries in the environment:
#   ATECC608_EMU    path of atecc608-emu
#   ATECC608_TOOL   path of atecc608-tool
#   I2C_EMU_SHIM    path of libi2c_emu_shim.so (tests/shim, test-only)
#
# Every wait is bounded; a failure prints what was expected and what came.

set -euo pipefail

TL_START_TIMEOUT=${TL_START_TIMEOUT:-10}   # seconds for the daemon to listen
TL_TOOL_TIMEOUT=${TL_TOOL_TIMEOUT:-60}     # seconds for one tool run
TL_NAME=$(basename "$0" .sh)

tl_fail() {
    echo "FAIL [$TL_NAME]: $*" >&2
    exit 1
}

tl_note() {
    echo "[$TL_NAME] $*" >&2
}

# tl_expect_eq WHAT EXPECTED GOT
tl_expect_eq() {
    if [ "$2" != "$3" ]; then
        tl_fail "$1: expected '$2', got '$3'"
    fi
}

# tl_expect_match WHAT EXTENDED-REGEX TEXT  (case-insensitive)
tl_expect_match() {
    if ! grep -Eqi -- "$2" <<<"$3"; then
        tl_fail "$1: expected output matching /$2/, got:
$3"
    fi
}

tl_need() {
    local var
    for var in "$@"; do
        if [ -z "${!var:-}" ] || [ ! -e "${!var}" ]; then
            tl_fail "environment variable $var must name an existing file (got '${!var:-}')"
        fi
    done
}

# Sets up TL_DIR, TL_SOCK, TL_STATE and the cleanup trap.
tl_init() {
    tl_need ATECC608_EMU ATECC608_TOOL
    TL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/trustlink-it-XXXXXX")
    TL_SOCK=$TL_DIR/emu.sock
    TL_STATE=$TL_DIR/chip.state
    TL_EMU_PID=
    TL_EMU_STARTS=0
    TL_EMU_LOG=
    trap tl_cleanup EXIT
    trap 'exit 130' INT TERM
    # The driver's inter-process bus lock files stay inside the test
    # (tl_tool passes --lock-dir "$TL_DIR"; p11lib.sh writes lock_dir).
    # Sanitizer builds: programs run with the shim preloaded must not
    # insist on the ASan runtime coming first (integration-facts.md 6).
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}

tl_cleanup() {
    local rc=$?
    tl_stop_emu || true
    if [ "$rc" -ne 0 ] && [ -s "${TL_EMU_LOG:-/nonexistent}" ]; then
        echo "---- atecc608-emu log ----" >&2
        tail -n 40 "$TL_EMU_LOG" >&2 || true
    fi
    if [ -n "${TL_DIR:-}" ] && [ -d "$TL_DIR" ]; then
        rm -rf -- "$TL_DIR"
    fi
    exit "$rc"
}

# tl_start_emu [DAEMON OPTIONS...]
# Starts atecc608-emu on TL_SOCK with state TL_STATE, the Trust&GO profile
# and time scale 0 unless the options say otherwise, and waits until it
# prints "atecc608-emu: listening on". Each start logs to its own file.
# shellcheck disable=SC2120 # options are optional
tl_start_emu() {
    local args=(--socket "$TL_SOCK" --state "$TL_STATE")
    local waited=0 status=0
    case " $* " in *" --profile "*) ;; *) args+=(--profile trustandgo) ;; esac
    case " $* " in *" --time-scale "*) ;; *) args+=(--time-scale 0) ;; esac
    [ -z "$TL_EMU_PID" ] || tl_fail "tl_start_emu: a daemon is already running"
    TL_EMU_STARTS=$((TL_EMU_STARTS + 1))
    TL_EMU_LOG=$TL_DIR/emu.$TL_EMU_STARTS.log
    "$ATECC608_EMU" "${args[@]}" "$@" 2>"$TL_EMU_LOG" &
    TL_EMU_PID=$!
    while [ "$waited" -lt $((TL_START_TIMEOUT * 10)) ]; do    # deciseconds
        if grep -q 'atecc608-emu: listening on' "$TL_EMU_LOG"; then
            return 0
        fi
        if ! kill -0 "$TL_EMU_PID" 2>/dev/null; then
            wait "$TL_EMU_PID" || status=$?
            TL_EMU_PID=
            tl_fail "atecc608-emu ${args[*]} $* exited (status $status) before listening; it said:
$(cat "$TL_EMU_LOG")"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    tl_fail "atecc608-emu did not print 'listening on' within ${TL_START_TIMEOUT}s; it said:
$(cat "$TL_EMU_LOG")"
}

# Stops the daemon: SIGTERM, then SIGKILL after 5 s.
tl_stop_emu() {
    local waited=0
    [ -n "${TL_EMU_PID:-}" ] || return 0
    kill -TERM "$TL_EMU_PID" 2>/dev/null || true
    while kill -0 "$TL_EMU_PID" 2>/dev/null && [ "$waited" -lt 50 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$TL_EMU_PID" 2>/dev/null || true
    wait "$TL_EMU_PID" 2>/dev/null || true
    TL_EMU_PID=
}

# tl_tool ARGS...: atecc608-tool, bounded in time; stdout/stderr as is.
tl_tool() {
    timeout --kill-after=5 "$TL_TOOL_TIMEOUT" "$ATECC608_TOOL" --lock-dir "$TL_DIR" "$@"
}

# tl_run OUT ERR ARGS...: runs the tool; leaves stdout in OUT, stderr in
# ERR, and the exit status in TL_RC (never fails by itself).
tl_run() {
    local out=$1 err=$2
    shift 2
    TL_RC=0
    tl_tool "$@" >"$out" 2>"$err" || TL_RC=$?
}

# tl_ok WHAT ARGS...: runs the tool, fails the test unless it exits 0,
# prints its stdout.
tl_ok() {
    local what=$1
    shift
    tl_run "$TL_DIR/ok.out" "$TL_DIR/ok.err" "$@"
    if [ "$TL_RC" -ne 0 ]; then
        tl_fail "$what: atecc608-tool $* exited $TL_RC; stderr:
$(cat "$TL_DIR/ok.err")"
    fi
    cat "$TL_DIR/ok.out"
}

# tl_sha256_hex FILE: the SHA-256 of FILE as 64 lowercase hex digits.
tl_sha256_hex() {
    openssl dgst -sha256 -binary "$1" | od -An -v -tx1 | tr -d ' \n'
}

# tl_emu_iface: the emu: interface string of this test's daemon.
tl_emu_iface() {
    echo "emu:$TL_SOCK"
}

# tl_pubkey_pem IFACE SLOT OUT: the slot's public key as PEM in OUT,
# checked to be a P-256 key OpenSSL can read.
tl_pubkey_pem() {
    local iface=$1 slot=$2 out=$3
    tl_run "$out" "$TL_DIR/pubkey.err" --interface "$iface" pubkey "$slot"
    if [ "$TL_RC" -ne 0 ]; then
        tl_fail "pubkey $slot over $iface exited $TL_RC; stderr:
$(cat "$TL_DIR/pubkey.err")"
    fi
    if ! openssl pkey -pubin -in "$out" -noout -text >"$TL_DIR/pubkey.txt" 2>&1; then
        tl_fail "pubkey $slot: openssl cannot read the PEM it printed:
$(cat "$out")
$(cat "$TL_DIR/pubkey.txt")"
    fi
    tl_expect_match "pubkey $slot curve" 'prime256v1|P-256' "$(cat "$TL_DIR/pubkey.txt")"
}

# tl_sign IFACE SLOT HEX_DIGEST OUT: DER signature of the digest in OUT.
tl_sign() {
    local iface=$1 slot=$2 hex=$3 out=$4
    tl_run "$TL_DIR/sign.out" "$TL_DIR/sign.err" --interface "$iface" sign "$slot" "$hex" --out "$out"
    if [ "$TL_RC" -ne 0 ]; then
        tl_fail "sign $slot over $iface exited $TL_RC; stderr:
$(cat "$TL_DIR/sign.err")"
    fi
    [ -s "$out" ] || tl_fail "sign $slot over $iface exited 0 but wrote no signature to $out"
}

# tl_verify_openssl PUB_PEM SIG_DER MESSAGE_FILE: both OpenSSL verifiers
# must accept the signature over SHA-256(MESSAGE_FILE).
tl_verify_openssl() {
    local pub=$1 sig=$2 msg=$3 out
    if ! out=$(openssl dgst -sha256 -verify "$pub" -signature "$sig" "$msg" 2>&1); then
        tl_fail "openssl dgst -verify rejected the chip's signature: $out"
    fi
    tl_expect_eq "openssl dgst -verify" "Verified OK" "$out"
    openssl dgst -sha256 -binary "$msg" >"$TL_DIR/verify.digest"
    if ! out=$(openssl pkeyutl -verify -pubin -inkey "$pub" -in "$TL_DIR/verify.digest" -sigfile "$sig" 2>&1); then
        tl_fail "openssl pkeyutl -verify rejected the chip's signature: $out"
    fi
    tl_expect_match "openssl pkeyutl -verify" 'Signature Verified Successfully' "$out"
}
