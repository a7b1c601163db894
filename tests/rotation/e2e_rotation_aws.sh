# SPDX-License-Identifier: Apache-2.0
# Sourced by e2e_rotation.sh: the AWS IoT scenarios against the faithful
# responder (certificates PENDING_ACTIVATION, listed in the broker's CRL,
# until RegisterThing presents their ownership token with the template's
# parameters, once and in time).
#   awsfaithful  the responder's rules over the wire; an agent rotation
#             without activation fails at the probe, one with it succeeds
#   awsreject    RegisterThing rejected (a parameter the template refuses):
#             rolled back, AWS's errorCode in last_error, old identity works
#   awsexpired   the agent reaches RegisterThing after the token's life
#             (stopped at cert-stored): rejected, rolled back
#   awslost      the first RegisterThing answer is lost: the agent asks
#             again, the token is "already used", the probe shows the
#             certificate active: success
#   awscrash     kill -9 after cert-stored, activation-requested and
#             activated: rolled back at the restart, one identity

start_faithful() {   # start_faithful TOKEN_LIFETIME_S [RESPONDER ARGS...]
    local lifetime=$1
    shift
    start_responder --profile aws --seconds 3600 --faithful --crl "$AG_DIR/crl.pem" \
        --broker-pid "$AG_BROKER_PID" --template trustlink --template-param SerialNumber \
        --template-param ThingName=device-001 --token-lifetime "$lifetime" "$@"
}

# Rotation with activation: ThingName from the device id, SerialNumber
# from the token (C_GetTokenInfo).
aws_rotation_config() {   # aws_rotation_config [THING_NAME_TEMPLATE]
    local thing=${1:-'{device_id}'}
    rotation_config '"profile": "aws", "auto_renew": false, "min_interval": 0,
                "aws": {"template": "trustlink",
                        "parameters": {"ThingName": "'"$thing"'", "SerialNumber": "{serial}"}}'
}

# The responder as AWS IoT Core behaves (--faithful): a certificate from
# CreateCertificateFromCsr is PENDING_ACTIVATION (listed in the broker's CRL)
# until RegisterThing presents its ownership token with the template's
# parameters, once and in time. Checked first over the wire with a file key,
# then with the agent: without RegisterThing its rotation fails at the
# probe and rolls back; with it the rotation completes.
PROVISION='$aws/provisioning-templates/trustlink/provision/json'

aws_call() {   # aws_call TOPIC PAYLOAD: prints "accepted|rejected JSON"
    local sub_pid out=$AG_DIR/aws-answer.txt
    : >"$out"
    timeout 15 mosquitto_sub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" \
        --cert "$AG_DIR/tester.pem" --key "$AG_DIR/tester.key" -i "tester-sub-$$" \
        -t "$1/accepted" -t "$1/rejected" -C 1 -W 12 -v >"$out" 2>/dev/null &
    sub_pid=$!
    ag_wait_for 10 "answer subscription" grep -q "tester-sub-$$" "$AG_DIR/broker.log"
    sleep 0.2
    mosquitto_pub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" --cert "$AG_DIR/tester.pem" \
        --key "$AG_DIR/tester.key" -t "$1" -m "$2" || ag_fail "cannot publish to $1"
    wait "$sub_pid" || ag_fail "no answer on $1/accepted|rejected"
    sed -E 's|^[^ ]*/(accepted\|rejected) |\1 |' "$out"
}

json_field() {   # json_field JSON NAME
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

can_connect() {   # can_connect CERT KEY: one MQTT connection with this identity
    timeout 10 mosquitto_pub -h 127.0.0.1 -p "$AG_PORT" --cafile "$AG_DIR/ca.pem" --cert "$1" \
        --key "$2" -i "probe-$$" -t probe -m x >/dev/null 2>&1
}

new_cert_from_csr() {   # new_cert_from_csr NAME: NAME.key, NAME.pem; prints the token
    local ans csr
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$AG_DIR/$1.key" \
        -out "$AG_DIR/$1.csr" -subj "/CN=$1" 2>/dev/null
    csr=$(python3 -c 'import json,sys; print(json.dumps({"certificateSigningRequest": open(sys.argv[1]).read()}))' \
        "$AG_DIR/$1.csr")
    ans=$(aws_call '$aws/certificates/create-from-csr/json' "$csr")
    [ "${ans%% *}" = accepted ] || ag_fail "CreateCertificateFromCsr: $ans"
    json_field "${ans#* }" certificatePem >"$AG_DIR/$1.pem"
    json_field "${ans#* }" certificateOwnershipToken
}

expect_rejected() {   # expect_rejected WHAT ERROR_CODE ANSWER
    local body=${3#* }
    [ "${3%% *}" = rejected ] || ag_fail "$1: not rejected: $3"
    [ "$(json_field "$body" statusCode)" = 400 ] && [ "$(json_field "$body" errorCode)" = "$2" ] &&
        [ -n "$(json_field "$body" errorMessage)" ] || ag_fail "$1: want 400 $2: $body"
    ag_note "$1: $body"
}

scenario_awsfaithful() {
    local token ans fp before_objs
    start_faithful 600

    # Pending until RegisterThing; bad parameters and unknown tokens refused.
    token=$(new_cert_from_csr pending1)
    can_connect "$AG_DIR/pending1.pem" "$AG_DIR/pending1.key" &&
        ag_fail "the broker accepted a certificate pending activation"
    expect_rejected "missing parameter" InvalidParameters \
        "$(aws_call "$PROVISION" "{\"certificateOwnershipToken\":\"$token\",\"parameters\":{\"ThingName\":\"device-001\"}}")"
    expect_rejected "wrong parameter value" InvalidParameters \
        "$(aws_call "$PROVISION" "{\"certificateOwnershipToken\":\"$token\",\"parameters\":{\"ThingName\":\"other\",\"SerialNumber\":\"01\"}}")"
    expect_rejected "unknown token" InvalidCertificateOwnershipToken \
        "$(aws_call "$PROVISION" '{"certificateOwnershipToken":"0123","parameters":{"ThingName":"device-001","SerialNumber":"01"}}')"
    expect_rejected "empty token" InvalidCertificateOwnershipToken \
        "$(aws_call "$PROVISION" '{"parameters":{"ThingName":"device-001","SerialNumber":"01"}}')"
    can_connect "$AG_DIR/pending1.pem" "$AG_DIR/pending1.key" &&
        ag_fail "a rejected RegisterThing activated the certificate"
    # The right token and parameters: active, the broker accepts it.
    ans=$(aws_call "$PROVISION" "{\"certificateOwnershipToken\":\"$token\",\"parameters\":{\"ThingName\":\"device-001\",\"SerialNumber\":\"01\"}}")
    [ "${ans%% *}" = accepted ] || ag_fail "RegisterThing: $ans"
    [ "$(json_field "${ans#* }" thingName)" = device-001 ] || ag_fail "RegisterThing answer: $ans"
    can_connect "$AG_DIR/pending1.pem" "$AG_DIR/pending1.key" ||
        ag_fail "the broker refuses the activated certificate"
    # A token works once.
    expect_rejected "token used twice" InvalidCertificateOwnershipToken \
        "$(aws_call "$PROVISION" "{\"certificateOwnershipToken\":\"$token\",\"parameters\":{\"ThingName\":\"device-001\",\"SerialNumber\":\"01\"}}")"
    # A late token is refused and its certificate stays unusable (a
    # responder whose tokens live 2 s).
    stop_responder
    start_faithful 2
    token=$(new_cert_from_csr pending2)
    sleep 3
    expect_rejected "token late" InvalidCertificateOwnershipToken \
        "$(aws_call "$PROVISION" "{\"certificateOwnershipToken\":\"$token\",\"parameters\":{\"ThingName\":\"device-001\",\"SerialNumber\":\"01\"}}")"
    can_connect "$AG_DIR/pending2.pem" "$AG_DIR/pending2.key" &&
        ag_fail "the broker accepted the certificate of an expired token"

    stop_responder
    start_faithful 600

    # Without activation the new certificate stays pending: the broker
    # refuses the agent's probe with it, the rotation rolls back.
    rotation_config '"profile": "aws", "aws": {"activation": false}, "auto_renew": false, "min_interval": 0'
    ag_start_agent
    ag_wait_state connected
    fp=$(fingerprint)
    before_objs=$(token_objects)
    rotate_and_wait failed 60
    ag_note "rotation without activation: $(rotation_field last_error)"
    grep -q 'refused the new identity\|probe connection' <<<"$(rotation_field last_error)" ||
        ag_fail "want a probe refusal: $(rotation_field last_error)"
    ag_wait_state connected
    [ "$(fingerprint)" = "$fp" ] || ag_fail "the certificate changed"
    [ "$(token_objects)" = "$before_objs" ] || ag_fail "token changed: $(token_objects)"
    [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "journal left after roll-back"
    check_one_identity
    ag_kill "$AG_AGENT_PID"
    AG_AGENT_PID=

    # With RegisterThing (template and parameters from the config, the
    # serial from the token) the same responder and broker accept it.
    aws_rotation_config
    ag_start_agent
    ag_wait_state connected
    rotate_and_wait success 60
    ag_wait_state connected
    [ "$(fingerprint)" != "$fp" ] || ag_fail "certificate unchanged"
    grep -q 'RegisterThing: certificate activated' "$AG_DIR/responder.log" ||
        ag_fail "the responder activated nothing"
    grep -q "rotation: RegisterThing accepted (thing device-001)" "$AG_DIR/agent.log" ||
        ag_fail "the agent did not log the activation"
    [ -z "$(rotation_field last_error)" ] || ag_fail "last_error: $(rotation_field last_error)"
    [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "journal left after success"
    check_one_identity
}

# ---------------------------------------------------------------------------
# A rotation that fails at activation leaves the agent exactly as before.
expect_rolled_back() {   # expect_rolled_back FINGERPRINT TOKEN_OBJECTS
    ag_wait_state connected
    [ "$(fingerprint)" = "$1" ] || ag_fail "the certificate changed"
    [ "$(token_objects)" = "$2" ] || ag_fail "token changed: $(token_objects)"
    [ ! -e "$AG_DIR/state/rotation.json" ] || ag_fail "journal left after roll-back"
    check_one_identity
    # The old identity still works: a publish through the agent arrives.
    ag_control '{"cmd":"publish","topic":"after/rollback","payload":"still here","qos":1,"retain":true}' |
        grep -q '"ok": *true' || ag_fail "the agent refused a publish after the roll-back"
    ag_wait_for 10 "message published after the roll-back" bash -c "$(declare -f ag_sub_retained); AG_PORT=$AG_PORT AG_DIR=$AG_DIR; ag_sub_retained trustlink/device-001/after/rollback | grep -qx 'trustlink/device-001/after/rollback still here'"
}

scenario_awsreject() {
    local fp objs
    start_faithful 600
    aws_rotation_config 'thing-{device_id}'
    ag_start_agent
    ag_wait_state connected
    fp=$(fingerprint)
    objs=$(token_objects)
    rotate_and_wait failed 60
    ag_note "rejected activation: $(rotation_field last_error)"
    grep -q '^RegisterThing rejected: InvalidParameters: template trustlink refuses ThingName=thing-device-001' \
        <<<"$(rotation_field last_error)" || ag_fail "last_error: $(rotation_field last_error)"
    expect_rolled_back "$fp" "$objs"
}

scenario_awsexpired() {
    local fp objs
    need_test_hooks
    start_faithful 2
    aws_rotation_config
    ag_start_agent_stopping cert-stored
    fp=$(fingerprint)
    objs=$(token_objects)
    ag_control '{"cmd":"rotate"}' | grep -q '"ok": *true' || ag_fail "rotate refused"
    ag_wait_for 30 "trustlinkd stopped after cert-stored" agent_stopped
    sleep 3   # the responder's tokens live 2 s
    kill -CONT "$AG_AGENT_PID"
    ag_wait_status 60 "rotation failed" \
        "s['rotation']['state'] == 'idle' and s['rotation']['last_result'] == 'failed'"
    ag_note "late activation: $(rotation_field last_error)"
    grep -q 'InvalidCertificateOwnershipToken: .*expired' <<<"$(rotation_field last_error)" ||
        ag_fail "last_error: $(rotation_field last_error)"
    expect_rolled_back "$fp" "$objs"
}

scenario_awslost() {
    local fp
    start_faithful 600 --drop-register-answers 1
    RT_TIMEOUT=3 aws_rotation_config
    ag_start_agent
    ag_wait_state connected
    fp=$(fingerprint)
    rotate_and_wait success 60
    ag_wait_state connected
    [ "$(fingerprint)" != "$fp" ] || ag_fail "certificate unchanged"
    grep -q 'RegisterThing answer dropped on purpose' "$AG_DIR/responder.log" ||
        ag_fail "the responder dropped no answer"
    grep -q 'probing whether the certificate is active' "$AG_DIR/agent.log" ||
        ag_fail "the agent did not retry RegisterThing"
    check_one_identity
}

scenario_awscrash() {
    local step fp objs token mode
    need_test_hooks
    start_faithful 600
    aws_rotation_config
    for step in ${crash_steps:-cert-stored activation-requested activated}; do
        : >"$AG_DIR/agent.log"
        ag_start_agent_crashing "$step"
        fp=$(fingerprint)
        objs=$(token_objects)
        rotate_until_crash "$step"
        [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' \
            "$AG_DIR/state/rotation.json")" = "$step" ] || ag_fail "$step: journal step"
        mode=$(stat -c %a "$AG_DIR/state/rotation.json")
        [ "$mode" = 600 ] || ag_fail "$step: journal mode $mode"
        token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ownership_token"])' \
            "$AG_DIR/state/rotation.json")
        if [ "$step" = activation-requested ]; then
            [ -n "$token" ] || ag_fail "$step: the journal holds no ownership token"
            grep -qF "$token" "$AG_DIR/agent.log" && ag_fail "$step: the ownership token was logged"
        else
            [ -z "$token" ] || ag_fail "$step: the journal keeps a token it does not need"
        fi
        ag_start_agent
        ag_wait_state connected
        [ "$(fingerprint)" = "$fp" ] || ag_fail "$step: the rotation was not rolled back"
        [ "$(rotation_field last_result)" = rolled-back-after-restart ] ||
            ag_fail "$step: result $(rotation_field last_result)"
        [ "$(token_objects)" = "$objs" ] || ag_fail "$step: token changed: $(token_objects)"
        recovered_then_stop "$step"
    done
    # After all that, a rotation still completes.
    ag_start_agent
    ag_wait_state connected
    rotate_and_wait success 60
    check_one_identity
}
