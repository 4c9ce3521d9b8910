#!/bin/bash
# Smart HTTPS through `git http-backend` behind TLS on 127.0.0.1 with a
# throwaway CA: trusted via caFile, refused without it, accepted with insecure.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

W="$T/work"
git init -q "$W"
echo a >"$W/a" && git -C "$W" add a && git -C "$W" commit -qm one
mkdir -p "$T/srv"
git clone -q --bare "$W" "$T/srv/repo.git"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -extfile "$T/ext" -out "$T/srv.pem" 2>/dev/null

PORT=$(free_port)
python3 "$HERE/git_http_server.py" --root "$T/srv" --port "$PORT" --log "$T/https.log" \
    --ready "$T/ready" --tls-cert "$T/srv.pem" --tls-key "$T/srv.key" &
PIDS+=($!)
for _ in $(seq 100); do [ -f "$T/ready" ] && break; sleep 0.05; done
python3 -c 'import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
urllib.request.urlopen(sys.argv[2], context=ctx).read()' "$T/ca.pem" \
    "https://localhost:$PORT/repo.git/info/refs?service=git-upload-pack" || fail "the TLS server is not up"

write_cfg() {
    {
        printf 'stateDir: %s/state\nsource:\n  url: https://localhost:%s/repo.git\n  timeout: 20s\n' "$T" "$PORT"
        for l in "$@"; do printf '  %s\n' "$l"; done
        printf 'environments:\n  - name: dev\n    path: p\n'
    } >"$T/cfg.yaml"
}

write_cfg
run_sources
expect_rc 1 "untrusted certificate"
expect_match "$(jget source.error)" "not trusted" "untrusted certificate message"
ok "an untrusted certificate is refused"

write_cfg "caFile: $T/ca.pem"
run_sources
expect_rc 0 "caFile"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev over https"
ok "https with caFile"

rm -rf "$T/state"
write_cfg "insecure: true"
run_sources
expect_rc 0 "insecure"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev over https, insecure"
ok "insecure: true skips verification (only when set)"
echo "1..$NTEST"
