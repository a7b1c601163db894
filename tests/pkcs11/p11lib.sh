# SPDX-License-Identifier: Apache-2.0
# Helpers for the provider's integration tests (sourced, never run): the
# real tools (pkcs11-tool, p11tool, openssl with libp11's engine, p11-kit)
# load libtrustlink-pkcs11.so against this test's own atecc608-emu daemon.
# Builds on tests/integration/lib.sh (temp dir, daemon, cleanup trap).
#
# CTest passes, besides lib.sh's variables:
#   TRUSTLINK_PKCS11_MODULE  path of libtrustlink-pkcs11.so
#   P11_ASAN_RUNTIME         libasan.so when the module is built with ASan
#                            (uninstrumented tools must preload it), else empty
#   P11_KIT_CLIENT           path of p11-kit-client.so
#   OPENSSL_ENGINES_DIR      directory holding libp11's pkcs11.so engine

P11_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
. "$P11_HERE/../integration/lib.sh"

P11_LABEL=trustlink
P11_SO_PIN=87654321
P11_PIN=1234
P11_TIMEOUT=${P11_TIMEOUT:-120}

p11_need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || tl_fail "'$c' is not installed (see scripts/bootstrap)"
    done
}

# p11_init [DAEMON OPTIONS...]: temp dir, daemon at a small time scale
# ($P11_TIME_SCALE, default 0.01),
# pkcs11.json and token store of this test. Nothing is initialised yet.
p11_init() {
    tl_need TRUSTLINK_PKCS11_MODULE
    p11_need_cmd pkcs11-tool openssl timeout
    tl_init
    tl_start_emu --time-scale "${P11_TIME_SCALE:-0.01}" "$@"
    P11_MODULE=$TRUSTLINK_PKCS11_MODULE
    cat >"$TL_DIR/pkcs11.json" <<JSON
{
  "tokens": [
    {
      "label": "$P11_LABEL",
      "interface": "$(tl_emu_iface)",
      "key_slots": [0],
      "free_slots": [2, 3, 4],
      "store": "$TL_DIR/store"
    }
  ],
  "log_level": "warning",
  "lock_dir": "$TL_DIR",
  "pin_kdf_iterations": 1000
}
JSON
    export TRUSTLINK_PKCS11_CONF=$TL_DIR/pkcs11.json
}

# p11_run OUT ERR CMD...: runs a third-party tool (bounded in time) with the
# ASan runtime preloaded when the module needs it (integration-facts.md 6;
# their own leaks at exit are not ours: detect_leaks=0). Exit status in
# P11_RC; never fails by itself.
p11_run() {
    local out=$1 err=$2
    shift 2
    P11_RC=0
    if [ -n "${P11_ASAN_RUNTIME:-}" ]; then
        LD_PRELOAD="$P11_ASAN_RUNTIME${LD_PRELOAD:+ $LD_PRELOAD}" \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
            timeout --kill-after=5 "$P11_TIMEOUT" "$@" >"$out" 2>"$err" || P11_RC=$?
    else
        timeout --kill-after=5 "$P11_TIMEOUT" "$@" >"$out" 2>"$err" || P11_RC=$?
    fi
}

# p11_ok WHAT CMD...: the command must exit 0; its stdout is printed.
p11_ok() {
    local what=$1
    shift
    p11_run "$TL_DIR/cmd.out" "$TL_DIR/cmd.err" "$@"
    if [ "$P11_RC" -ne 0 ]; then
        tl_fail "$what: '$*' exited $P11_RC
---- stdout ----
$(tail -n 30 "$TL_DIR/cmd.out")
---- stderr ----
$(tail -n 30 "$TL_DIR/cmd.err")"
    fi
    cat "$TL_DIR/cmd.out"
}

# p11_ok_all WHAT CMD...: like p11_ok, printing stdout then stderr (for
# tools that report on stderr, like p11tool --test-sign).
p11_ok_all() {
    p11_ok "$@"
    cat "$TL_DIR/cmd.err"
}

# p11_tool WHAT ARGS...: pkcs11-tool on our module, must succeed.
p11_tool() {
    local what=$1
    shift
    p11_ok "$what" pkcs11-tool --module "$P11_MODULE" "$@"
}

# SO PIN, label and user PIN, as a user would set them up.
p11_init_token() {
    p11_tool "init token" --init-token --label "$P11_LABEL" --so-pin "$P11_SO_PIN" >/dev/null
    p11_tool "init pin" --login --login-type so --so-pin "$P11_SO_PIN" --init-pin --pin "$P11_PIN" >/dev/null
}

# p11_pubkey_pem LABEL OUT: the token's public key object as PEM, built
# from CKA_EC_POINT as pkcs11-tool -O prints it. (pkcs11-tool 0.23's
# --read-object --type pubkey has a use-after-free of its own, which the
# sanitizer pass would report.)
p11_pubkey_pem() {
    local point
    # -O lists every public key; take the EC_POINT of the one labelled $1.
    point=$(p11_tool "-O public keys" -O --type pubkey |
            awk -v want="$1" '/^ *EC_POINT:/ { p = $2 } /^ *label:/ { if ($2 == want && p != "") { print p; exit } }')
    point=${point#0441}
    [ "${#point}" -eq 130 ] && [ "${point:0:2}" = 04 ] ||
        tl_fail "no uncompressed P-256 EC_POINT for public key '$1' (got '$point')"
    # SubjectPublicKeyInfo: id-ecPublicKey, prime256v1, BIT STRING 04||X||Y.
    p11_hex_to_bin "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" "$TL_DIR/pub.der"
    openssl pkey -pubin -inform DER -in "$TL_DIR/pub.der" -out "$2" 2>"$TL_DIR/pkey.err" ||
        tl_fail "openssl cannot read the public key '$1' from the token: $(cat "$TL_DIR/pkey.err")"
}

# p11_skip_p11kit_under_asan: libp11-kit 0.24.1 deadlocks on glibc's
# locale lock (freelocale in its destructor, newlocale in p11-kit-remote)
# when the ASan runtime is preloaded, with any module (SoftHSM too). The
# ASan-built module cannot load without that runtime, so tools built on
# p11-kit (p11tool, p11-kit) run in the normal build only.
p11_skip_p11kit_under_asan() {
    if [ -n "${P11_ASAN_RUNTIME:-}" ]; then
        tl_note "SKIP: p11-kit based tools hang with libasan preloaded (reproduced with SoftHSM)"
        exit 77
    fi
}

# p11_hex_to_bin HEX OUT
p11_hex_to_bin() {
    local hex=$1 esc="" i
    for ((i = 0; i < ${#hex}; i += 2)); do
        esc+="\\x${hex:i:2}"
    done
    printf '%b' "$esc" >"$2"
}

# p11_rs_to_der RAW DER: a raw 64-byte R||S signature as DER ECDSA-Sig-Value.
p11_rs_to_der() {
    local hex
    hex=$(od -An -v -tx1 "$1" | tr -d ' \n')
    [ "${#hex}" -eq 128 ] || tl_fail "raw signature $1 has ${#hex} hex digits, expected 128"
    printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64:64}" \
        >"$TL_DIR/sig.asn1"
    openssl asn1parse -genconf "$TL_DIR/sig.asn1" -out "$2" -noout >/dev/null ||
        tl_fail "could not encode the signature as DER"
}

# p11_self_signed_der CN OUT: a throwaway certificate (software key).
p11_self_signed_der() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TL_DIR/$1.key" \
        -subj "/CN=$1" -days 2 -outform DER -out "$2" 2>"$TL_DIR/req.err" ||
        tl_fail "openssl req -x509 failed: $(cat "$TL_DIR/req.err")"
}

# p11_openssl_conf OUT: openssl.cnf loading libp11's engine with our module
# (the section the README documents).
p11_openssl_conf() {
    local engines=${OPENSSL_ENGINES_DIR:-}
    if [ -z "$engines" ]; then
        engines=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
    fi
    [ -f "$engines/pkcs11.so" ] || tl_fail "libp11's engine not found at $engines/pkcs11.so (package libengine-pkcs11-openssl)"
    cat >"$1" <<CNF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
pkcs11 = pkcs11_section

[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engines/pkcs11.so
MODULE_PATH = $P11_MODULE
init = 0
CNF
}
