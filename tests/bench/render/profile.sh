#!/usr/bin/env bash
# Where the render's heap goes: runs `sluice build` of the benchmark overlay
# (gen.py, N Deployments) under valgrind massif and prints the peak heap and
# its largest allocation sites. A command, not a test:
#   tests/bench/render/profile.sh [SLUICE] [N]      (default N: 2000)
# Massif counts malloc'ed bytes only: its peak includes the resource file's
# buffer, whose parsed pages sluice returns to the kernel while parsing
# (sl_yaml_load_each_consume), so peak RSS (bench.sh) can be lower.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-${SLUICE:-build/sluice}}
n=${2:-2000}
command -v valgrind >/dev/null || { echo "profile.sh: needs valgrind" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen.py" "$n" "$work/tree"
mkdir -p "$work/tree/.git"
valgrind --tool=massif --massif-out-file="$work/massif.out" \
    "$sluice" build "$work/tree/overlays/prod" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2
    exit 1
}
ms_print --threshold=2 "$work/massif.out" >"$work/report"
peak=$(grep -o '[0-9]* (peak)' "$work/report" | cut -d' ' -f1)
awk -v s="$peak" '
    $1 == s && NF == 6 { f = 1; printf "N=%s peak heap: %s bytes (%s useful, %s malloc overhead)\n", n, $3, $4, $5; next }
    f && /^ *[0-9]+ +[0-9,]+ / { exit }
    f && /^(->|\| ->)/ { print }
' n="$n" "$work/report"
