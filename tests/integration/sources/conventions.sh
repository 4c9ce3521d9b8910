#!/bin/bash
# Promotion conventions over file://: tag ordering, gates, ranges, and history
# changes (moved, deleted and re-created tags, force-pushed main).
. "$(dirname "$0")/lib.sh"

O="$T/origin"
git init -q "$O"
commit() { # commit NAME: a new commit touching file NAME
    mkdir -p "$O/environments/dev"
    echo "$1" >"$O/environments/dev/$1.yaml"
    git -C "$O" add -A
    git -C "$O" commit -qm "$1"
    git -C "$O" rev-parse HEAD
}
C1=$(commit c1)
C2=$(commit c2)
C3=$(commit c3)
C4=$(commit c4)
git -C "$O" tag v1.9.0-rc.1 "$C1"
git -C "$O" tag -a -m "1.9.0" v1.9.0 "$C1"
git -C "$O" tag v1.10.0-rc.9 "$C2"
git -C "$O" tag -a -m rc10 v1.10.0-rc.10 "$C3"
git -C "$O" tag v1.10.0 "$C3"
git -C "$O" tag v2.0.0 "$C4"       # a release without its rc
git -C "$O" tag v1.11.0-beta.1 "$C4" # not an rc
for t in vfoo v1.2 release-1.0.0 v01.2.3 v1.10.0-rc.01 v3.0.0-rc.x; do
    git -C "$O" tag "$t" "$C4"
done

cat >"$T/cfg.yaml" <<YAML
stateDir: $T/state
source:
  url: file://$O
environments:
  - name: dev
    path: environments/dev
  - name: stage
    path: environments/stage
  - name: prod
    path: environments/prod
  - name: prod-ungated
    path: environments/prod
    track: {type: release, requireRc: false}
  - name: stage-19
    path: environments/stage
    track: {type: rc, range: "~1.9"}
  - name: prod-lt110
    path: environments/prod
    track: {type: release, range: "<1.10.0"}
YAML

run_sources
expect_rc 0 "first resolution"
expect "$(jget source.changed)" true "first poll fetches"
expect "$(envf dev commit)" "$C4" "dev follows main"
expect "$(envf dev ref)" "main" "dev ref"
expect "$(envf stage ref)" "v1.10.0-rc.10" "rc.10 beats rc.9"
expect "$(envf stage commit)" "$C3" "stage commit (annotated tag peeled)"
expect "$(envf prod ref)" "v1.10.0" "v1.10.0 beats v1.9.0"
expect_match "$(envf prod reason)" "gated by v1.10.0-rc.10" "prod reason names the gate"
expect_match "$(envf prod reason)" "v2.0.0 skipped: no rc tag on the same commit" "prod says why v2.0.0 is skipped"
expect "$(envf prod-ungated ref)" "v2.0.0" "without the gate the highest release wins"
expect "$(envf stage-19 ref)" "v1.9.0-rc.1" "rc range matches the release the rc leads to"
expect "$(envf prod-lt110 ref)" "v1.9.0" "release range"
expect "$(envf prod tag)" "null" "lightweight tag has no tag object"
expect "$(envf prod-lt110 tag)" "$(git -C "$O" rev-parse v1.9.0)" "annotated tag object reported"
ok "tag ordering, gate, ranges"

"$SLUICE" sources --config "$T/cfg.yaml" >"$T/out.txt"
grep -q "^prod  *release v\* gated by rc  *v1.10.0  *${C3:0:12}  *not required  *v1.10.0 (${C3:0:7}) gated by v1.10.0-rc.10" "$T/out.txt" ||
    fail "text output: $(cat "$T/out.txt")"
ok "text output, one line per environment"

run_sources
expect "$(jget source.changed)" false "idle poll does not fetch"
ok "idle poll"

# A moved release tag is refused: prod keeps its revision, until accepted.
C5=$(commit c5)
git -C "$O" tag -f v1.10.0 "$C5" >/dev/null
git -C "$O" tag v1.10.0-rc.11 "$C5"
run_sources
expect_rc 0 "moved release tag"
expect "$(envf prod commit)" "$C3" "prod keeps the old commit of a moved tag"
expect "$(envf prod kept)" true "kept flag"
expect_match "$(envf prod notices[0])" "tag v1.10.0 moved from ${C3:0:7} to ${C5:0:7}: refused" "moved tag notice"
expect "$(envf stage ref)" "v1.10.0-rc.11" "stage follows the new rc"
run_sources
expect "$(envf prod commit)" "$C3" "still refused on the next poll"
run_sources --accept-moved
run_sources
expect "$(envf prod commit)" "$C5" "accepted move is followed"
expect "$(envf prod kept)" false "no longer kept"
ok "moved release tag refused until accepted"

# A moved rc tag is followed and reported.
git -C "$O" tag -f v1.10.0-rc.11 "$C4" >/dev/null
run_sources
expect "$(envf stage commit)" "$C4" "moved rc tag is followed"
expect_match "$(envf stage notices[0])" "tag v1.10.0-rc.11 moved from ${C5:0:7} to ${C4:0:7}" "rc moved notice"
git -C "$O" tag -f v1.10.0-rc.11 "$C5" >/dev/null
run_sources
ok "moved rc tag followed and reported"

# Deleting the release prod runs rolls it back to the next highest (reported).
git -C "$O" tag -d v1.10.0 >/dev/null
run_sources
expect "$(envf prod ref)" "v1.9.0" "rollback by tag deletion"
expect_match "$(envf prod reason)" "rolled back \(tag deleted\) from v1.10.0" "rollback reason"
expect_match "$(envf prod notices[0])" "tag v1.10.0 was deleted" "deletion notice"
ok "deleted highest tag rolls back"

# Re-creating it (seen as deleted in between) is a new tag: followed.
git -C "$O" tag v1.10.0 "$C5"
run_sources
expect "$(envf prod ref)" "v1.10.0" "re-created tag followed"
expect "$(envf prod commit)" "$C5" "re-created tag commit"
ok "re-created tag followed"

# Never silently downgrade: losing the gate keeps the current revision.
git -C "$O" tag -d v1.10.0-rc.11 >/dev/null
git -C "$O" tag -d v1.10.0-rc.10 >/dev/null
run_sources
expect "$(envf prod ref)" "v1.10.0" "no silent downgrade"
expect "$(envf prod kept)" true "kept on refused downgrade"
expect_match "$(envf prod reason)" "refusing to move down to v1.9.0" "downgrade reason"
ok "downgrade refused"

# A force-pushed main is followed and reported.
git -C "$O" reset -q --hard "$C2"
C6=$(commit c6)
run_sources
expect "$(envf dev commit)" "$C6" "dev follows the force-push"
expect_match "$(envf dev notices[0])" "main was force-pushed: ${C5:0:7} is no longer an ancestor of ${C6:0:7}" "force-push notice"
ok "force-pushed main followed and reported"

# --no-record leaves the state alone.
cp "$T/state/sources/state" "$T/state.before"
git -C "$O" tag v1.10.1-rc.1 "$C6"
run_sources --no-record
cmp -s "$T/state.before" "$T/state/sources/state" || fail "--no-record changed the state"
ok "--no-record"

# An environment that cannot be resolved fails the command.
cat >>"$T/cfg.yaml" <<YAML
  - name: missing
    path: environments/dev
    track: {type: branch, branch: nope}
YAML
run_sources
expect_rc 1 "unresolvable environment"
expect "$(envf missing ok)" false "missing branch not ok"
expect_match "$(envf missing error)" "branch nope not found" "missing branch reason"
expect "$(envf dev ok)" true "other environments still resolved"
ok "unresolvable environment exits 1"

# Another repository (source.url changed): its tags are not "moved" ones.
O2="$T/other"
git init -q "$O2"
echo x >"$O2/x" && git -C "$O2" add x && git -C "$O2" commit -qm other
git -C "$O2" tag v1.10.0-rc.1 && git -C "$O2" tag v1.10.0
sed -i "s|url: file://$O\$|url: file://$O2|" "$T/cfg.yaml"
run_sources
expect "$(envf prod commit)" "$(rev "$O2" HEAD)" "prod follows the new repository"
expect "$(envf prod notices)" "[]" "no history notices across repositories"
grep -q "source URL changed" "$T/err.txt" || fail "URL change not logged"
grep -q "^url file://$O2\$" "$T/state/sources/state" || fail "state does not record the URL"
ok "a changed source URL starts the history over"

# The cache is a normal bare repository that git itself can read.
git --git-dir="$T/state/git" fsck --no-progress >/dev/null 2>&1 || fail "git fsck of the cache"
ok "cache passes git fsck"
echo "1..$NTEST"
