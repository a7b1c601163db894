#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the systemd units offline (no running systemd needed):
#  - `systemd-analyze verify` passes on a test copy of each built unit whose
#    ExecStart names a binary that exists: the built trustlinkd when there
#    is one, else an executable stub (verify only checks that the binary is
#    executable). The installed units differ from these copies only in that
#    path.
#  - the built units' ExecStart follows the install prefix;
#  - trustlink.sysusers, applied to an empty temp root, creates the user;
#  - `systemd-analyze security --offline=true` gives trustlinkd.service
#    (the source file and the built copy) an overall exposure <= 2.0.
# Usage: systemd_unit.sh SYSTEMD_ANALYZE BUILT_UNIT_DIR AGENT_BINARY|"" SOURCE_UNIT_DIR
set -euo pipefail

analyze=$1
built=$2
agent_bin=$3
source_dir=$4
max_exposure=2.0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- verify ------------------------------------------------------------
printf '#!/bin/sh\nexit 0\n' >"$tmp/stub"
chmod 755 "$tmp/stub"
for unit in trustlinkd.service atecc608-emu.service; do
    [ -f "$built/$unit" ] || fail "built unit $built/$unit missing"
    exe=$tmp/stub
    if [ "$unit" = trustlinkd.service ] && [ -n "$agent_bin" ] && [ -x "$agent_bin" ]; then
        exe=$agent_bin
    fi
    sed -E "s|^ExecStart=[^ ]+|ExecStart=$exe|" "$built/$unit" >"$tmp/$unit"
    if ! out=$("$analyze" verify "$tmp/$unit" 2>&1); then
        echo "$out" >&2
        fail "systemd-analyze verify $unit"
    fi
    if [ -n "$out" ]; then
        echo "$out" >&2
        fail "systemd-analyze verify $unit printed warnings"
    fi
    echo "ok: systemd-analyze verify $unit (ExecStart=$exe)"
done

# ---- the contract with trustlinkd --------------------------------------
unit=$built/trustlinkd.service
for directive in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' \
                 'RestartPreventExitStatus=78' 'User=trustlink' 'RuntimeDirectory=trustlink' \
                 'StateDirectory=trustlink' 'LoadCredential=pin:/etc/trustlink/pin' \
                 'DeviceAllow=/dev/i2c-1 rw' 'DevicePolicy=closed' \
                 'ExecReload=/bin/kill -HUP $MAINPID' \
                 'Environment=GLIBC_TUNABLES=glibc.malloc.tcache_count=0'; do
    grep -qxF "$directive" "$unit" || fail "$unit lacks \"$directive\""
done
grep -Eq '^ExecStart=/.*/trustlinkd --config /etc/trustlink/trustlink.json$' "$unit" ||
    fail "$unit: unexpected ExecStart: $(grep ^ExecStart= "$unit")"
echo "ok: $(grep ^ExecStart= "$unit")"

# ---- sysusers.d: applied to an empty temp root, never to this system ----
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$tmp/root/etc"
    systemd-sysusers --root="$tmp/root" "$source_dir/trustlink.sysusers" >/dev/null 2>&1 ||
        fail "systemd-sysusers rejected trustlink.sysusers"
    grep -q '^trustlink:x:[0-9]*:[0-9]*:.*:/var/lib/trustlink:/usr/sbin/nologin$' "$tmp/root/etc/passwd" ||
        fail "sysusers created no trustlink user"
    grep -Eq '^i2c:x:[0-9]+:(.*,)?trustlink(,.*)?$' "$tmp/root/etc/group" ||
        fail "sysusers did not put trustlink into the i2c group"
    echo "ok: trustlink.sysusers creates the trustlink user in group i2c"
fi

# ---- security exposure -------------------------------------------------
for unit in "$source_dir/trustlinkd.service" "$built/trustlinkd.service"; do
    out=$("$analyze" security --offline=true "$unit" 2>&1) || { echo "$out" >&2; fail "security $unit"; }
    level=$(printf '%s\n' "$out" | sed -nE 's/.*Overall exposure level for [^:]+: ([0-9]+\.[0-9]+).*/\1/p')
    [ -n "$level" ] || { echo "$out" >&2; fail "no exposure level printed for $unit"; }
    awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }' ||
        { printf '%s\n' "$out" | grep '✗' >&2; fail "$unit exposure $level > $max_exposure"; }
    echo "ok: $unit exposure $level (<= $max_exposure)"
done
