#!/usr/bin/env bash
# Every example environment, and each tree under tests/integration/render/trees
# (overlays of tricky scalars, timestamps, quoting, file names), renders like
# `kubectl kustomize`: semantically (each document as canonical JSON) and byte for byte.
set -euo pipefail
: "${SLUICE:?}" "${SLUICE_SRC:?}"
tool=$1
if ! command -v kubectl >/dev/null; then
    echo "FAIL: kubectl is needed as the reference renderer"; exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 n=0
for dir in "$SLUICE_SRC"/environments/*/; do
    env=$(basename "$dir")
    [ -f "$dir/kustomization.yaml" ] || continue
    n=$((n + 1))
    (cd "$SLUICE_SRC" && "$SLUICE" build "environments/$env") >"$work/$env.sluice"
    kubectl kustomize "$dir" >"$work/$env.kubectl"
    "$tool" yaml2json "$work/$env.sluice" >"$work/$env.sluice.json"
    "$tool" yaml2json "$work/$env.kubectl" >"$work/$env.kubectl.json"
    if ! diff -u "$work/$env.kubectl.json" "$work/$env.sluice.json"; then
        echo "FAIL $env: differs from kubectl kustomize"; fails=$((fails + 1)); continue
    fi
    if cmp -s "$work/$env.kubectl" "$work/$env.sluice"; then
        echo "ok   $env (byte-identical)"
    else
        echo "ok   $env (semantically equal)"
    fi
done
for dir in "$SLUICE_SRC"/tests/integration/render/trees/*/; do
    name=$(basename "$dir")
    n=$((n + 1))
    "$SLUICE" build --root "$dir" "$dir/b" >"$work/$name.sluice" 2>/dev/null || true
    kubectl kustomize "$dir/b" >"$work/$name.kubectl" 2>/dev/null
    if cmp -s "$work/$name.kubectl" "$work/$name.sluice"; then
        echo "ok   tree $name (byte-identical)"
    else
        diff -u "$work/$name.kubectl" "$work/$name.sluice" | head -20
        echo "FAIL tree $name: differs from kubectl kustomize"; fails=$((fails + 1))
    fi
done
[ "$n" -gt 0 ] || { echo "FAIL: no environments found"; exit 1; }
echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
