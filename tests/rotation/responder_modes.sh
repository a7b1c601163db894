#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration test of trustlink-ca-responder against a real mosquitto on
# 127.0.0.1: a CSR made by openssl (file key) is published with
# mosquitto_pub; the answer for each mode is captured with mosquitto_sub and
# checked through agent_cert_check (rotation_check_answer) and openssl.
# CTest passes CA_RESPONDER and CHECK_ANSWER.
source "$(dirname "$0")/lib.sh"
[ -x "${CA_RESPONDER:-}" ] || rt_fail "CA_RESPONDER must name trustlink-ca-responder"
[ -x "${CHECK_ANSWER:-}" ] || rt_fail "CHECK_ANSWER must name rotation_check_answer"
rt_init

rt_make_ca ca          # broker and client identities
rt_make_ca issuer      # the issuing CA the device is configured with
rt_make_client ca responder
rt_make_client ca tester
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$RT_DIR/dev.key" \
    -out "$RT_DIR/dev.csr" -subj /CN=device-001 2>/dev/null
rt_start_broker

# Into a file: the text is over 4 KiB, and grep -q leaving a pipe early
# would kill the second write with SIGPIPE (a failure under pipefail).
"$CA_RESPONDER" --help >"$RT_DIR/help.txt" || rt_fail "--help exited non-zero"
grep -q "SYNOPSIS" "$RT_DIR/help.txt" || rt_fail "--help lacks a synopsis"
if "$CA_RESPONDER" --port 1 --mode bogus >/dev/null 2>&1; then rt_fail "bad --mode accepted"; fi

RESP_PID=
start_responder() {   # start_responder ARGS...
    : >"$RT_DIR/responder.log"
    "$CA_RESPONDER" --port "$RT_PORT" --cafile "$RT_DIR/ca.pem" --cert "$RT_DIR/responder.pem" \
        --key "$RT_DIR/responder.key" --ca-cert "$RT_DIR/issuer.pem" --ca-key "$RT_DIR/issuer.key" \
        --seconds 3600 -v "$@" 2>>"$RT_DIR/responder.log" &
    RESP_PID=$!
    RT_PIDS+=("$RESP_PID")
    rt_wait_for 10 "responder subscribed" grep -q "subscribed to" "$RT_DIR/responder.log"
}

stop_responder() {   # SIGTERM must end it cleanly with status 0
    local rc=0
    kill -TERM "$RESP_PID"
    wait "$RESP_PID" || rc=$?
    [ "$rc" -eq 0 ] || rt_fail "responder exited $rc on SIGTERM"
    grep -q "stopped after" "$RT_DIR/responder.log" || rt_fail "responder did not stop cleanly"
}

# exchange NAME REQUEST_TOPIC ANSWER_FILTER PAYLOAD: prints "topic payload".
exchange() {
    local name=$1 n
    : >"$RT_DIR/sub-$name.out"
    n=$(grep -c "Received SUBSCRIBE from sub-$name" "$RT_DIR/broker.log" || true)
    mosquitto_sub -h 127.0.0.1 -p "$RT_PORT" --cafile "$RT_DIR/ca.pem" --cert "$RT_DIR/tester.pem" \
        --key "$RT_DIR/tester.key" -i "sub-$name" -q 1 -t "$3" -C 1 -W 15 -v \
        >"$RT_DIR/sub-$name.out" 2>"$RT_DIR/sub-$name.log" &
    local sub=$!
    RT_PIDS+=("$sub")
    rt_wait_for 10 "subscriber $name" grep -q "Received SUBSCRIBE from sub-$name" "$RT_DIR/broker.log"
    mosquitto_pub -h 127.0.0.1 -p "$RT_PORT" --cafile "$RT_DIR/ca.pem" --cert "$RT_DIR/tester.pem" \
        --key "$RT_DIR/tester.key" -i "pub-$name" -q 1 -t "$2" -m "$4" ||
        rt_fail "$name: mosquitto_pub failed"
    wait "$sub" || rt_fail "$name: no answer on $3 ($(cat "$RT_DIR/sub-$name.log"))"
    cat "$RT_DIR/sub-$name.out"
}

request() {   # request REQUEST_ID [CSR_FILE]: the trustlink-profile payload
    python3 -c 'import json,sys; print(json.dumps({"request_id": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
        "$1" "${2:-$RT_DIR/dev.csr}"
}

# field LINE NAME: a JSON field of the payload part of "topic payload"
field() {
    python3 -c 'import json,sys; t,p=sys.argv[1].split(" ",1); v=json.loads(p).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# check_cert LINE FIELD EXPECTED_RESULT: runs agent_cert_check on the answer
check_cert() {
    local out
    field "$1" "$2" >"$RT_DIR/answer.pem"
    out=$("$CHECK_ANSWER" "$RT_DIR/answer.pem" "$RT_DIR/dev.csr" "$RT_DIR/issuer.pem" || true)
    case "$out" in
    "$3:"*) rt_note "cert_check: $out" ;;
    *) rt_fail "expected cert_check result $3, got: $out" ;;
    esac
}

T=trustlink/device-001/csr

# ---- trustlink profile, every mode ------------------------------------------
start_responder --mode normal
line=$(exchange normal "$T" "$T/+" "$(request r-normal)")
[ "${line%% *}" = "$T/accepted" ] || rt_fail "normal: answer on ${line%% *}"
[ "$(field "$line" request_id)" = r-normal ] || rt_fail "normal: request_id not echoed"
check_cert "$line" certificate ok
openssl verify -CAfile "$RT_DIR/issuer.pem" -purpose sslclient "$RT_DIR/answer.pem" >/dev/null ||
    rt_fail "normal: openssl verify rejects the certificate"
[ "$(openssl x509 -in "$RT_DIR/answer.pem" -noout -pubkey)" = "$(openssl req -in "$RT_DIR/dev.csr" -noout -pubkey)" ] ||
    rt_fail "normal: certificate key is not the CSR key"
openssl x509 -in "$RT_DIR/answer.pem" -noout -subject | grep -q "CN *= *device-001" ||
    rt_fail "normal: subject not taken from the CSR"
# Invalid requests are rejected, whatever the mode.
line=$(exchange badcsr "$T" "$T/+" '{"request_id":"r-bad","csr":"not a csr"}')
[ "${line%% *}" = "$T/rejected" ] || rt_fail "bad CSR: answer on ${line%% *}"
field "$line" error | grep -q "not a PEM certificate request" || rt_fail "bad CSR: wrong error"
line=$(exchange noid "$T" "$T/+" "{\"csr\":\"x\"}")
field "$line" error | grep -q "request_id" || rt_fail "missing request_id: wrong error"
stop_responder

start_responder --mode reject
line=$(exchange reject "$T" "$T/+" "$(request r-reject)")
[ "${line%% *}" = "$T/rejected" ] || rt_fail "reject: answer on ${line%% *}"
[ "$(field "$line" request_id)" = r-reject ] || rt_fail "reject: request_id not echoed"
field "$line" error | grep -q "rejected by policy" || rt_fail "reject: no error text"
stop_responder

start_responder --mode delay --delay-ms 700
line=$(exchange delay "$T" "$T/+" "$(request r-delay)")
check_cert "$line" certificate ok
stop_responder

for m in garbage:unparsable other-key:key-mismatch other-ca:untrusted expired:expired \
         other-subject:other-device; do
    start_responder --mode "${m%%:*}"
    line=$(exchange "${m%%:*}" "$T" "$T/+" "$(request "r-${m%%:*}")")
    [ "${line%% *}" = "$T/accepted" ] || rt_fail "${m%%:*}: answer on ${line%% *}"
    check_cert "$line" certificate "${m##*:}"
    stop_responder
done
# openssl agrees on the other-CA and expired certificates
start_responder --mode expired
line=$(exchange expired2 "$T" "$T/+" "$(request r-exp)")
field "$line" certificate >"$RT_DIR/expired.pem"
if openssl verify -CAfile "$RT_DIR/issuer.pem" "$RT_DIR/expired.pem" >/dev/null 2>&1; then
    rt_fail "expired: openssl verify accepted it"
fi
stop_responder

start_responder --mode garbage-json
line=$(exchange gjson "$T" "$T/+" "$(request r-gjson)")
[ "${line%% *}" = "$T/accepted" ] || rt_fail "garbage-json: answer on ${line%% *}"
if python3 -c 'import json,sys; json.loads(sys.argv[1].split(" ",1)[1])' "$line" 2>/dev/null; then
    rt_fail "garbage-json: the answer is valid JSON"
fi
stop_responder

# Topic templates: custom prefix and answer topics with {device_id}.
start_responder --prefix fleet/v1 --accepted-topic 'fleet/v1/{device_id}/cert/ok' \
    --rejected-topic 'fleet/v1/{device_id}/cert/no'
line=$(exchange tmpl fleet/v1/device-009/csr 'fleet/v1/device-009/cert/#' "$(request r-tmpl)")
[ "${line%% *}" = fleet/v1/device-009/cert/ok ] || rt_fail "templates: answer on ${line%% *}"
stop_responder

# ---- AWS IoT CreateCertificateFromCsr profile --------------------------------
A='$aws/certificates/create-from-csr/json'
awsreq=$(python3 -c 'import json,sys; print(json.dumps({"certificateSigningRequest": open(sys.argv[1]).read()}))' "$RT_DIR/dev.csr")
start_responder --profile aws
line=$(exchange aws "$A" "$A/+" "$awsreq")
[ "${line%% *}" = "$A/accepted" ] || rt_fail "aws: answer on ${line%% *}"
field "$line" certificateId | grep -Eq '^[0-9a-f]{64}$' || rt_fail "aws: certificateId"
[ -n "$(field "$line" certificateOwnershipToken)" ] || rt_fail "aws: certificateOwnershipToken"
[ -z "$(field "$line" certificate)" ] || rt_fail "aws: trustlink field in an aws answer"
check_cert "$line" certificatePem ok
stop_responder
start_responder --profile aws --mode reject
line=$(exchange awsrej "$A" "$A/+" "$awsreq")
[ "${line%% *}" = "$A/rejected" ] || rt_fail "aws reject: answer on ${line%% *}"
[ "$(field "$line" statusCode)" = 400 ] || rt_fail "aws reject: statusCode"
[ "$(field "$line" errorCode)" = InvalidPayload ] || rt_fail "aws reject: errorCode"
field "$line" errorMessage | grep -q "rejected by policy" || rt_fail "aws reject: errorMessage"
stop_responder

rt_note "all responder modes behave"
