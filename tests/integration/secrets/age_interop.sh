#!/usr/bin/env bash
# Interop with the real age CLI, both directions: sizes 0 .. >1 MiB (and the
# 64 KiB chunk edges), binary and armored, one and several recipients, and
# identity files from age-keygen and from `sluice keygen` used by both.
set -euo pipefail
: "${SLUICE:?}" "${AGE_TOOL:?}"
command -v age >/dev/null || { echo "age CLI not installed (Debian package age)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"
umask 077
age-keygen -o a1.key 2>/dev/null; age-keygen -o a2.key 2>/dev/null
R_A1=$(age-keygen -y a1.key); R_A2=$(age-keygen -y a2.key)
R_S1=$("$SLUICE" keygen -o s1.key)
[ "$(age-keygen -y s1.key)" = "$R_S1" ] || { echo "FAIL: age-keygen -y disagrees with sluice keygen"; exit 1; }
age-keygen -o other.key 2>/dev/null
pass=0; fail=0
check() { if "$@"; then pass=$((pass+1)); else echo "FAIL: $*"; fail=$((fail+1)); fi; }
same() { cmp -s "$1" "$2"; }
for size in 0 1 100 65535 65536 65537 131072 200000 1048576 1100000; do
  head -c "$size" /dev/urandom > "p$size"
  for armor in "" "-a"; do
    # age -> sluice, three recipients (two age-keygen, one sluice keygen)
    age $armor -r "$R_A1" -r "$R_A2" -r "$R_S1" -o "c$size$armor" "p$size"
    for k in a1.key a2.key s1.key; do
      "$AGE_TOOL" decrypt -i "$k" "c$size$armor" > "d$size$armor"
      check same "p$size" "d$size$armor"
    done
    # rotation: wrong key first, right key second
    "$AGE_TOOL" decrypt -i other.key -i a2.key "c$size$armor" > "d$size$armor"
    check same "p$size" "d$size$armor"
    # a key that is not a recipient: no match, nothing written
    if "$AGE_TOOL" decrypt -i other.key "c$size$armor" > "x$size" 2>err; then
      echo "FAIL: decrypted with a foreign key"; fail=$((fail+1))
    else
      check test ! -s "x$size"; check grep -q "no identity matched" err
    fi
    # sluice -> age
    "$AGE_TOOL" encrypt $armor -r "$R_A1" -r "$R_S1" "p$size" > "e$size$armor"
    for k in a1.key s1.key; do
      age -d -i "$k" "e$size$armor" > "f$size$armor"
      check same "p$size" "f$size$armor"
    done
  done
done
# A SealedSecret value (with the scope stanza) decrypts with the plain age CLI.
printf 'interop-value' > v
"$SLUICE" seal -r "$R_A1" --name db --namespace app --from-file k=v > ss.yaml
awk '/^    k: \|/{f=1;next} f&&/END AGE/{print substr($0,7);exit} f{print substr($0,7)}' ss.yaml > k.age
check test "$(age -d -i a1.key k.age)" = "interop-value"
# Recipient typos are caught by the Bech32 checksum.
bad="${R_A1%?}q"; [ "$bad" = "$R_A1" ] && bad="${R_A1%?}p"
if "$SLUICE" seal -r "$bad" --name x --namespace y --from-literal a=b >/dev/null 2>err; then
  echo "FAIL: bad checksum accepted"; fail=$((fail+1))
else check grep -q "Bech32" err; fi
echo "age interop: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
