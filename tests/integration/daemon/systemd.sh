#!/usr/bin/env bash
# The shipped unit: `systemd-analyze verify` must accept it and
# `systemd-analyze security --offline=true` must rate its exposure 1.5 or
# lower; the sysusers.d and tmpfiles.d files must apply to an empty root.
# Exit 77 (skipped, with the reason) when systemd's tools are not installed.
set -uo pipefail
src=${SLUICE_SRC:?}
sluice=${SLUICE:?}
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIPPED: systemd-analyze is not installed (Debian package systemd); the unit was not checked"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# verify resolves ExecStart: point it at the binary under test.
sed "s#^ExecStart=/usr/bin/sluice #ExecStart=$sluice #" "$src/systemd/sluice.service" >"$tmp/sluice.service"
if ! out=$(cd "$tmp" && systemd-analyze verify ./sluice.service 2>&1) || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify:"
    echo "$out"
    fail=1
else
    echo "ok: systemd-analyze verify"
fi

out=$(cd "$tmp" && systemd-analyze security --offline=true ./sluice.service 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for sluice.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
    echo "FAIL: no exposure level in systemd-analyze security output:"
    echo "$out"
    fail=1
elif awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }'; then
    echo "ok: exposure level $level <= 1.5"
else
    echo "FAIL: exposure level $level > 1.5:"
    printf '%s\n' "$out" | grep '✗'
    fail=1
fi

# The unit must keep the promises the README makes.
for k in Type=notify WatchdogSec= User=sluice StateDirectory=sluice ConfigurationDirectory=sluice \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes \
    'CapabilityBoundingSet=$' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes UMask=0077 LimitCORE=0; do
    if ! grep -q "^$k" "$src/systemd/sluice.service"; then
        echo "FAIL: sluice.service lacks $k"
        fail=1
    fi
done

if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
    root="$tmp/root"
    mkdir -p "$root/etc" "$root/var/lib"
    if systemd-sysusers --root="$root" "$src/systemd/sluice.sysusers" &&
        grep -q '^sluice:' "$root/etc/passwd" &&
        systemd-tmpfiles --root="$root" --create "$src/systemd/sluice.tmpfiles" &&
        [ "$(stat -c %a "$root/var/lib/sluice")" = 700 ] &&
        [ "$(stat -c %a "$root/etc/sluice")" = 750 ]; then
        echo "ok: sysusers.d and tmpfiles.d apply"
    else
        echo "FAIL: sysusers.d/tmpfiles.d did not apply"
        fail=1
    fi
else
    echo "note: systemd-sysusers/systemd-tmpfiles not installed; those files were not applied"
fi
exit $fail
