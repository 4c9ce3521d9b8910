#!/usr/bin/env bash
# The keygen, seal and reseal verbs end to end, checked by unsealing with
# the pipeline's unseal path (unseal_driver) and with the age CLI.
set -euo pipefail
: "${SLUICE:?}" "${UNSEAL_DRIVER:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"
fail=0; pass=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
expect_fail() { if "$@" >out 2>err; then bad "should fail: $*"; else ok; fi; }

# keygen: mode 0600, never overwrites, prints the recipient
R1=$("$SLUICE" keygen -o k1)
[ "$(stat -c %a k1)" = 600 ] && ok || bad "keygen mode $(stat -c %a k1)"
[[ "$R1" =~ ^age1[02-9ac-hj-np-z]{58}$ ]] && ok || bad "recipient format $R1"
grep -q "^# public key: $R1\$" k1 && ok || bad "public key comment"
cp k1 k1.orig
expect_fail "$SLUICE" keygen -o k1
grep -q "refusing to overwrite" err && ok || bad "overwrite message"
cmp -s k1 k1.orig && ok || bad "keygen overwrote"
"$SLUICE" keygen > k-stdout 2> k-stderr; grep -q '^AGE-SECRET-KEY-1' k-stdout && grep -q '^Public key: age1' k-stderr && ok || bad "keygen to stdout"
R2=$("$SLUICE" keygen -o k2)

# seal a manifest from stdin and from a file
cat > secret.yaml <<'Y'
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
  labels:
    team: data
type: kubernetes.io/basic-auth
data:
  username: YWRtaW4=
stringData:
  password: "p@ss: word"
Y
"$SLUICE" seal -r "$R1" < secret.yaml > sealed.yaml
"$SLUICE" seal -r "$R1" -o sealed2.yaml secret.yaml
grep -q 'kind: SealedSecret' sealed.yaml && grep -q 'scope: strict' sealed.yaml && ok || bad "sealed output"
grep -q 'YWRtaW4=\|p@ss' sealed.yaml sealed2.yaml && bad "plaintext in sealed output" || ok
"$UNSEAL_DRIVER" -i k1 --show-secrets sealed.yaml > unsealed.json
python3 - unsealed.json <<'P' && ok || bad "unsealed content"
import json, sys, base64
s = json.load(open(sys.argv[1]))
assert s["kind"] == "Secret" and s["type"] == "kubernetes.io/basic-auth", s
assert s["metadata"] == {"name": "db", "namespace": "app", "labels": {"team": "data"}}, s
assert base64.b64decode(s["data"]["username"]) == b"admin"
assert base64.b64decode(s["data"]["password"]) == b"p@ss: word"
P
"$UNSEAL_DRIVER" -i k1 sealed.yaml | grep -q '"password": "\*\*\*\*\*"' && ok || bad "masked by default"

# scope: moved or renamed fails, naming object and key; namespace/cluster scopes
expect_fail "$UNSEAL_DRIVER" -i k1 --namespace prod sealed.yaml
grep -q 'SealedSecret prod/db: key "password"' err && ok || bad "moved error: $(cat err)"
expect_fail "$UNSEAL_DRIVER" -i k1 --name db2 sealed.yaml
"$SLUICE" seal -r "$R1" --scope namespace --name x -n app --from-literal a=b > ns.yaml
"$UNSEAL_DRIVER" -i k1 --name y ns.yaml >/dev/null && ok || bad "namespace scope rename"
expect_fail "$UNSEAL_DRIVER" -i k1 --namespace other ns.yaml
"$SLUICE" seal -r "$R1" --scope cluster --name x --from-literal a=b > cl.yaml
"$UNSEAL_DRIVER" -i k1 --namespace any --name thing cl.yaml >/dev/null && ok || bad "cluster scope"
expect_fail "$SLUICE" seal -r "$R1" --name x --from-literal a=b   # strict needs a namespace
sed 's/scope: strict/scope: cluster/' sealed.yaml > edited.yaml
expect_fail "$UNSEAL_DRIVER" -i k1 edited.yaml
grep -q 'scope edited' err && ok || bad "edited scope message"

# wrong key: every value reported
expect_fail "$UNSEAL_DRIVER" -i k2 sealed.yaml
[ "$(grep -c 'no identity matched' err)" -ge 2 ] && ok || bad "all values reported"

# identity permissions
chmod 644 k1
expect_fail "$UNSEAL_DRIVER" -i k1 sealed.yaml
grep -q 'chmod 600' err && ok || bad "permission fix-it"
chmod 600 k1

# merge-into: one key changes, the others stay byte for byte
cp sealed.yaml merged.yaml
printf 'rotated' > newpw
"$SLUICE" seal -r "$R1" --from-file password=newpw --merge-into merged.yaml 2>/dev/null
grep -A30 'username: |' sealed.yaml > u1; grep -A30 'username: |' merged.yaml > u2
cmp -s u1 u2 && ok || bad "merge touched another key"
[ "$(diff sealed.yaml merged.yaml | grep -c '^[<>]')" -gt 0 ] && ok || bad "merge changed nothing"
diff sealed.yaml merged.yaml | grep '^[<>]' | grep -vq '^[<>]       [A-Za-z0-9+/=]*$' && bad "merge diff has non-armor lines" || ok
"$UNSEAL_DRIVER" -i k1 --show-secrets merged.yaml | python3 -c '
import json,sys,base64; s=json.load(sys.stdin); assert base64.b64decode(s["data"]["password"])==b"rotated"' && ok || bad "merged value"
"$SLUICE" seal -r "$R1" --from-literal extra=1 --merge-into merged.yaml 2>/dev/null
"$UNSEAL_DRIVER" -i k1 --show-secrets merged.yaml | grep -q '"extra"' && ok || bad "merge add key"

# reseal: rotate from k1 to k2 across a directory; comments and other docs kept
mkdir -p repo/base repo/overlays/prod
{ echo "# header comment"; cat sealed.yaml; printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n'; } > repo/base/db.yaml
cp ns.yaml repo/overlays/prod/ns.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n' > repo/base/cm.yaml
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: whole\nstringData:\n  k: v\n' | age -r "$R1" -a > repo/base/whole.yaml.age
cp repo/base/cm.yaml cm.before
"$SLUICE" reseal -r "$R2" -i k1 repo > reseal.out 2> reseal.err
grep -q '^4 values in 3 files resealed, 0 failures' reseal.out && ok || bad "reseal summary: $(cat reseal.out reseal.err)"
head -1 repo/base/db.yaml | grep -q '# header comment' && ok || bad "comment kept"
cmp -s cm.before repo/base/cm.yaml && ok || bad "unrelated file touched"
"$UNSEAL_DRIVER" -i k2 repo/base/db.yaml > /dev/null && ok || bad "new key unseals"
"$UNSEAL_DRIVER" -i k2 --age repo/base/whole.yaml.age | grep -q '"k": "\*\*\*\*\*"' && ok || bad "whole file resealed"
head -1 repo/base/whole.yaml.age | grep -q 'BEGIN AGE ENCRYPTED FILE' && ok || bad "whole file stays armored"
expect_fail "$UNSEAL_DRIVER" -i k1 --age repo/base/whole.yaml.age
expect_fail "$UNSEAL_DRIVER" -i k1 repo/base/db.yaml
"$UNSEAL_DRIVER" -i k2 --name other repo/overlays/prod/ns.yaml > /dev/null && ok || bad "scope kept by reseal"
# a value no identity opens: file untouched, exit 1
cp repo/base/db.yaml db.before
expect_fail "$SLUICE" reseal -r "$R1" -i k1 repo/base/db.yaml
cmp -s db.before repo/base/db.yaml && ok || bad "failed reseal wrote the file"

# age CLI can read what seal wrote, with the sluice identity
awk '/^    username: \|/{f=1;next} f&&/END AGE/{print substr($0,7);exit} f{print substr($0,7)}' sealed.yaml > u.age
[ "$(age -d -i k1 u.age)" = admin ] && ok || bad "age -d of a sealed value"

echo "seal cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
