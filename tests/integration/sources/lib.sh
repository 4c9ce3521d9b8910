# Shared helpers for the git source integration tests (sourced, not run).
set -euo pipefail
: "${SLUICE:?SLUICE must point at the sluice binary}"

T=$(mktemp -d /tmp/sluice-sources.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 TZ=UTC
mkdir -p "$HOME"
git config --global user.name "Test"
git config --global user.email "test@example.com"
git config --global init.defaultBranch main
git config --global advice.detachedHead false

NTEST=0
fail() {
    echo "not ok - $*" >&2
    [ -f "$T/out.json" ] && cat "$T/out.json" >&2
    [ -f "$T/err.txt" ] && cat "$T/err.txt" >&2
    exit 1
}
ok() {
    NTEST=$((NTEST + 1))
    echo "ok $NTEST - $*"
}

# run_sources [args]: JSON to $T/out.json, stderr to $T/err.txt, exit code to $RC.
run_sources() {
    set +e
    "$SLUICE" sources --config "$T/cfg.yaml" -o json "$@" >"$T/out.json" 2>"$T/err.txt"
    RC=$?
    set -e
}
# envf ENV FIELD
envf() {
    jq -r --arg e "$1" ".environments[] | select(.name == \$e) | .$2" "$T/out.json"
}
expect() { # expect ACTUAL EXPECTED WHAT
    [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}
expect_match() { # expect_match ACTUAL REGEX WHAT
    [[ "$1" =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}
expect_rc() {
    [ "$RC" == "$1" ] || fail "$2: exit code $RC, expected $1"
}
rev() { git -C "$1" rev-parse "$2^{commit}"; }

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
