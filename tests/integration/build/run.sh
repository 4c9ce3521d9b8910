#!/usr/bin/env bash
# sluice build from git: --revision REF, ENV by its promotion rule, --unseal.
set -uo pipefail
sluice=${SLUICE:?SLUICE must name the sluice binary}
src=${SLUICE_SRC:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | head -20; }
g() { git -C "$T/repo" -c user.email=t@example.com -c user.name=t "$@"; }

mkdir "$T/repo"
cp -r "$src/environments" "$T/repo/"
g init -q -b main && g add -A && g commit -qm "import"
g tag v1.0.0-rc.1
first=$(g rev-parse HEAD)
"$sluice" keygen -o "$T/key.txt" >/dev/null 2>&1 || bad "keygen"
rec=$(grep -o 'age1[0-9a-z]*' "$T/key.txt" | head -1)
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop-stage}\nstringData: {password: build-test-s3cret}\n' |
    "$sluice" seal -r "$rec" >"$T/repo/environments/stage/db.sealed.yaml"
sed -i 's/  - namespace.yaml/  - namespace.yaml\n  - db.sealed.yaml/' "$T/repo/environments/stage/kustomization.yaml"
sed -i 's/count: 2/count: 4/' "$T/repo/environments/stage/kustomization.yaml"
g add -A && g commit -qm "stage: sealed db password, 4 replicas"
g tag v1.0.0-rc.2
cat >"$T/sluice.yaml" <<EOF
stateDir: $T/state
source: {url: $T/repo}
decryption: {identities: [$T/key.txt]}
environments:
  - {name: stage, path: environments/stage}
EOF

# --revision: the file as it was at a revision, byte-identical to kubectl on a checkout.
out=$("$sluice" build "$T/repo/environments/stage" --revision "$first" 2>/dev/null)
g worktree add -q "$T/old" "$first"
want=$(kubectl kustomize "$T/old/environments/stage" 2>/dev/null)
[ -n "$out" ] && [ "$out" = "$want" ] && ok "--revision renders the old revision like kubectl on a checkout" || bad "--revision output differs" "$(diff <(echo "$out") <(echo "$want") | head)"
grep -q "replicas: 4" <<<"$out" && bad "--revision read the work tree" || ok "--revision does not read the work tree"
"$sluice" build "$T/repo/environments/stage" --revision no-such-ref >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "no-such-ref" "$T/err" && ok "unknown revision: exit 1, named" || bad "unknown revision" "$(cat "$T/err")"

# ENV: fetch, resolve the highest rc tag, render from the commit.
out=$("$sluice" build stage --config "$T/sluice.yaml" 2>"$T/err")
grep -q "at v1.0.0-rc.2" "$T/err" && ok "ENV resolves stage to v1.0.0-rc.2" || bad "ENV resolution" "$(cat "$T/err")"
grep -q "replicas: 4" <<<"$out" && grep -q "kind: SealedSecret" <<<"$out" && ok "ENV renders the tagged commit, sealed secrets left sealed" || bad "ENV render" "$out"
grep -q "build-test-s3cret\|YnVpbGQtdGVzdC1zM2NyZXQ" <<<"$out" && bad "plaintext without --unseal" || ok "no plaintext without --unseal"

# --unseal: Secrets with masked values, unless --show-secrets.
out=$("$sluice" build stage --config "$T/sluice.yaml" --offline --unseal 2>/dev/null)
grep -A2 "^data:" <<<"$out" | grep -q "password: '\*\*\*\*\*'" && ok "--unseal masks the values" || bad "--unseal masking" "$out"
grep -q "build-test-s3cret\|YnVpbGQtdGVzdC1zM2NyZXQ" <<<"$out" && bad "--unseal printed the value" || ok "--unseal prints no plaintext"
out=$("$sluice" build stage --config "$T/sluice.yaml" --offline --unseal --show-secrets -o json 2>/dev/null)
grep -q "YnVpbGQtdGVzdC1zM2NyZXQ=" <<<"$out" && ok "--show-secrets prints the value (base64, as the API gets it)" || bad "--show-secrets" "$out"
out=$("$sluice" build "$T/repo/environments/stage" --unseal -i "$T/key.txt" 2>/dev/null)
grep -q "kind: Secret$" <<<"$out" && ok "--unseal -i on a directory" || bad "--unseal -i on a directory" "$out"
"$sluice" build "$T/repo/environments/stage" --unseal >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "needs an identity" "$T/err" && ok "--unseal without identity: exit 1" || bad "--unseal without identity" "$(cat "$T/err")"
"$sluice" build "$T/repo/environments/stage" -i "$T/key.txt" >/dev/null 2>&1
[ $? = 2 ] && ok "-i without --unseal is a usage error" || bad "-i without --unseal"
chmod 644 "$T/key.txt"
"$sluice" build "$T/repo/environments/stage" --unseal -i "$T/key.txt" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "chmod 600" "$T/err" && ok "a world-readable identity is refused" || bad "identity mode" "$(cat "$T/err")"
chmod 600 "$T/key.txt"
"$sluice" build qa --config "$T/sluice.yaml" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "no such environment" "$T/err" && ok "unknown ENV: exit 1" || bad "unknown ENV" "$(cat "$T/err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
