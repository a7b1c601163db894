#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A chip that never answers the wake (daemon --fault nowake:p=1): the tool
# gives up within its bounded retries, exits non-zero, and says no chip
# answered, naming where it looked.
source "$(dirname "$0")/lib.sh"
tl_init
tl_start_emu --fault "${TL_NOWAKE_FAULT:-nowake:p=1}" --seed 1
TL_TOOL_TIMEOUT=30
tl_run "$TL_DIR/out" "$TL_DIR/err" --interface "$(tl_emu_iface)" info
err=$(cat "$TL_DIR/err")
[ "$TL_RC" -ne 0 ] || tl_fail "info against a chip that never wakes exited 0; stdout: $(cat "$TL_DIR/out")"
[ "$TL_RC" -lt 124 ] || tl_fail "info against a chip that never wakes did not give up within ${TL_TOOL_TIMEOUT}s (status $TL_RC)"
tl_expect_match "the error says nothing answered" 'no ATECC608 answered|no .*wake' "$err"
tl_expect_match "the error names the interface" "$TL_SOCK" "$err"
