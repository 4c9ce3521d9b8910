#!/usr/bin/env python3
"""Secret hygiene, end to end: sealed values reach the cluster and nothing else.

A git repository made from the example environments gets SealedSecrets sealed
with `sluice keygen` + `sluice seal` (values through pipes and private files):
strict and namespace scope, a binary and a multi-line value, an immutable
Secret. Then, at debug log level (`-v -v`, `--log-level debug` and
SLUICE_LOG_LEVEL=debug), the real CLI runs against kubesim:

  check (text, JSON); build (text, JSON, `--unseal` of a directory and of ENV from git);
  diff before the first deploy, after it, after a rotation (text, JSON) and
  after a hand edit of the live Secret; reconcile: first deploy, rotation,
  no-op (zero writes), drift correction of the hand-edited Secret, an
  immutable Secret's rotation refused by the server and then re-created with
  `sluice.dev/force: enabled`; rollback; status and history (text, JSON);
  the failing case: sealed values copied into stage, whose namespace differs,
  so unsealing fails in check, diff and reconcile; and `sluice run` deploying
  one more rotation while stage fails, with /metrics, a notification
  receiver and the control socket's status.

Every byte of stdout and stderr of every command, the notifications, metrics
and control answers, every file in sluice's state directory, TMPDIR and
HOME, the cluster's objects with Secret data removed, kubesim's request log
and the repository's whole history are scanned for each plaintext (and the
identity's key material) in raw, base64, hex and JSON-escaped form, every
12-byte piece of it and every 16-byte piece of its base64: zero hits.

Positive controls: the scanner must find each form planted in a control
directory, and every delivered plaintext in kubesim's copies of the Secrets
(which proves the needles match what the product really sends), never the
one that must not be delivered. The Secrets in kubesim must hold exactly the
sealed values after every change.
"""
import base64
import json
import os
import secrets
import shutil
import socket
import string
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Checks, Harness  # noqa: E402

check = Checks()


def rnd_text(n):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def needles_for(p):
    """Every form of plaintext p (bytes) that must never appear."""
    b64 = base64.b64encode(p)
    forms = {p, b64, b64.rstrip(b"="), base64.urlsafe_b64encode(p).rstrip(b"="),
             p.hex().encode(), p.hex().upper().encode()}
    try:
        forms.add(json.dumps(p.decode())[1:-1].encode())
    except UnicodeDecodeError:
        pass
    if len(p) >= 12:
        forms |= {p[i:i + 12] for i in range(len(p) - 11)}
        forms |= {b64[i:i + 16] for i in range(0, len(b64) - 15)}
    return forms


class Scanner:
    def __init__(self, plains):
        self.plains = plains  # name -> bytes
        self.needles = {name: needles_for(p) for name, p in plains.items()}

    def scan_bytes(self, data):
        """Names of the plaintexts some form of which occurs in data."""
        return sorted(name for name, forms in self.needles.items()
                      if any(f in data for f in forms))

    def scan_tree(self, top):
        files = total = 0
        hits = []
        for d, _, names in os.walk(top):
            for n in names:
                path = os.path.join(d, n)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                files += 1
                total += len(data)
                for name in self.scan_bytes(data):
                    hits.append((os.path.relpath(path, top), name))
        return files, total, hits


def secret_values(h, ns, name):
    s = h.find("Secret", ns, name)
    if s is None:
        return None
    return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}


def main():
    h = Harness("sluice-e2e-leak-")
    try:
        return run(h)
    finally:
        h.close()


def run(h):
    plains = {
        "db-password": rnd_text(40).encode(),
        "db-user": rnd_text(10).encode(),  # short: whole value and encodings only
        "token": secrets.token_hex(32).encode(),
        "signing-key": secrets.token_bytes(32),  # binary
        "tls-pem": ("\n".join(rnd_text(48) for _ in range(3)) + "\n").encode(),
        "db-password-2": rnd_text(40).encode(),  # the rotated value
        "moved": rnd_text(32).encode(),  # sealed for dev, used in stage: never unsealed
        "db-password-3": rnd_text(40).encode(),  # rotated again, deployed by the daemon
        "hand-edited": rnd_text(40).encode(),  # written into the live Secret by hand (drift)
        "immutable-1": rnd_text(24).encode(),  # an immutable Secret...
        "immutable-2": rnd_text(24).encode(),  # ...rotated: refused, then forced (re-created)
    }
    inputs = os.path.join(h.top, "input")  # plaintext files for --from-file: not scanned
    os.makedirs(inputs, mode=0o700)

    def infile(name):
        p = os.path.join(inputs, name)
        with open(p, "wb") as f:
            f.write(plains[name])
        return p

    h.start_kubesim()
    h.init_repo()

    # ---- keys and sealing (values through pipes and private files only) ----
    r = h.sluice("keygen", "-v", "-v", "keygen", "-o", h.identity, config=False)
    recipient = r.out.strip()
    if not check(r.rc == 0 and recipient.startswith("age1"), "keygen prints a recipient",
                 r.tail()):
        return check.summary("e2e_secret_leak", "main")
    # The identity is a secret too: its key material (after the fixed prefix) must not leak.
    with open(h.identity) as f:
        key = next((l.strip() for l in f if l.startswith("AGE-SECRET-KEY-1")), "")
    check(len(key) > 40, "keygen wrote an age identity")
    plains["identity"] = key[len("AGE-SECRET-KEY-1"):].encode()
    scanner = Scanner(plains)
    dev_db = "environments/dev/api-db.sealed.yaml"
    dev_tok = "environments/dev/api-tokens.sealed.yaml"
    r = h.sluice("seal-db", "-v", "-v", "seal", "-r", recipient, "--name", "api-db", "-n",
                 "shop-dev", "--from-file", "password=-", "--from-file",
                 "user=" + infile("db-user"), "-o", h.path(dev_db), config=False,
                 stdin=plains["db-password"])
    check(r.rc == 0, "seal api-db (strict scope, one value from stdin)", r.tail())
    manifest = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "api-tokens", "namespace": "shop-dev"},
        "type": "Opaque",
        "data": {"signing-key": base64.b64encode(plains["signing-key"]).decode()},
        "stringData": {"token": plains["token"].decode(), "tls.pem": plains["tls-pem"].decode()},
    }
    r = h.sluice("seal-tokens", "--log-level", "debug", "seal", "-r", recipient, "--scope",
                 "namespace", "-o", h.path(dev_tok), "-", config=False,
                 stdin=json.dumps(manifest).encode())
    check(r.rc == 0, "seal api-tokens from a manifest on stdin (namespace scope)", r.tail())
    for rel in (dev_db, dev_tok):
        text = h.read(rel).encode()
        check(b"kind: SealedSecret" in text and not scanner.scan_bytes(text),
              f"{rel} is a SealedSecret without any plaintext form")
    h.add_resource("environments/dev/kustomization.yaml", "api-db.sealed.yaml")
    h.add_resource("environments/dev/kustomization.yaml", "api-tokens.sealed.yaml")
    c1 = h.commit("dev: sealed database credentials and API tokens")

    base_config = f"""decryption:
  identities:
    - {h.identity}
environments:
  - name: dev
    path: environments/dev
    namespace: shop-dev
    healthTimeout: 20s
  - name: stage
    path: environments/stage
    namespace: shop-stage
    healthTimeout: 20s
"""
    h.write_config(base_config)
    h.env["SLUICE_LOG_LEVEL"] = "debug"  # and -v -v / --log-level on the command lines

    # ---- offline verbs ----
    r = h.sluice("check", "-v", "-v", "check", "--repo", h.repo)
    check(r.rc == 0 and "dev (warn):" in r.out and "stage (enforce):" in r.out,
          "check renders, unseals and checks dev and stage", r.tail())
    r = h.sluice("check-json", "-v", "-v", "check", "--repo", h.repo, "-o", "json")
    check(r.rc == 0 and r.json() is not None, "check -o json", r.tail())
    r = h.sluice("build", "-v", "-v", "build", h.path("environments/dev"), config=False)
    check(r.rc == 0 and r.out.count("kind: SealedSecret") == 2
          and "BEGIN AGE ENCRYPTED FILE" in r.out, "build keeps SealedSecrets sealed", r.tail())
    r = h.sluice("build-json", "--log-level", "debug", "build", "-o", "json",
                 h.path("environments/dev"), config=False)
    check(r.rc == 0 and '"SealedSecret"' in r.out, "build -o json", r.tail())
    r = h.sluice("build-unseal", "-v", "-v", "build", "--unseal", "-i", h.identity,
                 h.path("environments/dev"), config=False)
    check(r.rc == 0 and "kind: Secret" in r.out and "'*****'" in r.out,
          "build --unseal masks values", r.tail())
    r = h.sluice("build-env-unseal", "-v", "-v", "build", "dev", "--unseal")
    check(r.rc == 0 and "kind: Secret" in r.out and "'*****'" in r.out,
          "build ENV --unseal (from git, configured identities) masks values", r.tail())

    # ---- first deploy ----
    r = h.sluice("diff-first", "-v", "-v", "diff", "dev")
    check(r.rc == 1 and "desired/v1/Secret/shop-dev/api-db" in r.out
          and "desired/v1/Secret/shop-dev/api-tokens" in r.out and "***" in r.out,
          "diff before the first deploy shows both Secrets, values masked", r.tail())
    check("level=debug" in r.err, "diff logs at debug level", r.tail(5))
    r = h.sluice("reconcile-first", "-v", "-v", "reconcile", "dev", "--once")
    check(r.rc == 0 and "dev: healthy at" in r.out, "first reconcile of dev is healthy", r.tail())
    check("level=debug" in r.err, "reconcile logs at debug level", r.tail(5))
    db, tok = secret_values(h, "shop-dev", "api-db"), secret_values(h, "shop-dev", "api-tokens")
    check(db == {"password": plains["db-password"], "user": plains["db-user"]},
          "Secret shop-dev/api-db holds exactly the sealed values")
    check(tok == {"token": plains["token"], "signing-key": plains["signing-key"],
                  "tls.pem": plains["tls-pem"]},
          "Secret shop-dev/api-tokens holds exactly the sealed values (binary, multi-line)")
    # kubesim's copy of what was delivered: the scanner's positive control at the end
    delivered = os.path.join(h.top, "control-delivered")
    os.makedirs(delivered)

    def keep_delivered(tag):
        with open(os.path.join(delivered, f"secrets-{tag}.json"), "w") as f:
            json.dump([o for o in h.objects()["items"] if o.get("kind") == "Secret"], f)
    keep_delivered("first")
    r = h.sluice("diff-clean", "-v", "-v", "diff", "dev")
    check(r.rc == 0, "diff right after the deploy: no changes", r.tail())

    # ---- rotate one value ----
    r = h.sluice("seal-merge", "-v", "-v", "seal", "-r", recipient, "--from-file", "password=-",
                 "--merge-into", h.path(dev_db), config=False, stdin=plains["db-password-2"])
    check(r.rc == 0, "seal --merge-into replaces the password", r.tail())
    check(not scanner.scan_bytes(h.read(dev_db).encode()), "the merged file holds no plaintext")
    c2 = h.commit("dev: rotate the database password")
    r = h.sluice("diff-rotate", "-v", "-v", "diff", "dev")
    check(r.rc == 1 and "*** (before)" in r.out and "*** (after)" in r.out
          and "desired/v1/Secret/shop-dev/api-db" in r.out,
          "diff after the rotation shows the changed key masked (before/after)", r.tail())
    r = h.sluice("diff-rotate-json", "-v", "-v", "diff", "dev", "-o", "json")
    check(r.rc == 1 and r.json() is not None and "api-db" in r.out,
          "diff -o json after the rotation", r.tail())
    r = h.sluice("reconcile-rotate", "--log-level", "debug", "reconcile", "dev", "--once",
                 "-o", "json")
    res = r.json() or {}
    check(r.rc == 0, "reconcile of the rotation is healthy", r.tail())
    check(secret_values(h, "shop-dev", "api-db") ==
          {"password": plains["db-password-2"], "user": plains["db-user"]},
          "Secret shop-dev/api-db holds the rotated password, the user unchanged")
    check(json.dumps(res).find(c2) >= 0, "reconcile -o json names the new revision")
    keep_delivered("rotated")
    h.reset_requests()
    r = h.sluice("reconcile-noop", "-v", "-v", "reconcile", "dev", "--once")
    writes = h.writes(include_dry_run=True)
    check(r.rc == 0 and not writes, "a no-op reconcile makes no write",
          f"rc {r.rc}, writes {writes[:3]}")

    # ---- drift: someone edits the live Secret; the live value is a secret too ----
    patched = h.api("PATCH", "/api/v1/namespaces/shop-dev/secrets/api-db"
                    "?fieldManager=kubectl-edit",
                    {"data": {"password": base64.b64encode(plains["hand-edited"]).decode()}},
                    content_type="application/merge-patch+json")
    check(secret_values(h, "shop-dev", "api-db").get("password") == plains["hand-edited"],
          "the live Secret was edited by hand (merge patch by kubectl-edit)", str(patched)[:300])
    keep_delivered("hand-edit")
    r = h.sluice("diff-drift", "-v", "-v", "diff", "dev")
    check(r.rc == 1 and "*** (before)" in r.out and "*** (after)" in r.out,
          "diff shows the hand edit of the Secret masked", r.tail())
    r = h.sluice("reconcile-drift", "-v", "-v", "reconcile", "dev", "--once")
    check(r.rc == 0 and "1 drifted" in r.out, "reconcile corrects the drifted Secret", r.tail())
    check(secret_values(h, "shop-dev", "api-db").get("password") == plains["db-password-2"],
          "the Secret holds the sealed value again")

    # ---- an immutable Secret: a rotation is refused by the server, then forced ----
    dev_imm = "environments/dev/api-immutable.sealed.yaml"
    manifest = {"apiVersion": "v1", "kind": "Secret", "immutable": True,
                "metadata": {"name": "api-immutable", "namespace": "shop-dev"},
                "stringData": {"key": plains["immutable-1"].decode()}}
    r = h.sluice("seal-immutable", "-v", "-v", "seal", "-r", recipient, "-o", h.path(dev_imm),
                 config=False, stdin=json.dumps(manifest).encode())
    check(r.rc == 0 and "immutable: true" in h.read(dev_imm), "seal an immutable Secret",
          r.tail())
    h.add_resource("environments/dev/kustomization.yaml", "api-immutable.sealed.yaml")
    h.commit("dev: an immutable secret")
    r = h.sluice("reconcile-immutable", "-v", "-v", "reconcile", "dev", "--once")
    live = h.find("Secret", "shop-dev", "api-immutable") or {}
    check(r.rc == 0 and live.get("immutable") is True and
          secret_values(h, "shop-dev", "api-immutable") == {"key": plains["immutable-1"]},
          "the immutable Secret is deployed with its value", r.tail())
    keep_delivered("immutable-1")
    r = h.sluice("seal-immutable-2", "-v", "-v", "seal", "-r", recipient, "--from-file",
                 "key=-", "--merge-into", h.path(dev_imm), config=False,
                 stdin=plains["immutable-2"])
    check(r.rc == 0, "seal --merge-into the immutable Secret", r.tail())
    h.commit("dev: rotate the immutable secret (needs a re-create)")
    r = h.sluice("diff-immutable", "-v", "-v", "diff", "dev")
    check(r.rc == 1 and "*** (before)" in r.out and "*** (after)" in r.out
          and "changes an immutable field" in r.out and "sluice.dev/force" in r.out,
          "diff shows the immutable change, masked, and says it needs a re-create", r.tail())
    h.reset_requests()
    r = h.sluice("reconcile-immutable-refused", "-v", "-v", "reconcile", "dev", "--once")
    check(r.rc == 1 and "immutable" in r.both, "the server refuses the change: reconcile fails",
          r.tail())
    check(secret_values(h, "shop-dev", "api-immutable") == {"key": plains["immutable-1"]},
          "the immutable Secret keeps its old value")
    h.edit(dev_imm, "metadata:\n", "metadata:\n  annotations:\n    sluice.dev/force: enabled\n")
    h.commit("dev: allow sluice to re-create the immutable secret")
    r = h.sluice("reconcile-immutable-forced", "-v", "-v", "reconcile", "dev", "--once")
    check(r.rc == 0 and secret_values(h, "shop-dev", "api-immutable") ==
          {"key": plains["immutable-2"]},
          "with sluice.dev/force the Secret is re-created with the new value", r.tail())
    keep_delivered("immutable-2")

    # ---- rollback to the first revision brings the first password back ----
    r = h.sluice("rollback", "-v", "-v", "rollback", "dev", c1)
    check(r.rc == 0 and secret_values(h, "shop-dev", "api-db") ==
          {"password": plains["db-password"], "user": plains["db-user"]},
          "rollback dev deploys the first revision's password", r.tail())

    # ---- reporting verbs ----
    for name, args in (("status", ["status"]), ("status-json", ["status", "-o", "json"])):
        r = h.sluice(name, "-v", "-v", *args)
        check(r.rc == 0 and c1[:12] in r.out and "pinned" in r.out.lower(),
              f"{' '.join(args)} shows dev pinned to the first revision", r.tail())
    for name, args in (("history", ["history", "dev"]),
                       ("history-json", ["history", "dev", "-o", "json"])):
        r = h.sluice(name, "-v", "-v", *args)
        check(r.rc == 0 and c1[:12] in r.out and c2[:12] in r.out,
              f"{' '.join(args)} shows the dev revisions", r.tail())

    # ---- failing case: sealed values used in another namespace ----
    stage_db = "environments/stage/api-db.sealed.yaml"
    shutil.copy(h.path(dev_db), h.path(stage_db))
    r = h.sluice("seal-moved", "-v", "-v", "seal", "-r", recipient, "--name", "moved", "-n",
                 "shop-dev", "--from-file", "value=-", "-o",
                 h.path("environments/stage/moved.sealed.yaml"), config=False,
                 stdin=plains["moved"])
    check(r.rc == 0, "seal a value for shop-dev/moved", r.tail())
    h.add_resource("environments/stage/kustomization.yaml", "api-db.sealed.yaml")
    h.add_resource("environments/stage/kustomization.yaml", "moved.sealed.yaml")
    c3 = h.commit("stage: reuse dev's sealed values (wrong: they are bound to shop-dev)",
                  "v0.1.0-rc.1")
    r = h.sluice("check-moved", "-v", "-v", "check", "--repo", h.repo)
    check(r.rc == 1 and "cannot be used in" in r.both and "stage" in r.both,
          "check fails: the values are sealed to shop-dev, not shop-stage", r.tail())
    r = h.sluice("diff-moved", "-v", "-v", "diff", "stage")
    check(r.rc == 2 and "cannot be used in" in r.both, "diff of stage fails to unseal",
          r.tail())
    h.reset_requests()
    r = h.sluice("reconcile-moved", "-v", "-v", "reconcile", "stage", "--once")
    check(r.rc == 1 and "cannot be used in" in r.both and "sealed.yaml" in r.both,
          "reconcile of stage is rejected, naming the sealed file", r.tail())
    writes = h.writes(include_dry_run=True)
    check(not writes and secret_values(h, "shop-stage", "api-db") is None
          and secret_values(h, "shop-stage", "moved") is None,
          "nothing was written to the cluster for stage", f"writes {writes[:3]}")
    r = h.sluice("reconcile-all", "-v", "-v", "reconcile", "--once", "-o", "json")
    check(r.rc == 1, "reconcile of every environment: dev healthy, stage rejected", r.tail())
    check(secret_values(h, "shop-dev", "api-db") ==
          {"password": plains["db-password-2"], "user": plains["db-user"]},
          "dev left the pin for the new commit: the rotated value is back")
    for name, args in (("status-moved", ["status"]), ("status-moved-json", ["status", "-o", "json"]),
                       ("history-stage", ["history", "stage"]),
                       ("history-stage-json", ["history", "stage", "-o", "json"])):
        r = h.sluice(name, "-v", "-v", *args)
        check(r.rc == 0 and "rejected" in r.out, f"{' '.join(args)} reports the rejection",
              r.tail())
    print(f"note revisions: {c1[:12]} deploy, {c2[:12]} rotation, {c3[:12]} moved values")

    # ---- the daemon picks up another rotation (logs, metrics, notifications, control) ----
    r = h.sluice("seal-merge-3", "-v", "-v", "seal", "-r", recipient, "--from-file", "password=-",
                 "--merge-into", h.path(dev_db), config=False, stdin=plains["db-password-3"])
    check(r.rc == 0, "seal --merge-into a third password", r.tail())
    c4 = h.commit("dev: rotate the database password again")
    url = h.start_receiver()
    h.write_config(base_config + f"""http:
  listen: 127.0.0.1:0
notifications:
  url: {url}
  format: generic
  retries: 0
  events: [deploy, rollback, failure]
""")
    h.start_daemon("run", "-v", "-v")
    m = h.wait_daemon_log(r"msg=started .*port=(\d+)")
    port = int(m.group(1)) if m else 0
    dev_done = h.wait_daemon_log(r"msg=reconciled env=dev .*result=(\S+)")
    stage_done = h.wait_daemon_log(r"msg=reconciled env=stage .*result=(\S+)")
    check(dev_done is not None and dev_done.group(1) == "applied",
          "sluice run applies the new dev revision", h.daemon_log()[-2000:])
    check(stage_done is not None and stage_done.group(1) == "failed",
          "sluice run fails stage (values sealed to another namespace)", h.daemon_log()[-2000:])
    if port:
        with open(os.path.join(h.outdir, "metrics.txt"), "w") as f:
            f.write(h.http_get(port, "/metrics"))
    ctl = os.path.join(h.state, "control.sock")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as so:
            so.settimeout(10)
            so.connect(ctl)
            so.sendall(b"status\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = so.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError as e:
        answer = b""
        print(f"note control socket: {e}")
    with open(os.path.join(h.outdir, "control-status.json"), "wb") as f:
        f.write(answer)
    check(b"stage" in answer and b"cannot be used in" in answer,
          "the control socket's status names stage's last error", answer[:300])
    deadline = time.time() + 10
    while len(h.notifications) < 2 and time.time() < deadline:
        time.sleep(0.1)
    kinds = sorted(json.loads(b).get("event", "?") for b in h.notifications)
    check(kinds == ["deploy", "failure"], "notifications: a deploy (dev) and a failure (stage)",
          f"got {kinds}")
    check(any(b"cannot be used in" in b for b in h.notifications),
          "the failure notification carries the error")
    check(h.stop_daemon() == 0, "sluice run stops on SIGTERM with status 0")
    check(secret_values(h, "shop-dev", "api-db") ==
          {"password": plains["db-password-3"], "user": plains["db-user"]},
          "Secret shop-dev/api-db holds the password the daemon deployed")
    print(f"note daemon deployed {c4[:12]}")

    # ---- what else to scan: the cluster without Secret data, the repository ----
    extra = os.path.join(h.top, "scan-extra")
    os.makedirs(extra)
    dump = h.objects()
    keep_delivered("daemon")
    for o in dump["items"]:
        if o.get("kind") == "Secret":
            o.pop("data", None)
            o.pop("stringData", None)
    with open(os.path.join(extra, "cluster-objects-without-secret-data.json"), "w") as f:
        json.dump(dump, f, indent=1)
    with open(os.path.join(extra, "kubesim-requests.json"), "w") as f:
        json.dump(h.requests(), f)
    with open(os.path.join(extra, "git-log-p.txt"), "w") as f:
        f.write(h.git("log", "-p", "--all", "--binary"))

    # ---- positive controls ----
    ctl = os.path.join(h.top, "control-planted")
    os.makedirs(ctl)
    junk = secrets.token_bytes(300)
    pw = plains["db-password"]
    planted = {
        "raw": junk + pw + junk,
        "base64": b"data: " + base64.b64encode(pw) + b"\n",
        "substring": b"error near '" + pw[7:19] + b"'\n",
        "binary-base64": b'{"k": "' + base64.b64encode(plains["signing-key"]) + b'"}',
        "json-escaped": json.dumps({"v": plains["tls-pem"].decode()}).encode(),
        "identity-piece": b"key=" + plains["identity"][20:32] + b"\n",
    }
    for n, data in planted.items():
        with open(os.path.join(ctl, n), "wb") as f:
            f.write(data)
    _, _, hits = scanner.scan_tree(ctl)
    found = {path for path, _ in hits}
    check(found == set(planted), "control: the scanner finds every planted form",
          f"found only {sorted(found)}")
    _, _, hits = scanner.scan_tree(delivered)
    got = {name for _, name in hits}
    want = set(plains) - {"moved", "identity"}
    check(got == want, "control: the scanner finds every delivered value in kubesim's Secrets "
          "(and never the one that was not delivered)", f"found {sorted(got)}")

    # ---- the scan ----
    total_files = total_bytes = 0
    all_hits = []
    for label, top in (("stdout/stderr of every command", h.outdir), ("state dir", h.state),
                       ("TMPDIR", h.tmp), ("HOME", h.home),
                       ("cluster metadata, request log, git history", extra)):
        files, size, hits = scanner.scan_tree(top)
        total_files += files
        total_bytes += size
        all_hits += [(label, p, n) for p, n in hits]
        print(f"     scanned {label}: {files} files, {size} bytes")
    nneedles = sum(len(v) for v in scanner.needles.values())
    check(total_files > 40 and os.path.isdir(h.state),
          f"the scan covered {total_files} files, {total_bytes} bytes")
    for label, path, name in all_hits[:20]:
        print(f"     LEAK: {label}: {path} holds a form of {name}")
    check(not all_hits, f"leak scan: {len(plains)} plaintexts, {nneedles} needles, "
          f"{len(all_hits)} hits")
    return check.summary("e2e_secret_leak", "main")


if __name__ == "__main__":
    sys.exit(main())
