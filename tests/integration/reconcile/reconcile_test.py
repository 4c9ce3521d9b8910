#!/usr/bin/env python3
"""sluice reconcile against kubesim, end to end through the real binary.

A git repository made from the example environments is the source; kubesim is
the cluster. Covered: first deploy of dev/stage/prod, a second reconcile with
zero write requests (kubesim's request counts), a change in git, drift made with
kubectl corrected, pruning with a kept object, a release whose image never
becomes ready rolled back automatically (previous Deployment spec live again,
bad revision not retried, `sluice retry`), a dry-run rejection that leaves the
cluster untouched, injected 500/429/delay/dropped connections, SIGKILL at many
points followed by convergence, and the status/history/diff/suspend/rollback
verbs. Every process started here is killed on exit.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubesim_lib import Kubesim  # noqa: E402

SLUICE = os.environ["SLUICE"]
SRC = os.environ["SLUICE_SRC"]
BUILD = os.environ["SLUICE_BUILD"]
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")

procs = []
failures = []


def check(cond, what, detail=""):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what} {detail}")
        failures.append(what)


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sluice-rc-it-")
        self.repo = os.path.join(self.tmp, "repo")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        self.port = None
        self.git_env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
                            HOME=self.tmp)
        self.run_env = dict(os.environ, HOME=self.tmp)
        self.run_env.pop("KUBECONFIG", None)

    # ---- git ----
    def git(self, *args):
        r = subprocess.run(["git", "-C", self.repo, *args], env=self.git_env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"git {args}: {r.stderr}")
        return r.stdout.strip()

    def write(self, rel, text):
        path = os.path.join(self.repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def read(self, rel):
        with open(os.path.join(self.repo, rel)) as f:
            return f.read()

    def commit(self, msg):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", msg)
        return self.git("rev-parse", "HEAD")

    def setup_repo(self):
        os.makedirs(self.repo)
        shutil.copytree(os.path.join(SRC, "environments"), os.path.join(self.repo, "environments"))
        # an environment without a namespace transformer, for Namespace pruning
        self.write("environments/extra/kustomization.yaml",
                   "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
        self.git("init", "-q", "-b", "main")
        first = self.commit("initial")
        self.git("tag", "v1.0.0-rc.1")
        self.git("tag", "v1.0.0")
        return first

    # ---- kubesim ----
    def start_kubesim(self):
        self.ks = Kubesim(self.tmp, "--ready-delay", "200ms", "--fail-image", "never-ready",
                          "--fail-after", "1s", binary=KUBESIM)
        procs.append(self.ks.proc)
        self.port = self.ks.port

    def api(self, method, path, body=None):
        return self.ks.api(method, path, body)

    def reset_counts(self):
        self.ks.reset_requests()

    def counts(self):
        return self.ks.requests()

    def writes(self):
        """Write requests that were not dry runs."""
        return len(self.ks.writes())

    def get(self, path):
        return self.api("GET", path)

    def objects(self, env=None):
        items = self.api("GET", "/kubesim/objects")["items"]
        if env is None:
            return items
        return [o for o in items
                if o.get("metadata", {}).get("labels", {}).get("sluice.dev/environment") == env]

    # ---- sluice ----
    def config(self, dev_timeout="5s"):
        path = os.path.join(self.tmp, "sluice.yaml")
        with open(path, "w") as f:
            f.write(f"""name: sluice
stateDir: {self.tmp}/state
source:
  url: {self.repo}
cluster:
  kubeconfig: {self.kubeconfig}
  requestTimeout: 5s
environments:
  - name: dev
    path: environments/dev
    namespace: shop-dev
    healthTimeout: {dev_timeout}
  - name: stage
    path: environments/stage
    namespace: shop-stage
    healthTimeout: 20s
  - name: prod
    path: environments/prod
    namespace: shop-prod
    healthTimeout: 20s
  - name: extra
    track:
      type: branch
    path: environments/extra
    policy: "off"
    healthTimeout: 20s
""")
        self.cfg = path

    def sluice(self, *args, timeout=120):
        r = subprocess.run([SLUICE, *args, "--config", self.cfg], env=self.run_env,
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def reconcile(self, env=None, *extra):
        args = ["reconcile"] + ([env] if env else []) + ["--once", "-o", "json", *extra]
        rc, out, err = self.sluice(*args)
        try:
            res = json.loads(out)
        except ValueError:
            res = None
        return rc, res, err


def deployment(e, ns, name):
    return e.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")


def image(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


def main():
    if not os.path.exists(KUBESIM):
        print("kubesim not built: skipping")
        return 77
    e = Env()
    e.setup_repo()
    e.start_kubesim()
    e.config()

    # ---- first deploy of the example environments ----
    rc, res, err = e.reconcile()
    check(rc == 0 and res and all(r["result"] == "healthy" for r in res),
          "first deploy of dev, stage and prod is healthy", err[-2000:] + json.dumps(res)[:2000] if res else err[-3000:])
    for ns in ("shop-dev", "shop-stage", "shop-prod"):
        d = deployment(e, ns, "web")
        check(d.get("kind") == "Deployment", f"Deployment {ns}/web exists")
        check(d.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/managed-by") == "sluice",
              f"{ns}/web carries sluice owner labels")
    cm = e.get("/api/v1/namespaces/shop-dev/configmaps/sluice-inventory-dev")
    check(cm.get("kind") == "ConfigMap" and "inventory" in cm.get("data", {}),
          "inventory mirrored to ConfigMap shop-dev/sluice-inventory-dev")

    # ---- no change: zero writes, one LIST per kind ----
    e.reset_counts()
    rc, res, err = e.reconcile()
    c = e.counts()
    kinds = {(o["apiVersion"], o["kind"]) for o in e.objects("dev")}
    check(rc == 0 and e.writes() == 0, "second reconcile makes zero write requests",
          json.dumps(c["byVerb"]))
    lists = c["byVerb"].get("list", 0)
    check(lists <= 3 * len(kinds), f"no-change reconcile: {lists} LISTs for {len(kinds)} kinds x 3 environments")
    check(all(r["counts"]["unchanged"] > 0 and r["counts"]["created"] == 0 for r in res
              if r["environment"] != "extra"),
          "every object reported unchanged")
    rc, out, _ = e.sluice("diff")
    check(rc == 0 and out == "", "diff with no changes exits 0 and prints nothing", out[:500])

    # ---- a failed fetch keeps the last good cache ----
    moved = e.repo + ".away"
    os.rename(e.repo, moved)
    try:
        rc, res, err = e.reconcile("dev")
        check(rc == 0 and res and res[0]["result"] == "healthy",
              "source unreachable: dev still reconciles from the cached revision", err[-2000:])
        check("fetch failed" in err, "the failed fetch is reported", err[-2000:])
    finally:
        os.rename(moved, e.repo)

    # ---- a change in git ----
    kz = e.read("environments/dev/kustomization.yaml")
    e.write("environments/dev/kustomization.yaml", kz.replace("  - name: web\n    count: 1", "  - name: web\n    count: 2"))
    rev2 = e.commit("dev: two web replicas")
    rc, out, _ = e.sluice("diff", "dev")
    check(rc == 1 and "+  replicas: 2" in out and "-  replicas: 1" in out, "diff shows the change, exit 1", out[:800])
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["counts"]["updated"] >= 1, "change applied", err[-1500:])
    check(deployment(e, "shop-dev", "web")["spec"]["replicas"] == 2, "live Deployment has 2 replicas")
    check(res[0]["revision"] == rev2, "reconciled revision is the new commit")

    # ---- drift made with kubectl is corrected ----
    if KUBECTL:
        r = subprocess.run([KUBECTL, "--kubeconfig", e.kubeconfig, "-n", "shop-dev", "scale",
                            "deployment/web", "--replicas=5"], env=e.run_env, capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "kubectl scale (drift)", r.stderr[-500:])
    else:
        print("kubectl not installed: drift made with a merge patch instead")
        req = urllib.request.Request(f"http://127.0.0.1:{e.port}/apis/apps/v1/namespaces/shop-dev/deployments/web",
                                     data=b'{"spec":{"replicas":5}}', method="PATCH")
        req.add_header("Content-Type", "application/merge-patch+json")
        urllib.request.urlopen(req).read()
    check(deployment(e, "shop-dev", "web")["spec"]["replicas"] == 5, "drift is live")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["counts"]["drifted"] == 1, "drift detected", json.dumps(res)[:1500] if res else err)
    check(deployment(e, "shop-dev", "web")["spec"]["replicas"] == 2, "drift corrected to 2 replicas")

    # ---- pruning, with a kept object ----
    e.write("environments/dev/extra.yaml", """apiVersion: v1
kind: ConfigMap
metadata:
  name: dropme
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keepme
  annotations:
    sluice.dev/prune: disabled
data:
  a: "1"
""")
    kz = e.read("environments/dev/kustomization.yaml")
    e.write("environments/dev/kustomization.yaml", kz.replace("  - ../base\n", "  - ../base\n  - extra.yaml\n"))
    e.commit("dev: extra config maps")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["counts"]["created"] == 2, "extra objects created", err[-1500:])
    os.remove(os.path.join(e.repo, "environments/dev/extra.yaml"))
    e.write("environments/dev/kustomization.yaml", kz)
    e.commit("dev: drop the extra config maps")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["counts"]["pruned"] == 1, "one object pruned", json.dumps(res)[:1500] if res else err)
    check(e.get("/api/v1/namespaces/shop-dev/configmaps/dropme").get("code") == 404, "dropme deleted")
    check(e.get("/api/v1/namespaces/shop-dev/configmaps/keepme").get("kind") == "ConfigMap",
          "keepme (sluice.dev/prune: disabled) kept")

    # ---- Namespace pruning: only when nothing foreign lives in it ----
    kx = e.read("environments/extra/kustomization.yaml")
    for ns in ("gone-a", "gone-b"):
        e.write(f"environments/extra/{ns}.yaml", f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n"
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inside\n  namespace: {ns}\ndata:\n  a: b\n")
    e.write("environments/extra/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gone-a.yaml\n"
            "  - gone-b.yaml\n")
    e.commit("extra: two namespaces")
    rc, res, err = e.reconcile("extra")
    check(rc == 0 and e.get("/api/v1/namespaces/gone-b").get("kind") == "Namespace", "extra namespaces created",
          err[-800:])
    # someone else's object in gone-b
    req = urllib.request.Request(f"http://127.0.0.1:{e.port}/api/v1/namespaces/gone-b/configmaps",
                                 data=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "foreign"}}).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req).read()
    for ns in ("gone-a", "gone-b"):
        os.remove(os.path.join(e.repo, f"environments/extra/{ns}.yaml"))
    e.write("environments/extra/kustomization.yaml", kx)
    e.commit("extra: drop the namespaces")
    rc, res, err = e.reconcile("extra")
    ns_a = e.get("/api/v1/namespaces/gone-a")
    check(rc == 0 and (ns_a.get("code") == 404 or "deletionTimestamp" in ns_a.get("metadata", {})),
          "namespace holding only sluice's pruned objects is deleted", json.dumps(ns_a)[:300] + err[-500:])
    ns_b = e.get("/api/v1/namespaces/gone-b")
    check(ns_b.get("kind") == "Namespace" and "deletionTimestamp" not in ns_b.get("metadata", {}),
          "namespace holding a foreign object is kept")
    check(e.get("/api/v1/namespaces/gone-b/configmaps/foreign").get("kind") == "ConfigMap",
          "the foreign object is untouched")
    keep = [o for o in (res[0]["objects"] if res else []) if o["object"].startswith("Namespace gone-b")]
    check(keep and keep[0]["action"] == "keep" and "foreign" in keep[0]["detail"],
          "the kept namespace is reported with the reason", json.dumps(keep))

    # ---- an immutable field change recreates an annotated object ----
    kz = e.read("environments/dev/kustomization.yaml")
    def imm(sel):
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: imm\n  annotations:\n"
                f"    sluice.dev/force: enabled\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n"
                f"      app: {sel}\n  template:\n    metadata:\n      labels:\n        app: {sel}\n    spec:\n"
                f"      containers:\n      - name: c\n        image: registry.example.com/imm:1\n")
    e.write("environments/dev/imm.yaml", imm("imm-a"))
    e.write("environments/dev/kustomization.yaml", kz.replace("  - ../base\n", "  - ../base\n  - imm.yaml\n"))
    e.commit("dev: imm")
    rc, res, err = e.reconcile("dev")
    uid1 = deployment(e, "shop-dev", "imm").get("metadata", {}).get("uid")
    e.write("environments/dev/imm.yaml", imm("imm-b"))
    e.commit("dev: imm with a new selector")
    rc, res, err = e.reconcile("dev")
    d = deployment(e, "shop-dev", "imm")
    check(rc == 0 and d.get("metadata", {}).get("uid") not in (None, uid1)
          and d["spec"]["selector"]["matchLabels"]["app"] == "imm-b",
          "immutable selector change: object recreated (sluice.dev/force: enabled)",
          (json.dumps(res)[:800] if res else "") + err[-800:])
    os.remove(os.path.join(e.repo, "environments/dev/imm.yaml"))
    e.write("environments/dev/kustomization.yaml", kz)
    e.commit("dev: drop imm")
    rc, res, err = e.reconcile("dev")
    check(rc == 0, "imm pruned again")

    # ---- a release that never becomes ready is rolled back ----
    good_image = image(deployment(e, "shop-dev", "web"))
    good_rev = e.git("rev-parse", "HEAD")
    kz = e.read("environments/dev/kustomization.yaml")
    e.write("environments/dev/kustomization.yaml",
            kz.replace("  - name: registry.example.com/shop/web\n    newTag: main-3f9c2e1",
                       "  - name: registry.example.com/shop/web\n    newTag: never-ready"))
    bad_rev = e.commit("dev: a web image that never becomes ready")
    rc, res, err = e.reconcile("dev")
    check(rc == 1 and res and res[0]["result"] == "rolled-back", "failed release rolled back (exit 1)",
          json.dumps(res)[:1500] if res else err[-1500:])
    check(res and res[0]["failedRevision"] == bad_rev and res[0]["revision"] == good_rev,
          "result names the failed and the restored revision")
    check(image(deployment(e, "shop-dev", "web")) == good_image, "previous Deployment spec live again",
          image(deployment(e, "shop-dev", "web")))
    rc, out, _ = e.sluice("history", "dev", "-o", "json")
    h = json.loads(out)
    check(h["history"][0]["rollback"] and h["history"][0]["revision"] == good_rev
          and h["history"][1]["result"] == "failed" and h["history"][1]["revision"] == bad_rev,
          "history records the failure and the rollback")
    check(any(b["revision"] == bad_rev for b in h["bad"]), "bad revision marked")
    e.reset_counts()
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and e.writes() == 0 and res[0]["revision"] == good_rev,
          "bad revision not retried (no writes, last good kept)", json.dumps(e.counts()["byVerb"]))
    rc, out, err = e.sluice("retry", "dev")
    check(rc == 1 and "rolled-back" in out, "sluice retry tries it again (and rolls back again)", out[-800:] + err[-800:])
    check(image(deployment(e, "shop-dev", "web")) == good_image, "still the previous spec after the retry")
    # a newer (fixed) revision goes through
    e.write("environments/dev/kustomization.yaml", kz)
    fixed = e.commit("dev: fix the image")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["revision"] == fixed, "a newer revision is applied after a bad one")

    # ---- a release rejected by the server's dry run leaves the cluster untouched ----
    before = sorted(json.dumps(o, sort_keys=True) for o in e.objects())
    e.write("environments/dev/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\ndata: {}\n")
    kz = e.read("environments/dev/kustomization.yaml")
    e.write("environments/dev/kustomization.yaml", kz.replace("  - ../base\n", "  - ../base\n  - bad.yaml\n"))
    e.write("environments/dev/kustomization.yaml",
            e.read("environments/dev/kustomization.yaml").replace("LOG_LEVEL=debug", "LOG_LEVEL=warn"))
    e.commit("dev: an invalid object")
    e.reset_counts()
    rc, res, err = e.reconcile("dev")
    check(rc == 1 and res[0]["result"] == "rejected", "dry-run rejection: result rejected, exit 1",
          json.dumps(res)[:1000] if res else err[-1000:])
    check(res and "Not_Valid" in res[0]["message"] and "environments/dev/bad.yaml" in res[0]["message"],
          "the error names the object and its file", res[0]["message"] if res else "")
    after = sorted(json.dumps(o, sort_keys=True) for o in e.objects())
    check(e.writes() == 0 and before == after, "cluster untouched by the rejected revision",
          json.dumps(e.counts()["byVerb"]))
    os.remove(os.path.join(e.repo, "environments/dev/bad.yaml"))
    e.write("environments/dev/kustomization.yaml", kz)
    e.commit("dev: drop the invalid object")
    rc, res, err = e.reconcile("dev")
    check(rc == 0, "valid again after the fix", err[-800:])

    # ---- injected faults ----
    def faults(*rules):
        e.api("DELETE", "/kubesim/faults")
        if rules:
            e.api("POST", "/kubesim/faults", list(rules))

    def bump(msg):
        kz2 = e.read("environments/dev/kustomization.yaml")
        import re
        m = re.search(r"  - name: web\n    count: (\d+)", kz2)
        n = 2 if m.group(1) == "1" else 1
        e.write("environments/dev/kustomization.yaml", kz2.replace(m.group(0), f"  - name: web\n    count: {n}"))
        e.commit(msg)
        return n

    n = bump("fault run 1")
    faults({"verb": "list", "code": 500, "times": 2}, {"verb": "apply", "code": 429, "retryAfter": 1, "times": 1},
           {"verb": "get", "action": "delay", "delayMs": 300, "times": 3}, {"verb": "list", "action": "drop", "times": 1})
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and deployment(e, "shop-dev", "web")["spec"]["replicas"] == n,
          "transient 500/429/delay/dropped connection retried, then applied", err[-1500:])
    n2 = bump("fault run 2")
    faults({"verb": "apply", "code": 500})
    rc, res, err = e.reconcile("dev")
    faults()
    check(rc == 1 and res and res[0]["result"] == "failed", "persistent 500s: failed cleanly (exit 1)",
          json.dumps(res)[:800] if res else err[-800:])
    rc, out, _ = e.sluice("history", "dev", "-o", "json")
    h = json.loads(out)
    check(not any(b["revision"] == e.git("rev-parse", "HEAD") for b in h["bad"]),
          "a cluster outage does not mark the revision bad")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and deployment(e, "shop-dev", "web")["spec"]["replicas"] == n2,
          "applied once the cluster answers again", err[-800:])
    faults({"verb": "list", "action": "drop"})
    rc, res, err = e.reconcile("dev")
    faults()
    check(rc == 1, "dropped connections: failed cleanly", err[-500:])

    # ---- suspend / resume, status ----
    rc, out, _ = e.sluice("suspend", "dev")
    bump("while suspended")
    e.reset_counts()
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["result"] == "skipped" and e.counts()["total"] == 0,
          "suspended environment: skipped without any request")
    rc, out, _ = e.sluice("status", "-o", "json")
    st = {s["environment"]: s for s in json.loads(out)}
    check(st["dev"]["suspended"] and st["prod"]["lastGood"] is not None, "status shows suspension and last good")
    e.sluice("resume", "dev")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["result"] == "healthy", "resumed")

    # ---- rollback pins an earlier good revision until git moves on ----
    rc, out, _ = e.sluice("history", "dev", "-o", "json")
    cur = json.loads(out)["history"][0]["revision"]
    rc, out, err = e.sluice("rollback", "dev", fixed)
    st = json.loads(e.sluice("status", "-o", "json")[1])
    dev = [s for s in st if s["environment"] == "dev"][0]
    check(rc == 0 and dev["appliedRevision"] == fixed and dev["pinnedRevision"] == fixed,
          "rollback ENV REVISION applies and pins it", out[-600:] + err[-600:])
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["revision"] == fixed, "pin holds while git does not move")
    newest = e.git("rev-parse", "HEAD")
    bump("after the pin")
    newest = e.git("rev-parse", "HEAD")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and res[0]["revision"] == newest, "a newer revision releases the pin")

    # ---- diff masks Secret values ----
    kz = e.read("environments/dev/kustomization.yaml")
    e.write("environments/dev/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"
            "data:\n  password: c2VjcmV0LW9uZQ==\n  user: YWRtaW4=\n")
    e.write("environments/dev/kustomization.yaml", kz.replace("  - ../base\n", "  - ../base\n  - secret.yaml\n"))
    e.commit("dev: a secret")
    rc, res, err = e.reconcile("dev")
    check(rc == 0, "secret applied", err[-500:])
    e.write("environments/dev/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"
            "data:\n  password: c2VjcmV0LXR3bw==\n  user: YWRtaW4=\n")
    e.commit("dev: rotate the secret")
    rc, out, err = e.sluice("diff", "dev")
    check(rc == 1 and "*** (before)" in out and "*** (after)" in out, "diff shows a changed Secret value masked",
          out[-800:] + err[-300:])
    check("c2VjcmV0" not in out and "YWRtaW4" not in out and "secret-one" not in out,
          "no Secret value in the diff output")
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and e.get("/api/v1/namespaces/shop-dev/secrets/creds")["data"]["password"] == "c2VjcmV0LXR3bw==",
          "rotated secret applied")
    check("c2VjcmV0" not in json.dumps(res) and "c2VjcmV0" not in err, "no Secret value in reconcile output")
    state_text = open(os.path.join(e.tmp, "state", "dev", "state.json")).read()
    check("c2VjcmV0" not in state_text, "no Secret value in the state file")

    # ---- SIGKILL at many points, then convergence ----
    faults({"action": "delay", "delayMs": 15})
    killed_at = []
    for i, delay in enumerate([0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7]):
        # each round: a new set of config maps, the previous round's set removed
        docs = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: crash-{i}-{k}\ndata:\n  k: \"{k}\"\n"
                       for k in range(6))
        e.write("environments/dev/crash.yaml", docs)
        kz2 = e.read("environments/dev/kustomization.yaml")
        if "crash.yaml" not in kz2:
            e.write("environments/dev/kustomization.yaml", kz2.replace("  - ../base\n", "  - ../base\n  - crash.yaml\n"))
        e.commit(f"crash round {i}")
        p = subprocess.Popen([SLUICE, "reconcile", "dev", "--once", "-q", "--config", e.cfg], env=e.run_env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed_at.append(delay)
        p.wait()
        rc, res, err = e.reconcile("dev")
        names = sorted(o["metadata"]["name"] for o in e.objects("dev")
                       if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("crash-"))
        want = sorted(f"crash-{i}-{k}" for k in range(6))
        check(rc == 0 and names == want, f"converged after SIGKILL at {delay}s (no orphans, nothing missing)",
              f"rc={rc} names={names} {err[-600:]}")
    faults()
    check(len(killed_at) >= 5, f"sluice was killed mid-run {len(killed_at)} times")
    e.reset_counts()
    rc, res, err = e.reconcile("dev")
    check(rc == 0 and e.writes() == 0, "after the crashes a reconcile is a no-op again")

    print(f"{len(failures)} failure(s)")
    if not failures:
        shutil.rmtree(e.tmp, ignore_errors=True)
    else:
        print(f"kept {e.tmp}")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        cleanup()
