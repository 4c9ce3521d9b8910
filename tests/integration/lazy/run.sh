#!/usr/bin/env bash
# Lazy loading of the heavy libraries (agent/lazy):
#  - the sluice executable does not link libcurl, libmicrohttpd, libgit2;
#  - build DIR and check-config never load them (LD_DEBUG=libs), even when the
#    only copies the loader would find are broken;
#  - peak RSS of those verbs next to `version` (which loads all three), printed;
#  - a library that cannot be loaded gives "cannot load SONAME (needed to ...)".
# Usage: run.sh READELF PEAKRSS SONAME_CURL SONAME_MHD SONAME_GIT2
set -uo pipefail
sluice=${SLUICE:?SLUICE must name the sluice binary}
src=${SLUICE_SRC:?}
readelf=$1 peakrss=$2 curl=$3 mhd=$4 git2=$5
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | head -20; }

# Which of the three libraries a run loads: LD_DEBUG=libs names every library
# the dynamic loader looks for, dlopen()ed ones included.
loaded() { # loaded LOG -> sonames found in it
    local s
    for s in "$curl" "$mhd" "$git2"; do
        grep -q "find library=$s " "$1" && printf '%s ' "$s"
    done
}

needed=$("$readelf" -d "$sluice" | grep NEEDED)
if echo "$needed" | grep -qE "\[($curl|$mhd|$git2)\]"; then
    bad "sluice links none of $curl $mhd $git2" "$needed"
else
    ok "sluice links none of $curl $mhd $git2"
fi

# The check itself can see a dlopen()ed library: version loads all three.
LD_DEBUG=libs "$sluice" version >/dev/null 2>"$T/version.log"
got=$(loaded "$T/version.log")
if [ "$got" = "$curl $mhd $git2 " ]; then
    ok "version loads the three libraries ($got)"
else
    bad "version loads the three libraries" "found: $got"
fi

printf 'source:\n  url: file:///srv/git/platform.git\nenvironments:\n  - name: prod\n    path: environments/prod\n' >"$T/sluice.yaml"
for verb in "build $src/environments/prod" "check-config $T/sluice.yaml"; do
    # shellcheck disable=SC2086
    if LD_DEBUG=libs "$sluice" $verb >"$T/out" 2>"$T/ld.log"; then
        got=$(loaded "$T/ld.log")
        if [ -z "$got" ]; then
            ok "${verb%% *} loads none of the three libraries"
        else
            bad "${verb%% *} loads none of the three libraries" "loaded: $got"
        fi
    else
        bad "${verb%% *} runs" "$(grep -v '^ *[0-9]*:' "$T/ld.log")"
    fi
done

# Broken copies first on the search path: anything that tried to load them
# would fail, and these verbs still work and print the same.
mkdir "$T/broken"
for s in "$curl" "$mhd" "$git2"; do echo "not a shared library" >"$T/broken/$s"; done
"$sluice" build "$src/environments/prod" >"$T/build.ref" 2>&1
if LD_LIBRARY_PATH="$T/broken" "$sluice" build "$src/environments/prod" >"$T/build.out" 2>&1 &&
    cmp -s "$T/build.ref" "$T/build.out"; then
    ok "build DIR works and renders the same with all three libraries unloadable"
else
    bad "build DIR works with all three libraries unloadable" "$(diff "$T/build.ref" "$T/build.out")"
fi
if LD_LIBRARY_PATH="$T/broken" "$sluice" check-config "$T/sluice.yaml" >/dev/null 2>"$T/err"; then
    ok "check-config works with all three libraries unloadable"
else
    bad "check-config works with all three libraries unloadable" "$(cat "$T/err")"
fi

# A library that cannot be loaded: a clear error and exit 1, not a crash.
expect_error() { # expect_error NAME SONAME PURPOSE CMD...
    local name=$1 so=$2 why=$3 rc
    shift 3
    rm -rf "$T/one" && mkdir "$T/one" && cp "$T/broken/$so" "$T/one/"
    LD_LIBRARY_PATH="$T/one" "$@" >/dev/null 2>"$T/err"
    rc=$?
    if [ "$rc" = 1 ] && grep -q "cannot load $so ($why" "$T/err" && ! grep -q "internal error" "$T/err"; then
        ok "$name: $(head -1 "$T/err")"
    else
        bad "$name: clear error and exit 1 (got $rc)" "$(cat "$T/err")"
    fi
}
expect_error "version without libcurl" "$curl" "needed to talk to the Kubernetes API" "$sluice" version
expect_error "version without libmicrohttpd" "$mhd" "needed to serve metrics and webhooks over HTTP" "$sluice" version
g() { git -C "$T/repo" -c user.email=t@example.com -c user.name=t "$@"; }
mkdir "$T/repo" && cp -r "$src/environments" "$T/repo/"
if g init -q -b main && g add -A && g commit -qm import; then
    expect_error "build --revision without libgit2" "$git2" "needed to read the git repository" \
        "$sluice" build --revision HEAD "$T/repo/environments/prod"
else
    bad "git repository for build --revision"
fi

# Peak RSS (printed for the record; memory is not asserted, the machine is shared).
for verb in "version" "build $src/environments/prod" "check-config $T/sluice.yaml"; do
    # shellcheck disable=SC2086
    kb=$("$peakrss" "$sluice" $verb 2>&1 >/dev/null | sed -n 's/^peak_rss_kb=//p')
    echo "info peak RSS of sluice ${verb%% *}: ${kb:-?} kB"
done

echo "lazy: $pass passed, $fail failed"
[ "$fail" = 0 ]
