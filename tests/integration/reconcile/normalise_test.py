#!/usr/bin/env python3
"""Values the API server rewrites are not drift: sluice reconcile against kubesim.

Manifests written the way people write them (cpu: 0.5, memory: 1073741824,
memory: 1024Mi, a ResourceQuota and a LimitRange with non-canonical quantities,
replicas left to the server's default) are applied once; kubesim stores them in
canonical form as the real API server does ("500m", "1Gi"). The second reconcile
must make zero write requests (kubesim's request log), report every object
unchanged, and `sluice diff` must show nothing. A real change of a quantity is
still applied. Every process started here is killed on exit.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kubesim_lib import Kubesim  # noqa: E402

SLUICE = os.environ["SLUICE"]
BUILD = os.environ["SLUICE_BUILD"]
KUBESIM = os.environ.get("KUBESIM") or os.path.join(BUILD, "kubesim")
failures = []

APP = """apiVersion: v1
kind: Namespace
metadata:
  name: norm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
        resources:
          requests:
            cpu: 0.5
            memory: 1073741824
          limits:
            cpu: 1000m
            memory: 1024Mi
            ephemeral-storage: 2000M
        volumeMounts:
        - {name: tmp, mountPath: /tmp}
      volumes:
      - name: tmp
        emptyDir:
          sizeLimit: 0.5Gi
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres:17
        resources:
          requests: {cpu: 0.25, memory: 0.5Gi}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1024Mi
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: quota
spec:
  hard:
    requests.cpu: 2000m
    limits.memory: 2048Mi
    pods: 10
---
apiVersion: v1
kind: LimitRange
metadata:
  name: limits
spec:
  limits:
  - type: Container
    max: {cpu: 2000m, memory: 4096Mi}
    default: {cpu: 0.5, memory: 0.5Gi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
"""


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else " " + detail))
    if not cond:
        failures.append(what)


def main():
    if not os.path.exists(KUBESIM):
        print("kubesim not built: skipping")
        return 77
    tmp = tempfile.mkdtemp(prefix="sluice-norm-it-")
    ks = None
    try:
        repo = os.path.join(tmp, "repo")
        envdir = os.path.join(repo, "environments", "norm")
        os.makedirs(envdir)
        with open(os.path.join(envdir, "app.yaml"), "w") as f:
            f.write(APP)
        with open(os.path.join(envdir, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                    "namespace: norm\nresources:\n  - app.yaml\n")
        genv = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                    GIT_COMMITTER_EMAIL="t@t", HOME=tmp)

        def git(*args):
            subprocess.run(["git", "-C", repo, *args], env=genv, check=True, capture_output=True)

        git("init", "-q", "-b", "main")
        git("add", "-A")
        git("commit", "-qm", "norm")

        ks = Kubesim(os.path.join(tmp, "kubesim"), "--ready-delay", "100ms", binary=KUBESIM)
        kubeconfig = ks.kubeconfig
        api = ks.api

        def writes():
            return [f"{e.get('verb')} {e.get('path', '')}" for e in ks.writes()]

        cfg = os.path.join(tmp, "sluice.yaml")
        with open(cfg, "w") as f:
            f.write(f"name: sluice\nstateDir: {tmp}/state\nsource:\n  url: {repo}\ncluster:\n"
                    f"  kubeconfig: {kubeconfig}\nenvironments:\n  - name: dev\n"
                    f"    path: environments/norm\n    namespace: norm\n    policy: \"off\"\n"
                    f"    healthTimeout: 30s\n")
        env = dict(os.environ, HOME=tmp)
        env.pop("KUBECONFIG", None)

        def sluice(*args):
            r = subprocess.run([SLUICE, *args, "--config", cfg], env=env, capture_output=True,
                               text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        def reconcile():
            rc, out, err = sluice("reconcile", "dev", "--once", "-o", "json")
            try:
                return rc, json.loads(out)[0], err
            except (ValueError, IndexError):
                return rc, None, err

        rc, res, err = reconcile()
        check(rc == 0 and res and res["result"] == "healthy", "first reconcile is healthy",
              err[-2000:])
        dep = api("GET", "/apis/apps/v1/namespaces/norm/deployments/web")
        c = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
        check(c["requests"] == {"cpu": "500m", "memory": "1073741824"} and
              c["limits"] == {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2G"},
              "kubesim stores quantities in canonical form", json.dumps(c))
        check(dep["spec"].get("replicas") == 1, "replicas defaulted by the server",
              json.dumps(dep["spec"].get("replicas")))
        q = api("GET", "/api/v1/namespaces/norm/resourcequotas/quota")
        check(q.get("spec", {}).get("hard") == {"requests.cpu": "2", "limits.memory": "2Gi",
                                                 "pods": "10"},
              "ResourceQuota hard in canonical form", json.dumps(q.get("spec")))

        api("DELETE", "/kubesim/requests")
        rc, res, err = reconcile()
        w = writes()
        check(rc == 0 and res and res["result"] == "healthy" and not w,
              "second reconcile makes zero write requests", json.dumps(w) + err[-1500:])
        check(res is not None and res["counts"]["unchanged"] == 6 and res["counts"]["drifted"] == 0
              and res["counts"]["updated"] == 0,
              "every object unchanged, none drifted", json.dumps(res["counts"]) if res else "")
        rc, out, _ = sluice("diff", "dev")
        check(rc == 0 and out == "", "diff shows no change", out[:1500])

        # the same value written in another form by someone else is not drift either
        patched = api("PATCH", "/apis/apps/v1/namespaces/norm/deployments/web"
                      "?fieldManager=kubectl-edit",
                      {"spec": {"template": {"spec": {"containers": [
                          {"name": "web", "resources": {"limits": {"memory": "1073741824"},
                                                        "requests": {"cpu": "0.5"}}}]}}}},
                      content_type="application/strategic-merge-patch+json")
        lim = patched["spec"]["template"]["spec"]["containers"][0]["resources"]
        check(lim["limits"]["memory"] == "1073741824" and lim["requests"]["cpu"] == "500m",
              "another manager wrote memory as 1073741824 (cpu 0.5 stored as 500m)", json.dumps(lim))
        api("DELETE", "/kubesim/requests")
        rc, res, err = reconcile()
        w = writes()
        check(rc == 0 and res and not w and res["counts"]["drifted"] == 0,
              "1Gi in git against a live 1073741824: no drift, no write", json.dumps(w) + err[-1500:])

        # a real change of a quantity is still a change
        with open(os.path.join(envdir, "app.yaml"), "w") as f:
            f.write(APP.replace("cpu: 0.5\n            memory: 1073741824",
                                "cpu: 0.6\n            memory: 1073741824"))
        git("commit", "-qam", "more cpu")
        api("DELETE", "/kubesim/requests")
        rc, res, err = reconcile()
        w = writes()
        dep = api("GET", "/apis/apps/v1/namespaces/norm/deployments/web")
        cpu = dep["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        check(rc == 0 and res["counts"]["updated"] == 1 and cpu == "600m",
              "a changed quantity is applied (cpu 0.6 -> 600m)",
              json.dumps(res["counts"] if res else None) + " " + cpu)
        check(any("deployments/web" in x for x in w) and len(w) <= 2,
              "only the changed Deployment (and the inventory mirror at most) is written",
              json.dumps(w))
    finally:
        if ks is not None:
            ks.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
