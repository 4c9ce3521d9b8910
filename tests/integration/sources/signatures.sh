#!/bin/bash
# SSH signatures made by the real git + ssh-keygen (gpg.format=ssh), verified by
# sluice against an allowed_signers file: good, unsigned, tampered, unknown
# signer, expired key, wrong namespace, unsupported key type, lightweight tag.
. "$(dirname "$0")/lib.sh"

K="$T/keys"
mkdir -p "$K"
for k in alice mallory carol dave; do
    ssh-keygen -q -t ed25519 -N "" -C "$k" -f "$K/$k"
done
ssh-keygen -q -t rsa -b 2048 -N "" -C bob -f "$K/bob"
pub() { cut -d' ' -f1,2 "$K/$1.pub"; }
{
    echo "# allowed signers for the test"
    echo "alice@example.com namespaces=\"git\" $(pub alice)"
    echo "bob@example.com $(pub bob)"
    echo "carol@example.com valid-before=\"20200101\" $(pub carol)"
    echo "dave@example.com namespaces=\"file\" $(pub dave)"
} >"$T/allowed_signers"

O="$T/origin"
git init -q "$O"
git -C "$O" config gpg.format ssh
git -C "$O" config gpg.ssh.allowedSignersFile "$T/allowed_signers"
scommit() { # scommit KEY|none MSG
    echo "$2" >"$O/$2.txt"
    git -C "$O" add -A
    if [ "$1" = none ]; then
        git -C "$O" commit -qm "$2"
    else
        git -C "$O" -c user.signingkey="$K/$1" commit -q -S -m "$2"
    fi
    git -C "$O" rev-parse HEAD
}
stag() { # stag KEY|none NAME COMMIT
    if [ "$1" = none ]; then
        git -C "$O" tag -a -m release "$2" "$3"
    else
        git -C "$O" -c user.signingkey="$K/$1" tag -s -m release "$2" "$3"
    fi
}
GOOD=$(scommit alice good)
stag alice v1.0.0-rc.1 "$GOOD"
stag alice v1.0.0 "$GOOD"
git -C "$O" verify-commit "$GOOD" 2>/dev/null || fail "git itself rejects the good commit"
git -C "$O" verify-tag v1.0.0 2>/dev/null || fail "git itself rejects the good tag"
for b in unsigned mallory carol dave bob tampered; do
    git -C "$O" checkout -q -b "$b" "$GOOD"
done
git -C "$O" checkout -q unsigned && scommit none unsigned-c >/dev/null
git -C "$O" checkout -q mallory && scommit mallory mallory-c >/dev/null
git -C "$O" checkout -q carol && scommit carol carol-c >/dev/null
git -C "$O" checkout -q dave && scommit dave dave-c >/dev/null
git -C "$O" checkout -q bob && scommit bob bob-c >/dev/null
git -C "$O" checkout -q tampered && TC=$(scommit alice tamper-c)
NEWC=$(git -C "$O" cat-file commit "$TC" | sed 's/^tamper-c$/tamper-C/' | git -C "$O" hash-object -t commit -w --stdin)
git -C "$O" update-ref refs/heads/tampered "$NEWC"
git -C "$O" checkout -q main
stag none u1.0.0 "$GOOD"
git -C "$O" tag l1.0.0 "$GOOD"
stag mallory m1.0.0 "$GOOD"
stag alice t1.0.0 "$GOOD"
NEWT=$(git -C "$O" cat-file tag t1.0.0 | sed 's/^release$/RELEASE/' | git -C "$O" hash-object -t tag -w --stdin)
git -C "$O" update-ref refs/tags/t1.0.0 "$NEWT"
git -C "$O" verify-commit "$NEWC" 2>/dev/null && fail "git accepts the tampered commit"
git -C "$O" verify-tag t1.0.0 2>/dev/null && fail "git accepts the tampered tag"

env_branch() { # env_branch NAME BRANCH MODE
    printf '  - name: %s\n    path: p\n    signatures: %s\n    track: {type: branch, branch: %s}\n' "$1" "$3" "$2"
}
env_tag() { # env_tag NAME PREFIX MODE
    printf '  - name: %s\n    path: p\n    signatures: %s\n    track: {type: release, tagPrefix: "%s", requireRc: false}\n' "$1" "$3" "$2"
}
{
    cat <<YAML
stateDir: $T/state
source:
  url: file://$O
  allowedSigners: $T/allowed_signers
environments:
  - name: prod
    path: p
    signatures: both
    track: {type: release}
YAML
    env_branch dev main commits
    env_branch unsigned unsigned commits
    env_branch mallory mallory commits
    env_branch expired carol commits
    env_branch namespace dave commits
    env_branch rsa bob commits
    env_branch tampered tampered commits
    env_branch nosig unsigned none
    env_tag tag-unsigned u tags
    env_tag tag-light l tags
    env_tag tag-mallory m tags
    env_tag tag-tampered t tags
} >"$T/cfg.yaml"

run_sources
expect_rc 1 "some environments are refused"
expect "$(envf prod ok)" true "signed tag and commit accepted"
expect "$(envf prod signature)" "good: tag by alice@example.com, commit by alice@example.com" "prod signature status"
expect "$(envf dev signature)" "good: commit by alice@example.com" "dev signature status"
expect "$(envf nosig ok)" true "signatures: none accepts unsigned"
expect "$(envf nosig signature)" "not required" "none status"
ok "good signatures accepted (the same ones git verify-commit/verify-tag accept)"

check_refused() { # check_refused ENV REGEX WHAT
    expect "$(envf "$1" ok)" false "$3: refused"
    expect_match "$(envf "$1" signature)" "^refused: " "$3: signature status"
    expect_match "$(envf "$1" error)" "$2" "$3: message"
}
check_refused unsigned "commit [0-9a-f]{7} is not signed" "unsigned commit"
check_refused mallory "unknown signer: key SHA256:[A-Za-z0-9+/]+ is not in allowed_signers" "unknown signer"
check_refused expired "expired before the signing time" "expired key"
check_refused namespace "not allowed for namespace \"git\"" "namespace"
check_refused rsa "key type \"ssh-rsa\" is not supported" "rsa key"
check_refused tampered "bad signature" "tampered commit"
check_refused tag-unsigned "tag u1.0.0 is not signed" "unsigned tag"
check_refused tag-light "lightweight" "lightweight tag"
check_refused tag-mallory "tag m1.0.0: unknown signer" "tag by unknown signer"
check_refused tag-tampered "tag t1.0.0: bad signature" "tampered tag"
ok "unsigned, unknown, expired, namespace, unsupported and tampered are refused with the reason"

"$SLUICE" sources --config "$T/cfg.yaml" --offline >"$T/out.txt" 2>&1 && fail "text run should exit 1"
grep -q "^tampered .*refused: commit [0-9a-f]\{7\}: bad signature" "$T/out.txt" || fail "text output: $(cat "$T/out.txt")"
ok "text output names the refused commit"

# A refused revision is not remembered as the environment's revision.
grep -q "^env tampered " "$T/state/sources/state" && fail "refused revision recorded in state"
grep -q "^env prod " "$T/state/sources/state" || fail "good revision not recorded"
ok "refused revisions are not recorded"

# signatures: tags on a branch-tracking environment is a configuration error.
python3 - "$T/cfg.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read().replace("signatures: commits\n    track: {type: branch, branch: main}",
                           "signatures: tags\n    track: {type: branch, branch: main}")
open(p, "w").write(s)
PY
run_sources
expect_rc 1 "tags on a branch"
grep -q "signatures: tags needs a tag-tracking rule" "$T/err.txt" || fail "config error: $(cat "$T/err.txt")"
ok "signatures: tags on a branch is refused"
echo "1..$NTEST"
