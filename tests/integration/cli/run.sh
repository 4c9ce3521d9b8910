#!/usr/bin/env bash
# The CLI surface: help for every verb, version, exit codes for usage errors.
set -uo pipefail
sluice=${SLUICE:?SLUICE must name the sluice binary}
pass=0 fail=0
t() { # description, expected exit, command...
    local what=$1 want=$2
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" = "$want" ]; then
        pass=$((pass + 1))
        echo "ok   $what"
    else
        fail=$((fail + 1))
        echo "FAIL $what: exit $rc, wanted $want"
        echo "$out" | head -20
    fi
}
has() { # description, pattern, command...
    local what=$1 pat=$2
    shift 2
    out=$("$@" 2>&1)
    if grep -q -- "$pat" <<<"$out"; then
        pass=$((pass + 1))
        echo "ok   $what"
    else
        fail=$((fail + 1))
        echo "FAIL $what: no \"$pat\" in the output of $*"
    fi
}

t "sluice --help exits 0" 0 "$sluice" --help
t "sluice with no verb is a usage error" 2 "$sluice"
t "unknown verb is a usage error" 2 "$sluice" frobnicate
has "unknown verb is named" 'unknown verb "frobnicate"' "$sluice" frobnicate
t "unknown global flag is a usage error" 2 "$sluice" --frob version
t "bad --log-level is a usage error" 2 "$sluice" --log-level loud version
t "help for an unknown verb is a usage error" 2 "$sluice" help frobnicate
has "version names the build commit" "(commit " "$sluice" version
has "version lists libgit2" "libgit2" "$sluice" version
has "version -o json" '"libraries"' "$sluice" version -o json
t "version -o yaml is refused" 2 "$sluice" version -o yaml

verbs=$("$sluice" --help | awk '/^Verbs:/{on=1;next} /^$/{on=0} on{print $1}')
[ -n "$verbs" ] || { echo "FAIL no verbs listed"; fail=$((fail + 1)); }
for v in $verbs; do
    [ "$v" = help ] && continue
    t "$v --help exits 0" 0 "$sluice" "$v" --help
    has "$v --help prints its usage" "Usage: sluice $v" "$sluice" "$v" --help
    has "help $v prints the same usage" "Usage: sluice $v" "$sluice" help "$v"
    t "$v with an unknown flag is a usage error" 2 "$sluice" "$v" --no-such-flag
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
