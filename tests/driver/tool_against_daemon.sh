#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# atecc608-tool against a running atecc608-emu daemon, as a user would run
# it: info, pubkey/sign/verify with OpenSSL cross-checks, error exit codes,
# and two processes signing at once (the inter-process bus lock).
# Usage: tool_against_daemon.sh TOOL EMU
set -eu
TOOL=$1
EMU=$2
DIR=$(mktemp -d /tmp/atecc-tooltest-XXXXXX)
EMU_PID=
cleanup() {
    if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$EMU" --socket "$DIR/emu.sock" --time-scale 0.01 2>"$DIR/emu.log" &
EMU_PID=$!
i=0
while [ ! -S "$DIR/emu.sock" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "emulator did not start: $(cat "$DIR/emu.log")"
    sleep 0.05
done
export ATECC608_INTERFACE="emu:$DIR/emu.sock"
mkdir -m 0770 "$DIR/lock"

"$TOOL" --lock-dir "$DIR/lock" --help | grep -q "EXIT STATUS" || fail "--help lacks EXIT STATUS"
"$TOOL" --lock-dir "$DIR/lock" info | grep -q "model          ATECC608B" || fail "info"
"$TOOL" --lock-dir "$DIR/lock" serial | grep -Eq '^0123[0-9a-f]{14}$' || fail "serial"
"$TOOL" --lock-dir "$DIR/lock" config | grep -q "slot 15" || fail "config"
"$TOOL" --lock-dir "$DIR/lock" pubkey 0 > "$DIR/pub.pem"
printf 'hello' > "$DIR/msg"
D=$(openssl dgst -sha256 -r "$DIR/msg" | cut -c1-64)
"$TOOL" --lock-dir "$DIR/lock" sign 0 "$D" --out "$DIR/sig"
openssl dgst -sha256 -verify "$DIR/pub.pem" -signature "$DIR/sig" "$DIR/msg" >/dev/null || fail "openssl rejects the chip signature"
"$TOOL" --lock-dir "$DIR/lock" verify 0 "$D" "$DIR/sig" >/dev/null || fail "on-chip verify rejects a good signature"
"$TOOL" --lock-dir "$DIR/lock" verify --pubkey "$DIR/pub.pem" "$D" "$DIR/sig" >/dev/null || fail "verify --pubkey"
set +e
"$TOOL" --lock-dir "$DIR/lock" verify 0 0000000000000000000000000000000000000000000000000000000000000000 "$DIR/sig" >/dev/null
[ $? -eq 1 ] || fail "invalid signature must exit 1"
"$TOOL" --lock-dir "$DIR/lock" read data 0 2>/dev/null
[ $? -eq 5 ] || fail "secret slot read must exit 5"
"$TOOL" --lock-dir "$DIR/lock" lock slot 2 2>/dev/null
[ $? -eq 2 ] || fail "lock without --yes must exit 2"
"$TOOL" --lock-dir "$DIR/lock" --interface "emu:$DIR/emu.sock@0x36" info 2>"$DIR/err"
[ $? -eq 3 ] || fail "wrong address must exit 3"
grep -q "no ATECC608 answered at emu:$DIR/emu.sock@0x36" "$DIR/err" || fail "no-device message: $(cat "$DIR/err")"
"$TOOL" --lock-dir "$DIR/lock" --interface "i2c:/dev/i2c-1" info 2>"$DIR/err"
[ $? -eq 3 ] || fail "bad interface must exit 3"
grep -q "has no '@ADDRESS'" "$DIR/err" || fail "interface message"
set -e
"$TOOL" --lock-dir "$DIR/lock" genkey 3 > "$DIR/k3.pem"
"$TOOL" --lock-dir "$DIR/lock" pubkey 3 | cmp -s - "$DIR/k3.pem" || fail "genkey and pubkey disagree"

# Two processes signing at once: every signature must verify.
signer() {
    n=0
    while [ $n -lt 15 ]; do
        printf 'msg %s %s' "$1" "$n" > "$DIR/m$1"
        d=$(openssl dgst -sha256 -r "$DIR/m$1" | cut -c1-64)
        "$TOOL" --lock-dir "$DIR/lock" sign 0 "$d" --out "$DIR/s$1" || exit 1
        openssl dgst -sha256 -verify "$DIR/pub.pem" -signature "$DIR/s$1" "$DIR/m$1" >/dev/null || exit 2
        n=$((n + 1))
    done
}
signer a & PA=$!
signer b & PB=$!
wait $PA || fail "signer a"
wait $PB || fail "signer b"
# The bus lock refuses a directory any user may write, and names it.
mkdir -m 0777 "$DIR/open"
chmod 0777 "$DIR/open"
set +e
out=$("$TOOL" --lock-dir "$DIR/open" random 2>&1); rc=$?
set -e
[ $rc -eq 3 ] || fail "world-writable lock dir: exit $rc, expected 3 ($out)"
echo "$out" | grep -q "$DIR/open.*world-writable" || fail "world-writable lock dir: unclear error: $out"
echo "tool against daemon: all checks passed"
