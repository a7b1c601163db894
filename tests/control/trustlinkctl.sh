#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# trustlinkctl against control_fake_agent (the real control server with
# canned handlers): every command, --json, exit codes, and the messages
# for an agent that is not running, a stale socket and a wedged agent.
# Usage: trustlinkctl.sh TRUSTLINKCTL FAKE_AGENT
set -euo pipefail

ctl=$1
fake=$2
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run NAME EXPECTED_EXIT CMD...: output in $tmp/out and $tmp/err
run() {
    local name=$1 want=$2 rc=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, expected $want"
        sed 's/^/  stdout: /' "$tmp/out" >&2
        sed 's/^/  stderr: /' "$tmp/err" >&2
        return 0
    fi
    echo "ok: $name (exit $rc)"
}
expect_in() { # FILE TEXT NAME
    grep -qF -- "$2" "$1" || { fail "$3: \"$2\" not in $(basename "$1"):"; sed 's/^/  /' "$1" >&2; }
}

start_fake() { # SOCKET [ARGS...]; output in $tmp/fake-NAME.out
    local sock=$1 log
    shift
    log=$tmp/fake-$(basename "$sock" .sock).out
    "$fake" --socket "$sock" "$@" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do
        grep -q ready "$log" 2>/dev/null && return 0
        sleep 0.05
    done
    cat "$log" >&2
    echo "fake agent did not start" >&2
    exit 1
}

# ---- usage -------------------------------------------------------------
run "--help" 0 "$ctl" --help
for text in "Exit status:" "publish TOPIC PAYLOAD" "TRUSTLINK_CONTROL_SOCKET" \
            "3  the agent could not be reached" "/run/trustlink/control.sock"; do
    expect_in "$tmp/out" "$text" "--help"
done
run "--version" 0 "$ctl" --version
expect_in "$tmp/out" "trustlinkctl " "--version"
run "no command" 2 "$ctl"
run "unknown command" 2 "$ctl" launch
expect_in "$tmp/err" 'unknown command "launch"' "unknown command"
run "publish without payload" 2 "$ctl" publish topic
run "bad --qos" 2 "$ctl" publish t p --qos 3
run "bad --timeout" 2 "$ctl" --timeout 0 status
run "--retain on status" 2 "$ctl" --retain status
run "status with an argument" 2 "$ctl" status extra
run "unknown option" 2 "$ctl" --frobnicate status
# First enrollment commands: documented, and their usage errors.
run "--help (enrollment)" 0 "$ctl" --help
for text in "csr --subject SUBJECT" "install-cert FILE [--chain FILE]" "6  install-cert: the certificate was refused"; do
    expect_in "$tmp/out" "$text" "--help"
done
run "csr without --subject" 2 "$ctl" csr
expect_in "$tmp/err" "csr needs --subject" "csr without --subject"
run "csr with an argument" 2 "$ctl" csr --subject /CN=x extra
run "install-cert without a file" 2 "$ctl" install-cert
run "--chain on csr" 2 "$ctl" csr --subject /CN=x --chain c.pem
run "--subject on status" 2 "$ctl" --subject /CN=x status
run "csr with a bad subject" 5 "$ctl" --config "$tmp/none.json" csr --subject "/XX=1"
run "install-cert of a missing file" 5 "$ctl" --config "$tmp/none.json" install-cert "$tmp/none.pem"
expect_in "$tmp/err" "$tmp/none.pem" "install-cert of a missing file"

# ---- agent not running -------------------------------------------------
run "no socket" 3 "$ctl" --socket "$tmp/none.sock" status
expect_in "$tmp/err" "trustlinkd is not running" "no socket"
TRUSTLINK_CONTROL_SOCKET=$tmp/none.sock run "no socket via env" 3 "$ctl" status
expect_in "$tmp/err" "$tmp/none.sock" "no socket via env"

start_fake "$tmp/stale.sock"
kill -9 "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
[ -S "$tmp/stale.sock" ] || fail "kill -9 left no stale socket to test with"
run "stale socket" 3 "$ctl" --socket "$tmp/stale.sock" status
expect_in "$tmp/err" "the socket file is stale" "stale socket"

start_fake "$tmp/wedged.sock" --wedge
start=$(date +%s%N)
run "wedged agent" 3 "$ctl" --socket "$tmp/wedged.sock" --timeout 0.5 status
expect_in "$tmp/err" "did not answer in time" "wedged agent"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 10000 ] || fail "wedged agent: trustlinkctl took ${elapsed_ms} ms"

# ---- commands against the fake agent ------------------------------------
sock=$tmp/control.sock
record=$tmp/published
start_fake "$sock" --record "$record"
export TRUSTLINK_CONTROL_SOCKET=$sock

run "status" 0 "$ctl" status
for text in "State:" "waiting (next retry in 12 s, at 2026-01-01T00:00:00Z)" \
            "Device ID:" "Broker:" "broker.example:8883" "Client ID:" "dev-0123" \
            "Identity:" "URI:" "pkcs11:token=trustlink;object=device" "Module:" \
            "Certificate:" "Subject:" "CN=dev-0123" "Issuer:" "Serial:" "Not after:" \
            "2027-01-01T00:00:00Z" "SHA-256:" "AB:CD:EF" "Days left:" "400" \
            "Uptime:" "1d 2h 3m 4s" "Counters:" "Connects:" "Last error:" "Class:" \
            "Message:" "certificate verify failed" "Status topic:" "Backoff failures:"; do
    expect_in "$tmp/out" "$text" "status"
done
grep -q 'next_retry' "$tmp/out" && fail "status: retry details printed raw"
grep -q '"ok"' "$tmp/out" && fail "status: human output shows the raw envelope"

run "status --json" 0 "$ctl" --json status
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "status --json: not exactly one line"
expect_in "$tmp/out" '{"ok":true,' "status --json"
expect_in "$tmp/out" '"client_id":"dev-0123"' "status --json"
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is True and d["certificate"]["sha256"]=="AB:CD:EF"' "$tmp/out" ||
        fail "status --json: not the agent's JSON"
fi

run "--socket overrides env" 3 "$ctl" --socket "$tmp/none.sock" status

run "publish" 0 "$ctl" publish sensors/t '{"c":21.5}' --qos 1 --retain
expect_in "$tmp/out" "publish: accepted" "publish"
expect_in "$record" 'topic=sensors/t qos=1 retain=1 len=10 payload={"c":21.5}' "publish"

printf 'line1\nline2' | run "publish from stdin" 0 "$ctl" publish logs/tail -
expect_in "$record" "topic=logs/tail qos=0 retain=0 len=11 payload=line1" "publish from stdin"

run "publish refused" 1 "$ctl" publish fail x
expect_in "$tmp/err" "publish failed: offline queue full" "publish refused"
run "publish refused --json" 1 "$ctl" --json publish fail x
expect_in "$tmp/out" '{"ok":false,"error":"offline queue full"}' "publish refused --json"

run "reconnect" 0 "$ctl" reconnect
expect_in "$tmp/out" "reconnect: requested" "reconnect"
run "reconnect --json" 0 "$ctl" reconnect --json
expect_in "$tmp/out" '{"ok":true}' "reconnect --json"
run "rotate unsupported" 1 "$ctl" rotate
expect_in "$tmp/err" "rotate failed: rotate is not supported" "rotate unsupported"

# A payload over the agent's line limit: the agent's error, not a hang.
head -c 70000 /dev/zero | tr '\0' 'x' >"$tmp/big"
run "publish over the line limit" 1 "$ctl" publish big - <"$tmp/big"
expect_in "$tmp/err" "longer than 65536 bytes" "publish over the line limit"

# ---- check ---------------------------------------------------------------
run "check with a missing config" 4 "$ctl" check --config "$tmp/missing.json"

# The server side ended cleanly (in the sanitizer build: no report).
main_pid=${pids[-1]}
kill -TERM "$main_pid"
rc=0
wait "$main_pid" || rc=$?
[ "$rc" -eq 0 ] || { fail "fake agent exited $rc"; cat "$tmp/fake-control.out" >&2; }
grep -E "Sanitizer|runtime error" "$tmp"/fake-*.out >&2 && fail "sanitizer report from the fake agent"
[ -e "$sock" ] && fail "the control socket file was left behind"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "all trustlinkctl tests passed"
