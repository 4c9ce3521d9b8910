#!/bin/bash
# Smart HTTP through `git http-backend` on 127.0.0.1: anonymous, basic auth,
# bearer token; wrong credentials; an idle poll is one request.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

W="$T/work"
git init -q "$W"
echo a >"$W/a" && git -C "$W" add a && git -C "$W" commit -qm one
git -C "$W" tag v1.0.0-rc.1 && git -C "$W" tag -a -m r v1.0.0
mkdir -p "$T/srv"
git clone -q --bare "$W" "$T/srv/repo.git"

start_server() { # start_server NAME [server args]: sets PORT, LOG
    local name=$1
    shift
    PORT=$(free_port)
    LOG="$T/$name.log"
    rm -f "$T/$name.ready"
    python3 "$HERE/git_http_server.py" --root "$T/srv" --port "$PORT" --log "$LOG" \
        --ready "$T/$name.ready" "$@" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -f "$T/$name.ready" ] && return 0; sleep 0.05; done
    fail "server $name did not start"
}
write_cfg() { # write_cfg URL [extra source lines]
    {
        printf 'stateDir: %s/state-%s\nsource:\n  url: %s\n  timeout: 20s\n' "$T" "$CASE" "$1"
        shift
        for l in "$@"; do printf '  %s\n' "$l"; done
        printf 'environments:\n  - name: dev\n    path: p\n  - name: stage\n    path: p\n  - name: prod\n    path: p\n'
    } >"$T/cfg.yaml"
}

# Anonymous.
CASE=anon
start_server anon
write_cfg "http://127.0.0.1:$PORT/repo.git"
run_sources
expect_rc 0 "anonymous http fetch"
expect "$(envf prod ref)" "v1.0.0" "prod over http"
: >"$LOG"
run_sources
expect "$(jget source.changed)" false "idle poll"
expect "$(wc -l <"$LOG")" 1 "an idle poll is one request"
grep -q "^GET /repo.git/info/refs?service=git-upload-pack 200" "$LOG" || fail "idle poll request: $(cat "$LOG")"
ok "anonymous smart HTTP; idle poll is one round trip"

echo b >"$W/b" && git -C "$W" add b && git -C "$W" commit -qm two
git -C "$W" push -q "$T/srv/repo.git" main
: >"$LOG"
run_sources
expect "$(jget source.changed)" true "new commit fetched"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev at the new commit"
expect "$(grep -c '^POST' "$LOG")" 1 "one upload-pack POST for the fetch"
ok "incremental fetch over HTTP"

# Basic auth.
CASE=basic
start_server basic --basic "deploy:s3cret"
printf 's3cret\n' >"$T/password" && chmod 600 "$T/password"
write_cfg "http://127.0.0.1:$PORT/repo.git" "username: deploy" "passwordFile: $T/password"
run_sources
expect_rc 0 "basic auth fetch"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev over basic auth"
ok "basic auth"

printf 'wrong\n' >"$T/password"
rm -rf "$T/state-basic"
run_sources
expect_rc 1 "wrong password"
expect_match "$(jget source.error)" "authentication failed" "wrong password message"
grep -q "wrong" "$T/out.json" "$T/err.txt" && fail "the password leaked into the output"
expect "$(jget source.error | grep -c attempts || true)" 0 "auth failures are not retried"
ok "wrong password refused, not retried, not printed"

write_cfg "http://127.0.0.1:$PORT/repo.git"
run_sources
expect_rc 1 "no credentials"
expect_match "$(jget source.error)" "asks for credentials and none are configured" "missing credentials message"
ok "missing credentials"

chmod 644 "$T/password"
write_cfg "http://127.0.0.1:$PORT/repo.git" "username: deploy" "passwordFile: $T/password"
run_sources
expect_rc 1 "world-readable password file"
grep -q "password" "$T/err.txt" || fail "perm error: $(cat "$T/err.txt")"
ok "a readable password file is refused"

# Bearer token.
CASE=token
start_server token --token "tok-123"
printf 'tok-123\n' >"$T/token" && chmod 600 "$T/token"
write_cfg "http://127.0.0.1:$PORT/repo.git" "tokenFile: $T/token"
run_sources
expect_rc 0 "bearer token"
expect "$(envf stage ref)" "v1.0.0-rc.1" "stage over bearer"
printf 'tok-bad\n' >"$T/token"
rm -rf "$T/state-token"
run_sources
expect_rc 1 "wrong token"
expect_match "$(jget source.error)" "authentication failed" "wrong token message"
grep -q "tok-bad" "$T/out.json" "$T/err.txt" && fail "the token leaked"
ok "bearer token"

# An off-site redirect must not carry the token along.
printf 'tok-123\n' >"$T/token"
TOKPORT=$PORT
start_server redirect --redirect "http://localhost:$TOKPORT"
CASE=redirect
write_cfg "http://127.0.0.1:$PORT/repo.git" "tokenFile: $T/token"
: >"$T/token.log"
run_sources
expect_rc 1 "off-site redirect with a token"
grep -q "auth=bearer" "$T/token.log" && fail "the token followed the redirect: $(cat "$T/token.log")"
grep -q "302 auth=bearer" "$LOG" || fail "redirect server not asked: $(cat "$LOG")"
ok "credentials never follow an off-site redirect"

# Without credentials, the initial redirect is followed (as git does).
start_server anon2
ANONPORT=$PORT
start_server redirect2 --redirect "http://localhost:$ANONPORT"
CASE=redirect2
write_cfg "http://127.0.0.1:$PORT/repo.git"
run_sources
expect_rc 0 "anonymous redirect"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev through a redirect"
ok "an anonymous initial redirect is followed"
echo "1..$NTEST"
