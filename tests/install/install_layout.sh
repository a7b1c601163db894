#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The install layout and the agreement of the installed pieces.
#  1. DESTDIR=D cmake --install BUILD --prefix /usr: the COMPLETE file list
#     (every file below D, none missing, nothing else), and every manifest
#     entry below D.
#  2. The installed pieces agree: the unit's PIN credential is the one the
#     example agent config names; the example module config's socket is
#     the emulator unit's; the agent's built-in module path is the
#     installed module; the p11-kit registration names the installed
#     module; user/group, state, runtime and lock directories are the same
#     in the unit, sysusers.d and tmpfiles.d; the udev rule's bus is the
#     unit's DeviceAllow.
#  3. cmake --install BUILD --prefix P (no DESTDIR, prefix given only at
#     install time): every file below P, and the unit's ExecStart and the
#     agent's default module path point into P.
# Usage: install_layout.sh CMAKE BUILD_DIR
set -euo pipefail

cmake=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

multiarch_moddir=$(pkg-config --variable=p11_module_path p11-kit-1)
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
[ -n "$multiarch_moddir" ] && [ -n "$unitdir" ] || fail "pkg-config: no p11-kit-1 or systemd"
[ -x "$build/agent/trustlinkd" ] || { echo "SKIP: trustlinkd not built"; exit 77; }

# ---- 1. DESTDIR install with prefix /usr --------------------------------
dest=$tmp/dest
DESTDIR=$dest "$cmake" --install "$build" --prefix /usr >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "DESTDIR install"; }
# The manifest lists paths without DESTDIR: each must be below DESTDIR,
# and DESTDIR must hold exactly the manifest (checked against the expected
# list below).
while read -r path; do
    [ -f "$dest$path" ] || fail "installed outside DESTDIR: $path (not in $dest)"
done <"$build/install_manifest.txt"
[ "$(sort "$build/install_manifest.txt")" = "$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)" ] ||
    fail "DESTDIR content differs from the install manifest"

doc=/usr/share/doc/trustlink
expected=$(sort <<LIST
$unitdir/atecc608-emu.service
$unitdir/trustlinkd.service
/usr/bin/atecc608-emu
/usr/bin/atecc608-tool
/usr/bin/trustlinkctl
/usr/sbin/trustlinkd
$multiarch_moddir/libtrustlink-pkcs11.so
/usr/lib/modules-load.d/trustlink-i2c.conf
/usr/lib/sysusers.d/trustlink.conf
/usr/lib/tmpfiles.d/trustlink.conf
/usr/lib/udev/rules.d/60-trustlink-i2c.rules
$doc/examples/pkcs11.json
$doc/examples/trustlink.json
/usr/share/man/man1/atecc608-emu.1
/usr/share/man/man1/atecc608-tool.1
/usr/share/man/man1/trustlinkctl.1
/usr/share/man/man5/trustlink-pkcs11.json.5
/usr/share/man/man5/trustlink.json.5
/usr/share/man/man8/trustlinkd.8
/usr/share/p11-kit/modules/trustlink.module
LIST
)
actual=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
if [ "$expected" != "$actual" ]; then
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    fail "installed file list differs from the expected one (< expected, > installed)"
fi
ok "DESTDIR install: $(wc -l <<<"$actual") files, exactly the expected list, all below DESTDIR"

# ---- 2. the installed pieces agree ---------------------------------------
unit=$dest$unitdir/trustlinkd.service
emu_unit=$dest$unitdir/atecc608-emu.service
agent_cfg=$dest$doc/examples/trustlink.json
module_cfg=$dest$doc/examples/pkcs11.json
sysusers=$dest/usr/lib/sysusers.d/trustlink.conf
tmpfiles=$dest/usr/lib/tmpfiles.d/trustlink.conf
udev=$dest/usr/lib/udev/rules.d/60-trustlink-i2c.rules
modload=$dest/usr/lib/modules-load.d/trustlink-i2c.conf
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d.get(k, "") if isinstance(d, dict) else (d[int(k)] if len(d) > int(k) else "")
print(d)' "$1" "$2"; }
directive() { sed -n "s/^$2=//p" "$1"; }

grep -qxF 'ExecStart=/usr/sbin/trustlinkd --config /etc/trustlink/trustlink.json' "$unit" ||
    fail "trustlinkd.service ExecStart: $(directive "$unit" ExecStart)"
[ -x "$dest/usr/sbin/trustlinkd" ] || fail "ExecStart binary not installed"
grep -q '^ExecStart=/usr/bin/atecc608-emu ' "$emu_unit" || fail "atecc608-emu.service ExecStart"

cred=$(json "$agent_cfg" identity.pin_credential)
[ -n "$cred" ] || fail "example agent config has no identity.pin_credential"
grep -qx "LoadCredential=$cred:/etc/trustlink/$cred" "$unit" ||
    fail "unit provides credential '$(directive "$unit" LoadCredential)', the example config wants '$cred'"
ok "PIN credential '$cred' in the unit and the example config"

iface=$(json "$module_cfg" tokens.0.interface)
sock=$(sed -nE 's/^ExecStart=.* --socket ([^ ]+).*/\1/p' "$emu_unit")
[ "$iface" = "emu:$sock" ] || fail "example module interface '$iface', emulator unit socket '$sock'"
rundir=$(directive "$emu_unit" RuntimeDirectory)
[ "$(dirname "$sock")" = "/run/$rundir" ] || fail "emulator socket $sock not in its RuntimeDirectory $rundir"
ok "example module config talks to the emulator unit's socket $sock"

[ -z "$(json "$agent_cfg" identity.module)" ] ||
    fail "example agent config names a module path (arch-specific): $(json "$agent_cfg" identity.module)"
# The agent's built-in default, as trustlinkctl check reports it for the
# example config (the module is found, then refuses: no pkcs11.json).
check=$(cd "$tmp" && TRUSTLINK_PKCS11_CONF=$tmp/none.json "$dest/usr/bin/trustlinkctl" check \
        --config "$agent_cfg" --pin-file /dev/null 2>&1 || true)
grep -q "^FAIL key: PKCS#11 module $dest$multiarch_moddir/libtrustlink-pkcs11.so " <<<"$check" ||
    fail "built-in module path is not the installed module: $check"
ok "agent's default module path is the installed module"
grep -qx "module: libtrustlink-pkcs11.so" "$dest/usr/share/p11-kit/modules/trustlink.module" ||
    fail "p11-kit registration: $(grep ^module: "$dest/usr/share/p11-kit/modules/trustlink.module")"
ok "p11-kit registration names the module in p11-kit's module directory"

[ "$(json "$agent_cfg" control.path)" = "/run/$(directive "$unit" RuntimeDirectory)/control.sock" ] ||
    fail "control socket $(json "$agent_cfg" control.path) not in the unit's RuntimeDirectory"
[ "$(json "$agent_cfg" rotation.state_dir)" = "/var/lib/$(directive "$unit" StateDirectory)" ] ||
    fail "rotation.state_dir not the unit's StateDirectory"
store=$(json "$module_cfg" tokens.0.store)
[ "$(dirname "$store")" = "/var/lib/$(directive "$unit" StateDirectory)" ] ||
    fail "token store $store not in the unit's StateDirectory"
user=$(directive "$unit" User)
[ "$user" = "$(directive "$unit" Group)" ] && [ "$user" = "$(directive "$emu_unit" User)" ] ||
    fail "units' users/groups differ"
grep -Eq "^u $user " "$sysusers" || fail "sysusers.d does not create $user"
grep -qx "d /var/lib/$(directive "$unit" StateDirectory) 0700 $user $user -" "$tmpfiles" ||
    fail "tmpfiles.d state dir not 0700 $user"
lockdir=$(directive "$unit" ReadWritePaths)
[ "$lockdir" = /run/trustlink-lock ] || fail "unit ReadWritePaths=$lockdir"
group=$(directive "$unit" SupplementaryGroups)
grep -qx "d $lockdir 2770 root $group -" "$tmpfiles" || fail "tmpfiles.d lock dir not 2770 root:$group"
grep -Eq "^m $user $group$" "$sysusers" || fail "sysusers.d does not add $user to $group"
ok "user $user, group $group, state, runtime and lock dirs agree"

bus=$(sed -nE 's|^DeviceAllow=/dev/(i2c-[0-9]+) rw$|\1|p' "$unit")
[ -n "$bus" ] || fail "unit has no DeviceAllow for an i2c bus"
grep -Eq "KERNEL==\"$bus\".*GROUP=\"$group\".*MODE=\"0660\"" "$udev" ||
    fail "udev rule does not give $group the unit's bus $bus"
grep -qx i2c-dev "$modload" || fail "modules-load.d does not load i2c-dev"
ok "udev rule and DeviceAllow name $bus; i2c-dev is loaded"

# ---- 3. prefix given only at install time --------------------------------
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install2.log" 2>&1 ||
    { cat "$tmp/install2.log" >&2; fail "install --prefix"; }
while read -r path; do
    case "$path" in "$prefix"/*) ;; *) fail "installed outside the prefix: $path" ;; esac
done <"$build/install_manifest.txt"
[ "$(grep -c "" "$build/install_manifest.txt")" -eq "$(grep -c "" <<<"$actual")" ] ||
    fail "--prefix install has $(grep -c "" "$build/install_manifest.txt") files, DESTDIR install $(wc -l <<<"$actual")"
punit=$(grep '/trustlinkd.service$' "$build/install_manifest.txt")
grep -qxF "ExecStart=$prefix/sbin/trustlinkd --config /etc/trustlink/trustlink.json" "$punit" ||
    fail "--prefix unit ExecStart: $(directive "$punit" ExecStart)"
pmod=$(grep '/libtrustlink-pkcs11.so$' "$build/install_manifest.txt")
grep -qx "module: $pmod" "$(grep '/trustlink.module$' "$build/install_manifest.txt")" ||
    fail "--prefix p11-kit registration does not name $pmod"
check=$(cd "$tmp" && TRUSTLINK_PKCS11_CONF=$tmp/none.json "$prefix/bin/trustlinkctl" check \
        --config "$agent_cfg" --pin-file /dev/null 2>&1 || true)
grep -q "^FAIL key: PKCS#11 module $pmod " <<<"$check" ||
    fail "--prefix: built-in module path is not $pmod: $check"
ok "--prefix $prefix: all files below it; ExecStart, registration and default module follow it"
