#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `status` is answered while the agent's loop thread is stuck in a chip
# operation. The test holds the chip's bus lock (a write lock on the bus
# byte of the driver's lock file, as another process using the chip holds
# it), then starts trustlinkd: its identity load and TLS signature wait for
# the lock (up to the driver's lock timeout). While the lock is held, status must
# answer (state "starting" or "connecting", not connected); once it is
# released the agent connects. No timing is asserted: the proof is that
# the reply arrives while the lock holder still runs.
. "$(dirname "$0")/lib.sh"

ag_init
ag_make_ca ca
ag_make_broker_cert
ag_start_broker
ag_setup_token emu
ag_write_config

lockfile=$(ls "$AG_DIR"/trustlink-atecc608-emu-*.lock 2>/dev/null | head -n1)
[ -n "$lockfile" ] || ag_fail "no bus lock file in $AG_DIR (the token setup should have made one)"
# One process holds the lock, so killing it releases the lock at once.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX, 1, 0)   # byte 0: the bus (drivers/atecc608/buslock.c)
print("held", flush=True)
time.sleep(120)' "$lockfile" >"$AG_DIR/holder.out" &
holder=$!
AG_PIDS+=("$holder")
ag_wait_for 10 "the bus lock held" grep -q held "$AG_DIR/holder.out"

"$TRUSTLINKD" --config "$AG_DIR/agent.json" >>"$AG_DIR/agent.log" 2>&1 &
AG_AGENT_PID=$!
ag_wait_for "$AG_WAIT" "control socket" ag_agent_up
reply=$(ag_control '{"cmd":"status"}') || ag_fail "no status reply while the chip is busy"
kill -0 "$holder" 2>/dev/null || ag_fail "the lock holder ended before the status reply came"
state=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$reply")
ag_note "status while the bus lock is held elsewhere: state $state"
case "$state" in
starting | connecting | waiting | identity-unavailable) ;;
*) ag_fail "unexpected state while the chip is unavailable: $reply" ;;
esac
grep -q '"status_age_ms"' <<<"$reply" || ag_fail "status lacks status_age_ms: $reply"
# A second request on the same busy loop is answered too.
ag_control '{"cmd":"status"}' >/dev/null || ag_fail "second status reply missing"
kill -0 "$holder" 2>/dev/null || ag_fail "the lock holder ended before the second reply"

ag_kill "$holder"
ag_wait_state connected
ag_note "connected once the bus lock was released"
