#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key rotation end to end: trustlinkd on a token (our module on
# atecc608-emu, or SoftHSMv2), a real mosquitto on 127.0.0.1 that requires
# client certificates, and trustlink-ca-responder issuing from the broker's
# CA. Usage: e2e_rotation.sh SCENARIO KIND
#   full      two rotations with messages published throughout: none lost,
#             one reconnect each, a key that did not exist before, the old
#             one gone from the token, nothing orphaned
#   failures  every responder failure mode (and a silent CA): the agent stays
#             connected with its old identity, the token is unchanged
#   crash     trustlinkd killed right after each step (or the steps named in a
#             third argument), restarted: connected
#             with a valid identity, completed from probe-ok on, rolled back
#             before; the token holds exactly one identity
#   journalfail  journal writes fail from probe-ok, switched or committed
#             on (EISDIR): the rotation stops where it is, the old key is
#             never retired before the journal records the commit, and a
#             crash + restart on the failing storage keeps a working identity
#   auto      automatic renewal of a short-lived certificate
#   aws       one rotation speaking AWS IoT's CreateCertificateFromCsr topics
#   awsfaithful  the responder as AWS IoT behaves (certificates pending until
#             RegisterThing): its rules over the wire; an agent rotation
#             without activation fails at the probe, one with it succeeds
#   awsreject, awsexpired, awslost, awscrash  AWS activation failure modes
#             (e2e_rotation_aws.sh)
#   keep      retire = keep-previous over four rotations (chip slots cycle)
#   chain     the CA issues from a new intermediate: the chain its answer
#             carried (not identity.chain_file) survives a restart
. "$(dirname "$0")/../agent/lib.sh"
scenario=${1:?usage: e2e_rotation.sh full|failures|crash|journalfail|auto|aws|awsfaithful|awsreject|awsexpired|awslost|awscrash|keep|chain softhsm|emu|tpm}
kind=${2:?usage: e2e_rotation.sh SCENARIO softhsm|emu|tpm}
crash_steps=${3:-}   # crash: the steps to crash after (default: all seven)
[ -x "${CA_RESPONDER:-}" ] || ag_fail "CA_RESPONDER must name trustlink-ca-responder"
[ "$scenario" != chain ] || [ -x "${TRUSTLINKCTL:-}" ] || ag_fail "TRUSTLINKCTL must name trustlinkctl"

ag_init
ag_make_ca ca
ag_make_broker_cert
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/responder.key" \
    -out "$AG_DIR/responder.csr" -subj /CN=ca-responder 2>/dev/null
ag_sign_csr ca "$AG_DIR/responder.csr" "$AG_DIR/responder.pem"
if [ "$scenario" != aws ] && [[ $scenario == aws* ]]; then
    # The faithful responder keeps the broker's CRL (pending certificates).
    ag_make_empty_crl ca "$AG_DIR/crl.pem"
    AG_BROKER_EXTRA="crlfile $AG_DIR/crl.pem"
fi
ag_start_broker
ag_setup_token "$kind"

RESP_PID=
start_responder() {   # start_responder ARGS...: issues from CA $RT_RESPONDER_CA (default "ca")
    : >"$AG_DIR/responder.log"
    local issuer=${RT_RESPONDER_CA:-ca}
    "$CA_RESPONDER" --port "$AG_PORT" --cafile "$AG_DIR/ca.pem" --cert "$AG_DIR/responder.pem" \
        --key "$AG_DIR/responder.key" --ca-cert "$AG_DIR/$issuer.pem" --ca-key "$AG_DIR/$issuer.key" \
        -v "$@" 2>>"$AG_DIR/responder.log" &
    RESP_PID=$!
    AG_PIDS+=("$RESP_PID")
    ag_wait_for 10 "responder subscribed" grep -q "subscribed to" "$AG_DIR/responder.log"
}
stop_responder() {
    [ -n "$RESP_PID" ] && ag_kill "$RESP_PID"
    RESP_PID=
}

# Every object on the token as "class label id", sorted.
token_objects() {
    ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" -O \
        2>/dev/null | awk '
        /^(Private Key|Public Key|Certificate) Object/ { if (c) print c, l, i; c=$1; l="-"; i="-" }
        /^Data object/ { if (c) print c, l, i; c="Data"; l="-"; i="-" }
        /^[ \t]*label:/ { sub(/^[ \t]*label:[ \t]*/, ""); l=$0 }
        /^[ \t]*ID:/ { i=$2 }
        END { if (c) print c, l, i }' | sort
}

# The token holds exactly one identity, labelled "device": private key,
# public key (SoftHSM and our module both keep one) and certificate with
# one CKA_ID; no temporary or orphaned object.
check_one_identity() {
    local objs ids
    objs=$(token_objects)
    ag_note "token: $(tr '\n' ';' <<<"$objs")"
    grep -q '\.next' <<<"$objs" && ag_fail "temporary objects left: $objs"
    [ "$(grep -c '^Private device ' <<<"$objs")" -eq 1 ] || ag_fail "want one private key 'device': $objs"
    [ "$(grep -c '^Certificate device ' <<<"$objs")" -eq 1 ] || ag_fail "want one certificate 'device': $objs"
    ids=$(grep ' device ' <<<"$objs" | awk '{print $3}' | sort -u | wc -l)
    [ "$ids" -eq 1 ] || ag_fail "objects labelled device carry $ids ids: $objs"
    [ "$(grep -c '^Private ' <<<"$objs")" -eq 1 ] || ag_fail "orphaned private key: $objs"
}

key_id() { token_objects | awk '$1 == "Private" && $2 == "device" {print $3}'; }
fingerprint() { ag_status_field 's["certificate"]["sha256"]'; }
connects() { ag_status_field 's["counters"]["connects"]'; }
rotation_field() { ag_status_field "s[\"rotation\"][\"$1\"]"; }

# The 2-day test certificates are always "due" under the default 30-day
# floor: automatic renewal stays off unless a scenario passes its settings.
rotation_config() {   # rotation_config [MEMBERS replacing the auto_renew/min_interval pair]
    AG_CONFIG_EXTRA="
  \"rotation\": { \"issuing_ca_file\": \"${RT_ISSUING:-$AG_DIR/ca.pem}\", \"state_dir\": \"$AG_DIR/state\",
                \"answer_timeout\": ${RT_TIMEOUT:-10}, \"max_attempts\": ${RT_ATTEMPTS:-2},
                ${1:-\"auto_renew\": false, \"min_interval\": 0} },"
    ag_write_config
}

rotate_and_wait() {   # rotate_and_wait EXPECTED_RESULT [SECONDS]
    local reply
    reply=$(ag_control '{"cmd":"rotate"}')
    grep -q '"ok": *true' <<<"$reply" || ag_fail "rotate refused: $reply"
    ag_wait_status "${2:-60}" "rotation result $1" \
        "s['rotation']['state'] == 'idle' and s['rotation']['last_result'] == '$1'"
}

# ---------------------------------------------------------------------------
scenario_full() {
    local pub_pid n=0 before_fp before_id before_connects after_fp after_id got want
    rotation_config
    ag_start_agent
    ag_wait_state connected
    start_responder --seconds 3600
    check_one_identity

    # A subscriber records every message; a publisher sends one every 50 ms.
    timeout 120 mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
        --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -q 1 \
        -t trustlink/device-001/seq >"$AG_DIR/received.txt" 2>/dev/null &
    AG_PIDS+=("$!")
    sleep 0.5
    (
        i=0
        while [ ! -e "$AG_DIR/stop" ]; do
            i=$((i + 1))
            r=$(python3 "$AG_TOOLS" control "$AG_DIR/control.sock" \
                "{\"cmd\":\"publish\",\"topic\":\"seq\",\"payload\":\"m$i\",\"qos\":1}" 2>/dev/null) || r=
            grep -q '"ok": *true' <<<"$r" && echo "m$i" >>"$AG_DIR/sent.txt"
            sleep 0.05
        done
    ) &
    pub_pid=$!
    AG_PIDS+=("$pub_pid")

    for round in 1 2; do
        before_fp=$(fingerprint)
        before_id=$(key_id)
        before_connects=$(connects)
        rotate_and_wait success
        ag_wait_state connected
        after_fp=$(fingerprint)
        after_id=$(key_id)
        ag_note "round $round: key $before_id -> $after_id, cert $before_fp -> $after_fp"
        [ "$after_fp" != "$before_fp" ] || ag_fail "certificate unchanged after rotation $round"
        [ -n "$after_id" ] && [ "$after_id" != "$before_id" ] || ag_fail "key id unchanged: $after_id"
        [ "$(rotation_field previous_sha256)" = "$before_fp" ] || ag_fail "previous fingerprint not reported"
        [ $(($(connects) - before_connects)) -le 1 ] || ag_fail "more than one reconnect in round $round"
        check_one_identity
        # The new certificate is for the new key: the token's public key
        # matches the certificate the agent presents.
        [ "$(rotation_field rotations)" -eq "$round" ] || ag_fail "rotations counter"
        [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "journal left after success"
    done
    grep -q 'csr' "$AG_DIR/responder.log" || ag_fail "the responder saw no request"
    # The heartbeat reports the rotation too.
    hb=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
        --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -t trustlink/device-001/heartbeat \
        -C 1 -W 5 2>/dev/null) || ag_fail "no heartbeat"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1])["rotation"]; sys.exit(0 if r["last_result"] == "success" and r["previous_sha256"] and r["current_sha256"] != r["previous_sha256"] else 1)' "$hb" ||
        ag_fail "heartbeat lacks the rotation fields: $hb"

    # Enough traffic to mean something, however fast the rotations were.
    ag_wait_for "$AG_WAIT" "20 messages published" \
        bash -c "[ \$(wc -l <'$AG_DIR/sent.txt') -ge 20 ]"
    touch "$AG_DIR/stop"
    wait "$pub_pid" 2>/dev/null || true
    n=$(wc -l <"$AG_DIR/sent.txt")
    [ "$n" -ge 20 ] || ag_fail "only $n messages were published during the test"
    want=$(sort -u "$AG_DIR/sent.txt")
    for _ in $(seq 1 100); do
        got=$(sort -u "$AG_DIR/received.txt")
        [ "$(comm -23 <(echo "$want") <(echo "$got") | wc -l)" -eq 0 ] && break
        sleep 0.1
    done
    missing=$(comm -23 <(echo "$want") <(echo "$got"))
    [ -z "$missing" ] || ag_fail "messages lost across the rotations: $(tr '\n' ' ' <<<"$missing")"
    ag_note "all $n messages published during two rotations arrived"

    # The agent restarted on the rotated token finds the new identity.
    fp=$(fingerprint)
    ag_kill "$AG_AGENT_PID"
    ag_start_agent
    ag_wait_state connected
    [ "$(fingerprint)" = "$fp" ] || ag_fail "after a restart the agent uses another certificate"
}

# ---------------------------------------------------------------------------
scenario_failures() {
    local before_objs before_fp mode
    # "issuer2" is trusted by the device as an issuing CA but not by the
    # broker: its certificates pass every device check and only the probe
    # connection can find out.
    ag_make_ca issuer2
    cat "$AG_DIR/ca.pem" "$AG_DIR/issuer2.pem" >"$AG_DIR/issuing.pem"
    RT_ISSUING=$AG_DIR/issuing.pem RT_TIMEOUT=2 RT_ATTEMPTS=2 rotation_config
    ag_start_agent
    ag_wait_state connected
    before_objs=$(token_objects)
    before_fp=$(fingerprint)
    for mode in reject garbage garbage-json other-key other-ca other-subject expired \
                broker-refuses delay silent; do
        stop_responder
        case "$mode" in
        silent) ;;   # nobody answers: timeouts, re-publication, give up
        broker-refuses) RT_RESPONDER_CA=issuer2 start_responder --seconds 3600 ;;
        # Each answer comes 2.5 s late: after its request timed out (2 s),
        # so it is ignored; the last one arrives after the rotation gave up.
        delay) start_responder --mode delay --delay-ms 2500 --seconds 3600 ;;
        *) start_responder --mode "$mode" --seconds 3600 ;;
        esac
        rotate_and_wait failed 30
        [ "$mode" != delay ] || sleep 1.5   # let the late answer arrive
        ag_note "$mode: $(rotation_field last_error)"
        [ "$mode" != other-subject ] || rotation_field last_error | grep -q 'other-device' ||
            ag_fail "other-subject: refused for another reason: $(rotation_field last_error)"
        ag_state_is connected || ag_fail "$mode: not connected after the failed rotation"
        [ "$(fingerprint)" = "$before_fp" ] || ag_fail "$mode: the certificate changed"
        [ "$(token_objects)" = "$before_objs" ] || ag_fail "$mode: token changed: $(token_objects)"
        [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "$mode: journal left after roll-back"
        # The refused key's saved chain goes with it (broker-refuses saved one).
        ! ls "$AG_DIR/state" | grep -q '^chain-' ||
            ag_fail "$mode: chain of a rolled-back key left: $(ls "$AG_DIR/state")"
    done
    [ "$(rotation_field failures)" -eq 10 ] || ag_fail "failures counter: $(rotation_field failures)"
    # One rotation at a time.
    reply=$(ag_control '{"cmd":"rotate"}')
    grep -q '"ok": *true' <<<"$reply" || ag_fail "rotate refused: $reply"
    reply=$(ag_control '{"cmd":"rotate"}')
    grep -q 'already in progress' <<<"$reply" || ag_fail "second rotate: $reply"
    ag_wait_status 30 "another silent rotation fails" "s['rotation']['failures'] == 11"
    [ "$(token_objects)" = "$before_objs" ] || ag_fail "token changed: $(token_objects)"
}

# ---------------------------------------------------------------------------
scenario_crash() {
    local step old_fp rc journal_slot
    need_test_hooks
    rotation_config
    start_responder --seconds 3600
    for step in ${crash_steps:-key-generated csr-published cert-received cert-stored probe-ok switched committed}; do
        ag_start_agent_crashing "$step"
        old_fp=$(fingerprint)
        rotate_until_crash "$step"
        # The journal names the slot of the token the new key is on.
        journal_slot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["slot_id"])' \
            "$AG_DIR/state/rotation.json") || ag_fail "$step: no journal after the crash"
        [ "$journal_slot" = "$(token_slot_id)" ] ||
            ag_fail "$step: journal slot_id $journal_slot, token in slot $(token_slot_id)"
        ag_start_agent
        ag_wait_state connected
        case "$step" in
        probe-ok | switched | committed)
            [ "$(fingerprint)" != "$old_fp" ] || ag_fail "$step: the rotation was not completed"
            [ "$(rotation_field last_result)" = completed-after-restart ] ||
                ag_fail "$step: result $(rotation_field last_result)" ;;
        *)
            [ "$(fingerprint)" = "$old_fp" ] || ag_fail "$step: the rotation was not rolled back"
            [ "$(rotation_field last_result)" = rolled-back-after-restart ] ||
                ag_fail "$step: result $(rotation_field last_result)" ;;
        esac
        recovered_then_stop "$step"
    done
}

recovered_then_stop() {   # recovered_then_stop STEP: no journal, one identity; stop the agent
    [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "$1: journal left after recovery"
    check_one_identity
    ag_note "$1: recovered ($(rotation_field last_result))"
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=
}

rotate_until_crash() {   # rotate_until_crash STEP: a rotation with the crash hook armed
    ag_control '{"cmd":"rotate"}' >/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$AG_AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$AG_AGENT_PID" 2>/dev/null && ag_fail "$1: trustlinkd did not crash"
    wait "$AG_AGENT_PID" 2>/dev/null || true
    AG_AGENT_PID=
}

ag_start_agent_crashing() {   # like ag_start_agent, with the crash hook
    rm -f "$AG_DIR/control.sock"
    TRUSTLINK_ROTATION_CRASH_AFTER=$1 "$TRUSTLINKD" --config "$AG_DIR/agent.json" \
        >>"$AG_DIR/agent.log" 2>&1 &
    AG_AGENT_PID=$!
    ag_wait_for "$AG_WAIT" "control socket" ag_agent_up
    ag_wait_state connected
}

ag_start_agent_stopping() {   # like ag_start_agent, with the stop hook (SIGSTOP after step $1)
    rm -f "$AG_DIR/control.sock"
    TRUSTLINK_ROTATION_STOP_AFTER=$1 "$TRUSTLINKD" --config "$AG_DIR/agent.json" \
        >>"$AG_DIR/agent.log" 2>&1 &
    AG_AGENT_PID=$!
    ag_wait_for "$AG_WAIT" "control socket" ag_agent_up
    ag_wait_state connected
}

agent_stopped() { ps -o stat= -p "$AG_AGENT_PID" 2>/dev/null | grep -q '^T'; }

token_slot_id() {   # PKCS#11 slot id (decimal) of the token labelled $AG_TOKEN
    ag_tool pkcs11-tool --module "$AG_MODULE" -L 2>/dev/null | python3 -c '
import re, sys
slot = None
for line in sys.stdin:
    m = re.match(r"Slot \d+ \((0x[0-9a-fA-F]+)\)", line)
    if m:
        slot = int(m.group(1), 16)
    m = re.match(r"\s*token label\s*:\s*(.*?)\s*$", line)
    if m and m.group(1) == sys.argv[1] and slot is not None:
        print(slot)
        break' "$AG_TOKEN"
}

need_test_hooks() {
    if [ "${TRUSTLINK_TEST_HOOKS:-}" != 1 ]; then
        echo "SKIP: trustlinkd was built without -DTRUSTLINK_TEST_HOOKS=ON (the crash/stop hooks this scenario drives)"
        exit 77
    fi
}

# ---------------------------------------------------------------------------
# Storage fails in the middle of a rotation: a directory named like the
# journal's temporary file makes every journal write fail (EISDIR, standing
# in for ENOSPC/EIO on an SD card). For each first failing step the agent
# is stopped right after the step before it, the directory is created, and
# the agent continues; then it is killed and restarted on the still failing
# storage. A working identity must remain every time.
scenario_journalfail() {
    local fails stop old_id old_fp new_fp objs type blocker=$AG_DIR/state/.rotation.json.tmp
    need_test_hooks
    rotation_config
    start_responder --seconds 3600
    for fails in probe-ok switched committed; do
        case "$fails" in
        probe-ok) stop=cert-stored ;;
        switched) stop=probe-ok ;;
        committed) stop=switched ;;
        esac
        ag_start_agent_stopping "$stop"
        old_id=$(key_id)
        old_fp=$(fingerprint)
        ag_control '{"cmd":"rotate"}' >/dev/null
        ag_wait_for 60 "trustlinkd stopped after $stop" agent_stopped
        mkdir "$blocker"
        kill -CONT "$AG_AGENT_PID"
        if [ "$fails" = probe-ok ]; then
            # Not proven on disk: rolled back live, the old identity stays.
            ag_wait_status 60 "rotation failed" \
                "s['rotation']['state'] == 'idle' and s['rotation']['last_result'] == 'failed'"
            [ "$(fingerprint)" = "$old_fp" ] || ag_fail "$fails: the agent left its old identity"
        else
            # The new identity is in use; the old key must stay on the token
            # until the journal records the commit.
            ag_wait_status 60 "commit pending" "s['rotation']['state'] == 'commit-pending'"
            ag_wait_state connected
            [ "$(fingerprint)" != "$old_fp" ] || ag_fail "$fails: not using the new identity"
            objs=$(token_objects)
            grep -q "^Private .* $old_id\$" <<<"$objs" ||
                ag_fail "$fails: the old key was retired while the journal could not say so: $objs"
        fi
        # Crash and restart on the still failing storage.
        kill -KILL "$AG_AGENT_PID"
        wait "$AG_AGENT_PID" 2>/dev/null || true
        AG_AGENT_PID=
        ag_start_agent
        ag_wait_state connected
        check_one_identity
        new_fp=$(fingerprint)
        if [ "$fails" = probe-ok ]; then
            [ "$(key_id)" = "$old_id" ] && [ "$new_fp" = "$old_fp" ] ||
                ag_fail "$fails: after the restart the identity changed"
        else
            [ "$(key_id)" != "$old_id" ] && [ "$new_fp" != "$old_fp" ] ||
                ag_fail "$fails: after the restart the rotation was not completed"
            [ "$(rotation_field last_result)" = completed-after-restart ] ||
                ag_fail "$fails: result $(rotation_field last_result)"
        fi
        ag_note "$fails: journal failing, crash + restart: working identity $(key_id)"
        rmdir "$blocker"
        ag_kill "$AG_AGENT_PID"
        AG_AGENT_PID=
    done
    # The storage recovers while the commit is pending: it completes alone.
    ag_start_agent_stopping switched
    old_id=$(key_id)
    ag_control '{"cmd":"rotate"}' >/dev/null
    ag_wait_for 60 "trustlinkd stopped after switched" agent_stopped
    mkdir "$blocker"
    kill -CONT "$AG_AGENT_PID"
    ag_wait_status 60 "commit pending" "s['rotation']['state'] == 'commit-pending'"
    rmdir "$blocker"
    ag_wait_status 60 "rotation success after the journal recovered" \
        "s['rotation']['state'] == 'idle' and s['rotation']['last_result'] == 'success'"
    [ "$(key_id)" != "$old_id" ] || ag_fail "pending commit: the key did not change"
    [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "pending commit: journal left"
    check_one_identity
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=

    # The token ran ahead of the journal (it says cert-stored, roll back,
    # but the old key is gone): recovery must keep the only key left.
    ag_start_agent_crashing cert-stored
    old_id=$(key_id)
    ag_control '{"cmd":"rotate"}' >/dev/null || true
    ag_wait_for 60 "trustlinkd crashed after cert-stored" sh -c "! kill -0 $AG_AGENT_PID 2>/dev/null"
    wait "$AG_AGENT_PID" 2>/dev/null || true
    AG_AGENT_PID=
    for type in privkey pubkey cert; do
        ag_tool pkcs11-tool --module "$AG_MODULE" --token-label "$AG_TOKEN" --login --pin "$AG_PIN" \
            --delete-object --type "$type" --id "$old_id" >/dev/null 2>&1 || true
    done
    objs=$(token_objects)
    grep -q " $old_id\$" <<<"$objs" && ag_fail "could not remove the old key for the test: $objs"
    ag_start_agent
    ag_wait_state connected
    check_one_identity
    [ "$(key_id)" != "$old_id" ] || ag_fail "old key id still in use"
    [ "$(rotation_field last_result)" = completed-after-restart ] ||
        ag_fail "old key gone: result $(rotation_field last_result)"
}

# ---------------------------------------------------------------------------
scenario_auto() {
    local fp1 fp2
    # Renew at 2/3 of the lifetime (no floor), checked every second, at
    # most one attempt per 30 s (so a third rotation cannot start while
    # this test looks at the second).
    rotation_config '"auto_renew": true, "renew_floor_days": 0, "check_interval": 1,
                     "retry_base": 1, "min_interval": 30'
    # Certificates valid for 60 s (the responder backdates notBefore by
    # 60 s): due 2/3 into 120 s, i.e. about 20 s after issue.
    start_responder --seconds 60
    ag_start_agent
    ag_wait_state connected
    # The 2-day test certificate is not due; get a short-lived one first.
    rotate_and_wait success
    fp1=$(fingerprint)
    ag_note "short-lived certificate $fp1 (renewal due $(rotation_field renewal_due))"
    ag_wait_status 90 "automatic renewal" \
        "s['rotation']['rotations'] >= 2 and s['rotation']['state'] == 'idle'"
    ag_wait_state connected
    fp2=$(fingerprint)
    [ "$fp2" != "$fp1" ] || ag_fail "automatic renewal did not change the certificate"
    [ "$(rotation_field last_result)" = success ] || ag_fail "auto renewal result: $(rotation_field last_result)"
    grep -q 'rotation (auto): generating' "$AG_DIR/agent.log" || ag_fail "no automatic rotation in the log"
    check_one_identity
}

# ---------------------------------------------------------------------------
scenario_aws() {
    local fp
    # This responder issues active certificates: no RegisterThing.
    rotation_config '"profile": "aws", "aws": {"activation": false}, "auto_renew": false, "min_interval": 0'
    start_responder --profile aws --seconds 3600
    ag_start_agent
    ag_wait_state connected
    fp=$(fingerprint)
    rotate_and_wait success
    ag_wait_state connected
    [ "$(fingerprint)" != "$fp" ] || ag_fail "certificate unchanged"
    grep -q 'create-from-csr' "$AG_DIR/responder.log" || ag_fail "the responder saw no AWS request"
    check_one_identity
}

# ---------------------------------------------------------------------------
# retire = keep-previous: the old pair stays as "device.previous" until the
# next rotation retires it; on our module the chip slots cycle through the
# free ones (the factory key's slot is released for good).
scenario_keep() {
    local ids=() objs round prev
    rotation_config '"retire": "keep-previous", "auto_renew": false, "min_interval": 0'
    start_responder --seconds 3600
    ag_start_agent
    ag_wait_state connected
    ids+=("$(key_id)")
    for round in 1 2 3 4; do
        rotate_and_wait success
        ag_wait_state connected
        ids+=("$(key_id)")
        objs=$(token_objects)
        ag_note "round $round: $(tr '\n' ';' <<<"$objs")"
        prev=${ids[$((round - 1))]}
        [ "$(grep -c "^Private device.previous $prev\$" <<<"$objs")" -eq 1 ] ||
            ag_fail "round $round: the previous key $prev is not kept as device.previous"
        [ "$(grep -c '^Private ' <<<"$objs")" -eq 2 ] || ag_fail "round $round: want 2 private keys"
        [ "$(grep -c '^Certificate ' <<<"$objs")" -eq 2 ] || ag_fail "round $round: want 2 certificates"
        grep -q '\.next' <<<"$objs" && ag_fail "round $round: temporary objects left"
        [ "$round" -lt 2 ] || ! grep -q " ${ids[$((round - 2))]}\$" <<<"$objs" ||
            ag_fail "round $round: the key before the previous one was not retired"
    done
    # The agent restarted on this token resolves "device" to the newest key.
    ag_kill "$AG_AGENT_PID"
    ag_start_agent
    ag_wait_state connected
    [ "$(key_id)" = "${ids[4]}" ] || ag_fail "restart did not find the newest key"
}

# ---------------------------------------------------------------------------
# The CA issues the new certificate from an intermediate the broker does not
# know (it trusts only the root) and the agent's config names no chain: the
# connection after the switch uses the answer's chain from memory, and a
# restart must find it again in the state directory.
scenario_chain() {
    local id
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/issuing.key" \
        -out "$AG_DIR/issuing.csr" -subj /CN=issuing-2 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' \
        >"$AG_DIR/issuing.ext"
    ag_sign_csr ca "$AG_DIR/issuing.csr" "$AG_DIR/issuing.pem" "$AG_DIR/issuing.ext"
    rotation_config
    RT_RESPONDER_CA=issuing start_responder --seconds 3600 --chain "$AG_DIR/issuing.pem"
    ag_start_agent
    ag_wait_state connected
    rotate_and_wait success
    ag_wait_state connected
    ag_status_field 's["certificate"]["issuer"]' | grep -q 'issuing-2' ||
        ag_fail "the new certificate is not from the intermediate"
    id=$(key_id)
    [ -s "$AG_DIR/state/chain-$id.pem" ] || ag_fail "no saved chain for key $id: $(ls "$AG_DIR/state")"
    [ "$(ls "$AG_DIR/state" | grep -c '^chain-')" -eq 1 ] || ag_fail "stale chains: $(ls "$AG_DIR/state")"
    ag_kill "$AG_AGENT_PID"
    ag_start_agent
    ag_wait_state connected
    grep -q "certificate chain: 1 intermediate(s) received by the rotation that made key $id" \
        "$AG_DIR/agent.log" || ag_fail "the restart did not use the saved chain"
    # The preflight sends the same chain in its broker handshake.
    local rc=0
    "$TRUSTLINKCTL" check --config "$AG_DIR/agent.json" >"$AG_DIR/check.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || ag_fail "trustlinkctl check exited $rc: $(cat "$AG_DIR/check.out")"
    grep -q "^PASS chain: 1 intermediate(s) .* key $id" "$AG_DIR/check.out" ||
        ag_fail "preflight did not use the saved chain: $(cat "$AG_DIR/check.out")"
    grep -q '^PASS broker: ' "$AG_DIR/check.out" || ag_fail "preflight broker: $(cat "$AG_DIR/check.out")"
    # A second rotation replaces the saved chain; only the current key's stays.
    rotate_and_wait success
    ag_wait_state connected
    [ "$(key_id)" != "$id" ] || ag_fail "second rotation kept the key"
    [ "$(ls "$AG_DIR/state" | grep -c '^chain-')" -eq 1 ] || ag_fail "stale chains: $(ls "$AG_DIR/state")"
    [ -s "$AG_DIR/state/chain-$(key_id).pem" ] || ag_fail "no saved chain for the second key"
    check_one_identity
}

. "$(dirname "$0")/e2e_rotation_aws.sh"
"scenario_$scenario"
ag_note "PASS $scenario $kind"
