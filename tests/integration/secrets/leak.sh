#!/usr/bin/env bash
# Leak test: seal known random plaintexts, drive every secrets path this area
# owns (keygen, seal from literal/file/manifest, merge-into, reseal, unseal of
# SealedSecrets and of a whole-file .age resource, failing unseals) at debug
# log level, and scan every byte written (stdout, stderr, output files, the
# temp directory) for each plaintext and its base64 forms: zero hits.
set -euo pipefail
: "${SLUICE:?}" "${UNSEAL_DRIVER:?}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
IN="$T/in"; W="$T/work"; mkdir -p "$IN" "$W" "$W/tmp"
export TMPDIR="$W/tmp" SLUICE_LOG_LEVEL=debug
cd "$W"
rnd() { python3 -c 'import secrets,string; print("".join(secrets.choice(string.ascii_letters+string.digits) for _ in range(40)))'; }
P1=$(rnd); P2=$(rnd); P3=$(rnd); P4=$(rnd); P5=$(rnd); P6=$(rnd)
printf '%s' "$P2" > "$IN/p2"; printf '%s' "$P5" > "$IN/p5"
B3=$(printf '%s' "$P3" | base64 -w0)
cat > "$IN/secret.yaml" <<Y
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: app}
data:
  b: $B3
stringData:
  c: "$P4"
Y
printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: whole, namespace: app}\nstringData:\n  w: "%s"\n' "$P6" > "$IN/whole.yaml"

run() { local name=$1; shift; "$@" > "$W/$name.out" 2> "$W/$name.err" || echo "exit $?" >> "$W/$name.err"; }
R1=$("$SLUICE" -v -v keygen -o k1 2> keygen.err); R2=$("$SLUICE" keygen -o k2 2>>keygen.err)
run seal-literal "$SLUICE" -v -v seal -r "$R1" --name db -n app --from-literal a="$P1" --from-file p2="$IN/p2"
cp seal-literal.out s1.yaml
run seal-manifest "$SLUICE" -v -v seal -r "$R1" -r "$R2" -o s2.yaml "$IN/secret.yaml"
run seal-stdin sh -c "\"$SLUICE\" -v -v seal -r \"$R1\" < \"$IN/secret.yaml\""
run merge "$SLUICE" -v -v seal -r "$R1" --from-file p5="$IN/p5" --merge-into s1.yaml
run merge-bad "$SLUICE" -v -v seal -r "$R1" --from-file a="$IN/p5" --scope cluster --merge-into s1.yaml
run unseal "$UNSEAL_DRIVER" -i k1 s1.yaml s2.yaml
run unseal-moved "$UNSEAL_DRIVER" -i k1 --namespace other s1.yaml s2.yaml
run unseal-wrongkey "$UNSEAL_DRIVER" -i k2 s1.yaml
age -r "$R1" -a -o whole.yaml.age "$IN/whole.yaml"
mkdir repo; cp s1.yaml s2.yaml whole.yaml.age repo/
run reseal "$SLUICE" -v -v reseal -r "$R2" -i k1 repo
run reseal-fail "$SLUICE" -v -v reseal -r "$R2" -i k1 repo
run unseal-after "$UNSEAL_DRIVER" -i k2 repo/s1.yaml repo/s2.yaml
run unseal-age-resealed "$UNSEAL_DRIVER" -i k2 --age repo/whole.yaml.age
run unseal-age "$UNSEAL_DRIVER" -i k1 --age whole.yaml.age
run unseal-age-wrong "$UNSEAL_DRIVER" -i k2 --age whole.yaml.age

# sanity: the runs did what they should (so a silent failure cannot pass the scan)
grep -q '"a": "\*\*\*\*\*"' unseal.out && grep -q '"p5": "\*\*\*\*\*"' unseal.out || { echo "unseal did not run"; cat unseal.err; exit 1; }
grep -q '"w": "\*\*\*\*\*"' unseal-age.out && grep -q '"w"' unseal-age-resealed.out || { echo "age resource did not unseal"; cat unseal-age.err; exit 1; }
grep -q 'level=debug' unseal.err || { echo "no debug logging"; exit 1; }
grep -q 'cannot be used in "other/db"' unseal-moved.err || { echo "moved unseal did not fail"; exit 1; }

# Control: the scanner must find the values where they are meant to be shown.
mkdir -p "$T/control"
"$UNSEAL_DRIVER" -i k1 --show-secrets s1.yaml > "$T/control/shown.json" 2>/dev/null

python3 - "$W" "$T/control" "$P1" "$P2" "$P3" "$P4" "$P5" "$P6" <<'PY'
import base64, os, sys
root, control, plains = sys.argv[1], sys.argv[2], [p.encode() for p in sys.argv[3:]]
needles = []
for p in plains:
    needles += [p, base64.b64encode(p), base64.b64encode(p).rstrip(b"="), base64.urlsafe_b64encode(p).rstrip(b"=")]
def scan(top, quiet=False):
    files = hits = total = 0
    for d, _, names in os.walk(top):
        for n in names:
            data = open(os.path.join(d, n), "rb").read()
            files += 1; total += len(data)
            for nd in needles:
                if nd in data:
                    hits += 1
                    if not quiet:
                        print(f"LEAK: {os.path.relpath(os.path.join(d, n), top)} contains a plaintext form")
    return files, total, hits
if scan(control, quiet=True)[2] == 0:
    print("leak scan: the control (--show-secrets output) was not detected; the scan is broken")
    sys.exit(1)
files, total, hits = scan(root)
print(f"leak scan: {files} files, {total} bytes, {len(needles)} needles, {hits} hits")
sys.exit(1 if hits else 0)
PY
