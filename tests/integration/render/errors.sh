#!/usr/bin/env bash
# Untrusted input through the real CLI: every refusal is an error (exit 1)
# whose message names the file or field involved.
set -euo pipefail
: "${SLUICE:?SLUICE must point at the sluice binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
pass=0

# expect_fail NAME PATTERN ARGS...: sluice build ARGS exits 1 and stderr matches PATTERN
expect_fail() {
    local name=$1 pattern=$2
    shift 2
    local rc=0
    "$SLUICE" build "$@" >"$work/out" 2>"$work/err" || rc=$?
    if [ "$rc" -ne 1 ]; then
        echo "FAIL $name: exit $rc, want 1"; cat "$work/err"; fails=$((fails + 1)); return
    fi
    if ! grep -Eq -- "$pattern" "$work/err"; then
        echo "FAIL $name: error does not match /$pattern/:"; cat "$work/err"; fails=$((fails + 1)); return
    fi
    echo "ok   $name: $(head -c 300 "$work/err")"
    pass=$((pass + 1))
}

mk() { mkdir -p "$(dirname "$1")"; cat >"$1"; }

cm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n' "$1"; }

# 1. ../ above the root (the root is the enclosing git repository)
r=$work/escape; mkdir -p "$r/repo/.git" "$r/outside"
cm out >"$r/outside/cm.yaml"
printf 'resources:\n- cm.yaml\n' >"$r/outside/kustomization.yaml"
printf 'resources:\n- ../../outside\n' | mk "$r/repo/app/kustomization.yaml"
expect_fail "path above root" 'leaves the repository root' "$r/repo/app"

# 2. a symlink that resolves outside the root
r=$work/symlink; mkdir -p "$r/repo/.git" "$r/secret"
cm secret >"$r/secret/cm.yaml"
ln -s "$r/secret/cm.yaml" "$r/repo/link.yaml" 2>/dev/null || true
printf 'resources:\n- link.yaml\n' | mk "$r/repo/kustomization.yaml"
expect_fail "symlink outside root" 'link.yaml' "$r/repo"

# 3. a file over 16 MiB
r=$work/big; mkdir -p "$r/.git"
{ cm big; printf '  pad: "'; head -c $((17 << 20)) /dev/zero | tr '\0' a; printf '"\n'; } >"$r/big.yaml"
printf 'resources:\n- big.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "file over 16 MiB" 'big.yaml' "$r"

# 4. resource cycle a -> b -> a
r=$work/cycle; mkdir -p "$r/.git"
printf 'resources:\n- ../b\n' | mk "$r/a/kustomization.yaml"
printf 'resources:\n- ../a\n' | mk "$r/b/kustomization.yaml"
expect_fail "cycle" 'cycle.*a -> b -> a' "$r/a"

# 5. duplicate objects name both origins
r=$work/dup; mkdir -p "$r/.git"
cm same >"$r/one.yaml"; cm same >"$r/two.yaml"
printf 'resources:\n- one.yaml\n- two.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "duplicate object" 'one.yaml:[0-9]+ and two.yaml:[0-9]+' "$r"

# 6. remote resources, helm, plugins and unknown fields are refused by name
r=$work/remote; mkdir -p "$r/.git"
printf 'resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld\n' | mk "$r/kustomization.yaml"
expect_fail "remote resource" 'remote resources.*https://' "$r"
r=$work/gitremote; mkdir -p "$r/.git"
printf 'resources:\n- github.com/org/repo//base?ref=v1\n' | mk "$r/kustomization.yaml"
expect_fail "github.com resource" 'remote resources' "$r"
r=$work/helm; mkdir -p "$r/.git"
printf 'helmCharts:\n- name: redis\n  repo: https://charts.example.com\n' | mk "$r/kustomization.yaml"
expect_fail "helmCharts" 'kustomization.yaml: field "helmCharts" is not supported' "$r"
r=$work/unknown; mkdir -p "$r/.git"
printf 'resourcez:\n- x.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "unknown field" 'unknown field "resourcez"' "$r"
r=$work/exec; mkdir -p "$r/.git"
printf 'apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n' >"$r/plugin.yaml"
printf 'generators:\n- plugin.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "exec/KRM plugin" 'plugin.yaml.*(not supported|ChartInflator)' "$r"

# 7. YAML alias expansion bomb and deep nesting
r=$work/bomb; mkdir -p "$r/.git"
{
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n'
    printf 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    prev=a
    for l in b c d e f g h; do printf '%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $l $l $prev $prev $prev $prev $prev $prev $prev $prev $prev $prev; prev=$l; done
} >"$r/bomb.yaml"
printf 'resources:\n- bomb.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "alias bomb" 'bomb.yaml.*alias' "$r"
r=$work/deep; mkdir -p "$r/.git"
{ printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: '; for i in $(seq 300); do printf '['; done; for i in $(seq 300); do printf ']'; done; printf '\n'; } >"$r/deep.yaml"
printf 'resources:\n- deep.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "deep nesting" 'deep.yaml.*nesting deeper' "$r"

# 8. more objects than allowed
r=$work/many; mkdir -p "$r/.git"
for i in 1 2 3 4 5; do cm "cm$i"; echo ---; done >"$r/many.yaml"
printf 'resources:\n- many.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "object limit" 'many.yaml: more than 3 objects' --max-objects 3 "$r"

# 9. malformed YAML and a bad patch name the file and line
r=$work/badyaml; mkdir -p "$r/.git"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n' >"$r/bad.yaml"
printf 'resources:\n- bad.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "malformed YAML" 'bad.yaml:[0-9]+' "$r"
r=$work/nopatch; mkdir -p "$r/.git"
cm a >"$r/a.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nothere\ndata:\n  x: y\n' >"$r/p.yaml"
printf 'resources:\n- a.yaml\npatches:\n- path: p.yaml\n' | mk "$r/kustomization.yaml"
expect_fail "unmatched patch" 'p.yaml: no resource matches' "$r"

# 10. a file outside the kustomization directory (directories may be, files not)
r=$work/file-up; mkdir -p "$r/.git" "$r/app"
cm up >"$r/cm.yaml"
printf 'resources:\n- ../cm.yaml\n' | mk "$r/app/kustomization.yaml"
expect_fail "file above kustomization" 'security; file "../cm.yaml" is not in or below' "$r/app"

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
