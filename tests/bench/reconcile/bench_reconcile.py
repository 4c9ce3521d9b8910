#!/usr/bin/env python3
"""Benchmark: sluice reconcile vs `kubectl apply --server-side` on 1,000 objects.

An environment of 1,000 objects of 10 kinds (plus its Namespace) is committed to
a git repository. Against a fresh kubesim each:
  1. sluice reconcile (first apply: dry run of every object, apply, health wait)
  2. sluice reconcile again with no change
  3. kubectl apply --server-side of the same rendered objects (fresh kubesim)
  4. kubectl apply --server-side again
Wall time and requests by verb (kubesim's counters) are printed. Targets from the
issue: a no-change reconcile costs at most one request per kind plus a constant
and no writes; a first apply at least 3x faster than kubectl's (reported; the
no-write rule is enforced with --check).
Usage: bench_reconcile.py [--objects N] [--check]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "integration"))
from kubesim_lib import Kubesim  # noqa: E402

SLUICE = os.environ["SLUICE"]
BUILD = os.environ.get("SLUICE_BUILD", os.path.dirname(SLUICE))
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
WRITES = {"apply", "patch", "create", "update", "delete"}

KINDS = ["ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "Role",
         "RoleBinding", "PodDisruptionBudget", "NetworkPolicy", "StatefulSet"]


def obj(kind, i):
    n = f"{kind.lower()}-{i}"
    if kind == "ConfigMap":
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  key: value-{i}\n"
    if kind == "Secret":
        return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {n}\ntype: Opaque\ndata:\n  key: dmFsdWU=\n"
    if kind == "Service":
        return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {n}\nspec:\n  selector:\n    app: {n}\n"
                f"  ports:\n  - port: 80\n    targetPort: 8080\n")
    if kind == "ServiceAccount":
        return f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {n}\n"
    if kind in ("Deployment", "StatefulSet"):
        extra = f"  serviceName: {n}\n" if kind == "StatefulSet" else ""
        return (f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {n}\nspec:\n  replicas: 1\n{extra}"
                f"  selector:\n    matchLabels:\n      app: {n}\n  template:\n    metadata:\n      labels:\n"
                f"        app: {n}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.{i}\n"
                f"        ports:\n        - containerPort: 8080\n")
    if kind == "Role":
        return (f"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {n}\nrules:\n"
                f"- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]\n")
    if kind == "RoleBinding":
        return (f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {n}\n"
                f"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: role-{i}\n"
                f"subjects:\n- kind: ServiceAccount\n  name: serviceaccount-{i}\n")
    if kind == "PodDisruptionBudget":
        return (f"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {n}\nspec:\n"
                f"  minAvailable: 1\n  selector:\n    matchLabels:\n      app: deployment-{i}\n")
    if kind == "NetworkPolicy":
        return (f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {n}\nspec:\n"
                f"  podSelector:\n    matchLabels:\n      app: deployment-{i}\n  policyTypes: [Ingress]\n")
    raise ValueError(kind)


class Sim:
    def __init__(self, tmp, tag):
        self.dir = os.path.join(tmp, tag)
        self.ks = Kubesim(self.dir, "--ready-delay", "100ms", binary=KUBESIM)
        self.kubeconfig = self.ks.kubeconfig
        self.port = self.ks.port

    def requests(self, reset=False):
        return self.ks.api("DELETE" if reset else "GET", "/kubesim/requests")

    def stop(self):
        self.ks.stop()


def timed(cmd, env):
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({r.returncode}): {r.stderr[-2000:]}")
    return dt


def summary(label, dt, req):
    by = req["byVerb"]
    writes = sum(1 for e in req["log"] if e.get("verb") in WRITES and "dryRun" not in e)
    dry = sum(1 for e in req["log"] if "dryRun" in e)
    print(f"{label:<34} {dt:8.2f}s  {req['total']:6d} requests  writes {writes:5d}  dry-run {dry:5d}  "
          + " ".join(f"{k}={v}" for k, v in sorted(by.items())))
    return writes


def main():
    n = 1000
    check = "--check" in sys.argv
    if "--objects" in sys.argv:
        n = int(sys.argv[sys.argv.index("--objects") + 1])
    if not os.path.exists(KUBESIM):
        print("kubesim not built: skipping")
        return 77
    tmp = tempfile.mkdtemp(prefix="sluice-bench-rc-")
    sims = []
    try:
        repo = os.path.join(tmp, "repo")
        envdir = os.path.join(repo, "environments", "bench")
        os.makedirs(envdir)
        per = n // len(KINDS)
        files = []
        for kind in KINDS:
            fn = f"{kind.lower()}.yaml"
            with open(os.path.join(envdir, fn), "w") as f:
                f.write("---\n".join(obj(kind, i) for i in range(per)))
            files.append(fn)
        with open(os.path.join(envdir, "namespace.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
        with open(os.path.join(envdir, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: bench\n"
                    "resources:\n  - namespace.yaml\n" + "".join(f"  - {x}\n" for x in files))
        genv = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
                    GIT_COMMITTER_EMAIL="b@b", HOME=tmp)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
            subprocess.run(["git", "-C", repo, *args], env=genv, check=True)
        env = dict(os.environ, HOME=tmp)
        env.pop("KUBECONFIG", None)
        print(f"{per * len(KINDS)} objects of {len(KINDS)} kinds (+1 Namespace)")

        sim = Sim(tmp, "sluice")
        sims.append(sim)
        cfg = os.path.join(tmp, "sluice.yaml")
        with open(cfg, "w") as f:
            f.write(f"name: sluice\nstateDir: {tmp}/state\nsource:\n  url: {repo}\ncluster:\n"
                    f"  kubeconfig: {sim.kubeconfig}\n  qps: 10000\nenvironments:\n  - name: dev\n"
                    f"    path: environments/bench\n    namespace: bench\n    policy: off\n"
                    f"    healthTimeout: 2m\n")
        cmd = [SLUICE, "reconcile", "dev", "--once", "-q", "-o", "json", "--config", cfg]
        sim.requests(reset=True)
        t1 = timed(cmd, env)
        summary("sluice reconcile (first apply)", t1, sim.requests())
        sim.requests(reset=True)
        t2 = timed(cmd, env)
        w2 = summary("sluice reconcile (no change)", t2, sim.requests())
        lists = sim.requests()["byVerb"].get("list", 0)

        rendered = os.path.join(tmp, "rendered.yaml")
        with open(rendered, "w") as f:
            subprocess.run([SLUICE, "build", envdir], env=env, stdout=f, check=True)
        if KUBECTL:
            sim2 = Sim(tmp, "kubectl")
            sims.append(sim2)
            kcmd = [KUBECTL, "--kubeconfig", sim2.kubeconfig, "--cache-dir", os.path.join(tmp, "kcache"),
                    "apply", "--server-side", "-f", rendered]
            sim2.requests(reset=True)
            k1 = timed(kcmd, env)
            summary("kubectl apply --server-side", k1, sim2.requests())
            sim2.requests(reset=True)
            k2 = timed(kcmd, env)
            summary("kubectl apply --server-side again", k2, sim2.requests())
            print(f"first apply: sluice {t1:.2f}s vs kubectl {k1:.2f}s ({k1 / t1:.1f}x); "
                  f"no change: sluice {t2:.2f}s vs kubectl {k2:.2f}s ({k2 / t2:.1f}x)")
        else:
            print("kubectl not installed: comparison skipped")
        ok = w2 == 0 and lists <= len(KINDS) + 1
        print(f"no-change reconcile: {w2} writes, {lists} LISTs for {len(KINDS) + 1} kinds: "
              f"{'ok' if ok else 'OVER BUDGET'}")
        return 0 if ok or not check else 1
    finally:
        for s in sims:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
