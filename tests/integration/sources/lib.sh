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
# jget PATH: a value from $T/out.json as `jq -r` would print it ("null" for
# null), with PATH like "source.error" or "environments.name=prod.notices.0".
jget() {
    python3 - "$T/out.json" "$1" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for part in sys.argv[2].split("."):
    if v is None:
        break
    if "=" in part:
        k, want = part.split("=", 1)
        v = next((x for x in v if x.get(k) == want), None)
    elif isinstance(v, list):
        i = int(part)
        v = v[i] if i < len(v) else None
    else:
        v = v.get(part)
print("null" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else
      ("true" if v is True else "false" if v is False else v))
PY
}
# envf ENV FIELD (FIELD may be "notices[0]")
envf() {
    jget "environments.name=$1.$(echo "$2" | sed 's/\[\([0-9]*\)\]/.\1/g')"
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
