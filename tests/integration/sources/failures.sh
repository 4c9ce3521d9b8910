#!/bin/bash
# Failures: unreachable server (retried with backoff), a server that never
# answers (timeout), a corrupted pack. A failed poll keeps the last good cache.
. "$(dirname "$0")/lib.sh"

O="$T/origin.git"
W="$T/work"
git init -q "$W"
echo a >"$W/a" && git -C "$W" add a && git -C "$W" commit -qm one
git clone -q --bare "$W" "$O"
GOOD=$(rev "$W" HEAD)
write_cfg() { # write_cfg URL TIMEOUT
    cat >"$T/cfg.yaml" <<YAML
stateDir: $T/state
source:
  url: $1
  timeout: $2
environments:
  - name: dev
    path: p
YAML
}
write_cfg "file://$O" 30s
run_sources
expect_rc 0 "first fetch"
expect "$(envf dev commit)" "$GOOD" "dev"

# Unreachable: nothing listens on the port.
PORT=$(free_port)
write_cfg "http://127.0.0.1:$PORT/repo.git" 30s
START=$(date +%s%N)
run_sources
END=$(date +%s%N)
expect_rc 1 "unreachable server"
expect_match "$(jget source.error)" "after 3 attempts" "retried"
[ $(((END - START) / 1000000)) -ge 1400 ] || fail "retries did not back off ($(((END - START) / 1000000)) ms)"
expect "$(envf dev commit)" "$GOOD" "the last good cache is still used"
expect "$(envf dev ok)" true "environment still resolved from the cache"
ok "unreachable server: 3 attempts with backoff, last good cache kept"

# A server that accepts and never answers: the timeout ends the poll.
python3 - "$T/hang.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
PY
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/hang.port" ] && break; sleep 0.05; done
write_cfg "http://127.0.0.1:$(cat "$T/hang.port")/repo.git" 2s
START=$(date +%s%N)
run_sources
END=$(date +%s%N)
expect_rc 1 "hanging server"
expect_match "$(jget source.error)" "timed out after 2000 ms" "timeout message"
MS=$(((END - START) / 1000000))
[ "$MS" -lt 6000 ] || fail "timeout took $MS ms"
ok "a server that never answers times out ($MS ms for a 2s timeout)"

# Corrupted pack on the server: the fetch fails, refs do not move.
echo b >"$W/b" && git -C "$W" add b && git -C "$W" commit -qm two
head -c 300000 /dev/urandom >"$W/big" && git -C "$W" add big && git -C "$W" commit -qm three
git -C "$W" push -q "$O" main
git -C "$O" repack -q -a -d
PACK=$(ls "$O"/objects/pack/*.pack)
chmod u+w "$PACK"
SIZE=$(stat -c %s "$PACK")
printf 'garbagegarbagegarbage' | dd of="$PACK" bs=1 seek=$((SIZE / 2)) conv=notrunc 2>/dev/null
write_cfg "file://$O" 30s
run_sources
expect_rc 1 "corrupted pack"
[ "$(jget source.error)" != null ] || fail "no fetch error reported"
expect "$(envf dev commit)" "$GOOD" "refs did not move"
git --git-dir="$T/state/git" fsck --no-progress >/dev/null 2>&1 || fail "cache damaged by a failed fetch"
ok "corrupted pack: fetch fails, cache intact"
echo "1..$NTEST"
