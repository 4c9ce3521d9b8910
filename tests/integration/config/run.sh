#!/usr/bin/env bash
# Golden tests for `sluice check-config`: every cases/NAME.yaml is checked and
# its exit status, stdout and stderr compared with cases/NAME.expected.
# Every case also runs under valgrind, which must report no errors and no leaks.
# Usage: run.sh [--update]   (--update rewrites the expected files)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sluice=${SLUICE:?SLUICE must name the sluice binary}
update=0
[ "${1:-}" = "--update" ] && update=1
cd "$here/cases"

run_case() { # name path
    local name=$1 path=$2 out err rc
    out=$(mktemp) err=$(mktemp)
    "$sluice" check-config "$path" >"$out" 2>"$err"
    rc=$?
    {
        echo "exit: $rc"
        echo "--- stdout"
        cat "$out"
        echo "--- stderr"
        cat "$err"
    } >"$name.actual"
    rm -f "$out" "$err"
}

pass=0 fail=0
cases=()
for f in *.yaml; do cases+=("${f%.yaml}:$f"); done
cases+=("missing-file:does-not-exist.yaml" "directory:.")
if [ -f "$SLUICE_SRC/systemd/sluice.yaml" ]; then
    cp "$SLUICE_SRC/systemd/sluice.yaml" example.yaml.tmp
    cases+=("example:example.yaml.tmp")
fi

have_valgrind=1
command -v valgrind >/dev/null || have_valgrind=0
case "${SLUICE_SANITIZED:-}" in 1) have_valgrind=0 ;; esac

for c in "${cases[@]}"; do
    name=${c%%:*} path=${c#*:}
    run_case "$name" "$path"
    if [ $update = 1 ]; then
        mv "$name.actual" "$name.expected"
        echo "updated $name"
        continue
    fi
    if ! diff -u "$name.expected" "$name.actual"; then
        echo "FAIL $name: output differs from $name.expected"
        fail=$((fail + 1))
        rm -f "$name.actual"
        continue
    fi
    rm -f "$name.actual"
    # A normalized config must load again and normalize to itself.
    if [ "$(head -1 "$name.expected")" = "exit: 0" ]; then
        "$sluice" check-config "$path" >norm1.yaml.tmp 2>/dev/null
        "$sluice" check-config norm1.yaml.tmp >norm2.yaml.tmp 2>&1
        if ! diff <(tail -n +2 norm1.yaml.tmp) <(tail -n +2 norm2.yaml.tmp) >/dev/null; then
            echo "FAIL $name: normalized output does not load back to itself"
            diff <(tail -n +2 norm1.yaml.tmp) <(tail -n +2 norm2.yaml.tmp)
            fail=$((fail + 1))
            rm -f norm1.yaml.tmp norm2.yaml.tmp
            continue
        fi
        rm -f norm1.yaml.tmp norm2.yaml.tmp
    fi
    if [ $have_valgrind = 1 ]; then
        if ! valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
            "$sluice" check-config "$path" >/dev/null 2>vg.log; then
            if grep -q "==[0-9]*==" vg.log; then
                echo "FAIL $name: valgrind reported problems"
                cat vg.log
                fail=$((fail + 1))
                rm -f vg.log
                continue
            fi
        fi
        rm -f vg.log
    fi
    echo "ok   $name"
    pass=$((pass + 1))
done
rm -f example.yaml.tmp
[ $have_valgrind = 1 ] || echo "note: valgrind not run (not installed, or a sanitizer build)"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
