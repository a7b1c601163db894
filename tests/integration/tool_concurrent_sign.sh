#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two tool processes sign in loops at the same time on one daemon running
# at a non-zero time scale, so wake windows really overlap in time. The bus
# lock must keep each Nonce+Sign pair together: every signature verifies.
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu --time-scale "${TL_CONCURRENT_TIME_SCALE:-0.05}"
iface=$(tl_emu_iface)
rounds=${TL_CONCURRENT_ROUNDS:-20}

tl_pubkey_pem "$iface" 0 "$TL_DIR/pub.pem"

# signer ID: signs its own message ROUNDS times; a failed run is recorded,
# not fatal, so both loops finish and the report covers both.
signer() {
    local id=$1 i digest
    for ((i = 0; i < rounds; i++)); do
        printf 'signer %s round %s\n' "$id" "$i" >"$TL_DIR/msg.$id.$i"
        digest=$(tl_sha256_hex "$TL_DIR/msg.$id.$i")
        if ! tl_tool --interface "$iface" sign 0 "$digest" --out "$TL_DIR/sig.$id.$i" \
            >/dev/null 2>"$TL_DIR/err.$id.$i"; then
            echo "signer $id round $i: $(cat "$TL_DIR/err.$id.$i")" >>"$TL_DIR/failures"
        fi
    done
}

signer a &
pid_a=$!
signer b &
pid_b=$!
wait "$pid_a" "$pid_b"

if [ -s "$TL_DIR/failures" ]; then
    tl_fail "$(wc -l <"$TL_DIR/failures") of $((2 * rounds)) concurrent signs failed:
$(cat "$TL_DIR/failures")"
fi
bad=0
for id in a b; do
    for ((i = 0; i < rounds; i++)); do
        if ! openssl dgst -sha256 -verify "$TL_DIR/pub.pem" -signature "$TL_DIR/sig.$id.$i" \
            "$TL_DIR/msg.$id.$i" >/dev/null 2>&1; then
            tl_note "signature $id/$i does not verify"
            bad=$((bad + 1))
        fi
    done
done
[ "$bad" -eq 0 ] || tl_fail "$bad of $((2 * rounds)) signatures made concurrently do not verify"
