#!/bin/bash
# SSH transport through Debian's openssh-server on 127.0.0.1 with a throwaway
# host key: key auth, known_hosts checking (unknown and changed keys refused).
. "$(dirname "$0")/lib.sh"

SSHD=${SSHD:-/usr/sbin/sshd}
[ -x "$SSHD" ] || { echo "1..0 # SKIP openssh-server is not installed (apt-get install openssh-server)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP sshd needs root to switch users"; exit 0; }
mkdir -p /run/sshd

W="$T/work"
git init -q "$W"
echo a >"$W/a" && git -C "$W" add a && git -C "$W" commit -qm one
git -C "$W" tag v1.0.0-rc.1 && git -C "$W" tag -a -m r v1.0.0
git clone -q --bare "$W" "$T/repo.git"

ssh-keygen -q -t ed25519 -N "" -f "$T/hostkey"
ssh-keygen -q -t ed25519 -N "" -f "$T/otherhost"
ssh-keygen -q -t ed25519 -N "" -f "$T/client"
ssh-keygen -q -t ed25519 -N "" -f "$T/stranger"
cp "$T/client.pub" "$T/authorized_keys"
chmod 600 "$T/authorized_keys" "$T/client" "$T/stranger"
PORT=$(free_port)
cat >"$T/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
CONF
"$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
PIDS+=($!)
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
done

echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/hostkey.pub")" >"$T/known_hosts"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/otherhost.pub")" >"$T/known_hosts.changed"
echo "[127.0.0.2]:$PORT $(cut -d' ' -f1,2 "$T/hostkey.pub")" >"$T/known_hosts.other"

# Sanity: the real ssh client gets in with the same files.
ssh -o BatchMode=yes -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes \
    -i "$T/client" -p "$PORT" "$(id -un)@127.0.0.1" true 2>"$T/ssh.err" ||
    fail "ssh client cannot log in: $(cat "$T/ssh.err" "$T/sshd.log")"

URL="ssh://$(id -un)@127.0.0.1:$PORT$T/repo.git"
write_cfg() { # write_cfg KEY KNOWN_HOSTS
    cat >"$T/cfg.yaml" <<YAML
stateDir: $T/state
source:
  url: $URL
  timeout: 20s
  sshKeyFile: $1
  knownHostsFile: $2
environments:
  - name: dev
    path: p
  - name: prod
    path: p
YAML
}

write_cfg "$T/client" "$T/known_hosts"
run_sources
expect_rc 0 "ssh fetch"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev over ssh"
expect "$(envf prod ref)" "v1.0.0" "prod over ssh"
run_sources
expect "$(jget source.changed)" false "idle poll over ssh"
echo b >"$W/b" && git -C "$W" add b && git -C "$W" commit -qm two && git -C "$W" push -q "$T/repo.git" main
run_sources
expect "$(jget source.changed)" true "incremental fetch over ssh"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev at the new commit over ssh"
ok "ssh fetch with key and known_hosts; idle and incremental polls"

rm -rf "$T/state"
cp "$T/known_hosts" "$T/known_hosts.hashed"
ssh-keygen -q -H -f "$T/known_hosts.hashed" >/dev/null 2>&1
grep -q '^|1|' "$T/known_hosts.hashed" || fail "ssh-keygen -H did not hash"
write_cfg "$T/client" "$T/known_hosts.hashed"
run_sources
expect_rc 0 "hashed known_hosts"
expect "$(envf dev commit)" "$(rev "$W" HEAD)" "dev over ssh with hashed known_hosts"
ok "hashed known_hosts entries (ssh-keygen -H)"

rm -rf "$T/state"
write_cfg "$T/client" "$T/known_hosts.changed"
run_sources
expect_rc 1 "changed host key"
expect_match "$(jget source.error)" "does not match known_hosts" "changed host key message"
ok "changed host key refused"

write_cfg "$T/client" "$T/known_hosts.other"
run_sources
expect_rc 1 "unknown host"
expect_match "$(jget source.error)" "127.0.0.1\]:$PORT is not in known_hosts" "unknown host message"
ok "unknown host refused"

write_cfg "$T/stranger" "$T/known_hosts"
run_sources
expect_rc 1 "unauthorized key"
expect_match "$(jget source.error)" "uthentication" "unauthorized key message"
ok "a key the server does not know is refused"

sed -i '/knownHostsFile/d' "$T/cfg.yaml"
run_sources
expect_rc 1 "no known_hosts"
grep -q "ssh needs source.knownHostsFile" "$T/err.txt" "$T/out.json" || fail "no known_hosts message: $(cat "$T/err.txt")"
ok "ssh without known_hosts is refused"
echo "1..$NTEST"
