#!/usr/bin/env bash
# Render benchmark: sluice build vs kubectl kustomize on a generated base of N
# Deployments with a prod overlay (namePrefix, commonLabels, images, one
# strategic patch targeted by labelSelector at every Deployment).
# Prints wall time and peak RSS of each and the ratios; checks that both
# outputs are identical. A command, not a test:
#   tests/bench/render/bench.sh [SLUICE] [N...]     (default N: 250 1000 2000 4000)
# SKIP_KUBECTL_ABOVE=N skips kubectl for larger N (it grows super-quadratically).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${1:-${SLUICE:-build/sluice}}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(250 1000 2000 4000)
skip_above=${SKIP_KUBECTL_ABOVE:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure OUT CMD...: run CMD with stdout to OUT; sets secs and rss_mb
measure() {
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$out" 2>"$work/stderr" || {
        cat "$work/stderr" >&2
        return 1
    }
    read -r secs rss_kb <"$work/time"
    rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
}

printf '%-6s %12s %12s %12s %12s %9s %9s %s\n' N sluice_s sluice_MB kubectl_s kubectl_MB speedup mem_ratio output
for n in "${sizes[@]}"; do
    tree=$work/n$n
    python3 "$here/gen.py" "$n" "$tree"
    mkdir -p "$tree/.git"
    measure "$work/sluice.yaml" "$sluice" build "$tree/overlays/prod"
    s_secs=$secs s_mb=$rss_mb
    if [ "$n" -le "$skip_above" ] && command -v kubectl >/dev/null; then
        measure "$work/kubectl.yaml" kubectl kustomize "$tree/overlays/prod"
        k_secs=$secs k_mb=$rss_mb
        speed=$(awk -v a="$k_secs" -v b="$s_secs" 'BEGIN { printf "%.0fx", (b > 0 ? a / b : 0) }')
        memr=$(awk -v a="$k_mb" -v b="$s_mb" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')
        if cmp -s "$work/sluice.yaml" "$work/kubectl.yaml"; then same=identical; else same=DIFFERENT; fi
    else
        k_secs=- k_mb=- speed=- memr=- same=-
    fi
    printf '%-6s %12s %12s %12s %12s %9s %9s %s\n' "$n" "$s_secs" "$s_mb" "$k_secs" "$k_mb" "$speed" "$memr" "$same"
    rm -rf "$tree"
done
